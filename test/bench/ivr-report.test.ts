/**
 * The ivr bench, for real and small: `node dist/bench/run.js ivr` with two steps of a few calls against a Hookline
 * child process, then checks of its report: the structure (JSON, Markdown, SVG charts; machine and command), and
 * that every number came from the run — each measure is a number traceable to raw samples kept in the JSON
 * (recomputed here independently) or null with a reason, the raw samples themselves fall inside the run's time and
 * agree with physics (50 packets/s per stream), and `--compare` of the report with itself gives ratios of 1.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Report, StepReport } from '../../bench/load/report.js';
import type { ProbeCallResult } from '../../bench/load/probe.js';
import type { ProcSample } from '../../bench/load/proc.js';
import type { AgentSample } from '../../bench/load/agent.js';
import { hasSipp } from '../helpers/peers.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const runJs = join(root, 'dist/bench/run.js');

function run(args: string[], timeoutMs: number): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [runJs, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = ''; let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-8000); });
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
  });
}

function nearest(xs: number[], p: number): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length, Math.max(1, Math.ceil(p * s.length))) - 1]!;
}
const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const close = (a: number | null | undefined, b: number, eps = 0.002): boolean => typeof a === 'number' && Math.abs(a - b) <= eps * Math.max(1, Math.abs(b));

t.test('ivr bench: a small real run writes a report whose every number came from the run', { skip: hasSipp ? false : 'sipp (sip-tester) not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-bench-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const t0 = Date.now();
  const res = await run(['ivr', '--quick', '--steps', '3,6', '--window', '3', '--ramp', '5', '--hold', '1500', '--probe', '2', '--no-stop', '--out', dir], 90000);
  t.equal(res.code, 0, `bench exit code (stderr: ${res.err.slice(-1500)})`);
  t.ok(Date.now() - t0 < 90000, 'finished in time');
  for (const f of ['report.json', 'report.md', 'jitter.svg', 'cpu.svg', 'setup.svg', 'rss.svg']) t.ok(existsSync(join(dir, f)), `${f} written`);
  if (!existsSync(join(dir, 'report.json'))) return;
  t.match(res.err, /ivr step 1\/2/, 'progress lines while running');

  const r = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report;
  const started = Date.parse(r.startedAt); const finished = Date.parse(r.finishedAt);
  // Structure.
  t.equal(r.schema, 'hookline-bench/1');
  t.equal(r.scenario, 'ivr');
  t.match(r.command, /^npm run bench -- ivr --quick --steps 3,6/);
  t.ok(r.machine.cores >= 1 && typeof r.machine.model === 'string' && r.machine.node === process.version, 'machine: cores, model, Node');
  t.equal(r.target.kind, 'hookline-child');
  t.match(r.target.command ?? '', /main\.js serve --config/);
  t.ok(started >= t0 - 1000 && finished > started && finished <= Date.now(), 'run times');
  t.equal(r.steps.length, 2, 'two steps');
  t.same(r.steps.map((s) => s.concurrency), [3, 6]);

  // Every measure is a finite number or null with a reason.
  const all: Array<[string, { value: number | null; reason?: string }]> = [
    ...Object.entries(r.baseline).map(([k, m]) => [`baseline.${k}`, m] as [string, typeof m]),
    ...Object.entries(r.summary).map(([k, m]) => [`summary.${k}`, m] as [string, typeof m]),
    ...r.steps.flatMap((s) => Object.entries(s.measures).map(([k, m]) => [`${s.concurrency}.${k}`, m] as [string, typeof m])),
  ];
  const bad = all.filter(([, m]) => (m.value === null ? !(typeof m.reason === 'string' && m.reason.length > 0) : !Number.isFinite(m.value)));
  t.same(bad.map(([k]) => k), [], 'each measure: a finite number, or null with a reason');

  const md = readFileSync(join(dir, 'report.md'), 'utf8');
  t.match(md, /## Steps/); t.match(md, new RegExp(r.command.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'markdown has the exact command');
  t.match(md, /AMD|Intel|model|×/, 'markdown names the machine');
  for (const f of ['jitter.svg', 'cpu.svg']) {
    const svg = readFileSync(join(dir, f), 'utf8');
    t.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/, `${f} is an SVG`);
    t.match(svg, /<polyline /, `${f} has a line`);
  }

  // Traceability, step by step (recomputed here from the raw samples in the JSON).
  for (const s of r.steps as StepReport[]) {
    const m = s.measures; const raw = s.raw as {
      setupMs: number[]; probe: ProbeCallResult[]; proc: ProcSample[]; agent: AgentSample[]; dtmf: Array<{ first: number; second: number | null; digits: string | null }>;
    };
    const tag = `step ${s.concurrency}`;
    t.ok(s.window.start >= started && s.window.end <= finished && s.window.end > s.window.start, `${tag}: window inside the run`);
    t.ok(raw.setupMs.length > 0, `${tag}: calls answered in the window`);
    t.equal(m.answered!.value, raw.setupMs.length, `${tag}: answered = raw setup samples`);
    t.equal(m.setupP50Ms!.value, nearest(raw.setupMs, 0.5), `${tag}: setup p50 from raw`);
    t.equal(m.setupP99Ms!.value, nearest(raw.setupMs, 0.99), `${tag}: setup p99 from raw`);
    // Probe RTP: counts add up and match 50 packets/s per stream.
    const ok = raw.probe.filter((p) => p.answered && p.packets >= 2);
    t.equal(ok.length, 2, `${tag}: both probe calls measured RTP`);
    for (const p of ok) t.ok(p.pddMs! > 0 && p.pddMs! <= p.setupMs!, `${tag}: post-dial delay ${p.pddMs} ms ≤ setup ${p.setupMs} ms`);
    t.ok(close(m.pddP50Ms!.value, nearest(ok.map((p) => p.pddMs!), 0.5)), `${tag}: post-dial delay p50 from raw`);
    const pk = ok.reduce((a, p) => a + p.packets, 0);
    t.equal(m.rtpPackets!.value, pk, `${tag}: packets = sum of raw probe packets`);
    // At most one packet per 20 ms (plus one); fewer when the sender skipped frames on a starved machine.
    for (const p of ok) t.ok(p.packets <= p.seconds * 50 * 1.05 + 2 && p.packets >= p.seconds * 50 * 0.4, `${tag}: ${p.packets} packets in ${p.seconds} s fits 50/s`);
    const due = ok.reduce((a, p) => a + Math.floor(p.seconds * 50) + 1, 0);
    t.ok(close(m.rtpDeficitPct!.value, Math.max(0, ((due - pk) / due) * 100)), `${tag}: frames short from raw`);
    t.ok(close(m.jitterMs!.value, avg(ok.map((p) => p.jitterMs!))), `${tag}: jitter = mean of raw J`);
    const exp = ok.reduce((a, p) => a + p.expected, 0); const lost = ok.reduce((a, p) => a + p.lost, 0);
    t.ok(close(m.rtpLossPct!.value, (lost / exp) * 100), `${tag}: loss from raw`);
    t.ok(typeof m.mos!.value === 'number' && m.mos!.value >= 1 && m.mos!.value <= 4.5, `${tag}: MOS in range`);
    // Agent: pacing histogram and calls.
    t.ok(raw.agent.length >= 2, `${tag}: agent samples in the window`);
    for (const a of raw.agent) t.ok(a.t >= s.window.start && a.t <= s.window.end + 1500, `${tag}: agent sample inside the window`);
    const hist = new Map<number, number>();
    for (const a of raw.agent) for (const [b, c] of a.pacer?.hist ?? []) hist.set(b, (hist.get(b) ?? 0) + c);
    const bins = [...hist.entries()].sort((x, y) => x[0] - y[0]);
    const total = bins.reduce((x, [, c]) => x + c, 0);
    let acc = 0; let p99 = NaN;
    for (const [b, c] of bins) { acc += c; if (acc >= Math.ceil(total * 0.99)) { p99 = -2 + (b + 1) * 0.1; break; } }
    t.ok(close(m.pacingP99Ms!.value, p99), `${tag}: pacing p99 ${m.pacingP99Ms!.value} from the raw histogram (${p99})`);
    const sent = raw.agent.reduce((x, a) => x + (a.pacer?.sent ?? 0), 0);
    t.equal(m.packetsSent!.value, sent, `${tag}: packets sent from raw`);
    const secs = raw.agent.length;
    t.ok(sent > s.concurrency * 50 * secs * 0.5 && sent < (s.concurrency + 4) * 50 * secs * 1.5, `${tag}: ${sent} packets sent in ${secs} agent seconds fits ${s.concurrency}+ calls at 50/s`);
    t.ok(close(m.concurrentHookline!.value, avg(raw.agent.map((a) => a.calls!))), `${tag}: calls up from raw`);
    // Media threads' CPU per packet, from the per-second samples the workers read from /proc/thread-self.
    if (process.platform === 'linux') {
      const cpu = raw.agent.reduce((x, a) => x + (a.pacer?.cpuMs ?? 0), 0);
      const pkts = raw.agent.reduce((x, a) => x + (a.pacer ? a.pacer.sent + a.pacer.received : 0), 0);
      t.ok(raw.agent.every((a) => a.pacer && a.pacer.cpuMs >= 0), `${tag}: media thread CPU sampled each second`);
      t.ok(close(m.mediaCpuPct!.value, cpu / (raw.agent.length * 10)), `${tag}: media CPU % from raw`);
      t.ok(close(m.mediaUsPerPacket!.value, (cpu * 1000) / pkts), `${tag}: µs per packet from raw`);
    }
    // Media threads' event-loop delay: the worst second of the window, from the raw samples.
    const loops = raw.agent.filter((a) => a.pacer && a.pacer.loopP99Ms > 0);
    t.ok(loops.length >= 1, `${tag}: media loop delay sampled`);
    t.ok(close(m.mediaLoopP99Ms!.value, Math.max(...loops.map((a) => a.pacer!.loopP99Ms))), `${tag}: media loop delay p99 from raw`);
    t.ok(m.mediaLoopP99Ms!.value! > 0 && m.mediaLoopMaxMs!.value! >= m.mediaLoopP99Ms!.value! - 0.01, `${tag}: media loop delay max ≥ p99 > 0`);
    // Processes.
    const tcpu = raw.proc.filter((p) => p.role === 'target' && p.cpuPct !== null).map((p) => p.cpuPct!);
    t.ok(tcpu.length >= 1, `${tag}: target CPU samples`);
    t.ok(close(m.targetCpuPct!.value, avg(tcpu)), `${tag}: target CPU = mean of raw samples`);
    t.ok(tcpu.some((v) => v > 0), `${tag}: the target used CPU`);
    // DTMF: every call's digits reached the webhook.
    t.ok(raw.dtmf.length > 0, `${tag}: calls reached the web script`);
    t.ok(close(m.dtmfOk!.value, raw.dtmf.filter((d) => d.digits === '123').length / raw.dtmf.length), `${tag}: digits ok from raw`);
  }
  if (process.platform === 'linux') {
    const last = r.steps[r.steps.length - 1]!.measures;
    const want = Math.round(((last.mediaUsPerPacket!.value! * (last.mediaPacketsPerSec!.value! / last.concurrentHookline!.value!) * 2000) / 1e6) * 100) / 100;
    t.equal(r.summary.mediaCoresAtGoal!.value, want, 'projection to 2,000 calls from the last step');
    t.match(r.targets[0]!.measured, /µs CPU per packet/, 'the target line quotes the projection');
    // The bare UDP floor ran in this run; the machine budget at the goal is computed from it and the last step.
    const f = r.udpFloor!;
    t.ok(f && f.sendPackets > 0 && f.recvPackets > 0, 'the floor run sent and received packets');
    t.equal(r.baseline.udpSendUs!.value, Math.round(((f.sendCpuMs * 1000) / f.sendPackets) * 1000) / 1000, 'send floor from the raw floor run');
    t.equal(r.baseline.udpRecvUs!.value, Math.round(((f.recvCpuMs * 1000) / f.recvPackets) * 1000) / 1000, 'receive floor from the raw floor run');
    const sent = last.mediaSentPerSec!.value!; const allPk = last.mediaPacketsPerSec!.value!;
    const us = (sent * r.baseline.udpSendUs!.value! + (allPk - sent) * r.baseline.udpRecvUs!.value!) / last.concurrentHookline!.value!;
    t.equal(r.summary.floorCoresAtGoal!.value, Math.round(((us * 2000) / 1e6) * 100) / 100, 'floor cores at 2,000 calls from the floor and the last step');
    t.equal(r.summary.generatorCoresAtGoal!.value, Math.round(((last.sippCpuPct!.value! / 100) * (2000 / last.concurrentHookline!.value!)) * 100) / 100, 'load generator cores at 2,000 calls from the last step');
    const over = r.summary.floorCoresAtGoal!.value! + r.summary.generatorCoresAtGoal!.value! > r.machine.cores;
    t.equal(Boolean(r.targets[0]!.machineLimit), over, 'a machine limit is claimed exactly when floor + generator exceed the cores');
  }
  // Heap reservations per call: the slope over the steps of what the agent reported.
  const slopeKB = (k: string): number => {
    const pts = r.steps.map((s) => [s.measures.concurrentHookline!.value!, s.measures[k]!.value!] as const);
    const mx = pts.reduce((a, p) => a + p[0], 0) / pts.length; const my = pts.reduce((a, p) => a + p[1], 0) / pts.length;
    let sxx = 0; let sxy = 0;
    for (const [x, y] of pts) { sxx += (x - mx) ** 2; sxy += (x - mx) * (y - my); }
    return Math.round((sxy / sxx) * 1024 * 1000) / 1000;
  };
  for (const s of r.steps) {
    t.equal(s.measures.heapTotalMB!.value, Math.round(Math.max(...(s.raw.agent as AgentSample[]).map((a) => a.heapTotalMB!)) * 1000) / 1000, `${s.concurrency}: main heap reserved from raw`);
  }
  if (r.steps.every((s) => s.measures.mediaHeapTotalMB!.value !== null)) {
    t.equal(r.summary.mainHeapPerCallKB!.value, slopeKB('heapTotalMB'), 'main heap per call: slope over the steps');
    t.equal(r.summary.mediaHeapPerCallKB!.value, slopeKB('mediaHeapTotalMB'), 'media heaps per call: slope over the steps');
  }
  // The main thread's young generation, from the agent's heap spaces, and the RSS slope without it.
  for (const s of r.steps) {
    const young = Math.max(...(s.raw.agent as AgentSample[]).map((a) => a.spacesMB!.new_space!));
    t.ok(young > 0, `${s.concurrency}: the agent reported the young generation`);
    t.equal(s.measures.mainYoungMB!.value, Math.round(young * 1000) / 1000, `${s.concurrency}: young generation from raw`);
    t.ok(Math.abs(s.measures.rssBeyondYoungMB!.value! - (s.measures.targetRssMB!.value! - s.measures.mainYoungMB!.value!)) < 0.002, `${s.concurrency}: RSS beyond it = RSS - young generation`);
  }
  t.equal(r.summary.mainYoungPerCallKB!.value, slopeKB('mainYoungMB'), 'young generation per call: slope over the steps');
  t.equal(r.summary.rssPerCallBeyondYoungKB!.value, slopeKB('rssBeyondYoungMB'), 'RSS per call beyond it: slope over the steps');
  t.match(r.targets.find((x) => x.target === 'memory per active call')!.measured, /beyond the main thread's young generation/, 'the memory line gives both figures');
  // The two steps are different measurements, not a copied constant.
  const [a, b] = r.steps as [StepReport, StepReport];
  t.ok(b.measures.packetsSent!.value! > a.measures.packetsSent!.value!, 'more calls, more packets sent');
  t.not(JSON.stringify(a.raw.setupMs) + a.window.start, JSON.stringify(b.raw.setupMs) + b.window.start, 'raw samples differ between steps');

  // --compare with itself: every ratio 1.
  const cmp = await run(['--compare', join(dir, 'report.json'), join(dir, 'report.json')], 20000);
  t.equal(cmp.code, 0, `compare exit code ${cmp.err}`);
  const ratios = [...cmp.out.matchAll(/×(\S+)/g)].map((x) => x[1]);
  t.ok(ratios.length > 20, 'compare prints ratios');
  const notOne = ratios.filter((x) => x !== '1.00' && x !== 'n/a');
  t.same(notOne, [], 'a report compared with itself: every ratio 1.00 (n/a where a measure is null)');
});

