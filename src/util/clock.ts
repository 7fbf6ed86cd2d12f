/**
 * Injectable time for signalling-side timers (SIP transactions, Pivot collect timeouts, call timers).
 * Media pacing does NOT use this: it runs in worker threads against `performance.now()` deadlines.
 *
 * `RealClock` counts live timers so leak tests can assert that none remain after calls end.
 * `FakeClock` runs timers in virtual time for millisecond-fast unit tests.
 */
export interface TimerHandle { readonly id: number }

export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined | null): void;
  /** Timers scheduled and not yet fired or cleared. */
  readonly pendingTimers: number;
}

interface RealEntry { t: NodeJS.Timeout }

export class RealClock implements Clock {
  private nextId = 1;
  private readonly live = new Map<number, RealEntry>();
  now(): number { return performance.now(); }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    const t = setTimeout(() => { this.live.delete(id); fn(); }, Math.max(0, ms));
    this.live.set(id, { t });
    return { id };
  }
  clearTimeout(handle: TimerHandle | undefined | null): void {
    if (!handle) return;
    const e = this.live.get(handle.id);
    if (e) { clearTimeout(e.t); this.live.delete(handle.id); }
  }
  get pendingTimers(): number { return this.live.size; }
}

interface FakeEntry { id: number; at: number; seq: number; fn: () => void }

export class FakeClock implements Clock {
  private t = 0;
  private nextId = 1;
  private seq = 0;
  private readonly timers = new Map<number, FakeEntry>();
  now(): number { return this.t; }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { id, at: this.t + Math.max(0, ms), seq: this.seq++, fn });
    return { id };
  }
  clearTimeout(handle: TimerHandle | undefined | null): void { if (handle) this.timers.delete(handle.id); }
  get pendingTimers(): number { return this.timers.size; }
  /** Advance virtual time by `ms`, firing due timers in order (timers scheduled meanwhile fire too if due). */
  tick(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: FakeEntry | undefined;
      for (const e of this.timers.values()) {
        if (e.at <= end && (!next || e.at < next.at || (e.at === next.at && e.seq < next.seq))) next = e;
      }
      if (!next) break;
      this.timers.delete(next.id);
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
  /** Run until no timers remain or `limitMs` of virtual time has passed. */
  runAll(limitMs = 3_600_000): void { this.tick(limitMs); }
}

export const realClock = new RealClock();
