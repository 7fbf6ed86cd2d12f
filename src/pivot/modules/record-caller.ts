/**
 * `record_caller` (PIVOT.md 3.2, 2.8): answers, beeps (440 Hz), records the caller only until a terminator key
 * (default: all 12 keys), `silence_timeout` seconds of silence (Hookline extension, default 0 = off, as
 * Kazoo's doc says "until any DTMF or the time limit"), `time_limit` (5–10800 s, default 3600) or hang-up;
 * uploads `<url>/<Call-ID>.<format>` by PUT (or POST), then → `_`. The upload is awaited at most
 * UPLOAD_WAIT_MS (it carries on in the background after that). The recording URL is NOT reported in later
 * requests (no `Recording-Url`, as Kazoo). Without a usable http(s) `url`, or on a call layer that cannot
 * record, the module is skipped → `_`.
 */
import { DTMF_KEYS, type CallflowNode } from '../callflow.js';
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { canRecord } from '../call-control.js';
import { joinUrl } from '../../media/upload.js';
import { int, str, strList } from './data.js';
import { ABORTED } from '../../util/errors.js';

/** Longest the flow waits for the upload before going on (the upload itself continues). */
export const UPLOAD_WAIT_MS = 10_000;
export const BEEP_HZ = 440;
export const BEEP_MS = 250;
const URL_RE = /^https?:\/\//i;

export function recordingTarget(d: Readonly<Record<string, unknown>>): { base: string; format: 'wav' | 'mp3'; method: 'PUT' | 'POST' } | undefined {
  const base = str(d, 'url');
  if (!base || !URL_RE.test(base)) return undefined;
  try { new URL(base); } catch { return undefined; }
  const format = str(d, 'format') === 'wav' ? 'wav' : 'mp3'; // system default extension: mp3
  const method = (str(d, 'method') ?? 'put').toLowerCase() === 'post' ? 'POST' : 'PUT';
  return { base, format, method };
}

export const recordCallerModule: PivotModule = {
  name: 'record_caller',
  async run(node: CallflowNode, ctx: ModuleContext): Promise<Step> {
    const d = node.data;
    const t = recordingTarget(d);
    const call = ctx.call;
    if (!t) { ctx.log.warn({ url: str(d, 'url') }, 'record_caller without a usable url: skipped'); return { kind: 'next' }; }
    if (!canRecord(call)) { ctx.log.warn('this call cannot record: record_caller skipped'); return { kind: 'next' }; }
    const maxSeconds = Math.min(10800, Math.max(1, int(d, 'time_limit', 3600)));
    const silenceSeconds = Math.min(10800, Math.max(0, int(d, 'silence_timeout', 0)));
    const terminators = new Set(strList(d, 'terminators') ?? DTMF_KEYS);

    await call.answer().catch(() => undefined);
    if (ctx.signal.aborted || call.ended) return { kind: 'end', reason: 'caller_hangup' };
    const beep = await call.play({ kind: 'tone', frequencies: [BEEP_HZ], ms: BEEP_MS }, { signal: ctx.signal });
    if (beep === 'hangup' || ctx.signal.aborted) return { kind: 'end', reason: 'caller_hangup' };

    const stop = new AbortController();
    const onAbort = (): void => stop.abort(ABORTED);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    const unlisten = ctx.digits.listen((digit) => { if (terminators.has(digit)) stop.abort(ABORTED); });
    let outcome;
    try {
      outcome = await call.recordCaller({
        url: joinUrl(t.base, `${call.info.callId}.${t.format}`), method: t.method, format: t.format, maxSeconds, silenceSeconds,
      }, { signal: stop.signal });
    } finally {
      unlisten();
      ctx.signal.removeEventListener('abort', onAbort);
    }
    ctx.log.info({ reason: outcome.reason, seconds: outcome.seconds.toFixed(1) }, 'record_caller stopped');
    if (outcome.reason === 'hangup' || ctx.signal.aborted) return { kind: 'end', reason: 'caller_hangup' };
    // Wait (bounded) for the upload, so the script's next request finds the file in place.
    await new Promise<void>((resolve) => {
      const h = ctx.clock.setTimeout(done, UPLOAD_WAIT_MS);
      function done(): void { ctx.clock.clearTimeout(h); ctx.signal.removeEventListener('abort', done); resolve(); }
      ctx.signal.addEventListener('abort', done, { once: true });
      void outcome.upload.then(done);
    });
    if (ctx.signal.aborted) return { kind: 'end', reason: 'caller_hangup' };
    return { kind: 'next' };
  },
};
