/**
 * `cps`: the highest call-setup rate sustained with zero failed calls, found the RFC 7502 way — trials at a fixed
 * rate for a sustain time (30 s; 5 s with --quick), the rate stepped up (doubling) until a trial fails, then bisected
 * between the last passing and the first failing rate. Each call (SIPp, `bench/scenarios/cps-uac.xml`) is a webhook
 * round trip and a short cached `tts`, then the switch's BYE. Per trial: calls ok/failed, setup delay p50/p99,
 * CPU/RSS of the target, event-loop delay.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { startHookline, externalTarget, type Target } from './target.js';
import { startBenchScript } from './script.js';
import { SippProcess, freePort, freeMediaPort, hasSipp } from './sipp.js';
import { Probe } from './probe.js';
import { ProcSampler } from './proc.js';
import type { AgentSample } from './agent.js';
import { measured, missing, percentile, mean, max, type Measure } from './stats.js';
import { machine, commandLine, markdown, writeJson, type Report, type StepReport } from './report.js';
import { lineChart } from './svg.js';
import { cleanupAll, registerCleanup, isStopping } from './ivr.js';

/** The issue's target: this many calls per second, zero failures, p99 setup within SETUP_BAR_MS (+ webhook time). */
const TARGET_RATE = 500;
const SETUP_BAR_MS = 50;

export interface CpsOptions {
  argv: string[];
  quick: boolean;
  startRate: number;
  maxRate: number;
  /** One trial at this rate instead of the search (a fixed-rate or overload run). */
  rate?: number;
  sustainSeconds: number;
  target?: string;
  outDir?: string;
  workers?: number;
  /** Hookline's rtp.niceness (default: the config default). */
  niceness?: number;
  nodeFlags: string[];
  taskset?: string;
}

const scenarioFile = fileURLToPath(new URL('../../../bench/scenarios/cps-uac.xml', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runCps(o: CpsOptions): Promise<{ report: Report; dir: string }> {
  if (!hasSipp()) throw new Error('sipp is not on the PATH (Debian: apt-get install sip-tester)');
  const started = new Date();
  // Absolute: SIPp runs with this folder as its cwd and is given file paths inside it.
  const dir = resolve(o.outDir ?? join('bench/results', `cps-${started.toISOString().replace(/[:.]/g, '-')}`));
  mkdirSync(dir, { recursive: true });
  const m = machine();
  const notes: string[] = [];
  const script = await startBenchScript({ collectTimeoutMs: 5000 });
  registerCleanup(() => script.close());
  const target: Target = o.target ? externalTarget(o.target) : await startHookline({
    dir, numbers: { '4100': `${script.url}/cps` }, rtpPortMin: 10000, rtpPortMax: 19998, nodeFlags: o.nodeFlags,
    ...(o.workers !== undefined ? { workers: o.workers } : {}), ...(o.niceness !== undefined ? { niceness: o.niceness } : {}), ...(o.taskset ? { prefix: ['taskset', '-c', o.taskset] } : {}),
  });
  registerCleanup(() => target.stop());
  if (o.target) notes.push('External target: the webhook count, agent measures and process CPU are not measured.');
  const sampler = new ProcSampler();
  if (target.pid) sampler.watch(target.pid, 'target');
  sampler.watch(process.pid, 'bench');
  sampler.start(1000);
  registerCleanup(() => sampler.stop());
  const agent: AgentSample[] = [];
  // Warm-up: one call synthesises the prompt, so every trial hears it from the cache.
  const probe = await Probe.start({ host: target.host, port: target.port, number: '4100', from: '5559100', localAddress: '127.0.0.1' });
  await probe.run(1, 5000);
  await probe.close();

  const trials: StepReport[] = [];
  const trial = async (rate: number): Promise<boolean> => {
    const calls = Math.max(1, Math.round(rate * o.sustainSeconds));
    const k = trials.length + 1;
    const before = script.stats.cpsCalls;
    const sp = SippProcess.start(join(dir, `trial-${k}-${rate}cps`), [
      `${target.host}:${target.port}`, '-sf', scenarioFile, '-s', '4100', '-i', '127.0.0.1', '-p', String(await freePort()),
      '-mp', String(await freeMediaPort()), '-r', String(rate), '-m', String(calls), '-l', String(Math.max(50, rate * 10)),
      '-recv_timeout', '10000', '-max_recv_loops', '10000', '-max_sched_loops', '10000',
    ]);
    registerCleanup(() => sp.kill());
    if (sp.pid) sampler.watch(sp.pid, `sipp-${k}`);
    const start = Date.now();
    const deadline = start + (o.sustainSeconds + 30) * 1000;
    while (sp.running && Date.now() < deadline && !isStopping()) {
      await sleep(1000);
      for (const s of target.readAgent()) agent.push(s);
      const rows = sp.stats(); const last = rows[rows.length - 1];
      const tp = [...sampler.samples].reverse().find((s) => s.role === 'target');
      progress(`cps trial ${k} at ${rate}/s: ${last ? `${last.successful} ok, ${last.failed} failed, ${last.current} up` : 'starting'} of ${calls}${tp ? ` | cpu ${tp.cpuPct ?? '?'}%` : ''} | load ${os.loadavg()[0]!.toFixed(1)}`);
    }
    const timedOut = sp.running;
    sp.kill();
    const end = Date.now();
    await sleep(1100);
    for (const s of target.readAgent()) agent.push(s);
    const rows = sp.stats(); const last = rows[rows.length - 1];
    const setupMs = sp.rtt().map((r) => r.ms);
    const rtts = sp.rtt();
    const ms: Record<string, Measure> = {};
    ms.callsPlanned = measured(calls, 'calls', 'rate × sustain seconds');
    ms.successful = last ? measured(last.successful, 'calls', 'SuccessfulCall(C), last raw.sipp row') : missing('calls', 'no SIPp stat row');
    ms.failed = last ? measured(last.failed + (timedOut ? calls - last.successful - last.failed : 0), 'calls', 'FailedCall(C) + calls unfinished at the deadline') : missing('calls', 'no SIPp stat row');
    ms.setupP50Ms = setupMs.length ? measured(percentile(setupMs, 0.5)!, 'ms', 'p50 of raw.setupMs') : missing('ms', 'no call answered');
    ms.setupP99Ms = setupMs.length ? measured(percentile(setupMs, 0.99)!, 'ms', 'p99 of raw.setupMs') : missing('ms', 'no call answered');
    const span = rtts.length >= 2 ? (rtts[rtts.length - 1]!.t - rtts[0]!.t) / 1000 : 0;
    ms.achievedRate = span > 0 ? measured((rtts.length - 1) / span, 'calls/s', 'answered calls / time from the first to the last 200 OK (raw.setupMs times)') : missing('calls/s', 'fewer than two answered calls');
    ms.webhooks = target.external ? missing('requests', 'external target') : measured(script.stats.cpsCalls - before, 'requests', 'web script /cps requests during the trial');
    const pw = sampler.samples.filter((s) => s.t >= start + 1000 && s.t <= end);
    const cpu = (role: string): number[] => pw.filter((p) => p.role === role).map((p) => p.cpuPct).filter((v): v is number => v !== null);
    const tc = cpu('target');
    ms.targetCpuPct = tc.length ? measured(mean(tc)!, '% of one core', 'mean of raw.proc (role target)') : missing('%', target.pid ? 'no samples' : 'external target');
    ms.targetRssMB = pw.some((p) => p.role === 'target') ? measured(max(pw.filter((p) => p.role === 'target').map((p) => p.rssMB))!, 'MB', 'max of raw.proc (role target)') : missing('MB', target.pid ? 'no samples' : 'external target');
    const bc = cpu('bench');
    ms.benchCpuPct = bc.length ? measured(mean(bc)!, '% of one core', 'mean of raw.proc (role bench: the web script server)') : missing('%', 'no samples');
    const sc = cpu(`sipp-${k}`);
    ms.sippCpuPct = sc.length ? measured(mean(sc)!, '% of one core', 'mean of raw.proc (SIPp)') : missing('%', 'no samples');
    const ag = agent.filter((a) => a.t >= start && a.t <= end + 1000);
    ms.eldP99Ms = ag.length ? measured(max(ag.map((a) => a.eld.p99))!, 'ms', 'max of raw.agent[].eld.p99') : missing('ms', target.external ? 'external target' : 'no agent samples');
    ms.gcMaxMs = ag.length ? measured(max(ag.map((a) => a.gc.maxMs))!, 'ms', 'max of raw.agent[].gc.maxMs') : missing('ms', target.external ? 'external target' : 'no agent samples');
    // CPU per call: the whole process, and the part outside the media threads (signalling, webhooks, call logic).
    const agCpu = ag.filter((a) => a.pacer && typeof a.pacer.cpuMs === 'number' && a.pacer.cpuMs >= 0);
    const mediaPct = agCpu.length ? agCpu.reduce((t, a) => t + a.pacer!.cpuMs, 0) / (agCpu.length * 10) : null;
    const rateNow = ms.achievedRate.value;
    if (ms.targetCpuPct.value !== null && rateNow) {
      ms.cpuMsPerCall = measured((ms.targetCpuPct.value * 10) / rateNow, 'ms', 'targetCpuPct × 10 ms / achievedRate');
      ms.mediaCpuPct = mediaPct !== null ? measured(mediaPct, '% of one core', 'sum of raw.agent[].pacer.cpuMs / (agent samples × 1000 ms)') : missing('%', 'media thread CPU not known');
      ms.nonMediaCpuMsPerCall = mediaPct !== null ? measured((Math.max(0, ms.targetCpuPct.value - mediaPct) * 10) / rateNow, 'ms', '(targetCpuPct − mediaCpuPct) × 10 ms / achievedRate') : missing('ms', 'media thread CPU not known');
    } else for (const k of ['cpuMsPerCall', 'mediaCpuPct', 'nonMediaCpuMsPerCall']) ms[k] = missing('ms', target.pid ? 'no CPU samples or no answered calls' : 'external target');
    // INVITEs Hookline refused with 503 for overload (the guard, calls.maxInSetup): part of `failed`, told apart here.
    const shedBefore = [...agent].reverse().find((a) => a.t < start && typeof a.shed === 'number')?.shed ?? 0;
    const shedAfter = [...ag].reverse().find((a) => typeof a.shed === 'number')?.shed;
    ms.refusedOverload = typeof shedAfter === 'number' ? measured(shedAfter - shedBefore, 'calls', 'raw.agent[].shed (503s for overload: guard and calls.maxInSetup), last sample minus the one before the trial') : missing('calls', target.external ? 'external target' : 'no agent samples');
    ms.retransmissions = last ? measured(last.retransmissions, 'count', 'Retransmissions(C), last raw.sipp row') : missing('count', 'no SIPp stat row');
    // Sustained: all planned calls succeeded, none failed, and the 200 OKs came at ≥ 95 % of the offered rate.
    const slow = ms.achievedRate.value !== null && calls >= 20 && ms.achievedRate.value < rate * 0.95;
    const pass = !timedOut && !!last && last.failed === 0 && last.successful === calls && !slow;
    const why: string[] = [];
    if (slow) why.push(`achieved ${ms.achievedRate.value}/s < 95 % of ${rate}/s`);
    if (timedOut) why.push('unfinished at the deadline');
    if (last && last.failed > 0) why.push(`${last.failed} failed${ms.refusedOverload.value ? ` (${ms.refusedOverload.value} INVITEs refused with 503 for overload)` : ''}`);
    if (last && last.successful < calls) why.push(`${last.successful}/${calls} ok`);
    if (!last) why.push('no SIPp statistics');
    trials.push({
      concurrency: rate, rate, window: { start, end }, measures: ms,
      qualityBar: { pass, failed: why, unknown: [] },
      raw: { setupMs, sipp: rows, proc: pw, agent: ag.map(({ pacer, ...rest }) => ({ ...rest, pacer: pacer ? { ...pacer, hist: undefined } : null })), sippStderr: sp.stderr.slice(-1000) },
    });
    progress(`cps trial ${k} at ${rate}/s: ${pass ? 'pass' : `FAIL (${why.join(', ')})`}, setup p99 ${ms.setupP99Ms.value ?? 'n/a'} ms, cpu ${ms.targetCpuPct.value ?? 'n/a'}%`);
    await sleep(3000); // let the last calls' BYEs and transactions drain
    return pass;
  };

  // RFC 7502 style: step up by doubling, then bisect.
  let lastPass = 0; let firstFail = 0;
  if (o.rate !== undefined) {
    if (await trial(o.rate)) lastPass = o.rate; else firstFail = o.rate;
  } else for (let r = o.startRate; r <= o.maxRate && !isStopping(); r = Math.min(o.maxRate, r * 2)) {
    if (await trial(r)) lastPass = r; else { firstFail = r; break; }
    if (r === o.maxRate) break;
  }
  while (o.rate === undefined && firstFail && firstFail - lastPass > Math.max(2, Math.ceil(lastPass * 0.05)) && !isStopping()) {
    const mid = Math.round((lastPass + firstFail) / 2);
    if (await trial(mid)) lastPass = mid; else firstFail = mid;
  }
  // The target's latency bar is at its rate (500/s): when the search passed it without a trial there, run one.
  if (o.rate === undefined && lastPass > TARGET_RATE && !trials.some((t) => t.rate === TARGET_RATE) && !isStopping()) await trial(TARGET_RATE);
  const finished = new Date();
  m.loadavgEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
  const best = trials.find((t) => t.rate === lastPass && t.qualityBar.pass);
  const atTarget = trials.find((t) => t.rate === TARGET_RATE);
  const summary: Record<string, Measure> = {
    maxRateZeroFailures: lastPass ? measured(lastPass, 'calls/s', 'highest trials[].rate that passed') : missing('calls/s', o.rate !== undefined ? `the one trial, at ${o.rate}/s, failed` : `even ${o.startRate}/s failed`),
    firstFailingRate: firstFail ? measured(firstFail, 'calls/s', 'lowest trials[].rate that failed') : missing('calls/s', `no trial failed up to --max-rate ${o.maxRate}`),
    setupP99AtMaxMs: best?.measures.setupP99Ms ?? missing('ms', 'no passing trial'),
    cpuAtMaxPct: best?.measures.targetCpuPct ?? missing('%', 'no passing trial'),
    cpuMsPerCallAtMax: best?.measures.cpuMsPerCall ?? missing('ms', 'no passing trial'),
    setupP99AtTargetMs: atTarget?.measures.setupP99Ms ?? missing('ms', `no trial at ${TARGET_RATE}/s (the search did not reach it)`),
  };
  // What 500 calls/s would take at the measured CPU per call (the busiest passing trial).
  const perCall = summary.cpuMsPerCallAtMax!.value;
  summary.coresAt500 = perCall !== null ? measured(Math.round(perCall * 500) / 1000, 'cores', `cpuMsPerCallAtMax × 500 calls/s / 1000 ms`) : missing('cores', 'no passing trial with CPU samples');
  if (isStopping()) notes.push('Interrupted: the report holds the trials finished before the signal.');
  const report: Report = {
    schema: 'hookline-bench/1', scenario: 'cps', quick: o.quick, command: commandLine(o.argv), argv: o.argv,
    startedAt: started.toISOString(), finishedAt: finished.toISOString(), durationSeconds: Math.round((finished.getTime() - started.getTime()) / 1000),
    machine: m, target: { kind: target.external ? 'external' : 'hookline-child', host: target.host, port: target.port, command: target.command, config: target.config },
    settings: { startRate: o.startRate, maxRate: o.maxRate, fixedRate: o.rate ?? null, sustainSeconds: o.sustainSeconds, scenario: 'bench/scenarios/cps-uac.xml', pass: 'every planned call succeeded, none failed, all finished, answers at ≥ 95 % of the offered rate' },
    baseline: {}, steps: trials, summary,
    targets: [{
      target: 'cps with a webhook round trip, zero failures',
      goal: `≥ ${TARGET_RATE} calls/s; p99 INVITE → 200 ≤ ${SETUP_BAR_MS} ms + webhook time at ${TARGET_RATE}/s (the bench's web script answers from memory: its own time is under 1 ms)`,
      measured: (lastPass ? `${lastPass}/s passed${firstFail ? `, ${firstFail}/s failed` : ''}; p99 setup ${summary.setupP99AtMaxMs!.value ?? 'n/a'} ms at ${lastPass}/s, ${summary.setupP99AtTargetMs!.value ?? 'n/a'} ms at ${TARGET_RATE}/s${atTarget && !atTarget.qualityBar.pass ? ` (the ${TARGET_RATE}/s trial failed)` : ''}` : 'no trial passed')
        + (perCall !== null ? `; ${perCall} ms of Hookline CPU per call at ${lastPass}/s → 500/s needs ${summary.coresAt500!.value} cores (this machine: ${os.availableParallelism()}, shared with SIPp and the web script)` : ''),
      met: lastPass >= TARGET_RATE && atTarget ? atTarget.qualityBar.pass && (summary.setupP99AtTargetMs!.value ?? Infinity) <= SETUP_BAR_MS : firstFail ? false : null,
    }],
    notes, timeline: { proc: sampler.samples, script: script.stats },
  };
  writeJson(join(dir, 'report.json'), report);
  const x = trials.slice().sort((a, b) => a.rate! - b.rate!);
  const v = (s: StepReport, k: string): number | null => s.measures[k]?.value ?? null;
  writeFileSync(join(dir, 'setup.svg'), lineChart({
    title: 'cps: setup delay (INVITE → 200, incl. webhook) against call rate', xLabel: 'calls per second', yLabel: 'ms', hLine: { y: 50, label: '50 ms' },
    series: [{ name: 'p50', points: x.map((s) => [s.rate!, v(s, 'setupP50Ms')]) }, { name: 'p99', points: x.map((s) => [s.rate!, v(s, 'setupP99Ms')]) }],
  }));
  writeFileSync(join(dir, 'cpu.svg'), lineChart({
    title: 'cps: CPU against call rate (100 % = one core)', xLabel: 'calls per second', yLabel: '% of one core',
    series: [
      { name: 'Hookline', points: x.map((s) => [s.rate!, v(s, 'targetCpuPct')]) }, { name: 'SIPp', points: x.map((s) => [s.rate!, v(s, 'sippCpuPct')]) },
      { name: 'web script (bench)', points: x.map((s) => [s.rate!, v(s, 'benchCpuPct')]) },
    ],
  }));
  writeFileSync(join(dir, 'report.md'), markdown(report, [
    ['rate', 'rate /s'], ['achievedRate', 'achieved /s'], ['successful', 'ok'], ['failed', 'failed'], ['setupP50Ms', 'setup p50'], ['setupP99Ms', 'setup p99'],
    ['refusedOverload', 'refused (503, overload)'], ['webhooks', 'webhooks'], ['retransmissions', 'retrans'], ['targetCpuPct', 'CPU'], ['cpuMsPerCall', 'CPU per call'], ['nonMediaCpuMsPerCall', 'non-media CPU per call'], ['targetRssMB', 'RSS'], ['eldP99Ms', 'loop delay p99'], ['gcMaxMs', 'GC max'], ['sippCpuPct', 'SIPp CPU'], ['benchCpuPct', 'web script CPU'],
  ], ['setup.svg', 'cpu.svg']));
  await cleanupAll();
  return { report, dir };
}

function progress(line: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
  else process.stderr.write(`${line}\n`);
}
