/**
 * Overload guard for new calls: while INVITEs wait too long in the switch's receive queue, refuse a share of new
 * INVITEs with a stateless 503 (in the SIP stack, before any transaction) instead of taking them all.
 *
 * Why: a call costs the main thread about 1.5 ms; a stateless refusal a small fraction of that. Offered more calls
 * than it can set up, a switch that takes every INVITE builds a queue in its UDP socket buffer; INVITEs are read
 * seconds late, the callers resend them (more work), and most calls fail (measured: 1,600 calls/s offered, 27 %
 * answered, p50 setup 4 s). Refusing the excess early keeps the calls it takes fast.
 *
 * The signal is the queue's own delay, measured by a probe datagram the UDP transport sends itself every
 * PROBE_MS (UdpTransport.startQueueProbe): the smallest probe delay in a window (a standing queue, not a burst or
 * one garbage collection), or the age of a probe still unread. Two other signals were tried and measured worse:
 * event-loop utilisation (at 1,000 calls/s the loop is busy over 95 % of the time yet keeps up: it refused a third
 * of the calls) and resent INVITEs (they arrive only after 500 ms in the queue, then wait in it too: the share
 * overshot to 95 % and oscillated).
 *
 * The controller, once per window, lazily on the next INVITE (no timer of its own): queue delay ≥ TARGET_MS (250 ms), the
 * refused share rises by 10 %, plus 10 % per 100 ms beyond (at most 40 % a window); under TARGET_MS / 4 it falls by
 * 20 %, under TARGET_MS / 2 by 10 %; from TARGET_MS / 2 to TARGET_MS it holds (at most 95 %). Refusals are spread
 * evenly (an accumulator, not a random draw).
 */
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';

/** The share moves in whole steps of 5 % (integers, so it comes back to exactly 0). */
const STEP = 0.05;
const MAX_STEPS = 19;
/**
 * A standing queue this long (ms) is overload: half of SIP's T1 (500 ms, when callers start resending), and over the
 * 100–150 ms bumps a major GC leaves at 800 calls/s (at 100 ms the guard refused 0.2 % of calls there) and the
 * 200–350 ms a cold start at 500 calls/s builds for a second or two while the JIT warms up.
 */
export const TARGET_MS = 250;
/** At TARGET_MS the share rises by 10 %, and by 10 % more per this much queue beyond it (at most 40 % a window). */
const RISE_PER_MS = 100;
/** Probe interval, ms. */
export const PROBE_MS = 100;
/**
 * At most one overload episode logged per this many ms: under sustained overload the share can fall to 0 and rise
 * again every second or two. An episode that starts sooner is logged once this much time has passed, if it still
 * lasts; one that is over by then is counted in the next warning, and its end is not logged.
 */
export const LOG_EVERY_MS = 10_000;

export interface OverloadGuardOptions {
  clock: Clock;
  /** Receive-queue delay since the previous call, ms (SipStack.takeQueueDelay). */
  queueDelay: () => number;
  /** Window, ms (default 500). */
  windowMs?: number;
  log?: Logger;
}

export class OverloadGuard {
  private steps = 0;
  private acc = 0;
  private lastAt: number;
  private lastDelay = 0;
  private readonly windowMs: number;
  private loggedAt = -Infinity;
  private episodeLogged = false;
  private unloggedEpisodes = 0;
  private refusedInEpisode = 0;

  constructor(private readonly o: OverloadGuardOptions) {
    this.windowMs = o.windowMs ?? 500;
    this.lastAt = o.clock.now();
  }

  /** Share of new calls being refused now (0..0.95). */
  get shedShare(): number { return this.steps * STEP; }
  /** Receive-queue delay measured over the last window, ms. */
  get queueDelayMs(): number { return this.lastDelay; }

  /** Whether to take the next new call (false: refuse it). */
  admit(): boolean {
    const now = this.o.clock.now();
    if (now - this.lastAt >= this.windowMs) this.update(now);
    if (this.steps === 0) return true;
    this.acc += this.steps * STEP;
    if (this.acc >= 1) { this.acc -= 1; this.refusedInEpisode++; return false; }
    return true;
  }

  private update(now: number): void {
    const d = this.o.queueDelay();
    this.lastAt = now;
    this.lastDelay = d;
    const before = this.steps;
    // Up fast on a long queue (a queue of seconds must be answered at once); down fast once it is gone (refusing
    // calls with no queue left is the costlier mistake: a cold start's second of queue was followed by 3 s of it).
    if (d >= TARGET_MS) this.steps = Math.min(MAX_STEPS, this.steps + 2 * Math.min(4, 1 + Math.floor((d - TARGET_MS) / RISE_PER_MS)));
    else if (d < TARGET_MS / 4) this.steps = Math.max(0, this.steps - 4);
    else if (d < TARGET_MS / 2) this.steps = Math.max(0, this.steps - 2);
    if (this.steps === 0) this.acc = 0;
    if (before === 0 && this.steps > 0) {
      this.refusedInEpisode = 0;
      this.episodeLogged = false;
      this.unloggedEpisodes++;
    }
    // An episode is logged at its onset, or later while it lasts once LOG_EVERY_MS have passed since the last one.
    if (this.steps > 0 && !this.episodeLogged && now - this.loggedAt >= LOG_EVERY_MS) {
      const skipped = this.unloggedEpisodes - 1;
      this.episodeLogged = true;
      this.loggedAt = now;
      this.unloggedEpisodes = 0;
      this.o.log?.warn({ queueDelayMs: Math.round(d), refusing: this.shedShare, ...(skipped > 0 ? { episodesNotLogged: skipped } : {}) },
        'overloaded: INVITEs wait in the receive queue; refusing a share of new calls with 503');
    } else if (before > 0 && this.steps === 0 && this.episodeLogged) {
      this.o.log?.info({ refused: this.refusedInEpisode }, 'overload over: taking every new call again');
    }
  }
}
