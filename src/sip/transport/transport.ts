/**
 * The transport contract (RFC 3261 18). A transport turns bytes into parse results for the stack and sends
 * bytes; it owns framing (datagram or Content-Length stream), keep-alives and connection bounds.
 * Nothing thrown while handling received bytes may escape a transport.
 */
import type { Source, TransportName } from '../message.js';
import type { ParseResult } from '../parser.js';

export interface TransportReceiver {
  /**
   * One parsed message, or a malformed one (`kind: 'malformed'`). Keep-alives and `incomplete` results are
   * handled by the transport and never reach the receiver.
   */
  (result: ParseResult, source: Source, transport: Transport): void;
}

export interface Transport {
  readonly name: TransportName;
  /** true for stream transports: no retransmissions, Timers D/I/J/K are 0. */
  readonly reliable: boolean;
  /** The Via transport token: 'UDP' | 'TCP'. */
  readonly viaTransport: string;
  /** Bound address and port (port 0 in the settings is resolved here). */
  readonly address: string;
  readonly port: number;
  /** Messages handed to the stack. */
  receiver: TransportReceiver | null;
  /**
   * Send bytes. TCP: over `dest.connectionId` when it is still open, else a connection to dest address:port
   * (reused or opened). `onError` is called at most once, asynchronously or synchronously, on failure.
   */
  send(data: Buffer, dest: Source, onError?: (err: Error) => void): void;
  /** Open connections (TCP), 0 for datagram transports. */
  readonly connectionCount: number;
  /** Idempotent. */
  close(): Promise<void>;
}

export interface TransportCounters {
  received: number;
  sent: number;
  malformed: number;
  keepalives: number;
  sendErrors: number;
}

export function newCounters(): TransportCounters {
  return { received: 0, sent: 0, malformed: 0, keepalives: 0, sendErrors: 0 };
}
