/**
 * What the four transaction state machines share: the host interface (the stack), timer slots, termination.
 */
import type { Clock, TimerHandle } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import type { SipRequest, SipResponse, Source } from '../message.js';
import { createResponse } from '../serializer.js';
import type { Timers } from '../timers.js';

export type TransactionState =
  | 'calling' | 'trying' | 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

/** Services the stack gives its transactions. */
export interface TransactionHost {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly log: Logger;
  /** Send bytes to `dest` over the transport named there; `onError` is called (at most once) on failure. */
  transmit(data: Buffer, dest: Source, onError: ((err: Error) => void) | undefined): void;
  /** The transaction reached Terminated: forget it. */
  transactionTerminated(tx: Transaction): void;
}

export abstract class Transaction {
  state: TransactionState;
  /** Set when the transaction was terminated, for tests / logs. */
  terminatedReason: string | undefined;
  protected readonly timerHandles: Array<TimerHandle | undefined> = [];

  constructor(
    protected readonly host: TransactionHost,
    /** Matching key in the stack's table. */
    readonly key: string,
    readonly request: SipRequest,
    /** Where requests go (client) / responses go (server). */
    readonly peer: Source,
    readonly reliable: boolean,
    initial: TransactionState,
  ) {
    this.state = initial;
  }

  abstract readonly isClient: boolean;
  abstract readonly isInvite: boolean;

  protected setTimer(slot: number, ms: number, fn: () => void): void {
    const h = this.timerHandles[slot];
    if (h) this.host.clock.clearTimeout(h);
    this.timerHandles[slot] = this.host.clock.setTimeout(fn, ms);
  }

  protected clearTimer(slot: number): void {
    const h = this.timerHandles[slot];
    if (h) { this.host.clock.clearTimeout(h); this.timerHandles[slot] = undefined; }
  }

  protected clearAllTimers(): void {
    for (let i = 0; i < this.timerHandles.length; i++) this.clearTimer(i);
  }

  /** Move to Terminated (idempotent): clears every timer and removes the transaction from the stack. */
  terminate(reason: string): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.terminatedReason = reason;
    this.clearAllTimers();
    this.host.transactionTerminated(this);
  }
}

/** A response the stack makes up for a client transaction (timeout 408, transport error 503). */
export function syntheticResponse(req: SipRequest, kind: 'timeout' | 'transport'): SipResponse {
  const res = kind === 'timeout' ? createResponse(req, 408, 'Request Timeout') : createResponse(req, 503, 'Service Unavailable (transport error)');
  res.synthetic = kind;
  return res;
}

/** Call user code without letting its exceptions break the state machine. */
export function safeCall<A>(log: Logger, fn: ((a: A) => void) | null | undefined, arg: A): void {
  if (!fn) return;
  try {
    fn(arg);
  } catch (err) {
    log.error({ err }, 'transaction user callback threw');
  }
}
