/**
 * CdrStore keeps the newest `maxRecords` records, newest first in queries, across many evictions.
 */
import t from 'tap';
import { CdrStore, cdrForm, cdrMedia, type CdrRecord } from '../../src/pbx/cdr.js';
import { silentLogger } from '../../src/util/logger.js';

const rec = (i: number): CdrRecord => ({
  callId: `c${i}`, accountId: 'a', legs: [], start: new Date(1_700_000_000_000 + i * 1000).toISOString(),
  durationSeconds: 1, billableSeconds: 0, hangupCause: 'NORMAL_CLEARING', sipCode: 200,
} as unknown as CdrRecord);

t.test('the newest maxRecords are kept through many evictions; queries are newest first', async (t) => {
  const s = new CdrStore({ maxRecords: 5 }, silentLogger);
  for (let i = 0; i < 3; i++) s.add(rec(i));
  t.equal(s.size, 3);
  t.same(s.query().map((r) => r.callId), ['c2', 'c1', 'c0']);
  for (let i = 3; i < 1003; i++) {
    s.add(rec(i));
    if (s.size !== Math.min(5, i + 1)) { t.fail(`size ${s.size} after ${i + 1} records`); break; }
  }
  t.equal(s.size, 5);
  t.same(s.query().map((r) => r.callId), ['c1002', 'c1001', 'c1000', 'c999', 'c998']);
  t.same(s.query({ limit: 2 }).map((r) => r.callId), ['c1002', 'c1001']);
  t.same(s.query({ callId: 'c997' }), [], 'evicted records are gone');
  t.same(s.query({ callId: 'c998' }).map((r) => r.callId), ['c998']);
});

t.test('a reload to fewer records trims at the next record', async (t) => {
  const s = new CdrStore({ maxRecords: 10 }, silentLogger);
  for (let i = 0; i < 10; i++) s.add(rec(i));
  s.setConfig({ maxRecords: 3 });
  s.add(rec(10));
  t.same(s.query().map((r) => r.callId), ['c10', 'c9', 'c8']);
});

t.test('a leg\'s media figures: RTCP fields only when the party reported; form fields per leg', async (t) => {
  const base = { sent: 500, received: 498, lost: 2, jitterMs: 1.234, remoteFractionLost: -1, remoteLost: -1, remoteJitterMs: -1, rttMs: -1 };
  t.same(cdrMedia(base), { sent: 500, received: 498, lost: 2, jitterMs: 1.2 }, 'no report came: our counts only');
  const reported = cdrMedia({ ...base, remoteFractionLost: 0.01, remoteLost: -1, remoteJitterMs: 0.875, rttMs: 12.34 });
  t.same(reported, { sent: 500, received: 498, lost: 2, jitterMs: 1.2, remoteLost: -1, remoteJitterMs: 0.9, rttMs: 12.3 },
    'a report: its figures kept, a negative cumulative loss (duplicates) included');
  const r = { ...rec(1), legs: [{ callId: 'x', direction: 'inbound', from: 'a', to: 'b', start: 's', end: 'e', durationSeconds: 1, billableSeconds: 1, hangupCause: 'NORMAL_CLEARING', sipCode: 200, media: reported }] } as CdrRecord;
  const f = cdrForm(r);
  t.same([f.get('Legs[0][RTP-Sent]'), f.get('Legs[0][RTP-Received]'), f.get('Legs[0][RTP-Lost]'), f.get('Legs[0][Jitter-Ms]'), f.get('Legs[0][Remote-Lost]'), f.get('Legs[0][Remote-Jitter-Ms]'), f.get('Legs[0][RTT-Ms]')],
    ['500', '498', '2', '1.2', '-1', '0.9', '12.3']);
});
