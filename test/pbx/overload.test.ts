/**
 * The overload guard's controller on a fake clock: the refused share follows the receive-queue delay it is fed,
 * refusals are spread evenly, and it is measured at most once per window.
 */
import t from 'tap';
import { FakeClock } from '../../src/util/clock.js';
import { OverloadGuard, TARGET_MS, LOG_EVERY_MS } from '../../src/pbx/overload.js';
import type { Logger } from '../../src/util/logger.js';

function rig(delays: number[]): { clock: FakeClock; guard: OverloadGuard; reads: () => number } {
  const clock = new FakeClock();
  let reads = 0;
  const guard = new OverloadGuard({ clock, windowMs: 500, queueDelay: () => { reads++; return delays.length > 1 ? delays.shift()! : delays[0]!; } });
  return { clock, guard, reads: () => reads };
}

/** Admit `n` calls at one instant; how many were refused. */
function offer(g: OverloadGuard, n: number): number {
  let refused = 0;
  for (let i = 0; i < n; i++) if (!g.admit()) refused++;
  return refused;
}

t.test('no queue: every call is taken, and the queue is read once per window, not per call', async (t) => {
  const { clock, guard, reads } = rig([0]);
  t.equal(offer(guard, 1000), 0);
  t.equal(reads(), 0, 'not read before the first window has passed');
  clock.tick(500);
  t.equal(offer(guard, 1000), 0);
  t.equal(reads(), 1);
  t.equal(guard.shedShare, 0);
});

t.test('a standing queue of TARGET_MS or more raises the share by 10 %, plus 10 % per 100 ms beyond (at most 40 % a window), up to 95 %', async (t) => {
  const { clock, guard } = rig([TARGET_MS - 1, TARGET_MS, TARGET_MS + 150, 20_000, 20_000, 20_000]);
  const step = (): number => { clock.tick(500); offer(guard, 1); return Math.round(guard.shedShare * 100); };
  t.equal(step(), 0, 'just under TARGET_MS: nothing refused');
  t.equal(step(), 10, 'TARGET_MS: 10 %');
  t.equal(guard.queueDelayMs, TARGET_MS);
  t.equal(step(), 30, '150 ms beyond: +20 %');
  t.equal(step(), 70, 'a queue of seconds: +40 %');
  t.equal(step(), 95, 'capped at 95 %: some calls always get through');
  t.equal(step(), 95);
});

t.test('refusals are spread evenly: 40 % refuses 2 of every 5, never a burst', async (t) => {
  const { clock, guard } = rig([TARGET_MS + 300, 0.6 * TARGET_MS]); // 40 %; then between TARGET/2 and TARGET it holds
  clock.tick(500);
  const seq: boolean[] = [];
  for (let i = 0; i < 100; i++) seq.push(guard.admit());
  t.equal(seq.filter((a) => !a).length, 40);
  let run = 0; let longest = 0;
  for (const a of seq) { run = a ? 0 : run + 1; longest = Math.max(longest, run); }
  t.equal(longest, 1, 'no two refusals in a row at 40 %');
  clock.tick(500); offer(guard, 1);
  t.equal(Math.round(guard.shedShare * 100), 40, 'a delay between TARGET_MS/2 and TARGET_MS holds the share');
});

t.test('the share falls fast once the queue is gone: 20 % a window', async (t) => {
  const { clock, guard } = rig([TARGET_MS + 350, 0]);
  clock.tick(500); offer(guard, 1);
  t.equal(Math.round(guard.shedShare * 100), 40);
  const shares: number[] = [];
  for (let i = 0; i < 3; i++) { clock.tick(500); offer(guard, 1); shares.push(Math.round(guard.shedShare * 100)); }
  t.same(shares, [20, 0, 0]);
  t.equal(offer(guard, 1000), 0, 'every call taken again');
});

t.test('a delay between TARGET_MS/4 and TARGET_MS/2 lowers it by 10 %', async (t) => {
  const { clock, guard } = rig([TARGET_MS + 100, TARGET_MS * 0.4]);
  clock.tick(500); offer(guard, 1);
  t.equal(Math.round(guard.shedShare * 100), 20);
  clock.tick(500); offer(guard, 1);
  t.equal(Math.round(guard.shedShare * 100), 10);
});

t.test('logging: one warning per episode at most every LOG_EVERY_MS; the skipped episodes are counted in the next', async (t) => {
  const clock = new FakeClock();
  const lines: Array<[string, Record<string, unknown>]> = [];
  const log = {
    warn: (o: Record<string, unknown>) => { lines.push(['warn', o]); },
    info: (o: Record<string, unknown>) => { lines.push(['info', o]); },
  } as unknown as Logger;
  let delay = 0;
  const guard = new OverloadGuard({ clock, windowMs: 500, queueDelay: () => delay, log });
  const episode = (): void => {
    delay = TARGET_MS + 350; clock.tick(500); offer(guard, 10); // onset: 40 %, 4 of 10 refused
    delay = 0; clock.tick(500); offer(guard, 1); clock.tick(500); offer(guard, 1); // 40 → 20 → 0 %
  };
  episode();
  t.same(lines.map((l) => l[0]), ['warn', 'info'], 'the first episode: its onset and its end');
  t.equal(lines[1]![1].refused, 4, 'the end says how many calls it refused');
  for (let i = 0; i < 5; i++) episode(); // 5 more within 10 s (1.5 s each)
  t.equal(lines.length, 2, 'episodes within LOG_EVERY_MS of the last logged one are not logged');
  clock.tick(LOG_EVERY_MS);
  episode();
  t.same(lines.map((l) => l[0]), ['warn', 'info', 'warn', 'info']);
  t.equal(lines[2]![1].episodesNotLogged, 5, 'the next warning counts the episodes not logged');
  t.equal(guard.shedShare, 0);
  // A lasting episode that starts within LOG_EVERY_MS of the last warning is logged once that time has passed.
  delay = TARGET_MS + 350; clock.tick(500); offer(guard, 1);
  t.equal(lines.length, 4, 'its onset is too soon after the last warning');
  delay = 0.6 * TARGET_MS; // the share holds: still overloaded
  for (let i = 0; i < 20; i++) { clock.tick(500); offer(guard, 1); }
  t.same(lines.map((l) => l[0]), ['warn', 'info', 'warn', 'info', 'warn'], 'logged while it lasts, LOG_EVERY_MS after the last warning');
  t.notOk('episodesNotLogged' in lines[4]![1], 'no other episode was skipped');
  delay = 0; clock.tick(500); offer(guard, 1); clock.tick(500); offer(guard, 1);
  t.same(lines.map((l) => l[0]), ['warn', 'info', 'warn', 'info', 'warn', 'info'], 'and its end');
});
