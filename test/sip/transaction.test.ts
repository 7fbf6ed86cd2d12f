import t, { type Test } from 'tap';
import { createRequest, parseMessage, type SipResponse } from '../../src/sip/index.js';
import { invite, makePair, placeCall, simpleUas } from './helpers.js';

function firstLine(buf: Buffer): string { return buf.toString('latin1', 0, buf.indexOf('\r\n')); }

/** Record the virtual send times of datagrams whose first line matches `re`, and drop them if `drop`. */
function watch(p: Awaited<ReturnType<typeof makePair>>, re: RegExp, drop: boolean): number[] {
  const times: number[] = [];
  const prev = p.net.dropFilter;
  p.net.dropFilter = (data, from, to) => {
    if (re.test(firstLine(data))) { times.push(p.clock.now()); if (drop) return true; }
    return prev ? prev(data, from, to) : false;
  };
  return times;
}

function options(p: Awaited<ReturnType<typeof makePair>>) {
  return createRequest({ method: 'OPTIONS', uri: 'sip:bob@10.0.0.2', from: 'sip:alice@10.0.0.1', to: 'sip:bob@10.0.0.2' });
}

function settled(t: Test, p: Awaited<ReturnType<typeof makePair>>): void {
  for (const [name, s] of [['a', p.a.stats()], ['b', p.b.stats()]] as const) {
    t.equal(s.clientTransactions, 0, name + ' client tx');
    t.equal(s.serverTransactions, 0, name + ' server tx');
    t.equal(s.pending2xx, 0, name + ' pending 2xx');
    t.equal(s.dialogs, 0, name + ' dialogs');
  }
  t.equal(p.clock.pendingTimers, 0, 'no timers left');
}

t.test('basic call: 180 (no 100 Trying: the TU answered within tryingDelayMs), 200, ACK with body to TU, BYE; everything goes away', async (t) => {
  const p = await makePair();
  const uas = simpleUas(p);
  const r = placeCall(p);
  p.clock.tick(10);
  t.same(r.statuses, [180], 'the TU\'s 180 went out at once: no 100 Trying');
  p.clock.tick(200);
  t.same(r.statuses, [180, 200]);
  t.equal(uas.acks.length, 1, 'ACK delivered to TU once');
  t.equal(uas.acks[0]!.bodyText(), '', 'ACK body (empty here)');
  p.clock.tick(2000);
  t.equal(r.byeStatus, 200);
  t.same(uas.events, ['INVITE', 'BYE']);
  p.clock.tick(40000);
  settled(t, p);
});

t.test('non-INVITE client: Timer E doubles to T2, Timer F gives a synthetic 408 at 64*T1', async (t) => {
  const p = await makePair();
  const times = watch(p, /^OPTIONS/, true);
  let res: SipResponse | null = null;
  p.a.sendRequest(options(p), p.toB, (r) => { res = r; });
  p.clock.tick(40000);
  t.same(times, [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
  t.equal((res as SipResponse | null)?.status, 408);
  t.equal((res as SipResponse | null)?.synthetic, 'timeout');
  settled(t, p);
});

t.test('INVITE client: Timer A doubles (no cap), Timer B gives 408 at 64*T1', async (t) => {
  const p = await makePair();
  const times = watch(p, /^INVITE/, true);
  const got: number[] = [];
  const atTimes: number[] = [];
  p.a.sendRequest(invite(p), p.toB, (r) => { got.push(r.status); atTimes.push(p.clock.now()); });
  p.clock.tick(40000);
  t.same(times, [0, 500, 1500, 3500, 7500, 15500, 31500]);
  t.same(got, [408]);
  t.same(atTimes, [32000]);
  settled(t, p);
});

t.test('custom T1/T2', async (t) => {
  const p = await makePair({ timers: { t1: 100, t2: 400 } });
  const times = watch(p, /^OPTIONS/, true);
  p.a.sendRequest(options(p), p.toB, () => {});
  p.clock.tick(10000);
  t.same(times.slice(0, 6), [0, 100, 300, 700, 1100, 1500]);
  t.equal(times[times.length - 1]! < 6400, true);
  await p.a.close(); await p.b.close();
});

t.test('UAS 2xx retransmission until ACK (T1 doubling capped at T2), then ack timeout at 64*T1', async (t) => {
  const p = await makePair();
  const uas = simpleUas(p, 0);
  const okTimes = watch(p, /^SIP\/2\.0 200/, false);
  watch(p, /^ACK/, true); // every ACK lost
  const r = placeCall(p, 100000);
  p.clock.tick(40000);
  t.same(r.statuses, [180, 200], 'TU sees the 2xx once');
  // first at ~5ms (latency), then +500, +1000, +2000, +4000, +4000...
  const rel = okTimes.map((x) => x - okTimes[0]!);
  t.same(rel.slice(0, 7), [0, 500, 1500, 3500, 7500, 11500, 15500]);
  t.equal(uas.ackTimeouts, 1, 'TU told: no ACK');
  t.equal(uas.acks.length, 0);
  t.equal(p.b.stats().pending2xx, 0);
  p.clock.tick(200000);
  t.equal(p.b.stats().serverTransactions, 0);
  await p.a.close(); await p.b.close();
});

t.test('lost ACK: 2xx retransmission gets the stored ACK re-sent; TU sees one 2xx and one ACK', async (t) => {
  const p = await makePair();
  const uas = simpleUas(p, 0);
  let acks = 0;
  p.net.dropFilter = (data) => firstLine(data).startsWith('ACK') && acks++ === 0; // first ACK lost
  const r = placeCall(p, 3000);
  p.clock.tick(1000);
  t.same(r.statuses, [180, 200]);
  t.equal(acks, 2, 'ACK re-sent on the retransmitted 2xx');
  t.equal(uas.acks.length, 1);
  p.clock.tick(60000);
  t.equal(r.byeStatus, 200);
  settled(t, p);
});

t.test('non-2xx final: ACK by the client transaction, Timer G/H at the server when ACKs are lost', async (t) => {
  const p = await makePair();
  p.b.onRequest = (req) => { req.respond(486); };
  const finals = watch(p, /^SIP\/2\.0 486/, false);
  watch(p, /^ACK/, true);
  const got: number[] = [];
  p.a.sendRequest(invite(p), p.toB, (r) => got.push(r.status));
  p.clock.tick(40000);
  t.same(got, [486], 'TU sees the 486 once (answered at once: no 100 Trying)');
  const rel = finals.map((x) => x - finals[0]!);
  t.same(rel, [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500], 'Timer G, stopped by Timer H at 64*T1');
  settled(t, p);
});

t.test('non-2xx with ACK: server Confirmed then Timer I (T4); client Timer D (32 s)', async (t) => {
  const p = await makePair();
  p.b.onRequest = (req) => { req.respond(603); };
  p.a.sendRequest(invite(p), p.toB, () => {});
  p.clock.tick(100);
  t.equal(p.b.stats().serverTransactions, 1);
  p.clock.tick(5000);
  t.equal(p.b.stats().serverTransactions, 0, 'Timer I = T4 after ACK');
  t.equal(p.a.stats().clientTransactions, 1, 'client in Completed (Timer D)');
  p.clock.tick(32000);
  t.equal(p.a.stats().clientTransactions, 0);
  settled(t, p);
});

t.test('request retransmissions are absorbed; server resends its last response; TU sees one request', async (t) => {
  const p = await makePair();
  let n = 0;
  p.b.onRequest = (req) => { n++; req.respond(200); };
  let dropped = 0;
  p.net.dropFilter = (data) => firstLine(data).startsWith('SIP/2.0 200') && dropped++ < 2;
  const got: number[] = [];
  p.a.sendRequest(options(p), p.toB, (r) => got.push(r.status));
  p.clock.tick(5000);
  t.equal(n, 1, 'TU got the request once');
  t.same(got, [200]);
  t.equal(dropped, 3, 'two responses lost, third (resent on retransmission) arrives');
  p.clock.tick(40000);
  settled(t, p);
});

t.test('Timer J (64*T1) keeps the non-INVITE server side (as a key and its response), Timer K (T4) the client side (as a key)', async (t) => {
  const p = await makePair();
  p.b.onRequest = (req) => { req.respond(200); };
  let response: Buffer | undefined;
  p.net.dropFilter = (data) => { if (firstLine(data).startsWith('SIP/2.0 200')) response = Buffer.from(data); return false; };
  const got: number[] = [];
  const tx = p.a.sendRequest(options(p), p.toB, (r) => got.push(r.status));
  p.clock.tick(100);
  t.same(got, [200]);
  t.equal(tx.state, 'terminated', 'the client transaction itself is gone at its final response');
  t.equal(tx.terminatedReason, 'completed');
  t.equal(p.a.stats().clientTransactions, 0);
  t.equal(p.a.stats().absorbedResponses, 1, 'its key absorbs copies of the response until Timer K');
  t.equal(p.b.stats().serverTransactions, 0, 'the server transaction itself is gone once completed');
  t.equal(p.b.stats().absorbed, 1);
  // a copy of the 200 (as when the request was retransmitted before the first 200 arrived): absorbed, not unmatched
  const elsewhere = p.net.bind('10.0.0.3', 5060);
  p.net.deliver(response!, elsewhere, p.toA);
  p.clock.tick(100);
  t.same(got, [200], 'the TU sees the response once');
  t.equal(p.a.stats().unmatchedResponses, 0, 'the copy was absorbed');
  p.clock.tick(4900);
  t.equal(p.a.stats().absorbedResponses, 0, 'K = T4');
  t.equal(p.b.stats().absorbed, 1);
  p.net.deliver(response!, elsewhere, p.toA);
  p.clock.tick(100);
  t.same(got, [200]);
  t.equal(p.a.stats().unmatchedResponses, 1, 'after Timer K a copy matches nothing');
  p.clock.tick(27000);
  t.equal(p.b.stats().absorbed, 0, 'J = 64*T1');
  settled(t, p);
});

t.test('reliable transport: no retransmissions, timers D/I/J/K are 0', async (t) => {
  const p = await makePair({ reliable: true });
  let invites = 0;
  p.net.dropFilter = (data) => { if (firstLine(data).startsWith('INVITE')) invites++; return false; };
  p.b.onRequest = (req) => { if (req.message.method === 'INVITE') return; req.respond(200); };
  const got: number[] = [];
  p.a.sendRequest(invite(p), p.toB, (r) => got.push(r.status));
  p.clock.tick(31000);
  t.equal(invites, 1, 'no Timer A over a reliable transport');
  p.a.sendRequest(options(p), p.toB, () => {});
  p.clock.tick(50);
  t.equal(p.a.stats().clientTransactions, 1, 'only the INVITE remains (K = 0)');
  t.equal(p.a.stats().absorbedResponses, 0, 'K = 0: no key kept either');
  t.equal(p.b.stats().serverTransactions, 1, 'only the INVITE remains (J = 0)');
  p.clock.tick(2000);
  t.same(got, [100], '100 Trying (TU silent for tryingDelayMs) puts the client in Proceeding');
  await p.a.close(); await p.b.close();
});

t.test('CANCEL: 200 to the CANCEL, TU notified, 487 to the INVITE; unmatched CANCEL gets 481', async (t) => {
  const p = await makePair();
  const uas = simpleUas(p, 100000);
  const cancelResponses = watch(p, /^SIP\/2\.0 200 OK/, false);
  const got: number[] = [];
  const tx = p.a.sendRequest(invite(p), p.toB, (r) => got.push(r.status));
  tx.state === 'calling' && t.pass('calling');
  (tx as import('../../src/sip/index.js').InviteClientTransaction).cancel();
  p.clock.tick(100);
  t.same(got, [180, 487]);
  t.equal(cancelResponses.length, 1, '200 to CANCEL');
  t.same(uas.events, ['INVITE']);
  p.clock.tick(40000);
  settled(t, p);

  // Unmatched CANCEL: build one by hand.
  const q = await makePair();
  const c = createRequest({ method: 'CANCEL', uri: 'sip:bob@10.0.0.2', from: 'sip:alice@10.0.0.1', to: 'sip:bob@10.0.0.2' });
  const got2: number[] = [];
  // sendRequest refuses CANCEL: use the stateless path and watch the wire.
  q.net.capture = true;
  q.a.sendStateless(c, q.toB);
  q.clock.tick(100);
  t.match(q.net.wire[1]!.text, /^SIP\/2\.0 481/);
  void got2;
  await q.a.close(); await q.b.close();
});

t.test('CANCEL before any provisional waits for the first 1xx (RFC 3261 9.1)', async (t) => {
  const p = await makePair();
  let invTx: import('../../src/sip/index.js').InviteServerTransaction | null = null;
  p.b.onRequest = (req) => {
    const tx = req.serverTransaction;
    if (tx && 'onCancel' in tx) { invTx = tx; tx.onCancel = () => req.respond(487); }
  };
  let lose100 = true;
  p.net.dropFilter = (data) => lose100 && firstLine(data).startsWith('SIP/2.0 100'); // the 100 Trying is lost
  const cancels = watch(p, /^CANCEL/, false);
  const got: number[] = [];
  const tx = p.a.sendRequest(invite(p), p.toB, (r) => got.push(r.status)) as import('../../src/sip/index.js').InviteClientTransaction;
  tx.cancel();
  p.clock.tick(100);
  t.equal(cancels.length, 0, 'no CANCEL without a provisional');
  t.ok(invTx);
  lose100 = false;
  p.clock.tick(2000); // INVITE retransmitted → 100 resent → CANCEL
  t.equal(cancels.length, 1);
  t.same(got, [100, 487]);
  p.clock.tick(40000);
  settled(t, p);
});

t.test('Max-Forwards 0 → 483; malformed → 400 naming the problem; garbage dropped and counted', async (t) => {
  const p = await makePair();
  p.net.capture = true;
  let tu = 0;
  p.b.onRequest = () => { tu++; };
  const mf = createRequest({ method: 'OPTIONS', uri: 'sip:bob@10.0.0.2', from: 'sip:alice@10.0.0.1', to: 'sip:bob@10.0.0.2', maxForwards: 0 });
  p.a.sendRequest(mf, p.toB, () => {});
  p.clock.tick(100);
  t.match(p.net.wire[1]!.text, /^SIP\/2\.0 483 Too Many Hops/);
  // Inject raw bytes from a's transport.
  const raw = (s: string): void => { (p.a as unknown as { transports: Map<string, { send(b: Buffer, d: unknown): void }> }).transports.get('udp')!.send(Buffer.from(s), p.toB); };
  p.net.wire.length = 0;
  raw('OPTIONS sip:bob@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKm1;rport\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n');
  raw('NOT SIP AT ALL');
  raw('\u0016\u0003\u0001garbage');
  p.clock.tick(100);
  const answers = p.net.wire.filter((w) => w.text.startsWith('SIP/2.0'));
  t.equal(answers.length, 1);
  t.match(answers[0]!.text, /^SIP\/2\.0 400 Missing Call-ID\r\n/);
  t.match(answers[0]!.text, /received=10\.0\.0\.1;rport=5060/);
  const r = parseMessage(Buffer.from(answers[0]!.text), { stream: false });
  t.equal(r.kind === 'malformed' ? r.reason : 'parsed', 'Missing Call-ID', 'our 400 lacks Call-ID too, as the request did');
  t.equal(p.b.stats().badRequests, 1);
  t.equal(p.b.stats().malformedDropped, 2);
  t.equal(tu, 0);
  await p.a.close(); await p.b.close();
});

t.test('TU exceptions are contained: onRequest throwing yields 500', async (t) => {
  const p = await makePair();
  p.b.onRequest = () => { throw new Error('boom'); };
  const got: number[] = [];
  p.a.sendRequest(options(p), p.toB, (r) => got.push(r.status));
  p.clock.tick(100);
  t.same(got, [500]);
  await p.a.close(); await p.b.close();
});

t.test('Via received/rport stamping and response routing to received:rport', async (t) => {
  const p = await makePair();
  let seen: import('../../src/sip/index.js').Via | null = null;
  p.b.onRequest = (req) => { seen = req.message.via[0]!; req.respond(200); };
  const req = options(p);
  const got: number[] = [];
  p.a.sendRequest(req, p.toB, (r) => got.push(r.status));
  // lie in the Via: sent-by says 192.168.1.5:5999, but rport is requested → response goes to the source
  req.via[0]!.host = '192.168.1.5';
  p.clock.tick(100);
  t.ok(seen);
  t.equal((seen as unknown as { received: string }).received, '10.0.0.1');
  t.equal((seen as unknown as { rport: number }).rport, 5060);
  t.same(got, [200]);
  await p.a.close(); await p.b.close();
});

t.test('100 Trying: sent after tryingDelayMs when the TU is silent, never when it answers sooner, at once on a retransmission', async (t) => {
  // TU silent: the 100 goes out 100 ms after the INVITE arrived (5 ms network latency), not before.
  const p = await makePair();
  p.b.onRequest = () => { /* silent */ };
  const tryings = watch(p, /^SIP\/2\.0 100 Trying/, false);
  const got: number[] = [];
  p.a.sendRequest(invite(p), p.toB, (r) => got.push(r.status));
  p.clock.tick(104);
  t.same(tryings, [], 'nothing before the delay');
  p.clock.tick(2);
  t.same(tryings, [105], '100 Trying 100 ms after the INVITE arrived');
  p.clock.tick(10);
  t.same(got, [100]);
  await p.a.close(); await p.b.close();

  // TU answers within the delay: no 100 ever, and no timer left behind by the queue.
  const q = await makePair();
  q.b.onRequest = (req) => { q.clock.setTimeout(() => req.respond(486), 60); };
  const tq = watch(q, /^SIP\/2\.0 100/, false);
  const got2: number[] = [];
  q.a.sendRequest(invite(q), q.toB, (r) => got2.push(r.status));
  q.clock.tick(40000);
  t.same(tq, [], 'no 100 Trying for an INVITE answered in 60 ms');
  t.same(got2, [486]);
  t.equal(q.clock.pendingTimers, 0, 'no timers left');
  await q.a.close(); await q.b.close();

  // The INVITE is retransmitted (T1 = 40 ms < delay) before the 100 was due: the 100 goes out at once.
  const r = await makePair({ timers: { t1: 40 } });
  r.b.onRequest = () => { /* silent */ };
  const tr = watch(r, /^SIP\/2\.0 100/, false);
  r.a.sendRequest(invite(r), r.toB, () => {});
  r.clock.tick(60);
  t.same(tr, [45], 'answered the retransmission (sent at 40, in at 45) with 100 Trying');
  r.clock.tick(200);
  t.same(tr, [45], 'no second 100 when the delay runs out');
  await r.a.close(); await r.b.close();
});

t.test('100 Trying: the stack default sends it at once, before a TU that answers at once', async (t) => {
  const p = await makePair({ stackDefaultTrying: true });
  p.b.onRequest = (req) => { req.respond(486); };
  const got: number[] = [];
  p.a.sendRequest(invite(p), p.toB, (r) => got.push(r.status));
  p.clock.tick(40000);
  t.same(got, [100, 486], '100 Trying went out before the final response');
  settled(t, p);
});

t.test('100 Trying: tryingDelayMs 0 sends it at once; 50 INVITEs in a row each get theirs on time; bad values refused', async (t) => {
  const p = await makePair({ tryingDelayMs: 0 });
  p.b.onRequest = () => { /* silent */ };
  const tryings = watch(p, /^SIP\/2\.0 100/, false);
  p.a.sendRequest(invite(p), p.toB, () => {});
  p.clock.tick(5);
  t.same(tryings, [5], 'at once');
  await p.a.close(); await p.b.close();

  const q = await makePair();
  q.b.onRequest = () => { /* silent */ };
  const tq = watch(q, /^SIP\/2\.0 100/, false);
  for (let i = 0; i < 50; i++) { q.a.sendRequest(invite(q, 'u' + i), q.toB, () => {}); q.clock.tick(1); }
  q.clock.tick(200);
  t.equal(tq.length, 50, 'every INVITE got its 100 (from one queue timer)');
  t.same(tq.map((x, i) => x - i), new Array(50).fill(105), 'each 100 ms after its INVITE arrived');
  await q.a.close(); await q.b.close();

  for (const bad of [-1, 201, Number.NaN]) {
    await t.rejects(makePair({ tryingDelayMs: bad }), RangeError, `tryingDelayMs ${bad} refused`);
  }
});

t.test('callbacks and bytes that can no longer be used are released while transactions wait out Timers L/K/D', async (t) => {
  const p = await makePair();
  let itx: import('../../src/sip/index.js').InviteServerTransaction | null = null;
  let acked = 0;
  p.b.onRequest = (req) => {
    const tx = req.inviteTransaction;
    if (tx) {
      itx = tx;
      tx.onAck = () => { acked++; };
      tx.onCancel = () => {};
      tx.onAckTimeout = () => {};
      req.respond(200, 'OK', { contact: [p.b.contact('bob')] });
    } else req.respond(200);
  };
  const r = placeCall(p, 500);
  p.clock.tick(100);
  const tx = itx as import('../../src/sip/index.js').InviteServerTransaction | null;
  t.equal(acked, 1, 'ACK delivered once');
  t.equal(tx?.state, 'terminated', 'the transaction itself is gone at the ACK');
  t.equal(tx?.terminatedReason, 'acked');
  t.equal(p.b.stats().absorbed, 1, 'its key absorbs INVITE copies until Timer L');
  t.equal(tx?.onAck, null, 'onAck released after use');
  t.equal(tx?.onCancel, null, 'onCancel released at the final response');
  t.equal(tx?.onAckTimeout, null);
  t.equal(tx?.lastResponse, null, '2xx no longer kept once ACKed');
  // A BYE client transaction ends at its final response (its key waits out Timer K) and lets go of the TU's callback.
  let byeStatus = 0;
  const bye = p.a.sendRequest(options(p), p.toB, (res) => { byeStatus = res.status; });
  p.clock.tick(50);
  t.equal(byeStatus, 200);
  t.equal(bye.state, 'terminated');
  t.equal(p.a.stats().absorbedResponses, 1);
  t.equal((bye as import('../../src/sip/index.js').NonInviteClientTransaction).onResponse, null, 'onResponse released');
  p.clock.tick(2000);
  t.equal(r.byeStatus, 200);

  // Non-2xx: the INVITE client transaction in Completed (Timer D) drops onResponse; the server drops onAck.
  const q = await makePair();
  let sitx: import('../../src/sip/index.js').InviteServerTransaction | null = null;
  q.b.onRequest = (req) => { sitx = req.inviteTransaction; if (sitx) sitx.onAck = () => {}; req.respond(486); };
  const got: number[] = [];
  const ctx = q.a.sendRequest(invite(q), q.toB, (res) => got.push(res.status));
  q.clock.tick(100);
  t.same(got, [486]);
  t.equal(ctx.state, 'completed');
  t.equal((ctx as import('../../src/sip/index.js').InviteClientTransaction).onResponse, null);
  t.equal((sitx as import('../../src/sip/index.js').InviteServerTransaction | null)?.onAck, null);
  t.equal((sitx as import('../../src/sip/index.js').InviteServerTransaction | null)?.state, 'confirmed');
  q.clock.tick(40000);
  await p.a.close(); await p.b.close(); await q.a.close(); await q.b.close();
});

t.test('after the ACK only the key stays: a late copy of the INVITE is absorbed until Timer L, then it is new', async (t) => {
  const p = await makePair();
  let invites = 0;
  p.b.onRequest = (req) => {
    if (req.message.method === 'INVITE') { invites++; req.respond(200, 'OK', { contact: [p.b.contact('bob')] }); } else req.respond(200);
  };
  let copy: Buffer | undefined;
  p.net.dropFilter = (data) => { if (!copy && firstLine(data).startsWith('INVITE')) copy = Buffer.from(data); return false; };
  const r = placeCall(p, 500);
  p.clock.tick(100);
  t.same(r.statuses, [200]);
  const s = p.b.stats();
  t.equal(s.serverTransactions, 0, 'no server transaction kept for the ACKed INVITE');
  t.equal(s.absorbed, 1);
  // the same INVITE again (same branch and sent-by), from elsewhere on the network: a late duplicate
  const other = p.net.bind('10.0.0.3', 5060);
  const again = (): void => p.net.deliver(copy!, other, p.toB);
  p.clock.tick(1000);
  again();
  p.clock.tick(100);
  t.equal(invites, 1, 'absorbed: not a new call');
  t.equal(r.byeStatus, 200, 'the call went on');
  p.clock.tick(31_000); // past 64*T1 after the ACK
  t.equal(p.b.stats().absorbed, 1, 'the INVITE key expired with Timer L (the BYE, 0.5 s later, is still absorbed)');
  again();
  p.clock.tick(100);
  t.equal(invites, 2, 'after Timer L the same INVITE is a new request');
  p.clock.tick(40_000);
  await p.a.close(); await p.b.close();
  t.equal(p.clock.pendingTimers, 0, 'no timers left after close');
});

t.test('absorbed INVITEs do not count against maxTransactions', async (t) => {
  const p = await makePair({ bMaxTransactions: 3 });
  const { clock, a, b } = p;
  b.onRequest = (req) => { req.respond(200, 'OK', { contact: [b.contact('bob')] }); };
  const calls = [];
  for (let i = 0; i < 10; i++) { calls.push(placeCall(p, 100_000, 'u' + i)); clock.tick(50); }
  t.same(calls.map((c) => c.statuses.at(-1)), new Array(10).fill(200), 'ten answered calls in a row with room for three transactions');
  t.equal(b.stats().absorbed, 10);
  await a.close(); await b.close();
});

t.test('completed non-INVITE server transactions (UDP) answer retransmissions from the absorb list and do not count against maxTransactions', async (t) => {
  const { clock, net, a, b, toB } = await makePair({ bMaxTransactions: 3 });
  let seen = 0;
  b.onRequest = (req) => { seen++; req.respond(200); };
  const statuses: number[] = [];
  for (let i = 0; i < 10; i++) {
    a.sendRequest(createRequest({ method: 'OPTIONS', uri: 'sip:bob@10.0.0.2', from: 'sip:alice@10.0.0.1', to: 'sip:bob@10.0.0.2' }), toB, (r) => statuses.push(r.status));
    clock.tick(20);
  }
  t.same(statuses, new Array(10).fill(200), 'ten requests answered with room for three transactions');
  t.equal(b.stats().serverTransactions, 0);
  t.equal(b.stats().absorbed, 10);
  // the first 200 of the next request is lost: the client's retransmission is answered from the list, the TU sees one request
  let dropped = false;
  net.dropFilter = (data) => { if (!dropped && data.toString('latin1', 0, 12) === 'SIP/2.0 200 ') { dropped = true; return true; } return false; };
  let got = 0;
  a.sendRequest(createRequest({ method: 'OPTIONS', uri: 'sip:bob@10.0.0.2', from: 'sip:alice@10.0.0.1', to: 'sip:bob@10.0.0.2' }), toB, (r) => { if (r.status === 200) got++; });
  clock.tick(1000);
  t.ok(dropped, 'the first 200 was dropped');
  t.equal(got, 1, 'the retransmitted request got the same 200 again');
  t.equal(seen, 11, 'the TU saw the request once');
  clock.tick(40_000);
  t.equal(b.stats().absorbed, 0, 'entries expire with Timer J');
  await a.close(); await b.close();
});
