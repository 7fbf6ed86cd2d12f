/**
 * UDP transport (node:dgram). One datagram = one message (RFC 3261 18.3); max size 65535 bytes.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from '../../util/logger.js';
import { ipLiteralLookup } from '../../util/thread.js';
import type { Source } from '../message.js';
import { parseMessage, type ParseOptions } from '../parser.js';
import { newCounters, type Transport, type TransportCounters, type TransportReceiver } from './transport.js';

export interface UdpTransportOptions {
  /** Default '0.0.0.0'. */
  address?: string;
  /** Default 5060; 0 picks a free port. */
  port?: number;
  /** Max datagram size accepted, bytes, default 65535. */
  maxMessageSize?: number;
  /**
   * SO_RCVBUF and SO_SNDBUF to ask for, bytes; default `DEFAULT_SOCKET_BUFFER_BYTES`; 0 keeps the kernel's
   * default. Linux caps the request at net.core.rmem_max / wmem_max (then an info line says so).
   */
  socketBufferBytes?: number;
  logger: Logger;
}

/**
 * 4 MiB. At 500 calls/s a SIP port takes about 1,500 datagrams a second, and the kernel charges each one
 * 2-4 KB of buffer: Linux's usual 208 KB default holds well under 100 ms of them, so one garbage
 * collection or scheduling hiccup of the main thread drops INVITEs, which the caller only resends after
 * 500 ms (Timer A). Kamailio and OpenSIPS size their UDP buffers up for the same reason.
 */
export const DEFAULT_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;


export class UdpTransport implements Transport {
  readonly name = 'udp' as const;
  readonly reliable = false;
  readonly viaTransport = 'UDP';
  readonly counters: TransportCounters = newCounters();
  receiver: TransportReceiver | null = null;
  address = '';
  port = 0;
  /** SO_RCVBUF as the kernel reports it after sizing (Linux reports twice the usable bytes); 0 if unknown. */
  recvBufferBytes = 0;
  private closed = false;
  private readonly parseOpts: ParseOptions;

  private constructor(private readonly socket: dgram.Socket, private readonly log: Logger, maxSize: number) {
    this.parseOpts = { stream: false, maxMessageSize: maxSize };
  }

  static async create(o: UdpTransportOptions): Promise<UdpTransport> {
    const address = o.address ?? '0.0.0.0';
    const socket = dgram.createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4', lookup: ipLiteralLookup });
    const t = new UdpTransport(socket, o.logger, o.maxMessageSize ?? 65535);
    await new Promise<void>((resolve, reject) => {
      const onErr = (err: Error): void => reject(err);
      socket.once('error', onErr);
      socket.bind(o.port ?? 5060, address, () => { socket.off('error', onErr); resolve(); });
    });
    const a = socket.address();
    t.address = a.address;
    t.port = a.port;
    t.sizeBuffers(o.socketBufferBytes ?? DEFAULT_SOCKET_BUFFER_BYTES);
    socket.on('error', (err) => { t.counters.sendErrors++; t.log.warn({ err }, 'udp socket error'); });
    socket.on('message', (msg, rinfo) => t.onDatagram(msg, rinfo));
    return t;
  }

  private sizeBuffers(want: number): void {
    try {
      if (want > 0) {
        this.socket.setRecvBufferSize(want);
        this.socket.setSendBufferSize(want);
      }
      this.recvBufferBytes = this.socket.getRecvBufferSize();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot size the SIP UDP socket buffers');
      return;
    }
    if (want > 0 && this.recvBufferBytes < want) {
      this.log.info({ askedBytes: want, gotBytes: this.recvBufferBytes },
        'SIP UDP receive buffer capped by the kernel: raise net.core.rmem_max so signalling bursts are not dropped');
    }
  }

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    try {
      const result = parseMessage(msg, this.parseOpts);
      if (result.kind === 'keepalive' || result.kind === 'incomplete') { this.counters.keepalives++; return; }
      if (result.kind === 'malformed') this.counters.malformed++;
      else this.counters.received++;
      const source: Source = { transport: 'udp', address: rinfo.address, port: rinfo.port };
      if (this.receiver) this.receiver(result, source, this);
    } catch (err) {
      this.log.error({ err }, 'udp receive handler threw');
    }
  }

  send(data: Buffer, dest: Source, onError?: (err: Error) => void): void {
    if (this.closed) { if (onError) onError(new Error('transport closed')); return; }
    try {
      this.counters.sent++;
      if (onError) {
        this.socket.send(data, dest.port, dest.address, (err) => {
          if (err) { this.counters.sendErrors++; onError(err); }
        });
      } else {
        this.socket.send(data, dest.port, dest.address);
      }
    } catch (err) {
      this.counters.sendErrors++;
      if (onError) onError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  get connectionCount(): number { return 0; }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => {
      try { this.socket.close(() => resolve()); } catch { resolve(); }
    });
  }
}
