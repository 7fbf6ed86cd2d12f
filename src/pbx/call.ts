/**
 * An inbound call: one SIP dialog (UAS side) plus one media session, driven through the `CallControl`
 * interface by the Pivot interpreter.
 *
 * Ownership: Switch → Call → (Dialog, MediaSession, timers, prompt refs); Call → PivotSession.
 * `end()` is idempotent and releases everything the call owns, whatever ended it (BYE either way, CANCEL,
 * ACK timeout, RTP timeout, max duration, switch shutdown, a failed answer).
 */
import type { Clock, TimerHandle } from '../util/clock.js';
import { lazyChild, type Logger } from '../util/logger.js';
import { detach } from '../util/strings.js';
import {
  Dialog, type IncomingRequest, type SipRequest, type SipStack, type InviteServerTransaction, type SipResponse,
} from '../sip/index.js';
import { sessionConfigFor, type MediaEngine, type MediaSession } from '../rtp/media-engine.js';
import { acceptAnswer, createAnswer, createOffer, parseSdp, serializeSdp, type NegotiatedAudio, type SessionDescription, type AudioCodec } from '../rtp/sdp.js';
import type { TtsService } from '../media/tts/index.js';
import { tone as makeTone } from '../media/tone.js';
import type {
  BridgeOutcome, BridgingCallControl, CallControl, CallInfo, CallRecordingRequest, ConferenceOutcome, ConferenceRequest, ConferencingCallControl,
  DtmfDigit, EndpointsRequest, PlayOutcome, Prompt, RecordCallerOutcome, RecordCallerRequest, RecordingCallControl, ResourcesRequest, UriRequest,
} from '../pivot/call-control.js';
import type { ConferenceManager } from './conference.js';
import { defaultUploader, type RecordingUploader } from '../media/upload.js';
import { CallRecordings, type RecordingHost } from './recording.js';
import type { PromptRegistry } from './prompts.js';
import { Bridger, type BridgeHost, type BridgerDeps } from './bridge.js';
import type { OutboundLeg } from './leg.js';
import { HoldSync } from './hold.js';

export type EndReason =
  | 'local-hangup' | 'remote-bye' | 'cancel' | 'ack-timeout' | 'rtp-timeout' | 'max-duration' | 'shutdown'
  | 'answer-failed' | 'rejected' | 'media-error';

export interface CallDeps {
  stack: SipStack;
  engine: MediaEngine;
  tts: TtsService;
  prompts: PromptRegistry;
  clock: Clock;
  log: Logger;
  codecs: readonly AudioCodec[];
  /** Address written into our SDP. */
  mediaAddress: string;
  rtpTimeoutMs: number;
  maxDurationMs: number;
  /** Called once when the call has ended and released everything. */
  onEnded: (call: Call) => void;
  /** Called once when the 200 OK goes out (the call leaves setup). */
  onAnswered?: (call: Call) => void;
  /** Called when the dialog is established, so the switch can route in-dialog requests. */
  onDialog: (call: Call, dialog: Dialog) => void;
  /** Outbound legs (resources, device, user, ring_group); without it the bridge modules fail. */
  bridging?: BridgerDeps;
  /** Conference rooms; without it the `conference` module hangs up. */
  conferences?: ConferenceManager;
  /** Recording uploads (default: the process-wide uploader). */
  uploader?: RecordingUploader;
}

/** Most outbound legs one call may place (failover, ring groups, repeats). */
const MAX_LEGS_PER_CALL = 64;

const DTMF_RE = /^[0-9A-D*#]$/;

/** Remove one occurrence of `item` (a listener's unsubscribe). */
function removeItem<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}

/** Digit from a SIP INFO body (`application/dtmf-relay`: `Signal=5`, or `application/dtmf`: `5`). */
export function dtmfFromInfo(contentType: string | undefined, body: string): DtmfDigit | undefined {
  const ct = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  let d: string | undefined;
  if (ct === 'application/dtmf-relay') {
    const m = /(?:^|\n)\s*signal\s*=\s*([0-9A-Da-d*#]|1[0-5])\s*(?:\r?\n|$)/i.exec(body);
    d = m?.[1];
  } else if (ct === 'application/dtmf') {
    d = body.trim();
  } else return undefined;
  if (d === undefined) return undefined;
  if (d === '10') d = '*';
  else if (d === '11') d = '#';
  else if (/^1[2-5]$/.test(d)) d = 'ABCD'[Number(d) - 12];
  d = d!.toUpperCase();
  return DTMF_RE.test(d) ? d : undefined;
}

export class Call implements CallControl, BridgingCallControl, RecordingCallControl, ConferencingCallControl, BridgeHost, RecordingHost {
  readonly info: CallInfo;
  private state: 'ringing' | 'early' | 'answered' | 'ended' = 'ringing';
  private dialog: Dialog | undefined;
  private media: MediaSession | undefined;
  /** The media session after the call ended (for its quality figures in the CDR). */
  endedMedia: MediaSession | undefined;
  private negotiated: NegotiatedAudio | undefined;
  /** Hold carried to a bridged leg (the bridge listens while the legs talk). */
  readonly hold: HoldSync;
  private localSdpText = '';
  private answering: Promise<void> | undefined;
  // A call lives for minutes: listeners are arrays (usually of one), the tables are made on first use. Four empty
  // Sets/Maps cost about 0.6 KB a call.
  private digitListeners: Array<(d: DtmfDigit) => void> = [];
  private endListeners: Array<() => void> = [];
  private plays: Map<number, (reason: 'finished' | 'stopped') => void> | undefined;
  private timers: Set<TimerHandle> | undefined;
  private maxTimer: TimerHandle | undefined;
  private byeInFlight: Promise<void> | undefined;
  endReason: EndReason | undefined;
  readonly startedAt: number;
  answeredAt: number | undefined;
  /** The final SIP status of the caller's INVITE (200 when answered), for the CDR. */
  finalStatus: number | undefined;
  /** Outbound legs placed for this call, oldest first (CDR). */
  readonly legs: OutboundLeg[] = [];
  private readonly log: Logger;
  /** record_caller / record_call of this call, and their upload results (`recordings.notes`). */
  readonly recordings: CallRecordings;

  /**
   * The caller's INVITE while its transaction needs us: until the 2xx is ACKed or the call ends (a final response
   * sent). Then it is let go, with the parsed request (2–3 KB) it holds.
   */
  private invite: IncomingRequest | undefined;
  /**
   * The caller's SDP offer until our answer to it is made; undefined for a delayed offer (an INVITE without SDP,
   * RFC 3261 13.2.1): then our 200 OK carries the offer and the caller's answer comes in its ACK. No early media is
   * possible before that.
   */
  private offer: SessionDescription | undefined;
  private readonly delayedOffer: boolean;

  constructor(
    private readonly deps: CallDeps,
    invite: IncomingRequest,
    offer: SessionDescription | undefined,
    accountId: string,
  ) {
    this.invite = invite;
    this.offer = offer;
    this.delayedOffer = offer === undefined;
    const m = invite.message;
    // The call's record outlives the INVITE: its own copies of the parsed strings (util/strings.ts).
    const fromUser = detach(m.from.uri.user ?? '');
    const callId = detach(m.callId);
    this.info = {
      callId,
      accountId,
      direction: 'inbound',
      ...(m.from.displayName ? { callerIdName: detach(m.from.displayName) } : {}),
      ...(fromUser ? { callerIdNumber: fromUser } : {}),
      from: fromUser,
      fromRealm: detach(m.from.uri.host),
      to: detach(m.to.uri.user ?? ''),
      toRealm: detach(m.to.uri.host),
      request: detach(m.uri.user ?? ''),
      requestRealm: detach(m.uri.host),
    };
    this.startedAt = deps.clock.now();
    this.log = lazyChild(deps.log, { callId });
    this.hold = new HoldSync({
      stack: deps.stack, clock: deps.clock, log: this.log, mediaAddress: deps.mediaAddress,
      current: () => {
        if (this.state !== 'answered' || !this.dialog || !this.media || !this.negotiated) return undefined;
        const local = this.localDescription();
        return local ? { dialog: this.dialog, media: this.media, local, negotiated: this.negotiated } : undefined;
      },
      adopt: (_local, text, n) => { this.localSdpText = text; this.negotiated = n; this.configureMedia(); },
    });
    this.recordings = new CallRecordings(this, deps.uploader ?? defaultUploader(), deps.clock, this.log);
    // The closures below, and the HoldSync's above, share this constructor's context: none of them may use `invite`
    // or `m`, or that context would keep the INVITE for the whole call.
    const tx = invite.serverTransaction as InviteServerTransaction | null;
    if (tx) {
      tx.onCancel = () => { this.refuse(487, 'Request Terminated', 'cancel'); };
      tx.onAck = (ack) => {
        this.dialog?.confirm();
        if (this.delayedOffer) this.ackAnswer(ack.body);
        this.releaseInvite();
      };
      tx.onAckTimeout = () => {
        this.log.warn('no ACK for our 200 OK: ending the call');
        void this.sendBye('ack-timeout');
      };
    }
  }

  get ended(): boolean { return this.state === 'ended'; }
  get answered(): boolean { return this.state === 'answered' || (this.state === 'ended' && this.answeredAt !== undefined); }
  get codec(): AudioCodec | undefined { return this.negotiated?.codec; }
  get sipDialog(): Dialog | undefined { return this.dialog; }
  /** The caller's media session (bridging puts outbound legs on its worker). */
  get mediaSession(): MediaSession | undefined { return this.media; }
  /** Early media needs the caller's offer; a delayed-offer caller gets none before the answer. */
  get earlyMediaPossible(): boolean { return !this.delayedOffer || this.state === 'answered'; }
  /** True once media flows to the caller (answered, or early media). */
  get mediaStarted(): boolean { return this.media?.config !== undefined; }

  recordCaller(req: RecordCallerRequest, options: { signal?: AbortSignal } = {}): Promise<RecordCallerOutcome> {
    return this.recordings.recordCaller(req, options.signal);
  }

  startCallRecording(req: CallRecordingRequest): void { this.recordings.startCall(req); }

  stopCallRecording(): Promise<void> { return this.recordings.stopCall(); }

  /** The bridger connected the caller to a leg (record_on_bridge). */
  bridged(): void { this.recordings.kick(true); }

  noteLeg(leg: OutboundLeg): void {
    if (this.legs.length < MAX_LEGS_PER_CALL) this.legs.push(leg);
  }

  bridgeResources(req: ResourcesRequest, options: { signal?: AbortSignal } = {}): Promise<BridgeOutcome> {
    const b = this.deps.bridging;
    if (!b || this.state === 'ended') return Promise.resolve({ kind: 'no_endpoints', why: b ? 'call ended' : 'bridging not configured' });
    if (this.legs.length >= MAX_LEGS_PER_CALL) return Promise.resolve({ kind: 'failed', cause: 'NORMAL_TEMPORARY_FAILURE', code: 503 });
    return new Bridger(b, this).resources(req, options.signal);
  }

  bridgeUri(req: UriRequest, options: { signal?: AbortSignal } = {}): Promise<BridgeOutcome> {
    const b = this.deps.bridging;
    if (!b || this.state === 'ended') return Promise.resolve({ kind: 'no_endpoints', why: b ? 'call ended' : 'bridging not configured' });
    if (this.legs.length >= MAX_LEGS_PER_CALL) return Promise.resolve({ kind: 'failed', cause: 'NORMAL_TEMPORARY_FAILURE', code: 503 });
    return new Bridger(b, this).uri(req, options.signal);
  }

  bridgeEndpoints(req: EndpointsRequest, options: { signal?: AbortSignal } = {}): Promise<BridgeOutcome> {
    const b = this.deps.bridging;
    if (!b || this.state === 'ended') return Promise.resolve({ kind: 'no_endpoints', why: b ? 'call ended' : 'bridging not configured' });
    if (this.legs.length >= MAX_LEGS_PER_CALL) return Promise.resolve({ kind: 'failed', cause: 'NORMAL_TEMPORARY_FAILURE', code: 503 });
    return new Bridger(b, this).endpoints(req, options.signal);
  }

  /**
   * Join a conference room (answering first) and stay until the call ends, `signal` aborts, or the room ends.
   * The room key is scoped by the account, so two accounts' "Room 1" are two rooms.
   */
  async joinConference(req: ConferenceRequest, options: { signal?: AbortSignal } = {}): Promise<ConferenceOutcome> {
    const mgr = this.deps.conferences;
    if (!mgr) return { kind: 'unavailable', why: 'conferences not configured' };
    if (this.state === 'ended' || options.signal?.aborted) return { kind: 'left' };
    try { await this.answer(); } catch { return { kind: 'left' }; }
    const media = this.media;
    if (!media || this.state !== 'answered') return { kind: 'left' };
    const joined = mgr.join(`${this.info.accountId}/${req.room}`, req.settings, media, req.moderator);
    if (joined.kind === 'full') return { kind: 'full' };
    const member = joined.member;
    const how = await new Promise<'left' | 'ended'>((resolve) => {
      const signal = options.signal;
      const onAbort = (): void => finish('left');
      const offEnd = this.onEnded(() => finish('left'));
      const finish = (h: 'left' | 'ended'): void => {
        offEnd();
        signal?.removeEventListener('abort', onAbort);
        resolve(h);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      member.onRoomEnded(() => finish('ended'));
    });
    member.leave();
    return { kind: how };
  }

  /** Allocate the media session (called by the switch before the flow starts). */
  async prepareMedia(): Promise<void> {
    const s = await this.deps.engine.createSession();
    if (this.state === 'ended') { await s.close(); return; }
    this.media = s;
    s.on('dtmf', (digit) => this.emitDigit(digit));
    s.on('playDone', (playId, reason) => {
      const r = this.plays?.get(playId);
      if (r) { this.plays!.delete(playId); r(reason); }
    });
    s.on('timeout', () => {
      this.log.info({ seconds: this.deps.rtpTimeoutMs / 1000 }, 'no RTP received: ending the call');
      void this.sendBye('rtp-timeout');
    });
    s.on('close', (reason) => {
      if (reason !== 'closed' && this.state !== 'ended') {
        this.log.error({ reason }, 'media session lost');
        void this.hangupWith('media-error');
      }
    });
    const offer = this.offer;
    this.offer = undefined; // answered below: not needed after this
    if (this.delayedOffer) {
      // delayed offer: ours goes in the 200 OK; media starts with the caller's answer in the ACK
      this.localSdpText = serializeSdp(createOffer({ address: this.deps.mediaAddress, port: s.localPort, codecs: this.deps.codecs }));
      return;
    }
    if (!offer) throw new Error('the caller\'s offer was already answered (prepareMedia called twice)');
    const a = createAnswer(offer, { address: this.deps.mediaAddress, port: s.localPort, codecs: this.deps.codecs });
    if (!a.ok) throw new Error(`SDP answer failed after the offer was checked: ${a.reason}`);
    this.localSdpText = a.sdp;
    this.negotiated = a.media;
    this.hold.peerOffered(offer, a.media.mediaIndex);
  }

  /** Delayed offer: the ACK of our 200 OK carries the caller's answer. Without a usable one the call cannot have media. */
  private ackAnswer(body: Buffer): void {
    const local = this.localDescription();
    if (this.state !== 'answered' || !local || this.negotiated) return;
    const r = this.answerInAck(local, body);
    if (typeof r === 'string') {
      this.log.warn({ reason: r }, 'delayed offer: no usable SDP answer in the ACK; hanging up');
      void this.hangupWith('media-error');
      return;
    }
    this.adopt(r);
  }

  /**
   * The answer to one of our offers, carried by an ACK (a delayed offer, or a re-INVITE without SDP): the negotiated
   * media, the far end's direction noted (a hold is carried to a bridged leg as for an offer), or why it is unusable.
   */
  private answerInAck(offer: SessionDescription, body: Buffer): NegotiatedAudio | string {
    if (body.length === 0) return 'no SDP in the ACK';
    const answer = parseSdp(body.toString('utf8'));
    if (!answer.ok) return `unreadable SDP: ${answer.error}`;
    const n = acceptAnswer(offer, answer.sdp);
    if (!n.ok) return n.reason;
    this.hold.peerOffered(answer.sdp, n.media.mediaIndex);
    return n.media;
  }

  /** Media as negotiated now: the worker is (re)configured when there was none or address, codec, direction or events changed. */
  private adopt(n: NegotiatedAudio): void {
    const prev = this.negotiated;
    this.negotiated = n;
    // a new direction matters too: hold (sendonly/inactive) stops the RTP timeout from firing
    if (!prev || prev.address !== n.address || prev.port !== n.port || prev.codec !== n.codec
      || prev.direction !== n.direction || prev.telephoneEventPt !== n.telephoneEventPt) this.configureMedia();
  }

  private startMedia(): void {
    if (!this.media || this.media.config) return;
    this.configureMedia();
  }

  private configureMedia(): void {
    const n = this.negotiated;
    if (!n || !this.media) return;
    this.media.configure(sessionConfigFor(n, this.deps.rtpTimeoutMs));
    this.recordings.kick();
  }

  answer(): Promise<void> {
    if (this.state === 'answered') return Promise.resolve();
    if (this.state === 'ended') return Promise.reject(new Error('call ended before it was answered'));
    if (!this.answering) this.answering = this.doAnswer();
    return this.answering;
  }

  private async doAnswer(): Promise<void> {
    if (!this.media) throw new Error('media not prepared');
    const invite = this.invite;
    if (!invite) throw new Error('the INVITE transaction is over');
    const contact = this.deps.stack.contact(this.info.request || 'hookline', invite.source.transport);
    const res = invite.respond(200, 'OK', { body: this.localSdpText, contentType: 'application/sdp', contact: [contact] });
    if (!res) {
      this.end('answer-failed');
      throw new Error('could not send 200 OK (transaction gone)');
    }
    this.state = 'answered';
    this.finalStatus = 200;
    this.answeredAt = this.deps.clock.now();
    this.deps.onAnswered?.(this);
    const d = Dialog.fromUas(invite.message, invite.toTag, contact, invite.source);
    this.dialog = d;
    this.deps.onDialog(this, d);
    this.startMedia();
    this.recordings.kick();
    this.maxTimer = this.deps.clock.setTimeout(() => {
      this.maxTimer = undefined;
      this.log.info('maximum call duration reached');
      void this.sendBye('max-duration');
    }, this.deps.maxDurationMs);
    this.log.info({ codec: this.negotiated?.codec, te: this.negotiated?.telephoneEventPt }, 'answered');
  }

  /** 183 Session Progress with our SDP, then media flows before the answer (not for a delayed offer: see play). */
  private earlyMedia(): void {
    const invite = this.invite;
    if (this.state !== 'ringing' || !invite) return;
    const contact = this.deps.stack.contact(this.info.request || 'hookline', invite.source.transport);
    if (invite.respond(183, 'Session Progress', { body: this.localSdpText, contentType: 'application/sdp', contact: [contact] })) {
      this.state = 'early';
      this.startMedia();
    }
  }

  /** Send 180 Ringing if the caller is still plainly ringing; false once early media or the answer started. */
  ring(): boolean {
    if (this.state !== 'ringing') return false;
    this.invite?.respond(180, 'Ringing');
    return true;
  }

  async play(prompt: Prompt, options: { signal?: AbortSignal; earlyMedia?: boolean } = {}): Promise<PlayOutcome> {
    if (this.state === 'ended') return 'hangup';
    const signal = options.signal;
    if (signal?.aborted) return 'stopped';
    // Early media needs the caller's offer (an offer cannot go in an unreliable 183): with a delayed offer the
    // caller keeps hearing its own ringback and the prompt is skipped.
    if (options.earlyMedia && !this.earlyMediaPossible) return 'finished';
    // Answer (or start early media) when the first audio is ready, so the caller hears ringing, not dead air,
    // while the first sentence is synthesised.
    const ensureMedia = async (): Promise<boolean> => {
      if (this.state === 'answered') return true;
      if (this.state === 'ended') return false;
      if (options.earlyMedia) { this.earlyMedia(); return true; }
      try { await this.answer(); return true; } catch { return false; }
    };
    if (prompt.kind === 'silence') {
      if (!(await ensureMedia())) return 'hangup';
      return this.wait(prompt.ms, signal);
    }
    const media = this.media;
    if (!media) return 'hangup';

    let stopped = false;
    let wake: (() => void) | undefined;
    const interrupted = new Promise<void>((resolve) => { wake = resolve; });
    const onAbort = (): void => { stopped = true; media.stopPlayback(); wake?.(); };
    signal?.addEventListener('abort', onAbort, { once: true });
    const offEnd = this.onEnded(() => wake?.());
    const held: Int16Array[] = [];
    const waits: Array<Promise<'finished' | 'stopped'>> = [];
    const queue = (pcm: Int16Array): void => {
      if (pcm.length === 0 || stopped || this.state === 'ended') return;
      const ref = this.deps.prompts.acquire(pcm);
      held.push(pcm);
      const id = media.play(ref);
      waits.push(new Promise((resolve) => (this.plays ??= new Map()).set(id, resolve)));
    };
    // Sentence by sentence: the first sentence plays while the next is synthesised.
    const feed = async (): Promise<Array<'finished' | 'stopped'>> => {
      if (prompt.kind === 'tone') {
        if (await ensureMedia()) queue(makeTone(prompt.frequencies, { durationMs: prompt.ms }));
      } else if (prompt.kind === 'audio') {
        if (await ensureMedia()) queue(prompt.pcm);
      } else {
        const opts = {
          ...(prompt.voice ? { voice: prompt.voice } : {}),
          ...(prompt.language ? { language: prompt.language } : {}),
          ...(prompt.engine ? { engine: prompt.engine } : {}),
        };
        try {
          for await (const pcm of this.deps.tts.segments(prompt.text, opts)) {
            if (stopped || this.state === 'ended') break;
            if (!(await ensureMedia())) break;
            queue(pcm);
          }
        } finally {
          await ensureMedia();
        }
      }
      return Promise.all(waits);
    };
    const feeding = feed();
    // Refs are released once every queued segment reported back (finished, stopped or call ended).
    void feeding.catch(() => []).then(() => Promise.all(waits)).then(() => {
      for (const pcm of held) this.deps.prompts.release(pcm);
    });
    try {
      const results = await Promise.race([feeding, interrupted.then(() => 'interrupted' as const)]);
      if (this.ended) return 'hangup';
      if (stopped || results === 'interrupted' || results.includes('stopped')) return 'stopped';
      return 'finished';
    } catch (err) {
      this.log.error({ err: String(err) }, 'prompt failed');
      if (this.ended) return 'hangup';
      return stopped ? 'stopped' : 'finished';
    } finally {
      signal?.removeEventListener('abort', onAbort);
      offEnd();
    }
  }

  private wait(ms: number, signal?: AbortSignal): Promise<PlayOutcome> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (o: PlayOutcome): void => {
        if (settled) return;
        settled = true;
        this.deps.clock.clearTimeout(h);
        this.timers?.delete(h);
        signal?.removeEventListener('abort', onAbort);
        offEnd();
        resolve(o);
      };
      const onAbort = (): void => finish('stopped');
      const h = this.deps.clock.setTimeout(() => finish(this.state === 'ended' ? 'hangup' : 'finished'), ms);
      (this.timers ??= new Set()).add(h);
      signal?.addEventListener('abort', onAbort, { once: true });
      const offEnd = this.onEnded(() => finish('hangup'));
    });
  }

  async sendDtmf(digits: string, durationMs: number): Promise<void> {
    if (this.state === 'ended' || !this.media) return;
    if (this.state !== 'answered') await this.answer();
    // Without telephone-event the media engine plays the digits in-band as DTMF tones.
    if (this.negotiated?.telephoneEventPt === undefined && this.log.isLevelEnabled('debug')) {
      this.log.debug('caller did not offer telephone-event: sending DTMF in-band');
    }
    try {
      await this.media.sendDtmf(digits, durationMs);
    } catch (err) {
      this.log.warn({ err: String(err) }, 'sending DTMF failed');
    }
  }

  hangup(options: { code?: number; reason?: string } = {}): Promise<void> {
    if (this.state === 'ended') return this.byeInFlight ?? Promise.resolve();
    if (this.state === 'answered') return this.sendBye('local-hangup');
    const code = options.code !== undefined && options.code >= 300 && options.code <= 699 ? options.code : 480;
    this.refuse(code, options.reason, 'rejected');
    return Promise.resolve();
  }

  private hangupWith(reason: EndReason): Promise<void> {
    if (this.state === 'answered') return this.sendBye(reason);
    this.refuse(500, 'Media Failure', reason);
    return Promise.resolve();
  }

  /** Send BYE in the dialog and end the call; resolves when the BYE transaction finished (response or timeout). */
  private sendBye(reason: EndReason): Promise<void> {
    if (this.byeInFlight) return this.byeInFlight;
    const d = this.dialog;
    if (!d || this.state === 'ended') { this.end(reason); return Promise.resolve(); }
    this.byeInFlight = new Promise<void>((resolve) => {
      try {
        this.deps.stack.sendRequest(d.createRequest('BYE'), d.peer, (res: SipResponse) => {
          if (res.status >= 200) resolve();
        });
      } catch (err) {
        this.log.error({ err: String(err) }, 'BYE could not be sent');
        resolve();
      }
    });
    this.end(reason);
    return this.byeInFlight;
  }

  /** An in-dialog request from the caller (the switch routed it here). */
  handleInDialog(req: IncomingRequest): void {
    const m = req.message;
    this.dialog?.receiveRequest(m);
    switch (m.method) {
      case 'BYE':
        req.respond(200, 'OK');
        this.end('remote-bye');
        return;
      case 'INFO': {
        const digit = dtmfFromInfo(m.contentType, m.body.toString('utf8'));
        if (digit !== undefined) { req.respond(200, 'OK'); this.emitDigit(digit); return; }
        const ct = (m.contentType ?? '').split(';')[0]!.trim().toLowerCase();
        if (m.body.length === 0 || ct === 'application/dtmf-relay' || ct === 'application/dtmf') { req.respond(200, 'OK'); return; }
        req.respond(415, 'Unsupported Media Type', { headers: { Accept: 'application/dtmf-relay, application/dtmf' } });
        return;
      }
      case 'INVITE':
        this.reInvite(req);
        return;
      case 'OPTIONS':
        req.respond(200, 'OK');
        return;
      default:
        req.respond(405, 'Method Not Allowed', { headers: { Allow: ALLOW } });
    }
  }

  /**
   * Our current SDP (the one last sent), parsed again from its text when a re-INVITE or a hold needs it: keeping
   * the parsed form for the whole call cost 1.2 KB a call (heap snapshots), for a path most calls never take.
   */
  private localDescription(): SessionDescription | undefined {
    if (this.localSdpText === '') return undefined;
    const p = parseSdp(this.localSdpText);
    return p.ok ? p.sdp : undefined;
  }

  /** re-INVITE: answer with our current SDP (a new version), following a changed remote address. */
  private reInvite(req: IncomingRequest): void {
    const m = req.message;
    const local = this.localDescription();
    if (!this.media || !local) { req.respond(500, 'Server Internal Error'); return; }
    // Our own re-INVITE (hold carried from the other leg) is in flight: glare (RFC 3261 §14.2).
    if (this.hold.pending) { req.respond(491, 'Request Pending'); return; }
    const contact = this.deps.stack.contact(this.info.request || 'hookline', req.source.transport);
    if (m.body.length === 0) {
      // A re-INVITE without SDP asks for our offer (our current session, a new version); the answer comes in its ACK.
      const offer = createOffer({ address: this.deps.mediaAddress, port: this.media.localPort, codecs: this.deps.codecs }, local);
      const text = serializeSdp(offer);
      const tx = req.inviteTransaction;
      if (tx) {
        tx.onAck = (ack) => {
          if (this.state !== 'answered') return;
          const r = this.answerInAck(offer, ack.body);
          if (typeof r === 'string') { this.log.warn({ reason: r }, 're-INVITE without SDP: no usable answer in the ACK; media unchanged'); return; }
          this.localSdpText = text;
          this.adopt(r);
        };
      }
      req.respond(200, 'OK', { body: text, contentType: 'application/sdp', contact: [contact] });
      return;
    }
    const offer = parseSdp(m.body.toString('utf8'));
    if (!offer.ok) { req.respond(400, 'Bad SDP'); return; }
    const a = createAnswer(offer.sdp, { address: this.deps.mediaAddress, port: this.media.localPort, codecs: this.deps.codecs }, local);
    if (!a.ok) { req.respond(488, 'Not Acceptable Here'); return; }
    this.localSdpText = a.sdp;
    req.respond(200, 'OK', { body: a.sdp, contentType: 'application/sdp', contact: [contact] });
    this.adopt(a.media);
    this.hold.peerOffered(offer.sdp, a.media.mediaIndex);
  }

  onDigit(listener: (digit: DtmfDigit) => void): () => void {
    this.digitListeners.push(listener);
    return () => { removeItem(this.digitListeners, listener); };
  }

  onEnded(listener: () => void): () => void {
    if (this.state === 'ended') {
      queueMicrotask(() => { try { listener(); } catch { /* listener errors stay at the edge */ } });
      return () => {};
    }
    this.endListeners.push(listener);
    return () => { removeItem(this.endListeners, listener); };
  }

  private emitDigit(d: DtmfDigit): void {
    if (this.state === 'ended') return;
    if (this.log.isLevelEnabled('debug')) this.log.debug({ digit: d }, 'dtmf');
    for (const l of this.digitListeners.slice()) {
      try { l(d); } catch (err) { this.log.error({ err: String(err) }, 'digit listener failed'); }
    }
  }

  /** Switch shutdown: BYE or 503, then release. */
  shutdown(): Promise<void> {
    if (this.state === 'answered') return this.sendBye('shutdown');
    this.refuse(503, 'Service Unavailable', 'shutdown');
    return Promise.resolve();
  }

  /** Not answered yet: refuse the call with this final response (`reason`: its phrase, default the standard one) and end it. */
  refuse(code: number, reason: string | undefined, endReason: EndReason): void {
    if (this.state !== 'ringing' && this.state !== 'early') return;
    this.invite?.respond(code, reason);
    this.finalStatus = code;
    this.end(endReason);
  }

  /** The INVITE transaction needs the call no more (see `invite`). */
  private releaseInvite(): void {
    const tx = this.invite?.inviteTransaction;
    if (tx) { tx.onCancel = null; tx.onAckTimeout = null; tx.onAck = null; }
    this.invite = undefined;
  }

  /** Release everything; idempotent. */
  end(reason: EndReason): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.endReason = reason;
    this.log.info({ reason, seconds: ((this.deps.clock.now() - this.startedAt) / 1000).toFixed(1) }, 'call ended');
    this.deps.clock.clearTimeout(this.maxTimer);
    const timers = this.timers;
    this.timers = undefined;
    if (timers) for (const h of timers) this.deps.clock.clearTimeout(h);
    this.releaseInvite();
    const plays = this.plays;
    this.plays = undefined;
    if (plays) for (const r of plays.values()) r('stopped');
    if (this.dialog) this.dialog.terminate();
    this.recordings.callEnding();
    const media = this.media;
    this.media = undefined;
    this.endedMedia = media;
    if (media) void media.close();
    const listeners = this.endListeners;
    this.endListeners = [];
    this.digitListeners = [];
    for (const l of listeners) {
      try { l(); } catch (err) { this.log.error({ err: String(err) }, 'end listener failed'); }
    }
    this.deps.onEnded(this);
  }
}

export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO';

export type { SipRequest };
