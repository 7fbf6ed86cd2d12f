/**
 * The SIP stack: transports + transaction layer (RFC 3261 17) + a thin UA core (8.2, 13.3.1.4, 9.2).
 *
 * Incoming requests: Via stamped with received/rport (18.2.1, RFC 3581); malformed-but-answerable → 400
 * naming the problem; Max-Forwards 0 → 483; retransmissions absorbed by their server transaction; CANCEL
 * answered here (200 or 481) and signalled on the INVITE transaction; INVITE answered with 100 Trying when
 * the TU has sent no response within `tryingDelayMs` (RFC 3261 17.2.1; a fast answer saves a datagram), or at
 * once on a retransmission; ACK for non-2xx consumed by its transaction, ACK for a 2xx delivered once to `onAck`; everything
 * else (INVITE, BYE, OPTIONS, INFO, unknown methods, stray ACKs) goes to `onRequest`.
 * Outgoing requests: `sendRequest()` adds the Via (new branch, rport) and runs a client transaction;
 * responses, 408 on timeout and 503 on transport error all come through the one callback.
 */
import type { Clock } from '../util/clock.js';
import { realClock } from '../util/clock.js';
import { getLogger, type Logger } from '../util/logger.js';
import { DialogIndex } from './dialog.js';
import {
  BRANCH_COOKIE, SipRequest, SipResponse, type NameAddr, type Source, type TransportName, type Via,
} from './message.js';
import type { ParseResult, PartialRequest } from './parser.js';
import {
  buildResponse, createResponse, newBranch, randomToken, serialize, serializeErrorResponse, type ResponseOptions,
} from './serializer.js';
import { AbsorbList } from './absorb.js';
import { TimerQueue } from './timer-queue.js';
import { Timers, type TimerSettings } from './timers.js';
import type { Transaction, TransactionHost } from './transaction/common.js';
import { InviteClientTransaction } from './transaction/invite-client.js';
import { InviteServerTransaction } from './transaction/invite-server.js';
import { NonInviteClientTransaction } from './transaction/non-invite-client.js';
import { NonInviteServerTransaction } from './transaction/non-invite-server.js';
import { TcpTransport } from './transport/tcp.js';
import type { Transport } from './transport/transport.js';
import { UdpTransport } from './transport/udp.js';

export interface ListenOptions {
  /** Default '0.0.0.0'. */
  address?: string;
  /** Default 5060; 0 picks a free port (read it back from `stack.udpPort` / `stack.tcpPort`). */
  port?: number;
}

export interface SipStackOptions {
  /** UDP listener; `false` for none. Default: listen on 0.0.0.0:5060 unless `transports` is given. */
  udp?: ListenOptions | false;
  /** TCP listener; `false` for none. Default: as `udp`. */
  tcp?: ListenOptions | false;
  /** Ready-made transports (tests: `MemoryNetwork.bind(...)`), at most one per name. */
  transports?: Transport[];
  /** Default `realClock`. */
  clock?: Clock;
  /** Default `getLogger('sip')`. */
  logger?: Logger;
  /** Sent as User-Agent on requests and Server on responses when set. */
  userAgent?: string;
  /** T1/T2/T4 etc., ms. */
  timers?: Partial<TimerSettings>;
  /** Host put in our Via headers (and `contact()`), default the bound address (127.0.0.1 when bound to 0.0.0.0). */
  publicAddress?: string;
  /** Max live transactions (client + server); new requests beyond get 503. Default 20000. */
  maxTransactions?: number;
  /**
   * 100 Trying to an INVITE goes out only if the TU has sent no response within this many ms (RFC 3261 17.2.1
   * allows skipping it when the TU answers within 200 ms), or at once when the INVITE is retransmitted.
   * Default 100, at most 200; 0 sends it at once. A call answered quickly then costs one datagram less.
   */
  tryingDelayMs?: number;
  /** TCP bounds (see TcpTransportOptions). */
  tcpMaxBufferPerConnection?: number;
  tcpMaxConnections?: number;
  tcpIdleTimeoutMs?: number;
}

export interface SipStackStats {
  clientTransactions: number;
  serverTransactions: number;
  /** Finished server transactions still absorbing retransmissions (ACKed INVITEs until L, non-INVITEs until J), kept as keys. */
  absorbed: number;
  /** Finished non-INVITE client transactions (UDP) kept as keys until Timer K, absorbing copies of their final response. */
  absorbedResponses: number;
  /** 2xx to INVITE sent and not yet ACKed (being retransmitted). */
  pending2xx: number;
  tcpConnections: number;
  dialogs: number;
  /** Garbage dropped without an answer (unanswerable malformed messages). */
  malformedDropped: number;
  /** Malformed requests answered with 400. */
  badRequests: number;
  /** Responses matching no client transaction. */
  unmatchedResponses: number;
  /** New out-of-dialog INVITEs (each counted once, refused ones too). */
  invitesNew: number;
  /**
   * INVITE copies that matched a transaction we already have: the caller resent its INVITE because no response
   * reached it within T1 (500 ms). With our 100 Trying sent at once (or within 200 ms), that means the INVITE waited
   * that long in our receive queue (or a datagram was lost). A symptom of overload worth watching; the overload
   * guard itself measures the queue directly (it tried this count first: decision 044).
   */
  inviteRetransmissions: number;
  /** New INVITEs refused with a stateless 503 because `admitInvite` said no. */
  invitesRefused: number;
}

export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;
export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;
export type ResponseCallback = (res: SipResponse) => void;

/** A request handed to the TU. */
export interface IncomingRequest {
  readonly message: SipRequest;
  readonly source: Source;
  /** null for ACKs (they have no server transaction). INVITE: an InviteServerTransaction (onCancel, onAck...). */
  readonly serverTransaction: ServerTransaction | null;
  /** The same transaction, typed, when the request is an INVITE (null otherwise). */
  readonly inviteTransaction: InviteServerTransaction | null;
  /** Our To tag for this request's responses (the request's own To tag for in-dialog requests). */
  readonly toTag: string;
  /** Build and send a response; returns it, or null when the transaction can no longer respond. */
  respond(status: number, reason?: string, opts?: ResponseOptions): SipResponse | null;
  /** Send a response built by the caller (`createResponse`). */
  sendResponse(res: SipResponse): boolean;
}

class Incoming implements IncomingRequest {
  private tag: string | undefined;
  constructor(
    private readonly stack: SipStack,
    readonly message: SipRequest,
    readonly source: Source,
    readonly serverTransaction: ServerTransaction | null,
  ) {}

  get inviteTransaction(): InviteServerTransaction | null {
    return this.serverTransaction instanceof InviteServerTransaction ? this.serverTransaction : null;
  }

  get toTag(): string {
    if (this.message.to.tag !== undefined) return this.message.to.tag;
    const tx = this.serverTransaction;
    if (tx instanceof InviteServerTransaction) return tx.toTag;
    if (this.tag === undefined) this.tag = randomToken(6);
    return this.tag;
  }

  respond(status: number, reason?: string, opts: ResponseOptions = {}): SipResponse | null {
    if (!this.serverTransaction) return null;
    const res = buildResponse(this.message, status, reason, opts, opts.toTag ?? this.toTag);
    return this.sendResponse(res) ? res : null;
  }

  sendResponse(res: SipResponse): boolean {
    const tx = this.serverTransaction;
    if (!tx) return false;
    return this.stack.respondOn(tx, res);
  }
}

export class SipStack implements TransactionHost {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly log: Logger;
  readonly userAgent: string | undefined;
  /** Every transaction timer: one clock timer per duration (timer-queue.ts). */
  readonly timerQueue: TimerQueue;
  /** Dialog index kept by the TU (see dialog.ts). */
  readonly dialogs = new DialogIndex();
  /** The TU: every request the stack does not handle itself. Without it, requests get 501. */
  onRequest: ((req: IncomingRequest) => void) | null = null;

  private readonly transports = new Map<TransportName, Transport>();
  private readonly clientTx = new Map<string, ClientTransaction>();
  private readonly serverTx = new Map<string, ServerTransaction>();
  /** Call-ID + CSeq + From tag → INVITE server transaction waiting for the ACK of its 2xx. */
  private readonly ackIndex = new Map<string, InviteServerTransaction>();
  /** Finished server transactions until 64*T1 as keys (+ final response bytes) (absorb.ts); not counted in `maxTransactions`. */
  private readonly absorbed: AbsorbList;
  /** Finished non-INVITE client transactions until Timer K as keys (absorb.ts). */
  private readonly absorbedResponses: AbsorbList;
  private readonly publicAddress: string | undefined;
  private readonly maxTransactions: number;
  private closed = false;
  private malformedDropped = 0;
  private badRequests = 0;
  private unmatchedResponses = 0;
  private invitesNew = 0;
  private inviteRetransmissions = 0;
  private invitesRefused = 0;
  /**
   * Admission of new out-of-dialog INVITEs, asked before any transaction is made: false refuses the INVITE with a
   * stateless 503 (Retry-After `refuseRetryAfterS`), the cheapest answer there is (RFC 3261 8.2.7: no transaction;
   * the ACK to it is ignored; a lost 503 is answered again when the INVITE is resent). The switch's overload guard.
   */
  admitInvite: (() => boolean) | null = null;
  refuseRetryAfterS = 2;
  private readonly receiveFn = (r: ParseResult, s: Source, t: Transport): void => this.receive(r, s, t);
  private readonly tryingDelayMs: number;

  private constructor(o: SipStackOptions) {
    this.clock = o.clock ?? realClock;
    this.timers = new Timers(o.timers);
    this.log = o.logger ?? getLogger('sip');
    this.timerQueue = new TimerQueue(this.clock, (err) => this.log.error({ err }, 'SIP timer handler threw'));
    this.userAgent = o.userAgent;
    this.publicAddress = o.publicAddress;
    this.maxTransactions = o.maxTransactions ?? 20000;
    this.absorbed = new AbsorbList(this.timerQueue, this.timers.L, MAX_ABSORBED);
    this.absorbedResponses = new AbsorbList(this.timerQueue, this.timers.K(false), MAX_ABSORBED);
    const td = o.tryingDelayMs ?? 0;
    if (!(td >= 0 && td <= 200)) throw new RangeError('tryingDelayMs must be 0-200 ms');
    this.tryingDelayMs = td;
  }

  /** Create the stack and bind its listeners. */
  static async create(o: SipStackOptions = {}): Promise<SipStack> {
    const s = new SipStack(o);
    const defaultOn = o.transports === undefined;
    try {
      for (const t of o.transports ?? []) s.addTransport(t);
      const udp = o.udp === undefined ? (defaultOn ? {} : false) : o.udp;
      const tcp = o.tcp === undefined ? (defaultOn ? {} : false) : o.tcp;
      if (udp) {
        const uo: { address?: string; port?: number; logger: Logger } = { logger: s.log };
        if (udp.address !== undefined) uo.address = udp.address;
        if (udp.port !== undefined) uo.port = udp.port;
        s.addTransport(await UdpTransport.create(uo));
      }
      if (tcp) {
        const topts: Parameters<typeof TcpTransport.create>[0] = { clock: s.clock, logger: s.log };
        if (tcp.address !== undefined) topts.address = tcp.address;
        if (tcp.port !== undefined) topts.port = tcp.port;
        if (o.tcpMaxBufferPerConnection !== undefined) topts.maxBufferPerConnection = o.tcpMaxBufferPerConnection;
        if (o.tcpMaxConnections !== undefined) topts.maxConnections = o.tcpMaxConnections;
        if (o.tcpIdleTimeoutMs !== undefined) topts.idleTimeoutMs = o.tcpIdleTimeoutMs;
        s.addTransport(await TcpTransport.create(topts));
      }
    } catch (err) {
      await s.close();
      throw err;
    }
    return s;
  }

  private addTransport(t: Transport): void {
    if (this.transports.has(t.name)) throw new Error('two transports named ' + t.name);
    t.receiver = this.receiveFn;
    this.transports.set(t.name, t);
  }

  get udpPort(): number { return this.transports.get('udp')?.port ?? 0; }
  get tcpPort(): number { return this.transports.get('tcp')?.port ?? 0; }

  /** The host we advertise in Via / Contact for a transport. */
  advertisedHost(t: Transport): string {
    if (this.publicAddress) return this.publicAddress;
    if (t.address === '0.0.0.0' || t.address === '' ) return '127.0.0.1';
    if (t.address === '::') return '[::1]';
    return t.address.includes(':') && !t.address.startsWith('[') ? '[' + t.address + ']' : t.address;
  }

  /** A Contact for us (`<sip:user@host:port;transport=tcp>`). */
  contact(user?: string, transport: TransportName = 'udp'): NameAddr {
    const t = this.transports.get(transport) ?? this.transports.values().next().value;
    if (!t) throw new Error('no transport');
    const params: Record<string, string | null> = {};
    if (t.name === 'tcp') params.transport = 'tcp';
    const uri = { scheme: 'sip', host: this.advertisedHost(t), port: t.port, params, headers: {} } as NameAddr['uri'];
    if (user !== undefined) uri.user = user;
    return { uri, params: '' };
  }

  /** Start the receive-queue probe of the UDP transport (UdpTransport.startQueueProbe); no-op without one. */
  startQueueProbe(intervalMs: number): void {
    const t = this.transports.get('udp');
    if (t instanceof UdpTransport) t.startQueueProbe(intervalMs);
  }

  /** The UDP receive queue's delay since the last call, ms (UdpTransport.takeQueueDelay); 0 without a probe. */
  takeQueueDelay(): number {
    const t = this.transports.get('udp');
    return t instanceof UdpTransport ? t.takeQueueDelay() : 0;
  }

  stats(): SipStackStats {
    let pending2xx = 0;
    for (const tx of this.ackIndex.values()) if (tx.awaitingAck) pending2xx++;
    let conns = 0;
    for (const t of this.transports.values()) conns += t.connectionCount;
    return {
      clientTransactions: this.clientTx.size,
      serverTransactions: this.serverTx.size,
      absorbed: this.absorbed.size,
      absorbedResponses: this.absorbedResponses.size,
      pending2xx,
      tcpConnections: conns,
      dialogs: this.dialogs.size,
      malformedDropped: this.malformedDropped,
      badRequests: this.badRequests,
      unmatchedResponses: this.unmatchedResponses,
      invitesNew: this.invitesNew,
      inviteRetransmissions: this.inviteRetransmissions,
      invitesRefused: this.invitesRefused,
    };
  }

  // ---------------------------------------------------------------- TransactionHost

  transmit(data: Buffer, dest: Source, onError: ((err: Error) => void) | undefined): void {
    const t = this.transports.get(dest.transport);
    if (!t) { if (onError) onError(new Error('no ' + dest.transport + ' transport')); return; }
    // SIP message tracing at debug level (the string is only built when debug is on).
    if (this.log.isLevelEnabled('debug')) this.log.debug({ dir: 'out', to: dest.transport + ':' + dest.address + ':' + dest.port, sip: data.toString('utf8') }, 'SIP message');
    t.send(data, dest, onError);
  }

  absorb(key: string, bytes: Buffer | null, peer: Source | null): void {
    this.absorbed.add(key, bytes, peer);
  }

  absorbResponses(key: string): void {
    this.absorbedResponses.add(key);
  }

  transactionTerminated(tx: Transaction): void {
    if (tx.isClient) {
      if (this.clientTx.get(tx.key) === tx) this.clientTx.delete(tx.key);
    } else {
      if (this.serverTx.get(tx.key) === tx) this.serverTx.delete(tx.key);
      if (tx instanceof InviteServerTransaction && tx.ackKey !== null && this.ackIndex.get(tx.ackKey) === tx) {
        this.ackIndex.delete(tx.ackKey);
      }
    }
  }

  // ---------------------------------------------------------------- UAC side

  /**
   * Send a request through a new client transaction to `target`. The stack prepends our Via (fresh branch,
   * `rport`), sets Max-Forwards 70 and User-Agent when absent. `onResponse` receives every provisional and
   * final response, a synthetic 408 (Timer B/F) or 503 (transport error); for INVITE also 2xx from other
   * forks. Do not use it for ACK (see `InviteClientTransaction.sendAck`) or CANCEL (`tx.cancel()`).
   */
  sendRequest(req: SipRequest, target: Source, onResponse: ResponseCallback | null): ClientTransaction {
    if (req.method === 'ACK' || req.method === 'CANCEL') throw new TypeError('use tx.sendAck() / tx.cancel() for ' + req.method);
    const t = this.transports.get(target.transport);
    if (!t) throw new TypeError('no ' + target.transport + ' transport configured');
    this.prepareRequest(req, t);
    return this.startClient(req, target, t, onResponse);
  }

  /** `sendRequest` for an INVITE, typed: the transaction offers `sendAck()` and `cancel()`. */
  invite(req: SipRequest, target: Source, onResponse: ResponseCallback | null): InviteClientTransaction {
    if (req.method !== 'INVITE') throw new TypeError('invite() needs an INVITE');
    return this.sendRequest(req, target, onResponse) as InviteClientTransaction;
  }

  /** Send a request outside any transaction (e.g. an ACK for a 2xx seen after its transaction ended). */
  sendStateless(req: SipRequest, target: Source): void {
    const t = this.transports.get(target.transport);
    if (!t) throw new TypeError('no ' + target.transport + ' transport configured');
    this.prepareRequest(req, t);
    t.send(serialize(req), target);
  }

  private prepareRequest(req: SipRequest, t: Transport): void {
    const via: Via = { transport: t.viaTransport, host: this.advertisedHost(t), port: t.port, branch: newBranch(), rport: true, params: '' };
    req.via.unshift(via);
    if (req.maxForwards === undefined) req.maxForwards = 70;
    if (this.userAgent !== undefined && req.method !== 'ACK' && !req.has('user-agent')) req.add('User-Agent', this.userAgent);
  }

  private startClient(req: SipRequest, target: Source, t: Transport, onResponse: ResponseCallback | null): ClientTransaction {
    const key = clientKey(req.via[0]!.branch ?? '', req.cseq.method);
    const bytes = serialize(req);
    let tx: ClientTransaction;
    if (req.method === 'INVITE') {
      const itx = new InviteClientTransaction(this, key, req, bytes, target, t.reliable, onResponse);
      itx.sendCancel = this.sendCancelFn;
      itx.addVia = this.addViaFn;
      tx = itx;
    } else {
      tx = new NonInviteClientTransaction(this, key, req, bytes, target, t.reliable, onResponse);
    }
    if (this.closed || this.clientTx.size + this.serverTx.size >= this.maxTransactions) {
      // Fail through the one path: a synthetic 503 on the next tick.
      const res = createResponse(req, 503, 'Service Unavailable (stack overloaded or closed)');
      res.synthetic = 'transport';
      tx.state = 'terminated';
      this.clock.setTimeout(() => { if (onResponse) { try { onResponse(res); } catch (err) { this.log.error({ err }, 'onResponse threw'); } } }, 0);
      return tx;
    }
    this.clientTx.set(key, tx);
    tx.start();
    return tx;
  }

  private readonly addViaFn = (req: SipRequest, dest: Source): void => {
    const t = this.transports.get(dest.transport);
    if (t) this.prepareRequest(req, t);
  };

  private readonly sendCancelFn = (inv: InviteClientTransaction): void => {
    const r = inv.request;
    const cancel = new SipRequest({
      method: 'CANCEL',
      uri: r.uri,
      via: [r.via[0]!],
      from: r.from,
      to: r.to,
      callId: r.callId,
      cseq: { seq: r.cseq.seq, method: 'CANCEL' },
      maxForwards: 70,
      headers: r.headers.filter((h) => h.lname === 'route'),
    });
    const t = this.transports.get(inv.peer.transport);
    if (!t) return;
    this.startClient(cancel, inv.peer, t, null);
  };

  // ---------------------------------------------------------------- receive path

  private receive(r: ParseResult, source: Source, t: Transport): void {
    if (this.closed) return;
    try {
      if (r.kind === 'malformed') { this.onMalformed(r.reason, r.partial, source, t); return; }
      if (r.kind !== 'ok') return;
      const m = r.message;
      if (this.log.isLevelEnabled('debug')) this.log.debug({ dir: 'in', from: source.transport + ':' + source.address + ':' + source.port, sip: serialize(m).toString('utf8') }, 'SIP message');
      if (m instanceof SipRequest) this.onRequestMessage(m, source, t);
      else this.onResponseMessage(m);
    } catch (err) {
      this.log.error({ err }, 'error handling a SIP message');
    }
  }

  private onMalformed(reason: string, partial: PartialRequest | null, source: Source, t: Transport): void {
    if (!partial || partial.method === 'ACK' || partial.via.length === 0) {
      this.malformedDropped++;
      if (this.log.isLevelEnabled('debug')) this.log.debug({ reason, from: source.address + ':' + source.port }, 'dropped malformed SIP message');
      return;
    }
    this.badRequests++;
    stampVia(partial.via[0]!, source);
    const dest = responseDestination(partial.via[0]!, source);
    t.send(serializeErrorResponse(partial, 400, reason, randomToken(6)), dest);
    if (this.log.isLevelEnabled('debug')) this.log.debug({ reason }, 'answered malformed request with 400');
  }

  private onRequestMessage(req: SipRequest, source: Source, t: Transport): void {
    const top = req.via[0]!;
    stampVia(top, source);
    if (this.log.isLevelEnabled('debug')) this.log.debug({ method: req.method, callId: req.callId, from: source.address + ':' + source.port }, 'request in');
    if (req.method === 'ACK') { this.onAckMessage(req, source); return; }
    const dest = responseDestination(top, source);
    if (req.maxForwards === 0) {
      replyStateless(req, 483, 'Too Many Hops', t, dest);
      return;
    }
    const key = serverKey(req, req.method);
    const existing = this.serverTx.get(key);
    if (existing) {
      if (req.method === 'INVITE') this.inviteRetransmissions++;
      existing.receiveRetransmission();
      return;
    }
    if (this.absorbed.size > 0) {
      // a late copy of a request whose transaction finished: an ACKed INVITE is dropped, others get their answer again
      const ab = this.absorbed.get(key);
      if (ab !== undefined) {
        if (req.method === 'INVITE') this.inviteRetransmissions++;
        if (ab.bytes !== null && ab.peer !== null) this.transmit(ab.bytes, ab.peer, undefined);
        return;
      }
    }
    if (req.method === 'INVITE' && req.to.tag === undefined) {
      this.invitesNew++;
      if (this.admitInvite !== null && !this.admitInvite()) {
        this.invitesRefused++;
        replyStateless(req, 503, 'Service Unavailable (overloaded)', t, dest, { 'Retry-After': String(this.refuseRetryAfterS) });
        return;
      }
    }
    if (this.clientTx.size + this.serverTx.size >= this.maxTransactions) {
      replyStateless(req, 503, 'Service Unavailable', t, dest);
      return;
    }
    if (req.method === 'CANCEL') { this.onCancelMessage(req, key, dest, t); return; }
    let tx: ServerTransaction;
    if (req.method === 'INVITE') {
      const itx = new InviteServerTransaction(this, key, req, dest, t.reliable, req.to.tag ?? randomToken(6));
      this.serverTx.set(key, itx);
      if (this.tryingDelayMs === 0) itx.sendTrying(); else itx.delayTrying(this.tryingDelayMs);
      tx = itx;
    } else {
      tx = new NonInviteServerTransaction(this, key, req, dest, t.reliable);
      this.serverTx.set(key, tx);
    }
    const incoming = new Incoming(this, req, source, tx);
    if (!this.onRequest) { incoming.respond(501, 'Not Implemented'); return; }
    try {
      this.onRequest(incoming);
    } catch (err) {
      this.log.error({ err, method: req.method }, 'onRequest threw');
      incoming.respond(500, 'Server Internal Error');
    }
  }

  private onCancelMessage(cancel: SipRequest, key: string, dest: Source, t: Transport): void {
    const tx = new NonInviteServerTransaction(this, key, cancel, dest, t.reliable);
    this.serverTx.set(key, tx);
    const inv = this.serverTx.get(serverKey(cancel, 'INVITE'));
    if (!(inv instanceof InviteServerTransaction)) {
      tx.respond(createResponse(cancel, 481, undefined, { toTag: randomToken(6) }));
      return;
    }
    tx.respond(createResponse(cancel, 200, 'OK', { toTag: inv.toTag }));
    inv.receiveCancel(cancel);
  }

  private onAckMessage(ack: SipRequest, source: Source): void {
    const tx = this.serverTx.get(serverKey(ack, 'INVITE'));
    if (tx instanceof InviteServerTransaction) { tx.receiveAck(ack); return; }
    const itx = this.ackIndex.get(ackKey(ack.callId, ack.cseq.seq, ack.from.tag));
    if (itx && (ack.to.tag === undefined || ack.to.tag === itx.toTag)) { itx.receiveAck(ack); return; }
    // Stray ACK (its 2xx transaction is gone, or it was never ours): the TU may care.
    if (this.onRequest) {
      try { this.onRequest(new Incoming(this, ack, source, null)); } catch (err) { this.log.error({ err }, 'onRequest threw'); }
    }
  }

  private onResponseMessage(res: SipResponse): void {
    const top = res.via[0]!;
    const key = top.branch !== undefined ? clientKey(top.branch, res.cseq.method) : undefined;
    const tx = key !== undefined ? this.clientTx.get(key) : undefined;
    if (!tx) {
      // a copy of the final response to a finished non-INVITE request: absorbed (RFC 3261 17.1.2.2, Completed)
      if (key !== undefined && this.absorbedResponses.size > 0 && this.absorbedResponses.get(key) !== undefined) return;
      this.unmatchedResponses++;
      if (this.log.isLevelEnabled('debug')) this.log.debug({ status: res.status, callId: res.callId }, 'response matches no transaction');
      return;
    }
    tx.receiveResponse(res);
  }

  /** Send a TU response on a server transaction (used by IncomingRequest). */
  respondOn(tx: ServerTransaction, res: SipResponse): boolean {
    if (this.userAgent !== undefined && res.status > 100 && !res.has('server')) res.add('Server', this.userAgent);
    const ok = tx.respond(res);
    if (ok && tx instanceof InviteServerTransaction && res.status >= 200 && res.status < 300) {
      const k = ackKey(tx.request.callId, tx.request.cseq.seq, tx.request.from.tag);
      tx.ackKey = k;
      this.ackIndex.set(k, tx);
    }
    return ok;
  }

  /** Terminate every transaction (timers cleared, no callbacks) and close the transports. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const tx of [...this.clientTx.values()]) tx.terminate('stack closed');
    for (const tx of [...this.serverTx.values()]) tx.terminate('stack closed');
    this.ackIndex.clear();
    this.absorbed.clear();
    this.absorbedResponses.clear();
    this.timerQueue.clearAll();
    await Promise.all([...this.transports.values()].map((t) => t.close()));
  }
}

/** Bound on the finished server transactions kept as keys (absorb.ts): 32 s of 3,000 calls/s (INVITE + BYE each). */
const MAX_ABSORBED = 200_000;

/** A final response with no transaction kept for it (RFC 3261 8.2.7): refusals that must cost as little as possible. */
function replyStateless(req: SipRequest, status: number, reason: string, t: Transport, dest: Source, headers?: Record<string, string>): void {
  t.send(serialize(createResponse(req, status, reason, headers ? { toTag: randomToken(6), headers } : { toTag: randomToken(6) })), dest);
}

function clientKey(branch: string, method: string): string {
  return branch + '\u0000' + method;
}

/** RFC 3261 17.2.3: branch + sent-by + method (ACK matches INVITE); RFC 2543 fallback without the cookie. */
function serverKey(req: SipRequest, method: string): string {
  const top = req.via[0]!;
  const sentBy = top.host + ':' + (top.port ?? '');
  const b = top.branch;
  if (b !== undefined && b.startsWith(BRANCH_COOKIE)) return b + '\u0000' + sentBy + '\u0000' + method;
  return '2543\u0000' + req.callId + '\u0000' + req.cseq.seq + '\u0000' + (req.from.tag ?? '') + '\u0000' + sentBy + '\u0000' + method;
}

function ackKey(callId: string, seq: number, fromTag: string | undefined): string {
  return callId + '\u0000' + seq + '\u0000' + (fromTag ?? '');
}

/** RFC 3261 18.2.1 + RFC 3581 4: note where the request really came from. */
function stampVia(top: Via, source: Source): void {
  if (top.rport === true) {
    top.rport = source.port;
    top.received = source.address;
  } else if (top.host !== source.address) {
    top.received = source.address;
  }
}

/** RFC 3261 18.2.2 + RFC 3581: where responses to a request go. */
function responseDestination(top: Via, source: Source): Source {
  if (source.transport === 'tcp') {
    // Same connection; if it is gone, a new one to received (source address) : sent-by port (18.2.2).
    const d: Source = { transport: 'tcp', address: source.address, port: top.port ?? 5060 };
    if (source.connectionId !== undefined) d.connectionId = source.connectionId;
    return d;
  }
  const address = top.received ?? top.host;
  const port = typeof top.rport === 'number' ? top.rport : (top.port ?? 5060);
  return { transport: source.transport, address, port };
}

export { stampVia, responseDestination };
