/**
 * The narrow call-control interface through which `src/pivot` drives a call.
 * Pivot never touches SIP messages or RTP packets; the call layer (`src/pbx`) implements this.
 *
 * Contract:
 * - Every method is safe to call after the call has ended: it resolves at once (play → 'hangup').
 * - Digits arrive through `onDigit` from the first moment media flows (RFC 4733, SIP INFO, in-band),
 *   whatever else is happening; the interpreter owns buffering, terminators and collections.
 * - `play` resolves when the prompt finished, was stopped through `signal`, or the call ended.
 */

import type { ConferenceSettings } from './conference-config.js';

/** One DTMF key: 0-9, *, #, A-D. */
export type DtmfDigit = string;

export interface CallInfo {
  /** SIP Call-ID of the leg (Kazoo `Call-ID`). */
  readonly callId: string;
  readonly accountId: string;
  readonly direction: 'inbound' | 'outbound';
  readonly callerIdName?: string;
  readonly callerIdNumber?: string;
  /** User and host parts of the SIP From, To and Request-URI. */
  readonly from: string;
  readonly fromRealm: string;
  readonly to: string;
  readonly toRealm: string;
  readonly request: string;
  readonly requestRealm: string;
  /** Custom SIP headers (X-...) of the incoming INVITE, when any. */
  readonly customSipHeaders?: Readonly<Record<string, string>>;
}

export type Prompt =
  /** Text to speech. `voice`/`language` fall back to the configured TTS defaults. */
  | { readonly kind: 'tts'; readonly text: string; readonly voice?: string; readonly language?: string; readonly engine?: string }
  /** Silence of a given length (used for `sleep` while keeping RTP flowing). */
  | { readonly kind: 'silence'; readonly ms: number }
  /** A tone: frequencies in Hz, played for `ms`. */
  | { readonly kind: 'tone'; readonly frequencies: readonly number[]; readonly ms: number }
  /**
   * Decoded audio (PCM16 mono at 8 kHz), e.g. a fetched WAV/MP3 or a stored media file. The buffer must not be
   * changed afterwards: the call layer shares it with the media workers (the same buffer → one shared copy).
   */
  | { readonly kind: 'audio'; readonly pcm: Int16Array };

export type PlayOutcome = 'finished' | 'stopped' | 'hangup';

export interface CallControl {
  readonly info: CallInfo;
  /** True once the call has ended (either side). */
  readonly ended: boolean;
  /** True once the call was answered (200 OK sent). */
  readonly answered: boolean;

  /** Answer the call (200 OK with SDP); idempotent. Rejects only if the call ended before it could be answered. */
  answer(): Promise<void>;
  /** Play a prompt to the caller (answers first unless `earlyMedia` is set). */
  play(prompt: Prompt, options?: { signal?: AbortSignal; earlyMedia?: boolean }): Promise<PlayOutcome>;
  /** Send DTMF to the caller as RFC 4733 events. */
  sendDtmf(digits: string, durationMs: number): Promise<void>;
  /**
   * End the call: BYE when answered, else a final response (`code`, default 480 when not answered, with `reason`).
   * Idempotent; resolves once the hang-up has been sent.
   */
  hangup(options?: { code?: number; reason?: string }): Promise<void>;

  /** Subscribe to DTMF digits; returns an unsubscribe function. */
  onDigit(listener: (digit: DtmfDigit) => void): () => void;
  /** Subscribe to the end of the call (fires once; immediately-after-subscribe if already ended). */
  onEnded(listener: () => void): () => void;
}

// ---------------------------------------------------------------- bridging (optional: a call layer without
// outbound legs leaves these out, and the bridge modules then take their failure path)

/** Caller ID shown on an outbound leg (after `set_cid` / `prepend_cid`). */
export interface BridgeCallerId {
  readonly name?: string;
  readonly number?: string;
}

/** `resources` / `offnet`: dial a number through carriers. */
export interface ResourcesRequest {
  readonly toDid: string;
  /** true: the account's own carriers; false: the global ones. */
  readonly useLocalResources: boolean;
  /** Ring time, seconds (undefined: the call layer's default). */
  readonly timeoutSeconds?: number;
  readonly callerId: BridgeCallerId;
  readonly ignoreEarlyMedia: boolean;
  readonly customSipHeaders: Readonly<Record<string, string>>;
  /** false for bypass_e164 / do_not_normalize: dial the number as given. */
  readonly normalize: boolean;
  /** Only carriers that have every one of these flags. */
  readonly outboundFlags: readonly string[];
  /** `hunt_account_id`: with useLocalResources, that account's carriers instead of the call's. */
  readonly huntAccountId?: string;
  /** `format_from_uri`: the account's realm as the From host; `from_uri_realm` names the realm itself. */
  readonly formatFromUri?: boolean;
  readonly fromUriRealm?: string;
  /** `emit_account_id`: an X-Account-ID header on the outbound INVITE. */
  readonly emitAccountId?: boolean;
  /** TwiML `<Dial>`: when the far end hangs up first the caller stays (the flow goes on); default false. */
  readonly keepCaller?: boolean;
}

/** TwiML `<Dial><Sip>`: bridge to a SIP URI directly (no carrier). */
export interface UriRequest {
  /** `sip:user@host[:port][;transport=tcp]`; the host an IP address or a name resolved by the system. */
  readonly uri: string;
  readonly credentials?: { readonly username: string; readonly password: string };
  readonly timeoutSeconds: number;
  readonly callerId: BridgeCallerId;
  readonly customSipHeaders: Readonly<Record<string, string>>;
  /** When the far end hangs up first the caller stays (the flow goes on). */
  readonly keepCaller?: boolean;
}

export interface EndpointRef {
  /** `group`: a stored ring group (config `ringGroups`), expanded to its members. */
  readonly type: 'device' | 'user' | 'group';
  readonly id: string;
  readonly delaySeconds: number;
  readonly timeoutSeconds: number;
}

/** `device`, `user`, `ring_group`: ring registered phones. */
export interface EndpointsRequest {
  readonly endpoints: readonly EndpointRef[];
  readonly strategy: 'simultaneous' | 'single';
  /** Ring time of the whole attempt (simultaneous) or of each endpoint (single), seconds. */
  readonly timeoutSeconds: number;
  readonly repeats: number;
  readonly callerId: BridgeCallerId;
  readonly customSipHeaders: Readonly<Record<string, string>>;
  readonly ignoreEarlyMedia: boolean;
  /** `static_invite`: the Request-URI user sent to the phone instead of its registered one. */
  readonly staticInvite?: string;
  /** `can_call_self`: also ring the caller's own device and the devices of its owner (default: skipped). */
  readonly canCallSelf?: boolean;
  /** A stored ring group (`group` by id) supplies the strategy and/or ring time the module did not give. */
  readonly defaultsFromGroup?: { readonly strategy: boolean; readonly timeout: boolean };
}

export type BridgeOutcome =
  /**
   * The far end answered; resolved once the bridged conversation ended (either side hung up). `seconds`: how long
   * it lasted; `calleeHungUp`: the far end ended it and the caller is still there (only with `keepCaller`).
   */
  | { readonly kind: 'bridged'; readonly seconds?: number; readonly calleeHungUp?: boolean }
  /** No one answered: Kazoo hangup cause (`USER_BUSY`, `NO_ANSWER`, ...) and SIP code. */
  | { readonly kind: 'failed'; readonly cause: string; readonly code: number }
  /** Nothing to ring (unknown or unregistered endpoints, no carrier for the number). */
  | { readonly kind: 'no_endpoints'; readonly why: string };

/** Implemented by call layers that can place outbound legs (Hookline's `Call`). */
export interface BridgingCallControl {
  bridgeResources(req: ResourcesRequest, options?: { signal?: AbortSignal }): Promise<BridgeOutcome>;
  bridgeEndpoints(req: EndpointsRequest, options?: { signal?: AbortSignal }): Promise<BridgeOutcome>;
  /** TwiML `<Dial><Sip>` (optional: a call layer without it skips `<Sip>`). */
  bridgeUri?(req: UriRequest, options?: { signal?: AbortSignal }): Promise<BridgeOutcome>;
}

/** True when `call` can bridge. */
export function canBridge(call: CallControl): call is CallControl & BridgingCallControl {
  const c = call as Partial<BridgingCallControl>;
  return typeof c.bridgeResources === 'function' && typeof c.bridgeEndpoints === 'function';
}

// ---------------------------------------------------------------- conferences (optional, like bridging)

/** `conference`: put the caller in a room. */
export interface ConferenceRequest {
  /** Identifies the room within the account: `id:<stored id>` or `name:<ad-hoc name>`. */
  readonly room: string;
  readonly settings: ConferenceSettings;
  readonly moderator: boolean;
}

export type ConferenceOutcome =
  /** The caller hung up (or the call ended otherwise) while in the room. */
  | { readonly kind: 'left' }
  /** The room ended (the last moderator left a `require_moderator` conference). */
  | { readonly kind: 'ended' }
  /** `max_participants` reached: the caller never joined. */
  | { readonly kind: 'full' }
  /** This call layer has no conference service. */
  | { readonly kind: 'unavailable'; readonly why: string };

/** Implemented by call layers with a conference mixer (Hookline's `Call`). */
export interface ConferencingCallControl {
  /** Answer if needed, join the room, and resolve once the caller is out of it (see ConferenceOutcome). */
  joinConference(req: ConferenceRequest, options?: { signal?: AbortSignal }): Promise<ConferenceOutcome>;
}

/** True when `call` can join conferences. */
export function canConference(call: CallControl): call is CallControl & ConferencingCallControl {
  return typeof (call as Partial<ConferencingCallControl>).joinConference === 'function';
}

// ---------------------------------------------------------------- recording (optional, like bridging: without it
// `record_call` and `record_caller` are skipped → `_`). PIVOT.md 2.8, 3.2.

/** Where and how a finished recording is uploaded. */
export interface RecordingTarget {
  /** Full upload URL (file name included). */
  readonly url: string;
  readonly method: 'PUT' | 'POST';
  readonly format: 'wav' | 'mp3';
}

export type RecordingUploadOutcome =
  | { readonly kind: 'uploaded'; readonly url: string; readonly bytes: number; readonly seconds: number; readonly attempts: number }
  | { readonly kind: 'failed'; readonly url: string; readonly error: string }
  /** Nothing uploaded: empty, shorter than `record_min_sec`, or never started. */
  | { readonly kind: 'skipped'; readonly why: string };

/** `record_caller`: the caller only, until `signal` aborts (a key), silence, the time limit or hang-up. */
export interface RecordCallerRequest extends RecordingTarget {
  readonly maxSeconds: number;
  /** Stop after this much caller silence, seconds; 0 = never. */
  readonly silenceSeconds: number;
  /** Do not upload a recording in which the caller never made a sound (TwiML: no audio → no recording). */
  readonly skipSilent?: boolean;
}

export interface RecordCallerOutcome {
  readonly reason: 'stopped' | 'silence' | 'time_limit' | 'hangup' | 'busy';
  /** Recorded length, seconds. */
  readonly seconds: number;
  /** Settles once the upload finished (or failed / was skipped); never rejects. */
  readonly upload: Promise<RecordingUploadOutcome>;
}

/** `record_call`: both directions mixed, in the background. */
export interface CallRecordingRequest extends RecordingTarget {
  readonly maxSeconds: number;
  /** `now` (as soon as media flows), or only once the call is answered / bridged. */
  readonly startOn: 'now' | 'answer' | 'bridge';
  /** Recordings shorter than this (seconds) are discarded. */
  readonly minSeconds: number;
}

export interface RecordingCallControl {
  recordCaller(req: RecordCallerRequest, options?: { signal?: AbortSignal }): Promise<RecordCallerOutcome>;
  /** Start recording the call; uploaded on stop, at the time limit or when the call ends. Ignored when one runs. */
  startCallRecording(req: CallRecordingRequest): void;
  /** Stop the call recording (when one runs) and start its upload; resolves once the audio is in hand. */
  stopCallRecording(): Promise<void>;
}

/** True when `call` can record. */
export function canRecord(call: CallControl): call is CallControl & RecordingCallControl {
  const c = call as Partial<RecordingCallControl>;
  return typeof c.recordCaller === 'function' && typeof c.startCallRecording === 'function' && typeof c.stopCallRecording === 'function';
}
