/**
 * What a callflow module sees: the per-call state (`ModuleContext`), the result of running one
 * node (`Step`), and the `PivotModule` interface each `modules/<name>.ts` implements.
 *
 * DTMF model (PIVOT.md 2.7, ARCHITECTURE "Media"):
 * - One `DigitBuffer` per session, fed by `call.onDigit` from the session's construction to its end.
 * - While a module "listens" (a prompt with terminators, a collect), digits go to that listener.
 *   Otherwise (a request in flight, sleep, an uninterruptible prompt…) they wait in `pending`, never
 *   dropped between rounds (bounded: the oldest are dropped past `DigitBuffer.max`).
 * - A prompt with terminators moves pending and live digits into the `default` collection
 *   (type-ahead); a terminator key cuts the prompt (and is kept in `default` as well).
 * - `collect_dtmf` takes `default` (cut at its first terminator) as a prefix, clears it, then
 *   consumes pending digits, then live ones.
 */
import type { DialResult } from './params.js';
import type { CallControl, DtmfDigit } from './call-control.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { CallflowNode, Compat } from './callflow.js';
import type { ParamState } from './params.js';
import type { WebhookClient } from './webhook.js';
import type { MediaSource, PivotStored } from './stored.js';

/** What to do after a node. */
export type Step =
  /** Continue with the first of `keys` present in `children`, else `_` (unless `noDefault`). */
  | { readonly kind: 'next'; readonly keys?: readonly string[]; readonly noDefault?: boolean }
  /** A `pivot` reply: it replaces the rest of the flow. */
  | { readonly kind: 'replace'; readonly flow: CallflowNode }
  /** The flow ends here (the module may already have hung up). */
  | { readonly kind: 'end'; readonly reason: string };

export interface PivotModule {
  readonly name: string;
  /** Run one node. Must resolve promptly once `ctx.signal` aborts, leaving no timers or listeners. */
  run(node: CallflowNode, ctx: ModuleContext): Promise<Step>;
}

/** Caller-ID changes for later outbound bridges (`set_cid`, `prepend_cid`); pivot params are unaffected. */
export interface CallerIdState {
  override?: { name?: string; number?: string };
  prefix?: { name: string; number: string };
}

export type DigitListener = (digit: DtmfDigit) => void;

export class DigitBuffer {
  /** Most digits kept while nobody listens. */
  static readonly max = 256;
  private pending: DtmfDigit[] = [];
  private listener: DigitListener | undefined;

  /** Feed one digit (from `call.onDigit`). */
  push(digit: DtmfDigit): void {
    if (this.listener) { this.listener(digit); return; }
    this.pending.push(digit);
    if (this.pending.length > DigitBuffer.max) this.pending.shift();
  }

  /** Route live digits to `listener` until the returned function is called. One listener at a time. */
  listen(listener: DigitListener): () => void {
    this.listener = listener;
    return () => { if (this.listener === listener) this.listener = undefined; };
  }

  /** Remove and return the first pending digit. */
  shift(): DtmfDigit | undefined { return this.pending.shift(); }

  /** Pending digits (oldest first), without removing them. */
  peek(): readonly DtmfDigit[] { return this.pending; }

  get size(): number { return this.pending.length; }

  clear(): void { this.pending = []; }
}

export interface ModuleContext {
  readonly call: CallControl;
  readonly clock: Clock;
  readonly log: Logger;
  readonly compat: Compat;
  /** Aborted when the call ends or the session is stopped. */
  readonly signal: AbortSignal;
  readonly digits: DigitBuffer;
  /** DTMF collections of the call (`Digits`), kept for the whole call. */
  readonly collections: Map<string, string>;
  /** Call language (the `Language` parameter and the TTS default); undefined when not set. */
  language: string | undefined;
  readonly callerId: CallerIdState;
  readonly webhook: WebhookClient;
  /** Store a collection result (and remember it as the latest). */
  setCollection(name: string, value: string): void;
  /** Append type-ahead digits to the `default` collection. */
  appendDefault(digits: string): void;
  /** The call state a request is built from. */
  paramState(): ParamState;
  /** Next 1-based request number for this call. */
  nextIteration(): number;
  /** Remember the `cdr_url` of the latest `pivot` node (POSTed when the call ends). */
  setCdrUrl(url: string): void;
  /** Wait `ms` on the clock; resolves false at once if the session is aborted meanwhile. */
  wait(ms: number): Promise<boolean>;
  /** Stored media, menus and temporal rules (from the configuration). */
  readonly stored: PivotStored;
  /** Fetches and decodes audio for `play`, menus and `response.media`. */
  readonly media: MediaSource;
  /** Wall-clock time, epoch ms (temporal routes). */
  now(): number;
  /** Where TwiML `<Record>` stores recordings (config `pivot.recordingUrl`); undefined: `<Record>` is skipped. */
  readonly recordingUrl?: string;
  /** Remember a TwiML `<Record>` result for the next TwiML requests (RecordingUrl, RecordingDuration, RecordingSid). */
  setRecording?(r: { url: string; durationSeconds: number; id: string }): void;
  /** Next 1-based recording number of this call (file names). */
  nextRecordingNumber?(): number;
  /** Remember a TwiML `<Dial>` result for the next TwiML requests (DialCallStatus, DialCallDuration, DialCallSid). */
  setDialResult?(r: DialResult): void;
}
