/**
 * Non-INVITE server transaction (RFC 3261 17.2.2, figure 8).
 *
 *                  |Request received / pass to TU
 *                  V
 *            +-----------+ request retransmission: absorbed
 *            |  Trying   |-------------+
 *            +-----------+ 1xx from TU |  200-699 from TU: send
 *                  |                   |
 *                  V                   |
 *            +-----------+ request: send last 1xx
 *            | Proceeding|             |
 *            +-----------+ 200-699 from TU: send
 *                  |                   |
 *                  V                   V
 *            +-----------+ request: send final again
 *            | Completed | (UDP: the stack keeps only the key and the response bytes for it, absorb.ts)
 *            +-----------+ Timer J (64*T1; reliable 0)
 *                  |
 *                  V  Terminated
 *
 * Bound: if the TU sends no final response within `nonInviteServerTimeout`, the stack answers 500.
 */
import type { SipRequest, SipResponse, Source } from '../message.js';
import { createResponse, serialize } from '../serializer.js';
import { Transaction, type TransactionHost } from './common.js';

const J = 0;
const TU = 1;

export class NonInviteServerTransaction extends Transaction {
  readonly isClient = false;
  readonly isInvite = false;
  lastResponse: SipResponse | null = null;
  private lastBytes: Buffer | null = null;
  private readonly onError = (): void => this.terminate('transport error');

  fireTimer(slot: number): void {
    switch (slot) {
      case J: this.terminate('timer J'); return;
      case TU: this.tuTimeout(); return;
    }
  }

  constructor(host: TransactionHost, key: string, request: SipRequest, peer: Source, reliable: boolean) {
    super(host, key, request, peer, reliable, 'trying');
    this.setTimer(TU, host.timers.nonInviteServerTimeout);
  }

  /** Send a response from the TU. Returns false when the transaction can no longer respond. */
  respond(res: SipResponse): boolean {
    if (this.state !== 'trying' && this.state !== 'proceeding') return false;
    this.lastResponse = res;
    this.lastBytes = serialize(res);
    if (res.status < 200) {
      this.state = 'proceeding';
    } else {
      this.state = 'completed';
      this.clearTimer(TU);
      if (this.reliable) this.setTimer(J, this.host.timers.J(true));
    }
    this.host.transmit(this.lastBytes, this.peer, this.onError);
    if (this.state === 'completed' && !this.reliable) {
      // Completed only answers retransmissions until Timer J: the key and these bytes are enough for that
      this.host.absorb(this.key, this.lastBytes, this.peer);
      this.lastResponse = null;
      this.terminate('completed');
    }
    return true;
  }

  /** A retransmission of the request arrived. */
  receiveRetransmission(): void {
    if ((this.state === 'proceeding' || this.state === 'completed') && this.lastBytes) {
      this.host.transmit(this.lastBytes, this.peer, undefined);
    }
  }

  private tuTimeout(): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.host.log.warn({ method: this.request.method, callId: this.request.callId }, 'TU sent no final response: 500');
    this.respond(createResponse(this.request, 500, 'No Response From Application'));
  }
}
