/**
 * What the four transaction state machines share: the host interface (the stack), timer slots, termination.
 */
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import type { SipRequest, SipResponse, Source } from '../message.js';
import { createResponse } from '../serializer.js';
import type { TimerBucket, TimerQueue, TimerTarget } from '../timer-queue.js';
import type { Timers } from '../timers.js';

export type TransactionState =
  | 'calling' | 'trying' | 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

/** Services the stack gives its transactions. */
export interface TransactionHost {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly log: Logger;
  /** Where transactions keep their timers (one clock timer per duration, see timer-queue.ts). */
  readonly timerQueue: TimerQueue;
  /** Send bytes to `dest` over the transport named there; `onError` is called (at most once) on failure. */
  transmit(data: Buffer, dest: Source, onError: ((err: Error) => void) | undefined): void;
  /** The transaction reached Terminated: forget it. */
  transactionTerminated(tx: Transaction): void;
  /**
   * Keep only this much of a finished server transaction for the rest of 64*T1 (absorb.ts): its key, and for a
   * non-INVITE the final response to send again when the request is retransmitted.
   */
  absorb(key: string, bytes: Buffer | null, peer: Source | null): void;
  /**
   * Keep only the key of a finished non-INVITE client transaction for Timer K (T4, UDP), so that copies of its final
   * response are absorbed without the request, its bytes or the transaction.
   */
  absorbResponses(key: string): void;
}

export abstract class Transaction implements TimerTarget {
  state: TransactionState;
  /** Set when the transaction was terminated, for tests / logs. */
  terminatedReason: string | undefined;
  /**
   * Timer bookkeeping of the host's TimerQueue, per slot (at most 6 slots per transaction type). Array literals
   * of the exact size: an empty array grown by index gets a 17-slot backing store, kept for the whole
   * transaction (32 s for INVITEs).
   */
  readonly timerBucket: Array<TimerBucket | undefined> = [undefined, undefined, undefined, undefined, undefined, undefined];
  readonly timerPos: number[] = [0, 0, 0, 0, 0, 0];

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

  /** Timer `slot` expired (called by the host's TimerQueue). */
  abstract fireTimer(slot: number): void;

  /** (Re)arm timer `slot` (a small per-class constant) to call `fireTimer(slot)` in `ms`. */
  protected setTimer(slot: number, ms: number): void {
    this.host.timerQueue.set(this, slot, ms);
  }

  protected clearTimer(slot: number): void {
    if (this.timerBucket[slot] !== undefined) this.host.timerQueue.clear(this, slot);
  }

  protected clearAllTimers(): void {
    for (let i = 0; i < this.timerBucket.length; i++) this.clearTimer(i);
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
