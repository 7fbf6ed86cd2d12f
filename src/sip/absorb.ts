/**
 * What is left of finished server transactions while they wait out 64*T1: a key, and for a non-INVITE the bytes
 * of its final response.
 *
 * - An INVITE server transaction whose 2xx was ACKed stays in Accepted until Timer L (RFC 6026 8.7) only to
 *   recognise a late copy of the INVITE, so that it is not taken for a new call: that needs the key alone.
 * - A non-INVITE server transaction stays in Completed until Timer J (RFC 3261 17.2.2, UDP) only to send its final
 *   response again when the request is retransmitted: that needs the key, the bytes and where they go.
 *
 * Keeping the whole transactions (parsed request, timer slots) for 32 s meant 32 s × the call rate of each: at 600
 * calls/s 19,000 INVITEs alone, which filled the stack's transaction limit (503 for new calls) and the old
 * generation of the heap. Every entry waits the same time, so the list is a FIFO with one clock timer for its head.
 * Bounded by `max` entries (the oldest go first when full, which only shortens their wait).
 */
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Source } from './message.js';

export interface Absorbed {
  readonly due: number;
  /** The final response to send again (non-INVITE), or null (an ACKed INVITE: the copy is dropped). */
  readonly bytes: Buffer | null;
  readonly peer: Source | null;
}

export class AbsorbList {
  private readonly entries = new Map<string, Absorbed>();
  private keys: string[] = [];
  private dues: number[] = [];
  private head = 0;
  private timer: TimerHandle | undefined;
  private readonly expire = (): void => this.onTimer();

  constructor(private readonly clock: Clock, private readonly ms: number, private readonly max: number) {}

  get size(): number { return this.entries.size; }

  /** Absorb requests with this key for the next `ms` (answering them with `bytes` when given). */
  add(key: string, bytes: Buffer | null = null, peer: Source | null = null): void {
    if (this.entries.size >= this.max) this.dropOldest();
    const due = this.clock.now() + this.ms;
    this.entries.set(key, { due, bytes, peer });
    this.keys.push(key);
    this.dues.push(due);
    if (this.timer === undefined) this.timer = this.clock.setTimeout(this.expire, this.ms);
  }

  get(key: string): Absorbed | undefined { return this.entries.get(key); }

  has(key: string): boolean { return this.entries.has(key); }

  clear(): void {
    if (this.timer !== undefined) { this.clock.clearTimeout(this.timer); this.timer = undefined; }
    this.entries.clear();
    this.keys = []; this.dues = []; this.head = 0;
  }

  private dropOldest(): void {
    while (this.head < this.keys.length) {
      const k = this.keys[this.head]!;
      const due = this.dues[this.head]!;
      this.head++;
      if (this.entries.get(k)?.due === due) { this.entries.delete(k); return; }
    }
  }

  private onTimer(): void {
    this.timer = undefined;
    const now = this.clock.now();
    while (this.head < this.keys.length && this.dues[this.head]! <= now) {
      const k = this.keys[this.head]!;
      // a key added again later has a later due time: only its own entry removes it
      if (this.entries.get(k)?.due === this.dues[this.head]) this.entries.delete(k);
      this.head++;
    }
    if (this.head === this.keys.length) {
      this.keys = []; this.dues = []; this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.keys.length) {
      this.keys = this.keys.slice(this.head);
      this.dues = this.dues.slice(this.head);
      this.head = 0;
    }
    if (this.head < this.keys.length) this.timer = this.clock.setTimeout(this.expire, Math.max(1, this.dues[this.head]! - now));
  }
}
