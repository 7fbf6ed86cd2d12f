/**
 * The bridge bench, for real and small: `node dist/bench/run.js bridge` with one step of a few calls, first straight
 * at the SIPp carrier (reference), then through a Hookline child bridging with `resources`. Checks that RTP came
 * back through both paths (the carrier's echo of the probe's paced stream), that the combined report holds both
 * runs, and that its side-by-side numbers are the two runs' own measures.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BridgeReport } from '../../bench/load/bridge.js';
import type { Report } from '../../bench/load/report.js';
import type { ProbeCallResult } from '../../bench/load/probe.js';
import { hasSipp } from '../helpers/peers.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

t.test('bridge bench: a reference run and a Hookline run, side by side', { skip: hasSipp ? false : 'sipp (sip-tester) not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-bench-bridge-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const res = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, [join(root, 'dist/bench/run.js'), 'bridge', '--quick', '--steps', '4', '--window', '3', '--ramp', '6', '--hold', '300', '--probe', '2', '--out', dir], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = ''; let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-8000); });
    const timer = setTimeout(() => child.kill('SIGINT'), 150000);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
  });
  t.equal(res.code, 0, `bench exit code (stderr: ${res.err.slice(-1500)})`);
  for (const f of ['report.json', 'report.md', 'jitter.svg', 'reference/report.json', 'reference/report.md']) t.ok(existsSync(join(dir, f)), `${f} written`);
  if (!existsSync(join(dir, 'report.json'))) return;
  const r = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as BridgeReport;
  const ref = JSON.parse(readFileSync(join(dir, 'reference/report.json'), 'utf8')) as Report;
  t.equal(r.scenario, 'bridge');
  t.equal(ref.scenario, 'bridge-reference');
  t.equal(r.target.kind, 'hookline-child');
  t.equal(ref.target.kind, 'external', 'the reference called the carrier itself');
  t.match(JSON.stringify(r.target.config), /"carriers"/, 'Hookline was configured with the carrier');
  t.ok(r.reference, 'the combined report holds the reference');
  t.equal(r.steps.length, 1);
  t.equal(r.reference!.steps.length, 1);
  for (const [name, step] of [['hookline', r.steps[0]!], ['reference', ref.steps[0]!]] as const) {
    const probes = step.raw.probe as ProbeCallResult[];
    const ok = probes.filter((p) => p.answered && p.packets > 0);
    t.ok(ok.length >= 1, `${name}: a probe call got its RTP echoed back (${probes.map((p) => `${p.packets} packets`).join(', ')})`);
    // Three seconds of paced 20 ms frames come back: about 50 a second.
    for (const p of ok) t.ok(p.packets / Math.max(p.seconds, 0.001) > 40 && p.packets / Math.max(p.seconds, 0.001) < 60, `${name}: ${p.packets} packets in ${p.seconds.toFixed(2)} s`);
    t.equal(step.measures.asr?.value, 1, `${name}: every call answered`);
    // The carrier rings 100 ms before it answers: the probe's post-dial delay ends at the 180, well before the 200.
    for (const p of ok) t.ok(p.pddMs !== null && p.setupMs !== null && p.setupMs - p.pddMs >= 80, `${name}: post-dial delay ${p.pddMs} ms, setup ${p.setupMs} ms`);
    const setup = step.raw.setupMs as number[];
    t.ok(setup.length >= 4, `${name}: the step's ${setup.length} calls were answered`);
  }
  // The side-by-side section quotes the runs' own measures.
  t.same(r.reference!.steps[0]!.measures, ref.steps[0]!.measures, 'the reference steps are the reference run\'s');
  const md = readFileSync(join(dir, 'report.md'), 'utf8');
  t.match(md, /## Hookline beside the reference/);
  const gap = (v: number | null | undefined): string => (typeof v === 'number' ? `${Math.round(v * 100) / 100}` : 'n/a');
  t.ok(md.includes(`| 4 | ${gap(r.steps[0]!.measures.setupP99Ms?.value)} / ${gap(ref.steps[0]!.measures.setupP99Ms?.value)} | ${gap(r.steps[0]!.measures.gapErrP99Ms?.value)} / ${gap(ref.steps[0]!.measures.gapErrP99Ms?.value)} |`), 'the row shows both runs\' setup p99 and inter-arrival error p99');
  t.match(res.out, /concurrent bridged calls held the quality bar \(reference, no B2BUA: /);
  // Where the reference itself breaks the bar is the load generator's limit, and the target line says so.
  const refHeld = ref.steps.filter((s) => s.qualityBar.pass === true).map((s) => s.concurrency);
  const refFail = ref.steps.filter((s) => s.qualityBar.pass === false && s.concurrency > Math.max(0, ...refHeld)).map((s) => s.concurrency);
  const lim = r.summary.referenceFirstFailingStep!;
  if (refFail.length) {
    t.equal(lim.value, Math.min(...refFail), 'first failing reference step above the largest that held, from the reference run');
    t.match(r.targets[0]!.measured, /load generator's limit/);
  } else {
    t.equal(lim.value, null, 'the reference held its step: no generator limit to report');
    t.match(lim.reason ?? '', /no reference step failed above/);
  }
});
