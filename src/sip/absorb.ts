/**
 * Keys of INVITE server transactions whose 2xx was ACKed, kept until Timer L runs out (RFC 6026 8.7).
 *
 * After the ACK the Accepted state has one job left: recognise a late retransmission of the INVITE, so it is
 * not taken for a new call. That needs the transaction's key, not the transaction: keeping each one whole
 * (its parsed INVITE, its timer slots) for 64*T1 meant 32 s × the call rate of them, 19,000 at 600 calls/s,
 * which filled the stack's transaction limit (503 for new calls) and the old generation of the heap.
 *
 * Every key waits the same time, so the list is a FIFO with one clock timer for its head. Bounded by `max`
 * keys (the oldest go first when full, which only shortens their wait).
 */
import type { Clock, TimerHandle } from '../util/clock.js';

export class AbsorbList {
  private readonly due = new Map<string, number>();
  private keys: string[] = [];
  private dues: number[] = [];
  private head = 0;
  private timer: TimerHandle | undefined;
  private readonly expire = (): void => this.onTimer();

  constructor(private readonly clock: Clock, private readonly ms: number, private readonly max: number) {}

  get size(): number { return this.due.size; }

  /** Absorb requests with this key for the next `ms`. */
  add(key: string): void {
    if (this.due.size >= this.max) this.dropOldest();
    const at = this.clock.now() + this.ms;
    this.due.set(key, at);
    this.keys.push(key);
    this.dues.push(at);
    if (this.timer === undefined) this.timer = this.clock.setTimeout(this.expire, this.ms);
  }

  has(key: string): boolean { return this.due.has(key); }

  clear(): void {
    if (this.timer !== undefined) { this.clock.clearTimeout(this.timer); this.timer = undefined; }
    this.due.clear();
    this.keys = []; this.dues = []; this.head = 0;
  }

  private dropOldest(): void {
    while (this.head < this.keys.length) {
      const k = this.keys[this.head]!;
      const at = this.dues[this.head]!;
      this.head++;
      if (this.due.get(k) === at) { this.due.delete(k); return; }
    }
  }

  private onTimer(): void {
    this.timer = undefined;
    const now = this.clock.now();
    while (this.head < this.keys.length && this.dues[this.head]! <= now) {
      const k = this.keys[this.head]!;
      // a key added again later has a later due time: only its own entry removes it
      if (this.due.get(k) === this.dues[this.head]) this.due.delete(k);
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
