/**
 * Hold carried across a bridge. Each leg answers its own re-INVITEs (see `Call.reInvite`, `OutboundLeg.reInvite`);
 * a `HoldSync` per leg notes the direction the far end offered, and when it changes (hold: sendonly/inactive,
 * resume: sendrecv) the bridge re-offers that same direction on the other leg with a re-INVITE of our own, so the
 * other phone shows the hold too and its media follows (RFC 3264 §8.4, RFC 6337 §5).
 *
 * Our re-INVITE offers only the codec the leg already uses (no renegotiation on hold), keeps the session id and
 * bumps the version. Requests are serialised per dialog: while ours is outstanding the far end's re-INVITE gets
 * 491 (RFC 3261 §14.2); a 491 to ours is retried after 2.1–4 s (§14.1); only the latest wanted direction is sent.
 */
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { Dialog, SipResponse, SipStack } from '../sip/index.js';
import type { MediaSession } from '../rtp/media-engine.js';
import { acceptAnswer, createOffer, directionOf, serializeSdp, type NegotiatedAudio, type SdpDirection, type SessionDescription } from '../rtp/sdp.js';

/** What a leg lends its HoldSync. */
export interface HoldSide {
  readonly stack: SipStack;
  readonly clock: Clock;
  readonly log: Logger;
  readonly mediaAddress: string;
  /** The confirmed dialog, media and current negotiation; undefined when the leg cannot re-INVITE (not answered, ended). */
  current(): { dialog: Dialog; media: MediaSession; local: SessionDescription; negotiated: NegotiatedAudio } | undefined;
  /** Take the offer we sent and the answer's negotiation as the leg's own, and reconfigure its media. */
  adopt(local: SessionDescription, localText: string, negotiated: NegotiatedAudio): void;
}

/** Send a re-INVITE with `sdp` in `dialog`; resolves with the final response (a 2xx is ACKed here). */
export function sendReInvite(stack: SipStack, dialog: Dialog, sdp: string): Promise<SipResponse> {
  const req = dialog.createRequest('INVITE', { body: sdp, contentType: 'application/sdp' });
  return new Promise((resolve) => {
    const tx = stack.invite(req, dialog.peer, (res) => {
      if (res.status < 200) return;
      if (res.status < 300) {
        dialog.receiveResponse(res);
        tx.sendAck(dialog.createAck());
      }
      resolve(res);
    });
  });
}

export class HoldSync {
  /** The direction the far end last offered (its point of view). */
  peerDirection: SdpDirection = 'sendrecv';
  /** Our re-INVITE is in flight: an incoming one must get 491. */
  pending = false;
  /** Told when the far end's offered direction changes (set by the bridge while the legs talk). */
  onPeerDirection: ((d: SdpDirection) => void) | undefined;
  private want: SdpDirection | undefined;
  private running = false;

  constructor(private readonly side: HoldSide) {}

  /** The far end's offer was answered: remember its direction, report a change. */
  peerOffered(sdp: SessionDescription, mediaIndex: number): void {
    const m = sdp.media[mediaIndex];
    if (!m) return;
    const d = directionOf(sdp, m);
    if (d === this.peerDirection) return;
    this.peerDirection = d;
    if (this.side.log.isLevelEnabled('debug')) this.side.log.debug({ direction: d }, 'far end changed direction');
    this.onPeerDirection?.(d);
  }

  /** The far end's answer to our first offer (`ours` = the negotiated direction, our point of view). */
  peerAnswered(ours: SdpDirection): void {
    this.peerDirection = ours === 'sendonly' ? 'recvonly' : ours === 'recvonly' ? 'sendonly' : ours;
  }

  /** Offer `direction` to the far end (coalesced: only the latest wish is sent). */
  offer(direction: SdpDirection): void {
    this.want = direction;
    if (!this.running) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.want !== undefined) {
        const cur = this.side.current();
        if (!cur) { this.want = undefined; break; }
        const direction = this.want;
        this.want = undefined;
        const n = cur.negotiated;
        const offer = createOffer({
          address: this.side.mediaAddress, port: cur.media.localPort, codecs: [n.codec], direction,
          telephoneEvent: n.telephoneEventPt !== undefined, ...(n.telephoneEventPt !== undefined ? { telephoneEventPt: n.telephoneEventPt } : {}),
        }, cur.local);
        const text = serializeSdp(offer);
        this.pending = true;
        let res: SipResponse;
        try { res = await sendReInvite(this.side.stack, cur.dialog, text); } finally { this.pending = false; }
        if (res.status >= 200 && res.status < 300) {
          const a = acceptAnswer(offer, res.body.toString('utf8'));
          if (a.ok) this.side.adopt(offer, text, a.media);
          else this.side.log.warn({ reason: a.reason }, 're-INVITE answer unusable: media left as it was');
        } else if (res.status === 491) {
          // Glare: wait 2.1–4 s (we are not the Call-ID owner's side rule; either wait is allowed), then retry.
          this.want ??= direction;
          await new Promise<void>((r) => { this.side.clock.setTimeout(r, 2100 + Math.floor(Math.random() * 1900)); });
        } else {
          this.side.log.info({ status: res.status, direction }, 're-INVITE refused: the far end keeps its media as it was');
        }
      }
    } catch (err) {
      this.side.log.error({ err: String(err) }, 're-INVITE failed');
    } finally {
      this.running = false;
    }
  }
}
