/**
 * `twiml_record`: an internal module (the validator never accepts it from a web script's JSON) that TwiML
 * `<Record>` translates to (PIVOT.md 2.8). Beeps (440 Hz) unless `play_beep` is false, records the caller until a
 * key of `finish_on_key` (default: every key), `timeout_s` of silence (default 5; 0 = off) or `max_length_s` (≤ 3600),
 * stores the WAV by PUT at `<pivot.recordingUrl>/<CallSid>-<n>.wav`, remembers RecordingUrl (that URL),
 * RecordingDuration and RecordingSid for the next TwiML requests, then → the `recorded` child (a `pivot` to
 * `action`). Empty or silent (no sound from the caller: not stored), failed to store, or no
 * `pivot.recordingUrl` configured → `_` (the next verb).
 */
import type { CallflowNode } from '../callflow.js';
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { canRecord } from '../call-control.js';
import { joinUrl } from '../../media/upload.js';
import { int, str } from './data.js';
import { BEEP_HZ, BEEP_MS, UPLOAD_WAIT_MS } from './record-caller.js';
import type { RecordingUploadOutcome } from '../call-control.js';
import { ABORTED } from '../../util/errors.js';

export const twimlRecordModule: PivotModule = {
  name: 'twiml_record',
  async run(node: CallflowNode, ctx: ModuleContext): Promise<Step> {
    const d = node.data;
    const call = ctx.call;
    const base = ctx.recordingUrl;
    if (!base || !ctx.setRecording || !ctx.nextRecordingNumber) { ctx.log.warn('<Record> needs pivot.recordingUrl: skipped'); return { kind: 'next' }; }
    if (!canRecord(call)) { ctx.log.warn('this call cannot record: <Record> skipped'); return { kind: 'next' }; }
    const keys = new Set([...(str(d, 'finish_on_key') ?? '1234567890*#')]);
    await call.answer().catch(() => undefined);
    if (ctx.signal.aborted || call.ended) return { kind: 'end', reason: 'caller_hangup' };
    if (d.play_beep !== false) {
      const beep = await call.play({ kind: 'tone', frequencies: [BEEP_HZ], ms: BEEP_MS }, { signal: ctx.signal });
      if (beep === 'hangup' || ctx.signal.aborted) return { kind: 'end', reason: 'caller_hangup' };
    }
    const n = ctx.nextRecordingNumber();
    const id = `${call.info.callId}-${n}`;
    const url = joinUrl(base, `${id}.wav`);
    const stop = new AbortController();
    const onAbort = (): void => stop.abort(ABORTED);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    let pressed = '';
    const unlisten = ctx.digits.listen((digit) => { if (keys.has(digit)) { pressed = digit; stop.abort(ABORTED); } });
    let outcome;
    try {
      outcome = await call.recordCaller({
        url, method: 'PUT', format: 'wav',
        maxSeconds: Math.min(3600, Math.max(1, int(d, 'max_length_s', 3600))),
        silenceSeconds: Math.min(3600, Math.max(0, int(d, 'timeout_s', 5))),
        skipSilent: true,
      }, { signal: stop.signal });
    } finally {
      unlisten();
      ctx.signal.removeEventListener('abort', onAbort);
    }
    if (outcome.reason === 'hangup' || ctx.signal.aborted) return { kind: 'end', reason: 'caller_hangup' };
    const stored = await new Promise<RecordingUploadOutcome | undefined>((resolve) => {
      const h = ctx.clock.setTimeout(() => done(undefined), UPLOAD_WAIT_MS);
      function done(o: RecordingUploadOutcome | undefined): void { ctx.clock.clearTimeout(h); ctx.signal.removeEventListener('abort', onStop); resolve(o); }
      const onStop = (): void => done(undefined);
      ctx.signal.addEventListener('abort', onStop, { once: true });
      void outcome.upload.then(done);
    });
    if (ctx.signal.aborted) return { kind: 'end', reason: 'caller_hangup' };
    if (!stored || stored.kind !== 'uploaded') {
      ctx.log.info({ reason: outcome.reason, stored: stored?.kind ?? 'timeout' }, '<Record>: nothing stored, next verb');
      return { kind: 'next' };
    }
    ctx.setRecording({ url, durationSeconds: stored.seconds, id });
    // Twilio reports the key that ended the recording as Digits
    if (pressed) ctx.setCollection('record', pressed);
    return { kind: 'next', keys: ['recorded'], noDefault: true };
  },
};
