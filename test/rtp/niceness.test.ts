import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { MediaEngine, MediaError } from '../../src/rtp/media-engine.js';

/** Nice values of this process's threads, from /proc/self/task/<tid>/stat (field 19). */
function threadNices(): number[] {
  const out: number[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push(Number(fields[16]));
    } catch { /* thread ended */ }
  }
  return out;
}

async function countWithNice(nice: number, want: number): Promise<number> {
  const until = Date.now() + 20000;
  let n = 0;
  while (Date.now() < until) {
    n = threadNices().filter((v) => v === nice).length;
    if (n >= want) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return n;
}

const linux = process.platform === 'linux';
const base = 20000 + 2 * Math.floor(Math.random() * 2000);

t.test('each media worker thread takes the configured nice value; the main thread keeps its own', { skip: !linux && 'Linux only' }, async (t) => {
  const before = threadNices().filter((v) => v === 7).length;
  const engine = await MediaEngine.start({ address: '127.0.0.1', workers: 2, portMin: base, portMax: base + 20, niceness: 7 });
  t.teardown(() => engine.close());
  t.equal(await countWithNice(7, before + 2), before + 2, 'two more threads at nice 7');
  t.not(threadNices()[0], 7, 'the main thread is unchanged');
});

t.test('a negative nice value (higher priority) is applied when the process may', { skip: (!linux || process.getuid?.() !== 0) && 'needs Linux and root' }, async (t) => {
  const engine = await MediaEngine.start({ address: '127.0.0.1', workers: 1, portMin: base + 40, portMax: base + 60, niceness: -4 });
  t.teardown(() => engine.close());
  t.equal(await countWithNice(-4, 1), 1, 'one thread at nice -4');
});

t.test('a nice value out of range is refused', async (t) => {
  await t.rejects(MediaEngine.start({ address: '127.0.0.1', workers: 1, niceness: -21 }), MediaError);
  await t.rejects(MediaEngine.start({ address: '127.0.0.1', workers: 1, niceness: 1.5 }), MediaError);
});
