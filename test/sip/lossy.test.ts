/**
 * Acceptance: with 10 % of datagrams dropped (seeded), INVITE and non-INVITE transactions between two stacks
 * on a fake clock all complete by retransmission; after everything settles nothing is left.
 */
import t from 'tap';
import { createRequest } from '../../src/sip/index.js';
import { makePair, placeCall, simpleUas, type CallResult } from './helpers.js';

for (const seed of [1, 7, 2026]) {
  t.test(`10 % loss, seed ${seed}: 100 calls (INVITE/ACK/BYE) + 100 OPTIONS complete`, async (t) => {
    const p = await makePair({ dropRate: 0.1, seed });
    const uas = simpleUas(p, 50);
    const calls: CallResult[] = [];
    const opts: number[] = [];
    for (let i = 0; i < 100; i++) {
      p.clock.setTimeout(() => calls.push(placeCall(p, 2000, 'u' + i)), i * 37);
      p.clock.setTimeout(() => {
        const o = createRequest({ method: 'OPTIONS', uri: 'sip:bob@10.0.0.2', from: 'sip:alice@10.0.0.1', to: 'sip:bob@10.0.0.2' });
        p.a.sendRequest(o, p.toB, (r) => { if (r.status >= 200) opts.push(r.status); });
      }, i * 41);
    }
    p.clock.tick(60000);
    t.equal(calls.length, 100);
    t.equal(calls.filter((c) => c.done && c.byeStatus === 200).length, 100, 'every call answered, ACKed and hung up');
    t.equal(calls.filter((c) => c.statuses.filter((s) => s === 200).length === 1).length, 100, 'TU saw each 2xx once');
    t.equal(opts.length, 100);
    t.equal(opts.filter((s) => s === 200).length, 100, 'every OPTIONS got its 200');
    t.equal(uas.ackTimeouts, 0);
    t.ok(p.net.dropped > 50, `datagrams dropped: ${p.net.dropped} of ${p.net.dropped + p.net.delivered}`);
    p.clock.tick(120000);
    for (const s of [p.a.stats(), p.b.stats()]) {
      t.same([s.clientTransactions, s.serverTransactions, s.pending2xx, s.dialogs], [0, 0, 0, 0]);
    }
    t.equal(p.clock.pendingTimers, 0);
    await p.a.close();
    await p.b.close();
  });
}

t.test('leak test: 200 calls without loss, everything settles to zero', async (t) => {
  const p = await makePair();
  simpleUas(p, 10);
  const calls: CallResult[] = [];
  for (let i = 0; i < 200; i++) p.clock.setTimeout(() => calls.push(placeCall(p, 500, 'u' + i)), i * 5);
  p.clock.tick(5000);
  t.equal(calls.filter((c) => c.byeStatus === 200).length, 200);
  p.clock.tick(60000);
  for (const s of [p.a.stats(), p.b.stats()]) {
    t.same([s.clientTransactions, s.serverTransactions, s.pending2xx, s.dialogs, s.tcpConnections], [0, 0, 0, 0, 0]);
  }
  t.equal(p.clock.pendingTimers, 0);
});
