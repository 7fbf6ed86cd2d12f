/**
 * CdrStore keeps the newest `maxRecords` records, newest first in queries, across many evictions.
 */
import t from 'tap';
import { CdrStore, type CdrRecord } from '../../src/pbx/cdr.js';
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
