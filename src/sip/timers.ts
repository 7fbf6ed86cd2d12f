/**
 * RFC 3261 timer values (section 17 and table 4, plus RFC 6026 Timers L and M), all in milliseconds.
 * Every transaction reads its durations here; nothing else in src/sip hard-codes a SIP timer.
 *
 *   T1 RTT estimate (500)     T2 max non-INVITE retransmit interval (4000)   T4 max message lifetime (5000)
 *   A  INVITE request retransmit, UDP only: T1, doubling            B  INVITE transaction timeout: 64*T1
 *   D  wait for response retransmits (UDP >= 32 s; reliable 0)      E  non-INVITE retransmit, UDP: T1 doubling to T2
 *   F  non-INVITE transaction timeout: 64*T1                        G  INVITE final response retransmit: T1 doubling to T2
 *   H  wait for ACK receipt: 64*T1                                  I  wait for ACK retransmits: T4 (reliable 0)
 *   J  wait for non-INVITE request retransmits: 64*T1 (reliable 0) K  wait for response retransmits: T4 (reliable 0)
 *   L  (RFC 6026) INVITE server Accepted state: 64*T1              M  (RFC 6026) INVITE client Accepted state: 64*T1
 */
export interface TimerSettings {
  /** ms, default 500. */
  t1: number;
  /** ms, default 4000. */
  t2: number;
  /** ms, default 5000. */
  t4: number;
  /** Timer D for unreliable transports, ms, default 32000. */
  timerD: number;
  /**
   * Bound on how long an INVITE client transaction may stay in Proceeding (Timer C-like), ms, default 180000.
   * On expiry the TU gets a synthetic 408 (it should have CANCELled earlier).
   */
  inviteProceedingTimeout: number;
  /** Bound on how long the TU may take to send a final response to an INVITE, ms, default 300000 (then 500). */
  inviteServerTimeout: number;
  /** Bound on how long the TU may take to answer a non-INVITE request, ms, default 64*T1 (then 500). */
  nonInviteServerTimeout: number | undefined;
}

export const DEFAULT_TIMER_SETTINGS: Readonly<TimerSettings> = {
  t1: 500, t2: 4000, t4: 5000, timerD: 32000, inviteProceedingTimeout: 180000, inviteServerTimeout: 300000,
  nonInviteServerTimeout: undefined,
};

export class Timers {
  readonly T1: number;
  readonly T2: number;
  readonly T4: number;
  readonly inviteProceedingTimeout: number;
  readonly inviteServerTimeout: number;
  readonly nonInviteServerTimeout: number;
  private readonly d: number;

  constructor(s: Partial<TimerSettings> = {}) {
    const m = { ...DEFAULT_TIMER_SETTINGS, ...s };
    if (!(m.t1 > 0 && m.t2 >= m.t1 && m.t4 > 0 && m.timerD >= 0)) throw new RangeError('invalid SIP timer settings');
    this.T1 = m.t1;
    this.T2 = m.t2;
    this.T4 = m.t4;
    this.d = m.timerD;
    this.inviteProceedingTimeout = m.inviteProceedingTimeout;
    this.inviteServerTimeout = m.inviteServerTimeout;
    this.nonInviteServerTimeout = m.nonInviteServerTimeout ?? 64 * m.t1;
  }

  get A(): number { return this.T1; }
  get B(): number { return 64 * this.T1; }
  D(reliable: boolean): number { return reliable ? 0 : this.d; }
  get E(): number { return this.T1; }
  get F(): number { return 64 * this.T1; }
  get G(): number { return this.T1; }
  get H(): number { return 64 * this.T1; }
  I(reliable: boolean): number { return reliable ? 0 : this.T4; }
  J(reliable: boolean): number { return reliable ? 0 : 64 * this.T1; }
  K(reliable: boolean): number { return reliable ? 0 : this.T4; }
  get L(): number { return 64 * this.T1; }
  get M(): number { return 64 * this.T1; }
}
