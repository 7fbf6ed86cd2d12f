import t from 'tap';
import { FakeClock } from '../../src/util/clock.js';
import { TimerQueue, type TimerTarget } from '../../src/sip/index.js';

/** A target that records (time, name, slot) when a slot fires. */
function target(clock: FakeClock, name: string, log: string[], onFire?: (slot: number) => void): TimerTarget {
  return {
    timerBucket: [], timerPos: [],
    fireTimer(slot: number): void { log.push(`${clock.now()} ${name}${slot}`); onFire?.(slot); },
  };
}

t.test('timers of one duration fire in order from one clock timer; durations apart; clear and re-set', async (t) => {
  const clock = new FakeClock();
  const errors: unknown[] = [];
  const q = new TimerQueue(clock, (e) => errors.push(e));
  const log: string[] = [];
  const a = target(clock, 'a', log);
  const b = target(clock, 'b', log);
  const c = target(clock, 'c', log);
  q.set(a, 0, 500);
  clock.tick(100);
  q.set(b, 0, 500);
  q.set(c, 1, 500);
  q.set(a, 1, 32000);
  t.equal(clock.pendingTimers, 2, 'one clock timer per duration, not per timer');
  t.equal(q.armedBuckets, 2);
  q.clear(c, 1);
  q.set(b, 0, 500); // re-set: replaces b's first entry
  clock.tick(1000);
  t.same(log, ['500 a0', '600 b0'], 'in order, the cleared one never fires, the re-set one once at its new time');
  clock.tick(40000);
  t.same(log, ['500 a0', '600 b0', '32100 a1']);
  t.equal(clock.pendingTimers, 0, 'nothing left armed');
  t.same(errors, []);
});

t.test('clearing the last pending timer disarms the clock; clearing the head re-arms for the next', async (t) => {
  const clock = new FakeClock();
  const q = new TimerQueue(clock, () => {});
  const log: string[] = [];
  const a = target(clock, 'a', log);
  const b = target(clock, 'b', log);
  q.set(a, 0, 1000);
  q.clear(a, 0);
  t.equal(clock.pendingTimers, 0, 'cleared the only one: no clock timer');
  q.clear(a, 0); // twice: no-op
  q.set(a, 0, 1000);
  clock.tick(300);
  q.set(b, 0, 1000);
  q.clear(a, 0);
  clock.tick(1000);
  t.same(log, ['1300 b0'], 'b at its own due time, not a\'s');
  t.equal(clock.pendingTimers, 0);
});

t.test('set from inside fireTimer (retransmission doubling and same-interval repeats); a throwing target is contained', async (t) => {
  const clock = new FakeClock();
  const errors: unknown[] = [];
  const q = new TimerQueue(clock, (e) => errors.push(e));
  const log: string[] = [];
  let interval = 500;
  const r: TimerTarget = target(clock, 'r', log, () => { interval = Math.min(interval * 2, 4000); if (clock.now() < 20000) q.set(r, 0, interval); });
  const boom: TimerTarget = { timerBucket: [], timerPos: [], fireTimer(): void { throw new Error('boom'); } };
  const after = target(clock, 'z', log);
  q.set(r, 0, interval);
  q.set(boom, 0, 500);
  q.set(after, 0, 500);
  clock.tick(30000);
  const times = log.filter((l) => l.endsWith('r0')).map((l) => Number(l.split(' ')[0]));
  t.same(times, [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500], 'T1 doubling capped at T2 (4000), as Timer E/G');
  t.ok(log.includes('500 z0'), 'the target after a throwing one still fired');
  t.equal(errors.length, 1);
  t.equal(clock.pendingTimers, 0);
});

t.test('thousands of timers, most cleared (compaction): the survivors fire on time, positions stay right', async (t) => {
  const clock = new FakeClock();
  const q = new TimerQueue(clock, () => {});
  const log: string[] = [];
  const ts: TimerTarget[] = [];
  for (let i = 0; i < 3000; i++) {
    const x = target(clock, 't' + i + '.', log);
    ts.push(x);
    q.set(x, 0, 300000);
    q.set(x, 1, 300000);
    clock.tick(1);
  }
  // Clear all but every 100th slot-1 timer (TU bounds answered in time), in a shuffled order.
  for (let i = 0; i < 3000; i++) q.clear(ts[(i * 7) % 3000]!, 0);
  for (let i = 0; i < 3000; i++) if (i % 100 !== 0) q.clear(ts[(i * 13) % 3000]!, 1);
  // Re-set some survivors after the compactions: their positions must still be found.
  q.clear(ts[0]!, 1);
  q.set(ts[0]!, 1, 300000);
  clock.tick(400000);
  const fired = log.map((l) => l.split(' ')[1]);
  const expected: number[] = [];
  for (let k = 0; k < 3000; k++) { const i = (k * 13) % 3000; if (k % 100 === 0 && i !== 0) expected.push(i); }
  const exp = expected.sort((x, y) => x - y).map((i) => `t${i}.1`);
  exp.push('t0.1');
  t.same(fired, exp, 'exactly the uncleared timers, in due order');
  t.equal(log[0], `${300000 + Number(exp[0]!.slice(1, -2))} ${exp[0]}`, 'on time');
  t.equal(clock.pendingTimers, 0);
});

t.test('clearAll drops everything', async (t) => {
  const clock = new FakeClock();
  const q = new TimerQueue(clock, () => {});
  const log: string[] = [];
  const a = target(clock, 'a', log);
  q.set(a, 0, 10); q.set(a, 1, 20); q.set(a, 2, 20);
  q.clearAll();
  clock.tick(100);
  t.same(log, []);
  t.equal(clock.pendingTimers, 0);
  q.set(a, 0, 10); // usable afterwards
  clock.tick(10);
  t.same(log, ['110 a0']);
});
