/**
 * TCP transport (node:net). Messages are framed by Content-Length (RFC 3261 18.3). Responses go back over
 * the connection the request came in on; requests reuse an open connection to the destination or open one.
 * Bounds: bytes buffered per connection, number of connections, idle time (one sweep timer, not one per
 * connection). A malformed message on a stream loses framing: the connection is closed after the stack
 * had its chance to answer 400.
 */
import net from 'node:net';
import type { Clock, TimerHandle } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import type { Source } from '../message.js';
import { parseMessage, type ParseOptions } from '../parser.js';
import { newCounters, type Transport, type TransportCounters, type TransportReceiver } from './transport.js';

export interface TcpTransportOptions {
  /** Default '0.0.0.0'. */
  address?: string;
  /** Default 5060; 0 picks a free port. */
  port?: number;
  /** Max bytes of one message, default 65535. */
  maxMessageSize?: number;
  /** Max bytes buffered per connection while waiting for a complete message, default 262144. */
  maxBufferPerConnection?: number;
  /** Max simultaneous connections (in + out), default 1024; further inbound ones are refused. */
  maxConnections?: number;
  /** Connections idle (nothing sent or received) longer than this are closed, ms, default 120000. */
  idleTimeoutMs?: number;
  clock: Clock;
  logger: Logger;
}

const CRLF = Buffer.from('\r\n');

class Connection {
  buf: Buffer | null = null;
  lastActive: number;
  connected: boolean;
  pendingErrors: Array<(err: Error) => void> = [];
  constructor(readonly id: number, readonly socket: net.Socket, readonly key: string, now: number, connected: boolean) {
    this.lastActive = now;
    this.connected = connected;
  }
}

export class TcpTransport implements Transport {
  readonly name = 'tcp' as const;
  readonly reliable = true;
  readonly viaTransport = 'TCP';
  readonly counters: TransportCounters = newCounters();
  receiver: TransportReceiver | null = null;
  address = '';
  port = 0;
  private closed = false;
  private nextId = 1;
  private readonly byId = new Map<number, Connection>();
  private readonly byKey = new Map<string, Connection>();
  private sweepTimer: TimerHandle | undefined;
  private readonly parseOpts: ParseOptions;
  private readonly maxBuffer: number;
  private readonly maxConnections: number;
  private readonly idleMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;

  private constructor(private readonly server: net.Server, o: TcpTransportOptions) {
    this.parseOpts = { stream: true, maxMessageSize: o.maxMessageSize ?? 65535 };
    this.maxBuffer = o.maxBufferPerConnection ?? 262144;
    this.maxConnections = o.maxConnections ?? 1024;
    this.idleMs = o.idleTimeoutMs ?? 120000;
    this.clock = o.clock;
    this.log = o.logger;
  }

  static async create(o: TcpTransportOptions): Promise<TcpTransport> {
    const server = net.createServer();
    const t = new TcpTransport(server, o);
    await new Promise<void>((resolve, reject) => {
      const onErr = (err: Error): void => reject(err);
      server.once('error', onErr);
      server.listen(o.port ?? 5060, o.address ?? '0.0.0.0', () => { server.off('error', onErr); resolve(); });
    });
    const a = server.address();
    if (a && typeof a !== 'string') { t.address = a.address; t.port = a.port; }
    server.on('error', (err) => t.log.warn({ err }, 'tcp server error'));
    server.on('connection', (socket) => t.accept(socket));
    return t;
  }

  get connectionCount(): number { return this.byId.size; }

  private accept(socket: net.Socket): void {
    if (this.closed || this.byId.size >= this.maxConnections) { socket.destroy(); return; }
    const key = (socket.remoteAddress ?? '') + '|' + (socket.remotePort ?? 0);
    this.register(new Connection(this.nextId++, socket, key, this.clock.now(), true));
  }

  private register(c: Connection): void {
    this.byId.set(c.id, c);
    if (!this.byKey.has(c.key)) this.byKey.set(c.key, c);
    const s = c.socket;
    s.setNoDelay(true);
    s.on('data', (chunk: Buffer) => this.onData(c, chunk));
    s.on('error', (err) => {
      this.log.debug({ err, conn: c.id }, 'tcp connection error');
      const pend = c.pendingErrors;
      c.pendingErrors = [];
      for (const cb of pend) { try { cb(err); } catch { /* TU code guarded upstream */ } }
    });
    s.on('close', () => this.forget(c));
    if (!this.sweepTimer) this.armSweep();
  }

  private forget(c: Connection): void {
    this.byId.delete(c.id);
    if (this.byKey.get(c.key) === c) this.byKey.delete(c.key);
    c.buf = null;
    if (c.pendingErrors.length > 0) {
      const pend = c.pendingErrors;
      c.pendingErrors = [];
      const err = new Error('connection closed');
      for (const cb of pend) { try { cb(err); } catch { /* guarded upstream */ } }
    }
    if (this.byId.size === 0 && this.sweepTimer) { this.clock.clearTimeout(this.sweepTimer); this.sweepTimer = undefined; }
  }

  private armSweep(): void {
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweepTimer = undefined;
      const cutoff = this.clock.now() - this.idleMs;
      for (const c of this.byId.values()) if (c.lastActive < cutoff) c.socket.destroy();
      if (this.byId.size > 0 && !this.closed) this.armSweep();
    }, Math.max(1000, this.idleMs / 2));
  }

  private onData(c: Connection, chunk: Buffer): void {
    try {
      c.lastActive = this.clock.now();
      let buf = c.buf ? Buffer.concat([c.buf, chunk]) : chunk;
      let offset = 0;
      for (;;) {
        if (offset >= buf.length) { buf = EMPTY; break; }
        const r = parseMessage(buf, this.parseOpts, offset);
        if (r.kind === 'incomplete') break;
        if (r.kind === 'keepalive') {
          this.counters.keepalives++;
          // RFC 5626 4.4.1: answer a double-CRLF ping with a single CRLF pong.
          if (r.length >= 4) c.socket.write(CRLF);
          offset += r.length;
          continue;
        }
        const source: Source = { transport: 'tcp', address: c.socket.remoteAddress ?? '', port: c.socket.remotePort ?? 0, connectionId: c.id };
        if (r.kind === 'malformed') {
          this.counters.malformed++;
          if (this.receiver) this.receiver(r, source, this);
          c.socket.end();
          c.buf = null;
          return;
        }
        this.counters.received++;
        offset += r.length;
        if (this.receiver) this.receiver(r, source, this);
        if (c.buf === null && !this.byId.has(c.id)) return; // closed meanwhile
      }
      const rest = offset > 0 ? buf.subarray(offset) : buf;
      if (rest.length > this.maxBuffer) {
        this.log.warn({ conn: c.id, bytes: rest.length }, 'tcp buffer limit exceeded: closing');
        c.socket.destroy();
        c.buf = null;
        return;
      }
      c.buf = rest.length > 0 ? rest : null;
    } catch (err) {
      this.log.error({ err }, 'tcp receive handler threw');
      c.socket.destroy();
    }
  }

  send(data: Buffer, dest: Source, onError?: (err: Error) => void): void {
    if (this.closed) { if (onError) onError(new Error('transport closed')); return; }
    try {
      let c = dest.connectionId !== undefined ? this.byId.get(dest.connectionId) : undefined;
      if (!c || c.socket.destroyed) c = this.byKey.get(dest.address + '|' + dest.port);
      if (!c || c.socket.destroyed) {
        if (this.byId.size >= this.maxConnections) { if (onError) onError(new Error('too many connections')); return; }
        const socket = net.connect({ host: dest.address, port: dest.port });
        const conn = new Connection(this.nextId++, socket, dest.address + '|' + dest.port, this.clock.now(), false);
        socket.once('connect', () => { conn.connected = true; conn.pendingErrors = []; });
        this.register(conn);
        c = conn;
      }
      c.lastActive = this.clock.now();
      if (onError && !c.connected && c.pendingErrors.length < 64) c.pendingErrors.push(onError);
      this.counters.sent++;
      c.socket.write(data);
    } catch (err) {
      this.counters.sendErrors++;
      if (onError) onError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.sweepTimer) { this.clock.clearTimeout(this.sweepTimer); this.sweepTimer = undefined; }
    for (const c of this.byId.values()) c.socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const EMPTY = Buffer.alloc(0);
