/**
 * What is left of finished server transactions while they wait out 64*T1: a key, and for a non-INVITE the bytes
 * of its final response. The stack keeps a second list for finished non-INVITE client transactions (UDP), keys
 * alone for Timer K (T4): copies of their final response are dropped there.
 *
 * - An INVITE server transaction whose 2xx was ACKed stays in Accepted until Timer L (RFC 6026 8.7) only to
 *   recognise a late copy of the INVITE, so that it is not taken for a new call: that needs the key alone.
 * - A non-INVITE server transaction stays in Completed until Timer J (RFC 3261 17.2.2, UDP) only to send its final
 *   response again when the request is retransmitted: that needs the key, the bytes and where they go.
 *
 * Keeping the whole transactions (parsed request, timer slots) for 32 s meant 32 s × the call rate of each: at 600
 * calls/s 19,000 INVITEs alone, which filled the stack's transaction limit (503 for new calls) and the old
 * generation of the heap. Entries expire on the stack's timer queue (one clock timer per duration). Bounded by
 * `max` entries (the oldest go first when full, which only shortens their wait).
 */
import type { Source } from './message.js';
import { detach } from '../util/strings.js';
import type { TimerBucket, TimerQueue, TimerTarget } from './timer-queue.js';

export class Absorbed implements TimerTarget {
  readonly timerBucket: Array<TimerBucket | undefined> = [undefined];
  readonly timerPos: number[] = [0];
  constructor(
    private readonly list: AbsorbList,
    readonly key: string,
    /** The final response to send again (non-INVITE), or null (an ACKed INVITE: the copy is dropped). */
    readonly bytes: Buffer | null,
    readonly peer: Source | null,
  ) {}
  fireTimer(): void { this.list.expired(this); }
}

export class AbsorbList {
  /** Insertion order is expiry order: the first entry is the oldest. */
  private readonly entries = new Map<string, Absorbed>();

  constructor(private readonly timers: TimerQueue, private readonly ms: number, private readonly max: number) {}

  get size(): number { return this.entries.size; }

  /** Absorb requests with this key for the next `ms` (answering them with `bytes` when given). */
  add(key: string, bytes: Buffer | null = null, peer: Source | null = null): void {
    const again = this.entries.get(key);
    if (again !== undefined) this.remove(again);
    if (this.entries.size >= this.max) this.remove(this.entries.values().next().value!);
    // The key is built from the request's Via and Call-ID: its own copy, or it would keep the request's text for the
    // 32 s (util/strings.ts).
    const to = peer === null ? null : { ...peer, address: detach(peer.address) };
    const e = new Absorbed(this, detach(key), bytes, to);
    this.entries.set(e.key, e);
    this.timers.set(e, 0, this.ms);
  }

  get(key: string): Absorbed | undefined { return this.entries.get(key); }

  /** Forget every entry (the stack clears its timer queue as a whole). */
  clear(): void { this.entries.clear(); }

  /** @internal the entry's time is up */
  expired(e: Absorbed): void {
    if (this.entries.get(e.key) === e) this.entries.delete(e.key);
  }

  private remove(e: Absorbed): void {
    this.timers.clear(e, 0);
    this.entries.delete(e.key);
  }
}
