/**
 * An outbound leg (the B2BUA's UAC half): one INVITE to a carrier gateway or a registered phone, its media
 * session on the caller's media worker, digest answers to 401/407, early media, CANCEL, BYE, and the
 * in-dialog requests the far end sends (BYE, re-INVITE, OPTIONS, INFO).
 *
 * Lifecycle: `start()` → progress / answered / failed callbacks → `hangup()` or a BYE from the far end →
 * released (media closed, dialog out of the switch's index, timers cleared). `cancel()` before the answer
 * releases at once; a 2xx that still arrives after it is ACKed and BYEd (RFC 3261 9.1 race).
 */
import type { Clock, TimerHandle } from '../util/clock.js';
import { lazyChild, type Logger } from '../util/logger.js';
import {
  Dialog, createRequest, randomToken, type IncomingRequest, type InviteClientTransaction, type NameAddr, type SipRequest,
  type SipResponse, type SipStack, type SipUri, type Source,
} from '../sip/index.js';
import { authorize, pickChallenge } from '../sip/auth.js';
import { HoldSync } from './hold.js';
import { sessionConfigFor, type MediaEngine, type MediaSession } from '../rtp/media-engine.js';
import { acceptAnswer, createAnswer, createOffer, parseSdp, serializeSdp, type AudioCodec, type NegotiatedAudio, type SessionDescription } from '../rtp/sdp.js';

export interface LegDeps {
  stack: SipStack;
  engine: MediaEngine;
  clock: Clock;
  log: Logger;
  codecs: readonly AudioCodec[];
  mediaAddress: string;
  rtpTimeoutMs: number;
  /** The leg's dialog exists: route its in-dialog requests to it. */
  onDialog: (leg: OutboundLeg, dialog: Dialog) => void;
  /** The leg is placing its INVITE (counted until released). */
  onStarted: (leg: OutboundLeg) => void;
  /** The leg is gone (dialog removed, media closed). */
  onReleased: (leg: OutboundLeg) => void;
}

export interface LegTarget {
  /** For logs: `gateway 127.0.0.1:5080`, `device d1`. */
  label: string;
  uri: SipUri;
  dest: Source;
  to: NameAddr;
  from: NameAddr;
  credentials?: { username: string; password: string; realm?: string };
  headers: Array<[string, string]>;
  /** Give up on an INVITE that got no reply at all after this long (ms): 408, and the caller tries the next. */
  replyTimeoutMs?: number;
}

export type LegState = 'new' | 'calling' | 'proceeding' | 'answered' | 'failed' | 'cancelled' | 'ended';

const MAX_AUTH_TRIES = 2;
const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO';

export class OutboundLeg {
  state: LegState = 'new';
  media: MediaSession | undefined;
  negotiated: NegotiatedAudio | undefined;
  /** True once SDP came in a provisional response (media flows before the answer). */
  early = false;
  finalStatus: number | undefined;
  finalReason: string | undefined;
  readonly callId = randomToken(12);
  readonly startedAt: number;
  answeredAt: number | undefined;
  endedAt: number | undefined;
  endedBy: 'local' | 'remote' | undefined;

  onProgress: ((leg: OutboundLeg, status: number) => void) | undefined;
  onAnswer: ((leg: OutboundLeg) => void) | undefined;
  onFail: ((leg: OutboundLeg, status: number, reason: string) => void) | undefined;
  /** The far end hung up (BYE, RTP timeout) after the answer. */
  onRemoteEnd: ((leg: OutboundLeg) => void) | undefined;

  private readonly fromTag = randomToken(6);
  private cseq = 1;
  private authTries = 0;
  private tx: InviteClientTransaction | undefined;
  private invite: SipRequest | undefined;
  private offer: SessionDescription | undefined;
  private offerText = '';
  private dialog: Dialog | undefined;
  private released = false;
  private byeInFlight: Promise<void> | undefined;
  private readonly timers = new Set<TimerHandle>();
  private readonly log: Logger;
  /** Hold carried to the caller (the bridge listens while the legs talk). */
  readonly hold: HoldSync;

  constructor(private readonly deps: LegDeps, readonly target: LegTarget) {
    this.startedAt = deps.clock.now();
    this.log = lazyChild(deps.log, { leg: this.callId, target: target.label });
    this.hold = new HoldSync({
      stack: deps.stack, clock: deps.clock, log: this.log, mediaAddress: deps.mediaAddress,
      current: () => (this.state === 'answered' && this.dialog && this.media && this.offer && this.negotiated
        ? { dialog: this.dialog, media: this.media, local: this.offer, negotiated: this.negotiated } : undefined),
      adopt: (local, text, n) => { this.offer = local; this.offerText = text; this.negotiated = n; this.configureMedia(); },
    });
  }

  get sipDialog(): Dialog | undefined { return this.dialog; }
  get codec(): AudioCodec | undefined { return this.negotiated?.codec; }
  get live(): boolean { return this.state === 'new' || this.state === 'calling' || this.state === 'proceeding' || this.state === 'answered'; }

  /** Allocate media beside `sameWorkerAs` and send the INVITE. Failures come through `onFail`. */
  async start(sameWorkerAs: MediaSession | undefined): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'calling';
    this.deps.onStarted(this);
    let media: MediaSession;
    try {
      media = await this.deps.engine.createSession(sameWorkerAs && !sameWorkerAs.closed ? { sameWorkerAs } : {});
    } catch (err) {
      this.log.error({ err: String(err) }, 'no media session for the outbound leg');
      this.fail(503, 'No media port');
      return;
    }
    if (this.state !== 'calling') { void media.close(); return; }
    this.media = media;
    media.on('timeout', () => {
      if (this.state !== 'answered') return;
      this.log.info('no RTP from the far end: ending the leg');
      void this.bye();
      this.onRemoteEnd?.(this);
    });
    media.on('close', (reason) => {
      if (reason !== 'closed' && this.state === 'answered') {
        this.log.error({ reason }, 'leg media lost');
        void this.bye();
        this.onRemoteEnd?.(this);
      }
    });
    this.offer = createOffer({ address: this.deps.mediaAddress, port: media.localPort, codecs: this.deps.codecs });
    this.offerText = serializeSdp(this.offer);
    this.sendInvite(undefined);
  }

  private sendInvite(auth: { header: string; value: string } | undefined): void {
    const t = this.target;
    const headers: Array<[string, string]> = [...t.headers];
    if (auth) headers.push([auth.header, auth.value]);
    const req = createRequest({
      method: 'INVITE', uri: t.uri, from: t.from, fromTag: this.fromTag, to: t.to, callId: this.callId, cseq: this.cseq,
      contact: [this.deps.stack.contact(t.from.uri.user ?? 'hookline', t.dest.transport)],
      headers, body: this.offerText, contentType: 'application/sdp',
    });
    this.invite = req;
    try {
      const tx = this.deps.stack.invite(req, t.dest, (res) => this.onResponse(req, res));
      this.tx = tx;
      if (t.replyTimeoutMs) {
        const h = this.deps.clock.setTimeout(() => {
          this.timers.delete(h);
          if (this.invite === req) tx.giveUp(`no reply from ${t.label} within ${t.replyTimeoutMs} ms`);
        }, t.replyTimeoutMs);
        this.timers.add(h);
      }
    } catch (err) {
      this.log.error({ err: String(err) }, 'INVITE could not be sent');
      this.fail(503, 'Transport unavailable');
    }
  }

  private onResponse(req: SipRequest, res: SipResponse): void {
    if (req !== this.invite) {
      // A response to an INVITE we replaced (auth retry): only a late 2xx matters, and it gets ACK + BYE.
      if (res.status >= 200 && res.status < 300) this.ackAndBye(req, res);
      return;
    }
    if (this.state === 'cancelled' || this.state === 'failed' || this.state === 'ended') {
      if (res.status >= 200 && res.status < 300) this.ackAndBye(req, res);
      return;
    }
    if (this.state === 'answered') {
      // Retransmissions are re-ACKed by the transaction; a 2xx from another fork (new To tag) is ACKed and BYEd.
      if (res.status >= 200 && res.status < 300 && res.to.tag !== this.dialog?.remoteTag) this.ackAndBye(req, res);
      return;
    }
    const status = res.status;
    if (status < 200) {
      if (status === 100) return;
      this.state = 'proceeding';
      if (res.body.length > 0 && !this.early) this.useAnswer(res, true);
      this.onProgress?.(this, status);
      return;
    }
    if (status < 300) {
      const d = Dialog.fromUac(req, res, this.tx?.peer ?? this.target.dest);
      this.dialog = d;
      this.tx?.sendAck(d.createAck());
      if (res.body.length > 0) this.useAnswer(res, false);
      if (!this.negotiated) {
        this.log.warn('2xx without a usable SDP answer: hanging up the leg');
        this.state = 'answered';
        this.deps.onDialog(this, d);
        void this.bye();
        this.finalStatus = 488;
        this.onFail?.(this, 488, 'No usable SDP answer');
        return;
      }
      this.state = 'answered';
      this.answeredAt = this.deps.clock.now();
      this.finalStatus = status;
      this.hold.peerAnswered(this.negotiated.direction);
      this.deps.onDialog(this, d);
      this.log.info({ codec: this.negotiated.codec }, 'leg answered');
      this.onAnswer?.(this);
      return;
    }
    if ((status === 401 || status === 407) && this.retryWithAuth(res)) return;
    this.fail(status, res.reason, res.synthetic !== undefined);
  }

  /** Answer a 401/407 with digest credentials (a fresh INVITE, CSeq + 1); false when we cannot. */
  private retryWithAuth(res: SipResponse): boolean {
    const cred = this.target.credentials;
    if (!cred || this.authTries >= MAX_AUTH_TRIES || !this.invite) return false;
    const proxy = res.status === 407;
    const ch = pickChallenge(res.getAll(proxy ? 'proxy-authenticate' : 'www-authenticate'));
    if (!ch) return false;
    if (cred.realm !== undefined && cred.realm !== ch.realm) return false;
    if (this.authTries > 0 && !ch.stale) return false; // the same credentials were refused once already
    this.authTries++;
    this.cseq++;
    const uri = this.invite.uri;
    const uriText = `${uri.scheme}:${uri.user !== undefined ? uri.user + '@' : ''}${uri.host}${uri.port !== undefined ? ':' + uri.port : ''}`;
    const value = authorize(ch, { username: cred.username, password: cred.password }, 'INVITE', uriText);
    if (this.log.isLevelEnabled('debug')) this.log.debug({ realm: ch.realm, algorithm: ch.algorithm }, 'answering digest challenge');
    this.sendInvite({ header: proxy ? 'Proxy-Authorization' : 'Authorization', value });
    return true;
  }

  private useAnswer(res: SipResponse, provisional: boolean): void {
    if (!this.offer || !this.media) return;
    const n = acceptAnswer(this.offer, res.body.toString('utf8'));
    if (!n.ok) { this.log.warn({ reason: n.reason }, 'unusable SDP from the far end'); return; }
    const prev = this.negotiated;
    this.negotiated = n.media;
    if (provisional) this.early = true;
    if (prev && prev.address === n.media.address && prev.port === n.media.port && prev.codec === n.media.codec
      && prev.direction === n.media.direction) return;
    this.configureMedia();
  }

  private configureMedia(): void {
    const n = this.negotiated;
    if (!n || !this.media) return;
    this.media.configure(sessionConfigFor(n, this.deps.rtpTimeoutMs));
  }

  /** A 2xx we no longer want (cancelled, replaced): ACK it, then BYE it. */
  private ackAndBye(req: SipRequest, res: SipResponse): void {
    const d = Dialog.fromUac(req, res, this.target.dest);
    try {
      this.deps.stack.sendStateless(d.createAck(), d.peer);
      this.deps.stack.sendRequest(d.createRequest('BYE'), d.peer, null);
    } catch (err) {
      this.log.warn({ err: String(err) }, 'could not ACK/BYE a late 2xx');
    }
  }

  private fail(status: number, reason: string, synthetic = false): void {
    if (!this.live || this.state === 'answered') return;
    this.state = 'failed';
    this.finalStatus = status;
    this.finalReason = reason;
    this.endedAt = this.deps.clock.now();
    this.log.info({ status, reason, synthetic }, 'leg failed');
    this.release();
    this.onFail?.(this, status, reason);
  }

  /** Give up before the answer (CANCEL once a provisional arrived). No callbacks follow. */
  cancel(): void {
    if (this.state === 'answered') { void this.hangup(); return; }
    if (!this.live) return;
    this.state = 'cancelled';
    this.finalStatus = 487;
    this.endedAt = this.deps.clock.now();
    this.endedBy = 'local';
    try { this.tx?.cancel(); } catch (err) { this.log.warn({ err: String(err) }, 'CANCEL failed'); }
    this.release();
  }

  /** End the leg from our side: BYE after the answer, CANCEL before. Resolves when the BYE completed. */
  hangup(): Promise<void> {
    if (this.state === 'answered') {
      this.endedBy ??= 'local';
      return this.bye();
    }
    this.cancel();
    return this.byeInFlight ?? Promise.resolve();
  }

  private bye(): Promise<void> {
    if (this.byeInFlight) return this.byeInFlight;
    const d = this.dialog;
    this.state = 'ended';
    this.endedAt ??= this.deps.clock.now();
    if (!d) { this.release(); return Promise.resolve(); }
    this.byeInFlight = new Promise<void>((resolve) => {
      try {
        this.deps.stack.sendRequest(d.createRequest('BYE'), d.peer, (res) => { if (res.status >= 200) resolve(); });
      } catch (err) {
        this.log.error({ err: String(err) }, 'BYE could not be sent');
        resolve();
      }
    });
    this.release();
    return this.byeInFlight;
  }

  /** An in-dialog request from the far end (the switch routed it here by dialog). */
  handleInDialog(req: IncomingRequest): void {
    const m = req.message;
    this.dialog?.receiveRequest(m);
    switch (m.method) {
      case 'BYE': {
        req.respond(200, 'OK');
        const was = this.state;
        this.state = 'ended';
        this.endedAt = this.deps.clock.now();
        this.endedBy ??= 'remote';
        this.release();
        if (was === 'answered') this.onRemoteEnd?.(this);
        return;
      }
      case 'INVITE': this.reInvite(req); return;
      case 'OPTIONS': case 'INFO': req.respond(200, 'OK'); return;
      default: req.respond(405, 'Method Not Allowed', { headers: { Allow: ALLOW } });
    }
  }

  /** re-INVITE from the far end (hold, new address): answer with our SDP and follow it. */
  private reInvite(req: IncomingRequest): void {
    const m = req.message;
    const contact = this.deps.stack.contact(this.target.from.uri.user ?? 'hookline', req.source.transport);
    if (!this.media || !this.offer || this.state !== 'answered') { req.respond(500, 'Server Internal Error'); return; }
    // Our own re-INVITE (hold carried from the caller) is in flight: glare (RFC 3261 §14.2).
    if (this.hold.pending) { req.respond(491, 'Request Pending'); return; }
    if (m.body.length === 0) {
      req.respond(200, 'OK', { body: this.offerText, contentType: 'application/sdp', contact: [contact] });
      return;
    }
    const o = parseSdp(m.body.toString('utf8'));
    if (!o.ok) { req.respond(400, 'Bad SDP'); return; }
    const a = createAnswer(o.sdp, { address: this.deps.mediaAddress, port: this.media.localPort, codecs: this.deps.codecs }, this.offer);
    if (!a.ok) { req.respond(488, 'Not Acceptable Here'); return; }
    this.offer = a.answer;
    this.offerText = a.sdp;
    this.negotiated = a.media;
    req.respond(200, 'OK', { body: a.sdp, contentType: 'application/sdp', contact: [contact] });
    this.configureMedia();
    this.hold.peerOffered(o.sdp, a.media.mediaIndex);
  }

  /** Release media, timers and the dialog; idempotent. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    for (const h of this.timers) this.deps.clock.clearTimeout(h);
    this.timers.clear();
    this.dialog?.terminate();
    const media = this.media;
    if (media) void media.close();
    this.deps.onReleased(this);
  }
}
