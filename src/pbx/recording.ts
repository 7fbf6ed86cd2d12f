/**
 * Recordings of one call (PIVOT.md 2.8, 3.2): `record_caller` (the caller only, blocking the flow) and
 * `record_call` (both directions mixed, in the background). The media session has one recorder
 * (src/rtp/recorder.ts), so one of the two runs at a time; `record_caller` during a `record_call` is refused
 * (`busy`), as Kazoo's docs warn that call recording conflicts with voicemail.
 *
 * After a recording stops (explicitly, at its time limit, on silence, or when the call ends) the audio is
 * encoded (WAV, or MP3 in yielding slices) and uploaded (src/media/upload.ts: bounded, retried with
 * back-off). None of it holds up media or signalling; failures are logged and kept in `notes`.
 */
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { MediaSession } from '../rtp/media-engine.js';
import type {
  CallRecordingRequest, RecordCallerOutcome, RecordCallerRequest, RecordingTarget, RecordingUploadOutcome,
} from '../pivot/call-control.js';
import { contentTypeOf, encodeRecording, RECORDING_RATE } from '../media/recording.js';
import type { RecordingUploader } from '../media/upload.js';
import { redactUrl } from '../util/errors.js';

/** What the recordings need from the call (implemented by `Call`). */
export interface RecordingHost {
  readonly mediaSession: MediaSession | undefined;
  /** True once media flows (answered, or early media). */
  readonly mediaStarted: boolean;
  readonly answered: boolean;
  readonly ended: boolean;
  onEnded(listener: () => void): () => void;
}

/** Mean absolute amplitude of a 20 ms frame that counts as sound (as the worker's silence detection). */
const SOUND_LEVEL = 100;

/** True when some 20 ms frame of `pcm` is louder than SOUND_LEVEL on average. */
export function hasSound(pcm: Int16Array): boolean {
  for (let i = 0; i + 160 <= pcm.length; i += 160) {
    let sum = 0;
    for (let k = i; k < i + 160; k++) { const v = pcm[k]!; sum += v < 0 ? -v : v; }
    if (sum > SOUND_LEVEL * 160) return true;
  }
  return false;
}

/** Every recording still being taken out of a worker, encoded or uploaded, process-wide (for a graceful stop). */
const inFlight = new Set<Promise<unknown>>();

function track<T>(p: Promise<T>): Promise<T> {
  inFlight.add(p);
  void p.finally(() => inFlight.delete(p)).catch(() => undefined);
  return p;
}

/** Wait until every recording in flight has been uploaded (or failed), at most `timeoutMs`. Resolves with how many are left. */
export async function flushRecordings(timeoutMs: number): Promise<number> {
  if (inFlight.size === 0) return 0;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled([...inFlight]),
    new Promise<void>((r) => { timer = setTimeout(r, timeoutMs); }),
  ]);
  clearTimeout(timer);
  return inFlight.size;
}

/** Most recording notes kept per call (CDR / debug). */
const MAX_NOTES = 16;

export class CallRecordings {
  /** Upload results of this call's recordings (for the CDR / debug record). */
  readonly notes: RecordingUploadOutcome[] = [];
  private active: 'caller' | 'call' | undefined;
  private callReq: CallRecordingRequest | undefined;
  /** record_call requested, waiting for media / answer / bridge. */
  private pendingCall: CallRecordingRequest | undefined;
  private callStarted = false;
  private offRecorder: (() => void) | undefined;
  private stopping: Promise<void> | undefined;
  private readonly uploads = new Set<Promise<RecordingUploadOutcome>>();
  /** The caller recording's audio, requested when the call ended (before its media closed). */
  private callerStop: Promise<Int16Array> | undefined;

  constructor(
    private readonly host: RecordingHost,
    private readonly uploader: RecordingUploader,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Some recording was asked for on this call (its CDR then lists the results). */
  get used(): boolean { return this.everUsed; }
  private everUsed = false;

  /** Uploads not finished yet (tests, shutdown). */
  get pendingUploads(): number { return this.uploads.size; }

  /** Resolves once every upload started so far has settled. */
  async flush(): Promise<void> { await Promise.all([...this.uploads]); }

  /** After the call ended: resolves once its recordings were handed over by the worker and their uploads settled. */
  async settled(): Promise<void> {
    await this.stopping;
    await this.callerStop?.catch(() => undefined);
    await new Promise<void>((r) => setImmediate(r)); // record_caller's continuation starts its upload
    await this.flush();
  }

  async recordCaller(req: RecordCallerRequest, signal?: AbortSignal): Promise<RecordCallerOutcome> {
    const skipped = (why: string): Promise<RecordingUploadOutcome> => Promise.resolve({ kind: 'skipped', why });
    const media = this.host.mediaSession;
    if (this.host.ended || !media || media.closed) return { reason: 'hangup', seconds: 0, upload: skipped('call ended') };
    if (this.active) {
      this.log.warn('record_caller while the call is being recorded: skipped');
      return { reason: 'busy', seconds: 0, upload: skipped('call recording running') };
    }
    if (signal?.aborted) return { reason: 'stopped', seconds: 0, upload: skipped('stopped before start') };
    this.active = 'caller';
    this.everUsed = true;
    let reason: RecordCallerOutcome['reason'] = 'stopped';
    try {
      media.startRecorder({ mix: false, maxSeconds: req.maxSeconds, silenceMs: req.silenceSeconds * 1000 });
      await new Promise<void>((resolve) => {
        const done = (r: RecordCallerOutcome['reason']): void => {
          reason = r;
          media.off('recorder', onRec);
          signal?.removeEventListener('abort', onAbort);
          offEnd();
          resolve();
        };
        const onRec = (why: 'full' | 'silence'): void => done(why === 'full' ? 'time_limit' : 'silence');
        const onAbort = (): void => done('stopped');
        media.on('recorder', onRec);
        signal?.addEventListener('abort', onAbort, { once: true });
        const offEnd = this.host.onEnded(() => done('hangup'));
      });
      const pcm = await (this.callerStop ?? media.stopRecorder());
      const seconds = pcm.length / RECORDING_RATE;
      this.log.info({ reason, seconds: seconds.toFixed(1) }, 'record_caller finished');
      const upload = pcm.length === 0 ? skipped('empty recording')
        : req.skipSilent && !hasSound(pcm) ? skipped('no sound from the caller')
          : this.upload(pcm, req, 0);
      return { reason, seconds, upload };
    } finally {
      this.active = undefined;
      this.callerStop = undefined;
    }
  }

  /** The call is ending: take the audio out of the media session before it closes (Call.end calls this first). */
  callEnding(): void {
    const media = this.host.mediaSession;
    if (this.active === 'caller' && media && !this.callerStop) this.callerStop = media.stopRecorder();
    else if (this.active === 'call') void this.stopCall();
  }

  startCall(req: CallRecordingRequest): void {
    this.everUsed = true;
    if (this.host.ended) return;
    if (this.active || this.pendingCall) { this.log.info('record_call start while recording: ignored'); return; }
    this.pendingCall = req;
    this.active = 'call';
    this.kick();
  }

  /** Media started, the call was answered or bridged: start a pending record_call whose moment came. */
  kick(bridged = false): void {
    const req = this.pendingCall;
    if (!req || this.host.ended) return;
    const media = this.host.mediaSession;
    if (!media || media.closed || !this.host.mediaStarted) return;
    if (req.startOn === 'answer' && !this.host.answered) return;
    if (req.startOn === 'bridge' && !bridged) return;
    this.pendingCall = undefined;
    this.callReq = req;
    this.callStarted = true;
    media.startRecorder({ mix: true, maxSeconds: req.maxSeconds });
    const onRec = (why: 'full' | 'silence'): void => {
      if (why === 'full') { this.log.info({ seconds: req.maxSeconds }, 'record_call time limit reached'); void this.stopCall(); }
    };
    media.on('recorder', onRec);
    this.offRecorder = () => media.off('recorder', onRec);
    this.log.info({ format: req.format, url: redactUrl(req.url), startOn: req.startOn }, 'record_call started');
  }

  /** Stop the call recording and upload it. Safe to call at any time (call end included). */
  stopCall(): Promise<void> {
    if (this.active !== 'call') return this.stopping ?? Promise.resolve();
    const req = this.callReq;
    const started = this.callStarted;
    this.pendingCall = undefined;
    this.offRecorder?.();
    this.offRecorder = undefined;
    const media = this.host.mediaSession;
    if (!started || !req || !media) {
      this.reset();
      return Promise.resolve();
    }
    // stopRecorder is posted before any close of the session (or a new start), so the worker hands this
    // recording over first; a new record_call may start right away.
    const got = track(media.stopRecorder());
    this.reset();
    const stopping = got.then((pcm) => {
      if (this.stopping === stopping) this.stopping = undefined;
      const seconds = pcm.length / RECORDING_RATE;
      this.log.info({ seconds: seconds.toFixed(1) }, 'record_call stopped');
      if (pcm.length === 0) { this.note({ kind: 'skipped', why: 'empty recording' }); return; }
      void this.upload(pcm, req, req.minSeconds);
    });
    this.stopping = stopping;
    return stopping;
  }

  private reset(): void {
    this.active = undefined;
    this.callReq = undefined;
    this.callStarted = false;
  }

  private upload(pcm: Int16Array, t: RecordingTarget, minSeconds: number): Promise<RecordingUploadOutcome> {
    const seconds = pcm.length / RECORDING_RATE;
    if (seconds < minSeconds) {
      const o: RecordingUploadOutcome = { kind: 'skipped', why: `shorter than record_min_sec (${seconds.toFixed(1)} s < ${minSeconds} s)` };
      this.note(o);
      return Promise.resolve(o);
    }
    const p = (async (): Promise<RecordingUploadOutcome> => {
      const t0 = this.clock.now();
      let body: Uint8Array;
      try {
        body = await encodeRecording(pcm, t.format);
      } catch (err) {
        return { kind: 'failed', url: redactUrl(t.url), error: `encoding failed: ${String(err)}` };
      }
      const encodeMs = this.clock.now() - t0;
      const r = await this.uploader.upload({ url: t.url, method: t.method, body, contentType: contentTypeOf(t.format) });
      if (r.ok) {
        this.log.info({ url: redactUrl(t.url), bytes: body.length, seconds: seconds.toFixed(1), encodeMs: Math.round(encodeMs), attempts: r.attempts }, 'recording uploaded');
        return { kind: 'uploaded', url: t.url, bytes: body.length, seconds, attempts: r.attempts };
      }
      this.log.warn({ url: redactUrl(t.url), code: r.code, error: r.error, attempts: r.attempts }, 'recording upload failed');
      return { kind: 'failed', url: redactUrl(t.url), error: r.error };
    })().catch((err: unknown): RecordingUploadOutcome => ({ kind: 'failed', url: redactUrl(t.url), error: String(err) }));
    this.uploads.add(p);
    track(p);
    void p.then((o) => { this.uploads.delete(p); this.note(o); });
    return p;
  }

  private note(o: RecordingUploadOutcome): void {
    if (this.notes.length < MAX_NOTES) this.notes.push(o);
  }
}
