/**
 * Non-INVITE client transaction (RFC 3261 17.1.2, figure 6).
 *
 *                     |Request from TU / send request, Timer E (UDP), Timer F
 *                     V
 *   Timer E: send  +-----------+  Timer F or transport error: inform TU (408 / 503)
 *   (E=min(2E,T2)) |  Trying   |------------------------------------------+
 *                  +-----------+                                          |
 *             1xx: to TU |   | 200-699: to TU                             |
 *                        V   |                                            |
 *   Timer E: send  +-----------+  Timer F or transport error: inform TU   |
 *   (E=T2)         | Proceeding|-----------------------------------------+|
 *                  +-----------+ 1xx: to TU                              ||
 *                        |  200-699: to TU                               ||
 *                        V                                               ||
 *                  +-----------+  Timer K (T4; reliable: 0)              VV
 *                  | Completed |---------------------------------> Terminated
 *                  +-----------+  (absorbs response retransmissions)
 *
 * Completed is kept as a key, not as this object: all it does is absorb copies of the final response, which needs
 * the key alone (the stack's `absorbResponses`, absorb.ts). The transaction terminates at its final response.
 * Before, each BYE we sent kept its parsed request and bytes for T4 (5 s): 2,500 of them, 6.8 MB, at 500 calls/s.
 */
import type { SipRequest, SipResponse, Source } from '../message.js';
import { Transaction, safeCall, syntheticResponse, type TransactionHost } from './common.js';

const E = 0;
const F = 1;

export class NonInviteClientTransaction extends Transaction {
  readonly isClient = true;
  readonly isInvite = false;
  private interval: number;
  private readonly bytes: Buffer;
  private readonly onError = (): void => this.fail('transport');

  fireTimer(slot: number): void {
    switch (slot) {
      case E: this.onTimerE(); return;
      case F: this.fail('timeout'); return;
    }
  }

  constructor(
    host: TransactionHost, key: string, request: SipRequest, bytes: Buffer, peer: Source, reliable: boolean,
    /** Receives provisional and final responses, including synthetic 408/503. */
    public onResponse: ((res: SipResponse) => void) | null,
  ) {
    super(host, key, request, peer, reliable, 'trying');
    this.bytes = bytes;
    this.interval = host.timers.E;
  }

  start(): void {
    if (!this.reliable) this.setTimer(E, this.interval);
    this.setTimer(F, this.host.timers.F);
    this.host.transmit(this.bytes, this.peer, this.onError);
  }

  private onTimerE(): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.host.transmit(this.bytes, this.peer, this.onError);
    this.interval = this.state === 'trying' ? Math.min(2 * this.interval, this.host.timers.T2) : this.host.timers.T2;
    this.setTimer(E, this.interval);
  }

  receiveResponse(res: SipResponse): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return; // ended: later copies go to the stack's keys
    if (res.status < 200) {
      this.state = 'proceeding';
      safeCall(this.host.log, this.onResponse, res);
      return;
    }
    // Completed: over UDP its key absorbs copies of the response for Timer K; over a reliable transport K is 0.
    if (this.host.timers.K(this.reliable) > 0) this.host.absorbResponses(this.key);
    this.terminate('completed');
    const cb = this.onResponse;
    this.onResponse = null;
    safeCall(this.host.log, cb, res);
  }

  private fail(kind: 'timeout' | 'transport'): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.terminate(kind === 'timeout' ? 'timer F' : 'transport error');
    const cb = this.onResponse;
    this.onResponse = null;
    safeCall(this.host.log, cb, syntheticResponse(this.request, kind));
  }
}
