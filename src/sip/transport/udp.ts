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

const PROBE_BYTES = 13;
/** Send times kept for probes not yet read (at 100 ms apart: 6.4 s of queue). */
const PROBE_RING = 64;

interface QueueProbe {
  sock: dgram.Socket;
  target: string;
  port: number;
  sent: number;
  got: number;
  times: Float64Array;
  minMs: number;
  count: number;
  timer: NodeJS.Timeout | undefined;
  /** A problem was logged (once: a probe that cannot work would otherwise log ten times a second). */
  warned: boolean;
}

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
  private probe: QueueProbe | null = null;
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

  /**
   * Receive-queue probe: every `intervalMs` a 13-byte datagram (NUL, sequence, send time) goes from a loopback socket
   * of ours to this socket and waits in its receive queue behind everything else; its delay when read is how long an
   * INVITE arriving now waits before we see it (the overload guard's measure; no SIP message starts with NUL).
   */
  startQueueProbe(intervalMs: number): void {
    if (this.probe || this.closed) return;
    const v6 = isIPv6(this.address);
    const target = this.address === '0.0.0.0' ? '127.0.0.1' : this.address === '::' ? '::1' : this.address;
    const sock = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', lookup: ipLiteralLookup });
    const p: QueueProbe = { sock, target, port: -1, sent: 0, got: 0, times: new Float64Array(PROBE_RING), minMs: Infinity, count: 0, timer: undefined, warned: false };
    sock.on('error', (err) => {
      if (p.warned) return;
      p.warned = true;
      this.log.warn({ err: err.message }, 'SIP queue probe socket error (logged once)');
    });
    sock.bind(0, target, () => {
      if (this.closed) { try { sock.close(); } catch { /* closed with the transport already */ } return; }
      p.port = sock.address().port;
      p.timer = setInterval(() => this.sendProbe(), intervalMs);
      p.timer.unref();
    });
    sock.unref();
    this.probe = p;
  }

  /** Send one probe now (the probe's interval calls this; tests too). */
  sendProbe(): void {
    const p = this.probe;
    if (!p || p.port < 0 || this.closed) return;
    const now = performance.now();
    p.times[p.sent % PROBE_RING] = now;
    const buf = Buffer.allocUnsafe(PROBE_BYTES); // ten a second: a fresh one, never one still queued for sending
    buf[0] = 0;
    buf.writeUInt32LE(p.sent >>> 0, 1);
    buf.writeDoubleLE(now, 5);
    p.sent++;
    p.sock.send(buf, this.port, p.target);
  }

  /**
   * The receive queue's delay since the last call: the smallest delay of the probes read (a standing queue, not a
   * burst), or the age of the oldest probe sent and not yet read when that is larger; 0 when no probe is running or
   * none has come back yet.
   */
  takeQueueDelay(): number {
    const p = this.probe;
    if (!p) return 0;
    if (p.got === 0) {
      // None came back yet (just started, or a firewall drops them): an unproven probe measures nothing; unread
      // probes must not read as a queue, or the guard would refuse calls on an idle switch.
      if (p.sent >= PROBE_RING && !p.warned) {
        p.warned = true;
        this.log.warn({ sent: p.sent, target: `${p.target}:${this.port}` }, 'no SIP queue probe came back (a firewall on the loopback?): the overload guard measures nothing');
      }
      return 0;
    }
    let d = p.count > 0 ? p.minMs : 0;
    if (p.got < p.sent) {
      const oldest = p.sent - p.got > PROBE_RING ? p.times[p.sent % PROBE_RING]! : p.times[p.got % PROBE_RING]!;
      d = Math.max(d, performance.now() - oldest);
    }
    p.minMs = Infinity;
    p.count = 0;
    return d;
  }

  private onProbe(msg: Buffer): void {
    const p = this.probe!;
    const seq = msg.readUInt32LE(1);
    const ms = performance.now() - msg.readDoubleLE(5);
    if (seq + 1 > p.got) p.got = seq + 1;
    if (ms < p.minMs) p.minMs = ms;
    p.count++;
  }

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg[0] === 0 && msg.length === PROBE_BYTES && this.probe !== null && rinfo.port === this.probe.port && rinfo.address === this.probe.target) {
      this.onProbe(msg);
      return;
    }
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
    if (this.probe) {
      clearInterval(this.probe.timer);
      try { this.probe.sock.close(); } catch { /* not bound yet */ }
    }
    return new Promise((resolve) => {
      try { this.socket.close(() => resolve()); } catch { resolve(); }
    });
  }
}
