/**
 * `npm run bench -- ivr` stops everything it started on Ctrl-C: a real run is interrupted while its load ramps;
 * it exits 130 and no process naming its run folder (Hookline with the generated config, SIPp with its CSVs) is left.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasSipp } from '../helpers/peers.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const runJs = join(root, 'dist/bench/run.js');

t.test('ivr bench: Ctrl-C stops everything it started', { skip: hasSipp ? false : 'sipp (sip-tester) not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-bench-int-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [runJs, 'ivr', '--steps', '3', '--window', '30', '--ramp', '5', '--hold', '1500', '--probe', '1', '--out', dir], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const measuring = new Promise<void>((resolve) => child.stderr.on('data', (d: Buffer) => { err += d.toString(); if (err.includes('ramping')) resolve(); }));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let timer: NodeJS.Timeout | undefined;
  const timeout = <T>(ms: number, v: T): Promise<T> => new Promise<T>((r) => { timer = setTimeout(() => r(v), ms); });
  const started = await Promise.race([measuring.then(() => true), exited.then(() => false), timeout(60000, false)]);
  clearTimeout(timer);
  t.ok(started, `the run started its load (${err.slice(-500)})`);
  // What it started: processes whose command line names the run's folder (Hookline's config, SIPp's CSVs).
  const ours = (): string[] => {
    const out: string[] = [];
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try { const c = readFileSync(`/proc/${pid}/cmdline`, 'utf8'); if (c.includes(dir) && Number(pid) !== child.pid) out.push(`${pid}: ${c.replace(/\0/g, ' ').slice(0, 80)}`); } catch { /* gone */ }
    }
    return out;
  };
  t.ok(ours().length >= 2, 'Hookline and SIPp are running');
  child.kill('SIGINT');
  const code = await Promise.race([exited, timeout(15000, 'still running after 15 s')]);
  clearTimeout(timer);
  t.equal(code, 130, 'exits 130 on SIGINT');
  if (code !== 130) child.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 300));
  t.same(ours(), [], 'nothing it started is left running');
});
