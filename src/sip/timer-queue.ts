/**
 * The transactions' timers (RFC 3261 17, Timers A-M) on one queue per duration instead of one clock timer each.
 *
 * SIP timers come in a handful of fixed durations (T1 doublings, T2, T4, 64*T1, the TU bounds), so all timers of
 * one duration expire in the order they were set: each duration is a FIFO (parallel arrays, no object per timer)
 * with a single clock timer armed for its head. Setting a timer is three array pushes; clearing one blanks its
 * entry (the target is released at once, the blank is skipped or compacted away). Expiry calls
 * `target.fireTimer(slot)`: no closure per timer or per transaction.
 *
 * Measured (node 20, this box): `RealClock.setTimeout` + `clearTimeout` 4.3 us a pair (a closure, a Map entry,
 * a Timeout object, a handle); here about 0.1 us. An INVITE call sets about seven transaction timers.
 */
import type { Clock, TimerHandle } from '../util/clock.js';

/** What a queued timer calls back, with the per-slot bookkeeping the queue keeps in it. */
export interface TimerTarget {
  /** Bucket holding slot i's pending timer, or undefined. */
  readonly timerBucket: Array<TimerBucket | undefined>;
  /** Absolute position of slot i's entry in its bucket. */
  readonly timerPos: number[];
  fireTimer(slot: number): void;
}

/** One duration's FIFO. Exported for the TimerTarget type only. */
export class TimerBucket {
  targets: Array<TimerTarget | null> = [];
  slots: number[] = [];
  dues: number[] = [];
  /** Index (into the arrays) of the first entry not yet fired. */
  head = 0;
  /** Absolute position of `targets[0]`: positions stay valid when the arrays are trimmed. */
  base = 0;
  /** Entries not cleared and not fired. */
  live = 0;
  handle: TimerHandle | undefined = undefined;
  firing = false;
  readonly fire: () => void;
  constructor(readonly ms: number, q: TimerQueue) {
    this.fire = (): void => q.expire(this);
  }
}

export class TimerQueue {
  private readonly buckets = new Map<number, TimerBucket>();

  constructor(private readonly clock: Clock, private readonly onError: (err: unknown) => void) {}

  /** (Re)arm `slot` of `target` to fire in `ms` milliseconds. */
  set(target: TimerTarget, slot: number, ms: number): void {
    this.clear(target, slot);
    const d = ms > 0 ? ms : 0;
    let b = this.buckets.get(d);
    if (b === undefined) { b = new TimerBucket(d, this); this.buckets.set(d, b); }
    target.timerBucket[slot] = b;
    target.timerPos[slot] = b.base + b.targets.length;
    b.targets.push(target);
    b.slots.push(slot);
    b.dues.push(this.clock.now() + d);
    b.live++;
    if (b.handle === undefined && !b.firing) b.handle = this.clock.setTimeout(b.fire, d);
  }

  /** Cancel `slot` of `target` (no-op when not armed). */
  clear(target: TimerTarget, slot: number): void {
    const b = target.timerBucket[slot];
    if (b === undefined) return;
    target.timerBucket[slot] = undefined;
    const i = target.timerPos[slot]! - b.base;
    if (b.targets[i] === target && b.slots[i] === slot) {
      b.targets[i] = null;
      b.live--;
      if (!b.firing) this.tidy(b);
    }
  }

  /** Clock timers held by the queue (one per duration with pending entries). */
  get armedBuckets(): number {
    let n = 0;
    for (const b of this.buckets.values()) if (b.handle !== undefined) n++;
    return n;
  }

  /** Drop every pending timer. */
  clearAll(): void {
    for (const b of this.buckets.values()) {
      if (b.handle !== undefined) this.clock.clearTimeout(b.handle);
      for (let i = b.head; i < b.targets.length; i++) {
        const t = b.targets[i];
        if (t) t.timerBucket[b.slots[i]!] = undefined;
      }
    }
    this.buckets.clear();
  }

  /** The bucket's clock timer fired: run every entry that is due, re-arm for the next. */
  expire(b: TimerBucket): void {
    b.handle = undefined;
    b.firing = true;
    const now = this.clock.now();
    try {
      while (b.head < b.targets.length && b.dues[b.head]! <= now) {
        const i = b.head++;
        const t = b.targets[i];
        if (t === null || t === undefined) continue;
        const slot = b.slots[i]!;
        b.targets[i] = null;
        b.live--;
        t.timerBucket[slot] = undefined;
        try { t.fireTimer(slot); } catch (err) { this.onError(err); }
      }
    } finally {
      b.firing = false;
      this.tidy(b);
    }
  }

  /** Skip blanks at the head, release empty arrays, compact mostly-blank ones, keep the clock timer right. */
  private tidy(b: TimerBucket): void {
    while (b.head < b.targets.length && b.targets[b.head] === null) b.head++;
    if (b.live === 0 || b.head >= b.targets.length) {
      b.base += b.targets.length;
      b.targets = []; b.slots = []; b.dues = []; b.head = 0;
      if (b.handle !== undefined) { this.clock.clearTimeout(b.handle); b.handle = undefined; }
      return;
    }
    const len = b.targets.length - b.head;
    if (b.head >= 256 && b.head * 2 >= b.targets.length) this.compact(b);
    else if (len >= 256 && b.live * 4 < len) this.compact(b);
    if (b.handle === undefined) {
      b.handle = this.clock.setTimeout(b.fire, Math.max(1, b.dues[b.head]! - this.clock.now()));
    }
  }

  /** Rebuild the arrays without blanks; live targets learn their new positions. */
  private compact(b: TimerBucket): void {
    const targets: Array<TimerTarget | null> = [];
    const slots: number[] = [];
    const dues: number[] = [];
    const base = b.base + b.targets.length;
    for (let i = b.head; i < b.targets.length; i++) {
      const t = b.targets[i];
      if (t === null || t === undefined) continue;
      const s = b.slots[i]!;
      t.timerPos[s] = base + targets.length;
      targets.push(t); slots.push(s); dues.push(b.dues[i]!);
    }
    b.base = base;
    b.targets = targets; b.slots = slots; b.dues = dues; b.head = 0;
  }
}
