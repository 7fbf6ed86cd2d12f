/**
 * `PivotSession`: the Pivot side of one call. Construct it when the call arrives (digits are buffered
 * from then on), `run()` the stored callflow (usually one `pivot` node); when the flow ends the call
 * is hung up (unless it already ended). When the call ends, every timer, listener and in-flight
 * request of the session is released and `run()` resolves.
 *
 * ```ts
 * const s = new PivotSession(call, { clock: realClock, compat: 'lenient' });
 * const { reason } = await s.run({ module: 'pivot', data: { voice_url: 'https://ivr.example/start' } });
 * ```
 */
import type { DialResult } from './params.js';
import type { CallControl, DtmfDigit } from './call-control.js';
import type { Clock } from '../util/clock.js';
import { getLogger, lazyChild, type Logger } from '../util/logger.js';
import { validateCallflow, type CallflowNode, type Compat } from './callflow.js';
import { DigitBuffer, type CallerIdState, type ModuleContext, type PivotModule } from './context.js';
import { MODULES } from './modules/index.js';
import type { PivotDebugStore } from './debug-store.js';
import { runFlow, DEFAULT_MAX_NODES } from './interpreter.js';
import { buildParams, DEFAULT_API_VERSION, type ParamState } from './params.js';
import { WebhookClient } from './webhook.js';
import { PivotError } from './errors.js';
import { EMPTY_STORED, storedFromRecords, type MediaSource, type PivotStored, type StoredRecords } from './stored.js';
import { MediaLoader } from '../media/fetch.js';
import { ABORTED } from '../util/errors.js';

/** Bounds on DTMF state kept for a call. */
export const MAX_COLLECTIONS = 64;
export const MAX_COLLECTION_CHARS = 256;

export interface PivotSessionOptions {
  clock: Clock;
  /** Default: `getLogger('pivot')` with the call id bound. */
  logger?: Logger;
  /** Default `lenient`. */
  compat?: Compat;
  /** `Api-Version` sent in Kazoo format (default `2015-03-01`). */
  apiVersion?: string;
  /** Cap for `req_timeout_ms` (default 5000). */
  maxReqTimeoutMs?: number;
  /** Where `debug: true` nodes store their request/response records. */
  debugStore?: PivotDebugStore;
  /** Initial call language (sent as `Language`, default TTS language); none by default. */
  defaultLanguage?: string;
  /** Nodes run per call at most (default 10,000). */
  maxNodes?: number;
  /** Maximum webhook response body (default 1 MiB). */
  maxBodyBytes?: number;
  /**
   * Module implementations merged over the built-in registry (`MODULES`): how later issues plug in
   * `device`, `resources`, `conference`… Names not present run as "unavailable" (their failure path).
   */
  modules?: ReadonlyMap<string, PivotModule>;
  /** Sign every request with `X-Hookline-Signature` (see `WebhookClientOptions.signingSecret`). */
  signingSecret?: string;
  /** Stored media, menus and temporal rules; none by default. */
  stored?: Partial<PivotStored>;
  /** The same from the configuration's plain objects (e.g. the `HooklineConfig`); `stored` wins where both are set. */
  storedConfig?: StoredRecords;
  /** Audio source for `play`/`menu` (the switch shares one `MediaLoader`); default a process-wide loader. */
  media?: MediaSource;
  /** Wall clock, epoch ms, for `temporal_route` (default `Date.now`). */
  now?: () => number;
  /** Base URL where TwiML `<Record>` stores recordings (PUT); without it `<Record>` is skipped. */
  recordingUrl?: string;
}

let sharedLoader: MediaLoader | undefined;
/** The process-wide default media loader (real clock, default bounds). */
export function defaultMediaLoader(): MediaLoader {
  sharedLoader ??= new MediaLoader();
  return sharedLoader;
}

/**
 * A number's callflow (config) is the same object for every call to it: validated once per object and compat, not
 * per call (9 µs a call in the cps profile). Flows from webhooks are validated where they are parsed.
 */
const rootsChecked = new WeakMap<object, { compat: Compat; v: ReturnType<typeof validateCallflow> }>();
function validatedRoot(root: CallflowNode, compat: Compat): ReturnType<typeof validateCallflow> {
  if (typeof root !== 'object' || root === null) return validateCallflow(root, { compat });
  const hit = rootsChecked.get(root);
  if (hit && hit.compat === compat) return hit.v;
  const v = validateCallflow(root, { compat });
  if (v.ok) deepFreeze(v.flow); // shared by every call to the number from now on: nothing may change it
  rootsChecked.set(root, { compat, v });
  return v;
}

function deepFreeze(o: unknown): void {
  if (typeof o !== 'object' || o === null || Object.isFrozen(o)) return;
  Object.freeze(o);
  for (const v of Object.values(o)) deepFreeze(v);
}

export interface SessionResult {
  /** See `FlowOutcome.reason`; plus `stopped` and `invalid_callflow`. */
  readonly reason: string;
}

export class PivotSession {
  readonly call: CallControl;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly compat: Compat;
  private readonly apiVersion: string;
  private readonly maxNodes: number;
  private readonly registry: ReadonlyMap<string, PivotModule>;
  private readonly webhook: WebhookClient;
  private readonly abort = new AbortController();
  private readonly digits = new DigitBuffer();
  /** What the modules see and change (collections, language, recording, dial result...). */
  private readonly ctx: SessionContext;
  private readonly startedAt: number;
  private stoppedByUser = false;
  private running: Promise<SessionResult> | undefined;
  private unsubscribeDigit: (() => void) | undefined;
  private unsubscribeEnded: (() => void) | undefined;

  constructor(call: CallControl, opts: PivotSessionOptions) {
    if (!opts || !opts.clock) throw new PivotError('PIVOT_BAD_OPTIONS', 'PivotSession needs a clock');
    if (opts.compat !== undefined && opts.compat !== 'lenient' && opts.compat !== 'strict') {
      throw new PivotError('PIVOT_BAD_OPTIONS', `compat must be lenient or strict`);
    }
    this.call = call;
    this.clock = opts.clock;
    this.compat = opts.compat ?? 'lenient';
    this.apiVersion = opts.apiVersion ?? DEFAULT_API_VERSION;
    this.maxNodes = opts.maxNodes ?? DEFAULT_MAX_NODES;
    this.registry = opts.modules ? new Map([...MODULES, ...opts.modules]) : MODULES;
    this.startedAt = opts.clock.now();
    this.log = lazyChild(opts.logger ?? getLogger('pivot'), { callId: call.info.callId });
    this.webhook = new WebhookClient({
      clock: opts.clock,
      logger: this.log,
      compat: this.compat,
      ...(opts.maxReqTimeoutMs !== undefined ? { maxReqTimeoutMs: opts.maxReqTimeoutMs } : {}),
      ...(opts.maxBodyBytes !== undefined ? { maxBodyBytes: opts.maxBodyBytes } : {}),
      ...(opts.debugStore ? { debugStore: opts.debugStore } : {}),
      ...(opts.signingSecret ? { signingSecret: opts.signingSecret } : {}),
    });
    this.ctx = new SessionContext({
      call, clock: this.clock, log: this.log, compat: this.compat, apiVersion: this.apiVersion, signal: this.abort.signal,
      digits: this.digits, webhook: this.webhook,
      stored: { ...EMPTY_STORED, ...(opts.storedConfig ? storedFromRecords(opts.storedConfig) : {}), ...opts.stored },
      media: opts.media ?? defaultMediaLoader(), now: opts.now ?? Date.now, recordingUrl: opts.recordingUrl,
      language: opts.defaultLanguage,
    });
    this.unsubscribeDigit = call.onDigit((d: DtmfDigit) => {
      try { this.digits.push(d); } catch (err) { this.log.error({ err: String(err) }, 'digit handling failed'); }
    });
    this.unsubscribeEnded = call.onEnded(() => { this.abort.abort(ABORTED); });
  }

  /** DTMF collections gathered so far (the `Digits` parameter). */
  get collections(): ReadonlyMap<string, string> { return this.ctx.collections; }
  /** The call language (`language` module), if set. */
  get language(): string | undefined { return this.ctx.language; }
  /** Caller ID for later outbound bridges after `set_cid`/`prepend_cid` (undefined parts: unchanged). */
  get outboundCallerId(): { name?: string; number?: string } {
    const o = this.ctx.callerId.override;
    const p = this.ctx.callerId.prefix;
    const name = o?.name ?? this.call.info.callerIdName;
    const number = o?.number ?? this.call.info.callerIdNumber;
    return {
      ...(name !== undefined || p?.name ? { name: (p?.name ?? '') + (name ?? '') } : {}),
      ...(number !== undefined || p?.number ? { number: (p?.number ?? '') + (number ?? '') } : {}),
    };
  }
  /** Webhook requests currently in flight (0 or 1). */
  get requestsInFlight(): number { return this.webhook.inFlight; }
  /** Digits typed and not yet consumed. */
  get pendingDigits(): string { return this.digits.peek().join(''); }

  /** Run `root` to completion. Calling it again returns the same promise. */
  run(root: CallflowNode): Promise<SessionResult> {
    this.running ??= this.runInner(root);
    return this.running;
  }

  /**
   * Stop the interpreter (e.g. the call is handed elsewhere): `run()` resolves `stopped`; the call is
   * left up. Not needed when the call ends (the session ends itself); calling it then changes nothing.
   */
  stop(): void {
    if (!this.call.ended) this.stoppedByUser = true;
    this.abort.abort(ABORTED);
    if (!this.running) this.release();
  }

  private async runInner(root: CallflowNode): Promise<SessionResult> {
    try {
      if (this.abort.signal.aborted) return { reason: this.stoppedByUser ? 'stopped' : 'caller_hangup' };
      const v = validatedRoot(root, this.compat);
      if (!v.ok) {
        this.log.error({ errors: v.errors }, 'stored callflow is invalid');
        await this.hangupIfUp();
        return { reason: 'invalid_callflow' };
      }
      const out = await runFlow(v.flow, this.ctx, { maxNodes: this.maxNodes, registry: this.registry });
      if (this.stoppedByUser) return { reason: 'stopped' };
      await this.hangupIfUp();
      this.log.debug({ reason: out.reason, nodes: out.nodes }, 'pivot session ended');
      await this.postCdr(out.reason);
      return { reason: out.reason };
    } catch (err) {
      this.log.error({ err: err instanceof Error ? err.message : String(err) }, 'pivot session failed');
      if (!this.stoppedByUser) await this.hangupIfUp();
      return { reason: 'module_error' };
    } finally {
      this.abort.abort(ABORTED);
      this.release();
    }
  }

  /** `cdr_url`: a form POST at call end with the Kazoo parameters plus duration and end reason. */
  private async postCdr(reason: string): Promise<void> {
    const cdrUrl = this.ctx.cdrUrl;
    if (!cdrUrl) return;
    const params = buildParams({ ...this.ctx.paramState(), ended: true }, 'kazoo');
    params['Duration-Seconds'] = Math.max(0, Math.round((this.clock.now() - this.startedAt) / 1000));
    params.Answered = this.call.answered;
    params['Hookline-End-Reason'] = reason;
    await this.webhook.notify(cdrUrl, params);
  }

  private async hangupIfUp(): Promise<void> {
    if (this.call.ended) return;
    await this.call.hangup().catch((err: unknown) => {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'hangup failed');
    });
  }

  private release(): void {
    this.unsubscribeDigit?.();
    this.unsubscribeEnded?.();
    this.unsubscribeDigit = undefined;
    this.unsubscribeEnded = undefined;
  }
}

interface SessionContextInit {
  call: CallControl; clock: Clock; log: Logger; compat: Compat; apiVersion: string; signal: AbortSignal;
  digits: DigitBuffer; webhook: WebhookClient; stored: PivotStored; media: MediaSource; now: () => number;
  recordingUrl: string | undefined; language: string | undefined;
}

/**
 * The `ModuleContext` of one session, and the state its modules change. A class, so that each call's context is one
 * object with its methods on the prototype: an object literal with an accessor and a dozen closures was a
 * dictionary-mode object of about 1.5 KB per call, plus a closure per method.
 */
class SessionContext implements ModuleContext {
  readonly call: CallControl;
  readonly clock: Clock;
  readonly log: Logger;
  readonly compat: Compat;
  readonly signal: AbortSignal;
  readonly digits: DigitBuffer;
  readonly collections = new Map<string, string>();
  language: string | undefined;
  readonly callerId: CallerIdState = {};
  readonly webhook: WebhookClient;
  readonly stored: PivotStored;
  readonly media: MediaSource;
  readonly recordingUrl?: string;
  /** The collection last set (`Digits` names it). */
  lastCollection: string | undefined;
  /** `cdr_url` of the pivot node, for the POST at the end. */
  cdrUrl: string | undefined;
  private readonly apiVersion: string;
  private readonly wallNow: () => number;
  private iteration = 0;
  private recordings = 0;
  private recording: { url: string; durationSeconds: number; id: string } | undefined;
  private dial: DialResult | undefined;

  constructor(i: SessionContextInit) {
    this.call = i.call;
    this.clock = i.clock;
    this.log = i.log;
    this.compat = i.compat;
    this.signal = i.signal;
    this.digits = i.digits;
    this.webhook = i.webhook;
    this.stored = i.stored;
    this.media = i.media;
    if (i.recordingUrl !== undefined) this.recordingUrl = i.recordingUrl;
    this.language = i.language;
    this.apiVersion = i.apiVersion;
    this.wallNow = i.now;
  }

  setCollection(name: string, value: string): void {
    if (!this.collections.has(name) && this.collections.size >= MAX_COLLECTIONS) {
      this.log.warn({ name }, 'too many DTMF collections: ignored');
      return;
    }
    this.collections.set(name, value.slice(0, MAX_COLLECTION_CHARS));
    this.lastCollection = name;
  }

  appendDefault(d: string): void {
    const cur = this.collections.get('default') ?? '';
    if (cur === '' && !this.collections.has('default') && this.collections.size >= MAX_COLLECTIONS) return;
    this.collections.set('default', (cur + d).slice(0, MAX_COLLECTION_CHARS));
    this.lastCollection = 'default';
  }

  paramState(): ParamState {
    return {
      info: this.call.info,
      apiVersion: this.apiVersion,
      ...(this.language !== undefined ? { language: this.language } : {}),
      collections: this.collections,
      ...(this.lastCollection !== undefined ? { lastCollection: this.lastCollection } : {}),
      answered: this.call.answered,
      ended: this.call.ended,
      ...(this.recording ? { recording: this.recording } : {}),
      ...(this.dial ? { dial: this.dial } : {}),
    };
  }

  setCdrUrl(url: string): void { this.cdrUrl = url; }
  nextIteration(): number { return ++this.iteration; }

  wait(ms: number): Promise<boolean> {
    const signal = this.signal;
    return new Promise<boolean>((resolve) => {
      if (signal.aborted) { resolve(false); return; }
      const onAbort = (): void => { this.clock.clearTimeout(h); resolve(false); };
      const h = this.clock.setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(true); }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  now(): number { return this.wallNow(); }
  setRecording(r: { url: string; durationSeconds: number; id: string }): void { this.recording = { ...r }; }
  nextRecordingNumber(): number { return ++this.recordings; }
  setDialResult(r: DialResult): void { this.dial = { ...r }; }
}
