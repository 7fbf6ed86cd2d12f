/**
 * Playing a prompt with DTMF terminators (shared by `tts`, later `play`).
 *
 * - `terminators` empty: uninterruptible; digits stay pending for a later collect.
 * - otherwise: pending digits (typed ahead) and digits typed during the prompt are appended to the
 *   `default` collection; the first terminator stops the prompt (or skips it if it was typed ahead).
 * - `endless`: the prompt loops until a terminator, the end of the call, or `ENDLESS_CAP_MS`.
 */
import type { PlayOutcome, Prompt } from './call-control.js';
import type { ModuleContext } from './context.js';
import { ABORTED } from '../util/errors.js';

/** Longest an endless playback loops (24 h), so nothing is unbounded. */
export const ENDLESS_CAP_MS = 24 * 3600 * 1000;

export interface PromptResult {
  readonly outcome: PlayOutcome;
  /** The terminator key that cut the prompt, if any. */
  readonly cutBy?: string;
}

export async function playWithTerminators(
  ctx: ModuleContext,
  prompt: Prompt,
  opts: { terminators: readonly string[]; endless?: boolean; earlyMedia?: boolean },
): Promise<PromptResult> {
  if (ctx.signal.aborted) return { outcome: 'hangup' };
  const terms = new Set(opts.terminators);
  const local = new AbortController();
  let cutBy: string | undefined;

  let stopListening: (() => void) | undefined;
  if (terms.size > 0) {
    // Type-ahead: digits typed before the prompt started.
    let typed = '';
    while (ctx.digits.size > 0 && cutBy === undefined) {
      const d = ctx.digits.shift();
      if (d === undefined) break;
      typed += d;
      if (terms.has(d)) cutBy = d;
    }
    if (typed) ctx.appendDefault(typed);
    if (cutBy !== undefined) {
      if (!opts.earlyMedia) await ctx.call.answer().catch(() => undefined);
      return { outcome: 'stopped', cutBy };
    }
    stopListening = ctx.digits.listen((d) => {
      ctx.appendDefault(d);
      if (terms.has(d) && cutBy === undefined) {
        cutBy = d;
        stopListening?.();
        local.abort(ABORTED);
      }
    });
  }
  const onAbort = (): void => { local.abort(ABORTED); };
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const started = ctx.clock.now();
  try {
    for (;;) {
      const t0 = ctx.clock.now();
      let outcome: PlayOutcome;
      try {
        outcome = await ctx.call.play(prompt, { signal: local.signal, earlyMedia: opts.earlyMedia });
      } catch (err) {
        ctx.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'play failed');
        outcome = ctx.call.ended ? 'hangup' : 'finished';
        if (outcome === 'finished') return { outcome };
      }
      if (ctx.signal.aborted || ctx.call.ended) return { outcome: 'hangup' };
      if (cutBy !== undefined) return { outcome: 'stopped', cutBy };
      if (outcome !== 'finished' || !opts.endless) return { outcome };
      if (ctx.clock.now() - started >= ENDLESS_CAP_MS) return { outcome };
      // A prompt that takes no time would loop without yielding: stop instead.
      if (ctx.clock.now() === t0) {
        ctx.log.warn('endless playback of a zero-length prompt: not looping');
        return { outcome };
      }
    }
  } finally {
    stopListening?.();
    ctx.signal.removeEventListener('abort', onAbort);
  }
}
