/**
 * In-memory network for tests: transports bound to fake addresses exchange datagrams through a hub that
 * delivers on the injected clock (so a FakeClock runs everything in virtual time) and drops a configurable
 * fraction of datagrams with a seeded PRNG (deterministic runs).
 */
import type { Clock } from '../../util/clock.js';
import type { Source, TransportName } from '../message.js';
import { parseMessage, type ParseOptions } from '../parser.js';
import { newCounters, type Transport, type TransportCounters, type TransportReceiver } from './transport.js';

export interface MemoryNetworkOptions {
  clock: Clock;
  /** Fraction of datagrams dropped, 0..1, default 0. Never applied to reliable transports. */
  dropRate?: number;
  /** PRNG seed, default 1. */
  seed?: number;
  /** Delivery delay, ms, default 1. */
  latencyMs?: number;
}

/** Called for each datagram; return true to drop it (in addition to `dropRate`). */
export type DropFilter = (data: Buffer, from: Source, to: Source) => boolean;

export class MemoryNetwork {
  dropRate: number;
  latencyMs: number;
  dropFilter: DropFilter | null = null;
  delivered = 0;
  dropped = 0;
  /** Every datagram sent, as text, when `capture` is true (tests inspect the wire). */
  capture = false;
  readonly wire: Array<{ from: string; to: string; text: string }> = [];
  private seed: number;
  private readonly nodes = new Map<string, MemoryTransport>();

  constructor(readonly opts: MemoryNetworkOptions) {
    this.dropRate = opts.dropRate ?? 0;
    this.latencyMs = opts.latencyMs ?? 1;
    this.seed = (opts.seed ?? 1) >>> 0 || 1;
  }

  /** mulberry32 */
  random(): number {
    this.seed = (this.seed + 0x6d2b79f5) >>> 0;
    let t = this.seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A transport bound to address:port. `reliable: true` makes it behave (and name itself) as TCP. */
  bind(address: string, port: number, reliable = false): MemoryTransport {
    const t = new MemoryTransport(this, address, port, reliable);
    this.nodes.set(address + ':' + port + ':' + t.name, t);
    return t;
  }

  unbind(t: MemoryTransport): void { this.nodes.delete(t.address + ':' + t.port + ':' + t.name); }

  deliver(data: Buffer, from: MemoryTransport, dest: Source): void {
    const src: Source = { transport: from.name, address: from.address, port: from.port };
    if (this.capture) this.wire.push({ from: from.address + ':' + from.port, to: dest.address + ':' + dest.port, text: data.toString('utf8') });
    const filtered = this.dropFilter !== null && this.dropFilter(data, src, dest);
    if (!from.reliable && (filtered || (this.dropRate > 0 && this.random() < this.dropRate))) {
      this.dropped++;
      return;
    }
    const target = this.nodes.get(dest.address + ':' + dest.port + ':' + from.name);
    if (!target) { this.dropped++; return; }
    const copy = Buffer.from(data);
    this.opts.clock.setTimeout(() => { this.delivered++; target.receive(copy, src); }, this.latencyMs);
  }
}

export class MemoryTransport implements Transport {
  readonly name: TransportName;
  readonly viaTransport: string;
  readonly counters: TransportCounters = newCounters();
  receiver: TransportReceiver | null = null;
  private closed = false;
  private readonly parseOpts: ParseOptions;

  constructor(private readonly net: MemoryNetwork, readonly address: string, readonly port: number, readonly reliable: boolean) {
    this.name = reliable ? 'tcp' : 'udp';
    this.viaTransport = reliable ? 'TCP' : 'UDP';
    this.parseOpts = { stream: false };
  }

  receive(data: Buffer, source: Source): void {
    if (this.closed) return;
    try {
      const r = parseMessage(data, this.parseOpts);
      if (r.kind === 'keepalive' || r.kind === 'incomplete') { this.counters.keepalives++; return; }
      if (r.kind === 'malformed') this.counters.malformed++; else this.counters.received++;
      if (this.receiver) this.receiver(r, source, this);
    } catch {
      // never escapes
    }
  }

  send(data: Buffer, dest: Source, onError?: (err: Error) => void): void {
    if (this.closed) { if (onError) onError(new Error('transport closed')); return; }
    this.counters.sent++;
    this.net.deliver(data, this, dest);
  }

  get connectionCount(): number { return 0; }

  close(): Promise<void> {
    if (!this.closed) { this.closed = true; this.net.unbind(this); }
    return Promise.resolve();
  }
}
