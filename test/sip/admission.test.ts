/**
 * Admission of new INVITEs (the switch's overload guard hooks in here): a refused INVITE gets a stateless 503 with
 * Retry-After and leaves nothing behind; resent INVITE copies are counted (the overload signal of callers).
 * Also the UDP transport's receive-queue probe, on real sockets.
 */
import t from 'tap';
import type { IncomingRequest, SipResponse } from '../../src/sip/index.js';
import { UdpTransport } from '../../src/sip/transport/udp.js';
import { silentLogger } from '../../src/util/logger.js';
import { invite, makePair } from './helpers.js';

t.test('a refused INVITE gets a stateless 503 with Retry-After; no transaction, the TU never sees it', async (t) => {
  const p = await makePair();
  t.teardown(async () => { await p.a.close(); await p.b.close(); });
  let asked = 0;
  p.b.admitInvite = () => { asked++; return false; };
  p.b.refuseRetryAfterS = 7;
  const seen: string[] = [];
  p.b.onRequest = (req: IncomingRequest) => { seen.push(req.message.method); };
  const got: SipResponse[] = [];
  p.a.sendRequest(invite(p), p.toB, (r) => { got.push(r); });
  p.clock.tick(50);
  t.equal(asked, 1);
  t.same(got.map((r) => r.status), [503]);
  t.equal(got[0]!.headers.find((h) => h.lname === 'retry-after')?.value, '7');
  t.equal(got[0]!.to.tag !== undefined, true, 'a To tag, as a final response needs');
  const s = p.b.stats();
  t.equal(s.serverTransactions, 0, 'nothing kept for it');
  t.equal(s.invitesNew, 1);
  t.equal(s.invitesRefused, 1);
  t.notOk(seen.includes('INVITE'), 'the TU is not asked');
  p.clock.tick(40_000);
  t.equal(p.a.stats().clientTransactions, 0, 'the caller\'s transaction ends normally (its ACK is ignored)');
});

t.test('in-dialog INVITEs (re-INVITEs) are not asked: admission is for new calls only', async (t) => {
  const p = await makePair();
  t.teardown(async () => { await p.a.close(); await p.b.close(); });
  let asked = 0;
  p.b.admitInvite = () => { asked++; return false; };
  p.b.onRequest = (req: IncomingRequest) => { if (req.message.method === 'INVITE') req.respond(200, 'OK'); };
  const re = invite(p);
  re.to.tag = 'existing-dialog';
  const got: number[] = [];
  p.a.sendRequest(re, p.toB, (r) => { got.push(r.status); });
  p.clock.tick(50);
  t.equal(asked, 0);
  t.same(got, [200]);
});

t.test('an INVITE resent before any response reached the caller is counted', async (t) => {
  // T1 100 ms on the caller; the callee's 100 Trying waits 200 ms, so the caller resends once before it
  const p = await makePair({ timers: { t1: 100 }, tryingDelayMs: 200 });
  t.teardown(async () => { await p.a.close(); await p.b.close(); });
  let tus = 0;
  p.b.onRequest = (req: IncomingRequest) => { if (req.message.method === 'INVITE') tus++; };
  p.a.sendRequest(invite(p), p.toB, () => {});
  p.clock.tick(150);
  t.equal(p.b.stats().invitesNew, 1);
  t.equal(p.b.stats().inviteRetransmissions, 1);
  t.equal(tus, 1, 'the TU saw the INVITE once');
});

t.test('UDP receive-queue probe: a blocked event loop shows as queue delay, and it clears', async (t) => {
  const u = await UdpTransport.create({ address: '127.0.0.1', port: 0, logger: silentLogger });
  t.teardown(() => u.close());
  let parsed = 0;
  u.receiver = () => { parsed++; };
  t.equal(u.takeQueueDelay(), 0, 'no probe: 0');
  u.startQueueProbe(20);
  await new Promise((r) => setTimeout(r, 200));
  const idle = u.takeQueueDelay();
  t.ok(idle < 50, `idle queue delay is small (${idle.toFixed(1)} ms)`);
  // a probe in the queue, then the loop blocked: it cannot be read, and its age counts
  u.sendProbe();
  const until = performance.now() + 300;
  while (performance.now() < until) { /* as a long GC pause or a backlog would */ }
  const blocked = u.takeQueueDelay();
  t.ok(blocked >= 250, `an unread probe's age counts (${blocked.toFixed(1)} ms)`);
  await new Promise((r) => setTimeout(r, 200));
  const after = u.takeQueueDelay();
  t.ok(after < 50, `after the backlog is read, the smallest delay is small again (${after.toFixed(1)} ms)`);
  t.equal(parsed, 0, 'probes never reach the SIP parser');
});

t.test('UDP receive-queue probe: probes that never come back (a firewall) read as no queue, not as a growing one', async (t) => {
  const u = await UdpTransport.create({ address: '127.0.0.1', port: 0, logger: silentLogger });
  t.teardown(() => u.close());
  u.startQueueProbe(1_000_000); // no interval probes: only the ones sent here
  await new Promise((r) => setTimeout(r, 50));
  // white box: the probe's books say one probe went out 5 s ago and none came back (the kernel cannot be made to
  // drop exactly it from here)
  const probe = (u as unknown as { probe: { sent: number; got: number; times: Float64Array } }).probe;
  t.equal(probe.got, 0);
  probe.times[0] = performance.now() - 5000;
  probe.sent = 1;
  t.equal(u.takeQueueDelay(), 0, 'nothing ever came back: 0, not 5,000 ms');
});
