/**
 * `record_call` (PIVOT.md 3.2, 2.8): `action: start` records both directions of the call mixed (the caller,
 * and what the caller hears: prompts and the bridged far end) in the background and goes on to `_` at once;
 * `action: stop` stops it. The file is uploaded on stop, at `time_limit` (5–10800 s, default 3600) or when
 * the call ends, to `<url>/call_recording_<Call-ID>.<format>` (or `<url>/<media_name>`), PUT unless
 * `method: post`. `record_on_answer` / `record_on_bridge` delay the start; `record_min_sec` discards shorter
 * recordings. `record_sample_rate` (always 8 kHz here), `should_follow_transfer`, `label` are accepted and
 * ignored. A start without a usable http(s) `url`, or a call layer that cannot record: skipped → `_`.
 */
import type { CallflowNode } from '../callflow.js';
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { canRecord } from '../call-control.js';
import { joinUrl } from '../../media/upload.js';
import { bool, int, str } from './data.js';
import { recordingTarget } from './record-caller.js';

export const recordCallModule: PivotModule = {
  name: 'record_call',
  async run(node: CallflowNode, ctx: ModuleContext): Promise<Step> {
    const d = node.data;
    const call = ctx.call;
    if (!canRecord(call)) { ctx.log.warn('this call cannot record: record_call skipped'); return { kind: 'next' }; }
    if ((str(d, 'action') ?? 'start') === 'stop') {
      await call.stopCallRecording();
      return { kind: 'next' };
    }
    const t = recordingTarget(d);
    if (!t) { ctx.log.warn({ url: str(d, 'url') }, 'record_call without a usable url: skipped'); return { kind: 'next' }; }
    const mediaName = str(d, 'media_name');
    const file = mediaName ? (/\.(mp3|wav)$/i.test(mediaName) ? mediaName : `${mediaName}.${t.format}`) : `call_recording_${call.info.callId}.${t.format}`;
    call.startCallRecording({
      url: joinUrl(t.base, file), method: t.method, format: t.format,
      maxSeconds: Math.min(10800, Math.max(1, int(d, 'time_limit', 3600))),
      startOn: bool(d, 'record_on_bridge') === true ? 'bridge' : bool(d, 'record_on_answer') === true ? 'answer' : 'now',
      minSeconds: Math.max(0, int(d, 'record_min_sec', 0)),
    });
    return { kind: 'next' };
  },
};
