/**
 * Hookline SIP stack (RFC 3261 + 3581 + 6026 pieces), public API.
 *
 *   const stack = await SipStack.create({ udp: { address: '127.0.0.1', port: 5060 }, tcp: { address: '127.0.0.1', port: 5060 },
 *                                         clock, logger, userAgent: 'Hookline/0.1' });
 *   stack.udpPort; stack.tcpPort;                       // bound ports (port 0 → free port)
 *   stack.onRequest = (req: IncomingRequest) => { ... } // INVITE, BYE, OPTIONS, INFO, unknown methods, stray ACKs
 *     req.message (SipRequest), req.source {transport, address, port}, req.toTag,
 *     req.respond(status, reason?, { headers, body, contentType, contact })  → SipResponse | null
 *     req.inviteTransaction (= serverTransaction typed; INVITE only; 100 Trying follows unless answered within tryingDelayMs):
 *       .onCancel = (cancel) => req.respond(487)   // CANCEL was answered 200 by the stack
 *       .onAck = (ack) => ...                      // ACK of our 2xx (once; body for late offers)
 *       .onAckTimeout = () => ...                  // no ACK within 64*T1: send BYE
 *   const dialog = Dialog.fromUas(req.message, req.toTag, stack.contact('hookline'), req.source);
 *   stack.dialogs.add(dialog);                          // index kept by the TU; findForRequest(msg)
 *   // UAC:
 *   const invite = createRequest({ method: 'INVITE', uri: 'sip:bob@127.0.0.1:5090', from: 'sip:alice@127.0.0.1',
 *                                  to: 'sip:bob@127.0.0.1', contact: [stack.contact('alice')], body: sdp, contentType: 'application/sdp' });
 *   const tx = stack.invite(invite, { transport: 'udp', address: '127.0.0.1', port: 5090 }, (res) => {
 *     if (res.status >= 200 && res.status < 300) { const d = Dialog.fromUac(invite, res, tx.peer);
 *       tx.sendAck(d.createAck()); }                      // kept and re-sent on 2xx retransmissions
 *   });                                                  // 408 (res.synthetic 'timeout') / 503 ('transport') too
 *   tx.cancel();                                         // CANCEL (waits for a 1xx if none yet); TU then gets 487
 *   stack.sendRequest(dialog.createRequest('BYE'), dialog.peer, (res) => ...);   // any non-INVITE request
 *   // Stray ACKs (no matching transaction) reach onRequest with serverTransaction null; respond() is a no-op.
 *   stack.stats();   // { clientTransactions, serverTransactions, pending2xx, tcpConnections, dialogs, ... }
 *   await stack.close();
 */
export * from './message.js';
export * from './uri.js';
export * from './parser.js';
export * from './serializer.js';
export * from './timers.js';
export { TimerQueue, type TimerTarget } from './timer-queue.js';
export * from './dialog.js';
export * from './stack.js';
export type { Transport, TransportReceiver, TransportCounters } from './transport/transport.js';
export { UdpTransport, type UdpTransportOptions } from './transport/udp.js';
export { TcpTransport, type TcpTransportOptions } from './transport/tcp.js';
export { MemoryNetwork, MemoryTransport, type MemoryNetworkOptions, type DropFilter } from './transport/memory.js';
export { Transaction, type TransactionState, type TransactionHost } from './transaction/common.js';
export { InviteClientTransaction } from './transaction/invite-client.js';
export { InviteServerTransaction } from './transaction/invite-server.js';
export { NonInviteClientTransaction } from './transaction/non-invite-client.js';
export { NonInviteServerTransaction } from './transaction/non-invite-server.js';
