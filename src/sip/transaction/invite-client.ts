/**
 * INVITE client transaction (RFC 3261 17.1.1, figure 5, with the RFC 6026 Accepted state).
 *
 *                      |INVITE from TU / INVITE sent, Timer A (UDP), Timer B
 *   Timer A: send      V
 *   (A = 2*A)   +-----------+  Timer B or transport error: inform TU (408 / 503)
 *               |  Calling  |---------------------------------------------------+
 *               +-----------+                                                   |
 *       1xx: to TU |  |  | 2xx: to TU                    300-699: ACK, to TU    |
 *                  V  |  +--------------------+                      |          |
 *               +-----------+ 1xx: to TU      |                      |          |
 *               |Proceeding |---------+       |                      |          |
 *               +-----------+         |       V                      V          |
 *                  |  2xx: to TU   +-----------+              +-----------+     |
 *                  +-------------->| Accepted  |              | Completed | 300-699: ACK again
 *                                  +-----------+              +-----------+     |
 *       2xx (retransmission): re-send the TU's ACK      Timer D (32 s; reliable 0)  |
 *       2xx (new To tag, fork): to TU     Timer M (64*T1)      |                |
 *                                  V                          V                V
 *                                  +-------------------> Terminated <-----------+
 *
 * Hookline bounds Proceeding with `inviteProceedingTimeout` (Timer C-like): synthetic 408 to the TU.
 * ACK for 2xx is the TU's (built with its dialog): `sendAck()` sends it and keeps it to answer 2xx retransmits.
 */
import type { SipRequest, SipResponse, Source } from '../message.js';
import { SipRequest as Req } from '../message.js';
import { serialize } from '../serializer.js';
import { Transaction, safeCall, syntheticResponse, type TransactionHost } from './common.js';

const A = 0;
const B = 1;
const D = 2;
const M = 3;
const C = 4;

export class InviteClientTransaction extends Transaction {
  readonly isClient = true;
  readonly isInvite = true;
  private interval: number;
  private readonly bytes: Buffer;
  private ackBytes: Buffer | null = null;
  /** To tag → serialized ACK sent by the TU for that 2xx (null until the TU acks). */
  private readonly acks = new Map<string, Buffer | null>();
  /** Set by `cancel()` before a provisional arrived: CANCEL goes out on the first 1xx (RFC 3261 9.1). */
  cancelRequested = false;
  cancelSent = false;
  /** The stack's CANCEL sender, set by the stack. */
  sendCancel: ((tx: InviteClientTransaction) => void) | null = null;
  /** The stack's Via stamping for ACKs (new branch), set by the stack. */
  addVia: ((req: SipRequest, dest: Source) => void) | null = null;
  private readonly onError = (): void => this.fail('transport', 'transport error');

  fireTimer(slot: number): void {
    switch (slot) {
      case A: this.onTimerA(); return;
      case B: this.fail('timeout', 'timer B'); return;
      case C: this.fail('timeout', 'proceeding timeout'); return;
      case D: this.terminate('timer D'); return;
      case M: this.terminate('timer M'); return;
    }
  }

  constructor(
    host: TransactionHost, key: string, request: SipRequest, bytes: Buffer, peer: Source, reliable: boolean,
    public onResponse: ((res: SipResponse) => void) | null,
  ) {
    super(host, key, request, peer, reliable, 'calling');
    this.bytes = bytes;
    this.interval = host.timers.A;
  }

  start(): void {
    if (!this.reliable) this.setTimer(A, this.interval);
    this.setTimer(B, this.host.timers.B);
    this.host.transmit(this.bytes, this.peer, this.onError);
  }

  private onTimerA(): void {
    if (this.state !== 'calling') return;
    this.host.transmit(this.bytes, this.peer, this.onError);
    this.interval *= 2;
    this.setTimer(A, this.interval);
  }

  receiveResponse(res: SipResponse): void {
    const st = this.state;
    if (st === 'calling' || st === 'proceeding') {
      if (res.status < 200) {
        if (st === 'calling') {
          this.state = 'proceeding';
          this.clearTimer(A);
          this.clearTimer(B);
          this.setTimer(C, this.host.timers.inviteProceedingTimeout);
        }
        safeCall(this.host.log, this.onResponse, res);
        if (this.cancelRequested && !this.cancelSent) this.doCancel();
        return;
      }
      this.clearTimer(A);
      this.clearTimer(B);
      this.clearTimer(C);
      if (res.status < 300) {
        this.state = 'accepted';
        this.acks.set(res.to.tag ?? '', null);
        this.setTimer(M, this.host.timers.M);
      } else {
        this.state = 'completed';
        this.ackBytes = serialize(this.buildNon2xxAck(res));
        this.host.transmit(this.ackBytes, this.peer, undefined);
        this.setTimer(D, this.host.timers.D(this.reliable));
      }
      const cb = this.onResponse;
      // Completed only re-sends the ACK for Timer D: release the TU's closure (Accepted keeps it for forked 2xx).
      if (this.state === 'completed') this.onResponse = null;
      safeCall(this.host.log, cb, res);
      return;
    }
    if (st === 'completed') {
      if (res.status >= 300 && this.ackBytes) this.host.transmit(this.ackBytes, this.peer, undefined);
      return;
    }
    if (st === 'accepted' && res.status >= 200 && res.status < 300) {
      const tag = res.to.tag ?? '';
      if (this.acks.has(tag)) {
        const ack = this.acks.get(tag);
        if (ack) this.host.transmit(ack, this.peer, undefined);
        return;
      }
      if (this.acks.size >= 16) return; // bound forked 2xx
      this.acks.set(tag, null);
      safeCall(this.host.log, this.onResponse, res);
    }
  }

  /**
   * Send the TU's ACK for a 2xx (built with `Dialog.createAck()`); it is re-sent automatically on 2xx
   * retransmissions with the same To tag. `dest` defaults to where the INVITE went.
   */
  sendAck(ack: SipRequest, dest: Source = this.peer): void {
    if (this.addVia && ack.via.length === 0) this.addVia(ack, dest);
    const bytes = serialize(ack);
    const tag = ack.to.tag ?? '';
    if (this.state === 'accepted') this.acks.set(tag, bytes);
    this.host.transmit(bytes, dest, undefined);
  }

  /** Ask for the INVITE to be cancelled (RFC 3261 9.1): now if a provisional arrived, else on the first one. */
  cancel(): void {
    if (this.state === 'calling') { this.cancelRequested = true; return; }
    if (this.state === 'proceeding' && !this.cancelSent) { this.cancelRequested = true; this.doCancel(); }
  }

  private doCancel(): void {
    if (!this.sendCancel) return;
    this.cancelSent = true;
    this.sendCancel(this);
    // RFC 3261 9.1: no final response 64*T1 after the CANCEL -> the transaction gives up (408 to the TU).
    this.setTimer(C, this.host.timers.B);
  }

  /** ACK for a non-2xx final response (RFC 3261 17.1.1.3). */
  private buildNon2xxAck(res: SipResponse): SipRequest {
    const r = this.request;
    const ack = new Req({
      method: 'ACK',
      uri: r.uri,
      via: r.via.length > 0 ? [r.via[0]!] : [],
      from: r.from,
      to: res.to,
      callId: r.callId,
      cseq: { seq: r.cseq.seq, method: 'ACK' },
      maxForwards: 70,
      headers: r.headers.filter((h) => h.lname === 'route'),
    });
    return ack;
  }

  /**
   * The TU gives up on a request that got no response at all (e.g. a gateway that never answers): retransmissions
   * stop and the TU gets the synthetic 408 now instead of at Timer B. No-op once anything was received.
   */
  giveUp(why: string): void {
    if (this.state === 'calling') this.fail('timeout', why);
  }

  private fail(kind: 'timeout' | 'transport', why: string): void {
    if (this.state !== 'calling' && this.state !== 'proceeding') return;
    this.terminate(why);
    const cb = this.onResponse;
    this.onResponse = null;
    safeCall(this.host.log, cb, syntheticResponse(this.request, kind));
  }
}
