/**
 * `ivr`: ramp concurrent calls in steps. Each call (SIPp, `bench/scenarios/ivr-uac.xml`) hears a TTS greeting
 * (cached after the first call), sends caller audio (speech.ts, by SIPp's rtp_stream) and RFC 2833 digits 1 2 3 #, and the web script
 * checks the digits arrive in the second webhook request before saying goodbye and hanging up. A few probe calls per
 * step (`probe.ts`) measure the RTP Hookline sends. Per step: setup delay p50/p99, answer-seizure ratio, DTMF
 * delivery, RTP jitter/loss/duplicates/out-of-order, E-model MOS, send-pacing error (agent), CPU and RSS of every
 * process, event-loop delay and GC of the target. Stops at the first step that breaks the quality bar.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { startHookline, externalTarget, type Target } from './target.js';
import { startBenchScript, EXPECTED_DIGITS, type BenchScript } from './script.js';
import { SippProcess, freePort, freeMediaPort, hasSipp, type SippStatRow } from './sipp.js';
import { Probe, type ProbeCallResult } from './probe.js';
import { ProcSampler, type ProcSample } from './proc.js';
import type { AgentSample } from './agent.js';
import { measured, missing, percentile, mean, max, sparsePercentile, mergeSparse, eModel, round, type Measure } from './stats.js';
import { machine, commandLine, markdown, writeJson, type Report, type StepReport, type TargetCheck } from './report.js';
import { lineChart } from './svg.js';
import { callerSpeech, CALLER_AUDIO_FILE } from './speech.js';
import { HIST_MIN_MS, HIST_STEP_MS } from '../../src/rtp/protocol.js';
import { udpFloor, type UdpFloorRaw } from '../udp.js';

export interface IvrOptions {
  argv: string[];
  /**
   * 'soak': one step held for the window, with drift measures (memory, latency) over it.
   * 'bridge': each call bridged by `resources` to `carrier` (a SIPp UAS echoing RTP); with `reference`, the same
   * load goes straight at the carrier (no B2BUA): the floor of what the load generator does on this machine.
   */
  scenario?: 'ivr' | 'soak' | 'bridge';
  carrier?: { host: string; port: number; pid: number | null };
  reference?: boolean;
  quick: boolean;
  steps: number[];
  /** Measurement window per step, s. */
  windowSeconds: number;
  /** Longest wait for a step's calls to be up, s. */
  rampSeconds: number;
  /** SIPp pause before the digits (the caller listens), ms. */
  holdMs: number;
  probeCalls: number;
  target?: string;
  outDir?: string;
  workers?: number;
  /** Hookline's rtp.niceness (default: the config default). */
  niceness?: number;
  nodeFlags: string[];
  taskset?: string;
  /** Keep going after a step breaks the bar. */
  noStop: boolean;
  /** SIPp callers send speech (speech.ts via rtp_stream) as well as digits. */
  callerAudio: boolean;
  /** bridge: the reference run's steps (same load, no B2BUA), to say where the load generator itself breaks. */
  referenceSteps?: ReadonlyArray<Pick<StepReport, 'concurrency' | 'qualityBar'>>;
}

const PACING_BAR_MS = 5;
const scenarioFile = fileURLToPath(new URL('../../../bench/scenarios/ivr-uac.xml', import.meta.url));
const bridgeScenarioFile = fileURLToPath(new URL('../../../bench/scenarios/bridge-uac.xml', import.meta.url));
const silentScenarioFile = fileURLToPath(new URL('../../../bench/scenarios/ivr-uac-silent.xml', import.meta.url));

/** Everything started, for Ctrl-C and errors. */
const cleanups: Array<() => Promise<void> | void> = [];
let stopping = false;
export async function cleanupAll(): Promise<void> {
  while (cleanups.length) { const c = cleanups.pop()!; try { await c(); } catch { /* keep going */ } }
}
export function registerCleanup(fn: () => Promise<void> | void): void { cleanups.push(fn); }
export function isStopping(): boolean { return stopping; }
export function installSignalHandlers(): void {
  const onSig = (sig: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${sig}: stopping everything the bench started...\n`);
    void cleanupAll().then(() => process.exit(130));
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
}

function progress(line: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
  else process.stderr.write(`${line}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function inWindow<T extends { t: number }>(xs: readonly T[], a: number, b: number): T[] { return xs.filter((x) => x.t >= a && x.t <= b); }

export async function runIvr(o: IvrOptions): Promise<{ report: Report; dir: string }> {
  if (!hasSipp()) throw new Error('sipp is not on the PATH (Debian: apt-get install sip-tester)');
  const started = new Date();
  const scen = o.scenario ?? 'ivr';
  const bridge = scen === 'bridge';
  if (bridge && !o.carrier) throw new Error('the bridge scenario needs a carrier');
  const label = bridge && o.reference ? 'bridge-reference' : scen;
  // Absolute: SIPp runs with this folder as its cwd and is given file paths inside it.
  const dir = resolve(o.outDir ?? join('bench/results', `${label}-${started.toISOString().replace(/[:.]/g, '-')}`));
  mkdirSync(dir, { recursive: true });
  const m = machine();
  const notes: string[] = [];
  // How long one SIPp call lasts (the ramp rate and the drain wait follow from it).
  const callSeconds = bridge ? 14.2 + o.holdMs / 1000 + 0.5 : o.holdMs / 1000 + 4;
  const loadNumber = bridge ? '4003' : '4000';
  const probeNumber = bridge ? '4004' : '4001';

  const script: BenchScript = await startBenchScript({ collectTimeoutMs: o.holdMs + 10000 });
  cleanups.push(() => script.close());
  let target: Target;
  if (bridge && o.reference) {
    target = externalTarget(`${o.carrier!.host}:${o.carrier!.port}`);
    notes.push('Reference run: the same callers and probe calls straight at the SIPp carrier (RTP echo), no B2BUA in the path: the floor of what the load generator and the machine do.');
  } else if (o.target) {
    target = externalTarget(o.target);
    notes.push('External target: its web script is not the bench\'s, so DTMF delivery to the webhook, send pacing, event-loop delay and GC are not measured; RTP quality is measured by the probe calls.');
  } else {
    target = await startHookline({
      dir, numbers: { '4000': `${script.url}/ivr`, '4001': `${script.url}/probe`, '4002': `${script.url}/warmup`, '4003': `${script.url}/bridge`, '4004': `${script.url}/bridge` },
      ...(bridge ? { extraConfig: { carriers: [{ id: 'bench-carrier', gateways: [{ host: o.carrier!.host, port: o.carrier!.port }] }] } } : {}),
      rtpPortMin: 10000, rtpPortMax: 19998, nodeFlags: o.nodeFlags,
      ...(o.workers !== undefined ? { workers: o.workers } : {}), ...(o.niceness !== undefined ? { niceness: o.niceness } : {}),
      ...(o.taskset ? { prefix: ['taskset', '-c', o.taskset] } : {}),
    });
  }
  cleanups.push(() => target.stop());
  const sampler = new ProcSampler();
  if (target.pid) sampler.watch(target.pid, 'target');
  sampler.watch(process.pid, 'bench');
  if (bridge && o.carrier!.pid) sampler.watch(o.carrier!.pid, 'sipp-carrier');
  sampler.start(1000);
  cleanups.push(() => sampler.stop());
  const agent: AgentSample[] = [];
  const pullAgent = (): void => { for (const s of target.readAgent()) agent.push(s); };

  const probe = await Probe.start({ host: target.host, port: target.port, number: probeNumber, from: '5559000', localAddress: '127.0.0.1' });
  cleanups.push(() => probe.close());

  // Baseline: the idle process, then one warm-up probe call (TTS first synthesis, workers warm).
  await sleep(2000);
  sampler.sample();
  const idleT = Date.now();
  await sleep(1000);
  sampler.sample();
  const idleSamples = sampler.samples.filter((s) => s.role === 'target' && s.t >= idleT);
  const warm = await probe.run(1, 1500);
  if (!target.external && !bridge) await probe.run(1, 15000, '4002'); // synthesises the ivr prompts once; the script hangs up
  await sleep(1000);
  sampler.sample();
  const warmT = Date.now();
  await sleep(1000);
  sampler.sample();
  const warmSamples = sampler.samples.filter((s) => s.role === 'target' && s.t >= warmT);
  const noTarget = 'external target: its process is not measured';
  const baseline: Record<string, Measure> = {
    idleRssMB: target.pid ? measureOf(idleSamples.map((s) => s.rssMB), 'MB', 'max', 'timeline.proc (role target, before any call)') : missing('MB', noTarget),
    idleCpuPct: target.pid ? measureOf(idleSamples.map((s) => s.cpuPct).filter((v): v is number => v !== null), '% of one core', 'mean', 'timeline.proc (role target, before any call)') : missing('%', noTarget),
    warmRssMB: target.pid ? measureOf(warmSamples.map((s) => s.rssMB), 'MB', 'max', 'timeline.proc (role target, after the warm-up call)') : missing('MB', noTarget),
    warmupSetupMs: warm[0]?.setupMs != null ? measured(warm[0].setupMs, 'ms', 'raw warm-up probe call (first TTS synthesis)') : missing('ms', `warm-up call failed: ${warm[0]?.error ?? 'no result'}`),
  };

  // The platform's own floor on this machine, now, while the target idles: what bare Node sockets pay per RTP packet
  // sent and received. With the load generator's measured CPU it says whether the goal fits this machine at all.
  let floor: UdpFloorRaw | undefined;
  if (!target.external && scen !== 'soak' && process.platform === 'linux' && !stopping) {
    progress(`${label}: measuring the bare UDP floor (plain Node sockets, ${o.quick ? 2 : 4} s)`);
    floor = await udpFloor({ n: o.quick ? 100 : 500, seconds: o.quick ? 2 : 4 });
    baseline.udpSendUs = floor.sendPackets > 0 && floor.sendCpuMs > 0
      ? measured((floor.sendCpuMs * 1000) / floor.sendPackets, 'µs', 'udpFloor.sendCpuMs × 1000 / udpFloor.sendPackets (bare dgram sockets, this machine, before the steps)')
      : missing('µs', 'the floor run sent nothing or its thread CPU did not move');
    baseline.udpRecvUs = floor.recvPackets > 0 && floor.recvCpuMs > 0
      ? measured((floor.recvCpuMs * 1000) / floor.recvPackets, 'µs', 'udpFloor.recvCpuMs × 1000 / udpFloor.recvPackets (one bare receiving socket: a lower bound)')
      : missing('µs', 'the floor run received nothing or its thread CPU did not move');
  }

  const sipps: SippProcess[] = [];
  cleanups.push(() => { for (const s of sipps) s.kill(); });
  const steps: StepReport[] = [];
  const sippTotals = (): { current: number; rows: number } => {
    let current = 0; let rows = 0;
    for (const s of sipps) { const st = s.stats(); const last = st[st.length - 1]; if (last) { current += last.current; rows++; } }
    return { current, rows };
  };
  const status = (label: string): string => {
    pullAgent();
    const a = agent[agent.length - 1];
    const tp = [...sampler.samples].reverse().find((s) => s.role === 'target');
    return `${scen} ${label} | sipp calls ${sippTotals().current}${a ? ` | hookline calls ${a.calls ?? '?'} eld p99 ${a.eld.p99.toFixed(1)} ms` : ''}${tp ? ` | cpu ${tp.cpuPct ?? '?'}% rss ${tp.rssMB} MB` : ''} | load ${os.loadavg()[0]!.toFixed(1)}`;
  };

  let prev = 0;
  const stepStarts: number[] = [];
  const speech = callerSpeech();
  for (let i = 0; i < o.steps.length && !stopping; i++) {
    const c = o.steps[i]!;
    const delta = c - prev;
    prev = c;
    stepStarts[i] = Date.now();
    if (delta > 0) {
      // Steady state is rate × call length, capped by -l: the rate must fill the step within the ramp time
      // and keep it full with calls that last about hold + 2.5 s (digits, goodbye).
      const rate = Math.max(1, Math.ceil(Math.max(delta / (o.rampSeconds * 0.6), (1.5 * delta) / (callSeconds - 1.5))));
      const sippDir = join(dir, `sipp-${i + 1}`);
      mkdirSync(sippDir, { recursive: true });
      writeFileSync(join(sippDir, CALLER_AUDIO_FILE), speech);
      const sp = SippProcess.start(sippDir, [
        `${target.host}:${target.port}`, '-sf', bridge ? bridgeScenarioFile : o.callerAudio ? scenarioFile : silentScenarioFile, '-s', loadNumber, '-i', '127.0.0.1', '-p', String(await freePort()),
        '-mp', String(await freeMediaPort()), '-r', String(rate), '-l', String(delta), '-d', String(o.holdMs),
        '-recv_timeout', String(o.holdMs + 30000), '-max_recv_loops', '10000', '-max_sched_loops', '10000',
      ]);
      sipps.push(sp);
      if (sp.pid) sampler.watch(sp.pid, `sipp-${i + 1}`);
    }
    // Ramp: wait until the calls are up (or the ramp time is over).
    const rampEnd = Date.now() + o.rampSeconds * 1000;
    while (Date.now() < rampEnd && !stopping) {
      await sleep(1000);
      progress(status(`step ${i + 1}/${o.steps.length} ramping to ${c}`));
      if (sippTotals().current >= c * 0.95) break;
    }
    if (stopping) break;
    const start = Date.now();
    const stepStart = stepStarts[i] ?? start;
    const probeRun = probe.run(o.probeCalls, o.windowSeconds * 1000);
    const tick = setInterval(() => progress(status(`step ${i + 1}/${o.steps.length} measuring ${c} (${Math.round((Date.now() - start) / 1000)}/${o.windowSeconds} s)`)), 1000);
    const probes = await probeRun;
    clearInterval(tick);
    const end = Date.now();
    await sleep(1100); // the last agent line of the window
    pullAgent();
    // Setup delays and ASR count the calls answered since the step's ramp began: held calls (bridged ones, or ivr
    // calls with a long --hold) can all be up before the window starts, and then none would be set up inside it.
    const step = buildStep(c, start, end, sipps, probes, sampler.samples, agent, target, bridge, stepStart);
    steps.push(step);
    progress(`${label} step ${i + 1}/${o.steps.length}: ${c} calls — setup p99 ${show(step.measures.setupP99Ms)}, ${bridge ? `inter-arrival error p99 ${show(step.measures.gapErrP99Ms)}` : `pacing p99 ${show(step.measures.pacingP99Ms)}`}, jitter ${show(step.measures.jitterMs)}, loss ${show(step.measures.rtpLossPct)}, cpu ${show(step.measures.targetCpuPct)} → ${step.qualityBar.pass === false ? `FAILS (${step.qualityBar.failed.join(', ')})` : step.qualityBar.pass ? 'holds' : 'unknown'}`);
    if (process.stderr.isTTY) process.stderr.write('\n');
    if (step.qualityBar.pass === false && !o.noStop) { notes.push(`Stopped after step ${c}: it broke the quality bar (${step.qualityBar.failed.join(', ')}).`); break; }
  }

  // Drain: SIPp stops placing calls; calls in progress finish (their digits reach the webhook), then DTMF per step.
  progress(`${label}: draining (SIPp places no new calls; calls in progress finish)`);
  await Promise.all(sipps.map((s) => s.stop((callSeconds + 15) * 1000)));
  await sleep(1500);
  pullAgent();
  for (const s of steps) if (bridge) s.measures.dtmfOk = missing('ratio', 'bridge: the callers send no digits'); else addDtmf(s, script, target.external);
  if (stopping) notes.push('Interrupted (SIGINT/SIGTERM): the report holds the steps finished before the signal.');
  const finished = new Date();
  m.loadavgEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
  const summary = summarize(steps, baseline, bridge ? 1000 : 2000);
  if (scen === 'soak' && steps[0]) Object.assign(summary, drift(steps[0]));
  if (o.referenceSteps) {
    // Where the load generator breaks: the first failing reference step above the largest one that held (a small
    // step can fail on a probe's bad second and a larger one hold; that is noise, not the generator's limit).
    const held = o.referenceSteps.filter((s) => s.qualityBar.pass === true).map((s) => s.concurrency);
    const above = held.length ? Math.max(...held) : 0;
    const fails = o.referenceSteps.filter((s) => s.qualityBar.pass === false && s.concurrency > above).map((s) => s.concurrency);
    summary.referenceFirstFailingStep = fails.length
      ? measured(Math.min(...fails), 'calls', 'smallest reference step (no B2BUA) whose qualityBar.pass is false, above the largest that held')
      : missing('calls', `no reference step failed above ${above ? `${above} calls, the largest that held` : 'the start'} (${o.referenceSteps.map((s) => `${s.concurrency}: ${s.qualityBar.pass === true ? 'held' : s.qualityBar.pass === false ? 'failed' : 'unknown'}`).join(', ') || 'none'})`);
  }
  const report: Report = {
    schema: 'hookline-bench/1', scenario: label, quick: o.quick, command: commandLine(o.argv), argv: o.argv,
    startedAt: started.toISOString(), finishedAt: finished.toISOString(), durationSeconds: Math.round((finished.getTime() - started.getTime()) / 1000),
    machine: m,
    target: { kind: target.external ? 'external' : 'hookline-child', host: target.host, port: target.port, command: target.command, config: target.config },
    settings: {
      steps: o.steps, windowSeconds: o.windowSeconds, rampSeconds: o.rampSeconds, holdMs: o.holdMs, probeCalls: o.probeCalls,
      scenario: bridge ? 'bench/scenarios/bridge-uac.xml (carrier: bench/scenarios/bridge-carrier.xml with -rtp_echo)' : o.callerAudio ? 'bench/scenarios/ivr-uac.xml' : 'bench/scenarios/ivr-uac-silent.xml',
      callerAudio: o.callerAudio,
      qualityBar: bridge
        ? `probe inter-arrival error p99 ≤ ${PACING_BAR_MS} ms (the probe's own paced RTP, echoed by the carrier through the bridge), no RTP loss, no frames skipped (≤ 1 % short of 50/s), ASR 100 %`
        : `send-pacing p99 ≤ ${PACING_BAR_MS} ms, no RTP loss, no frames skipped (≤ 1 % short of 50/s), ASR 100 %, every digit delivered`,
    },
    baseline, steps, summary, targets: targetChecks(steps, summary, baseline, o), ...(floor ? { udpFloor: floor } : {}), notes,
    timeline: { proc: sampler.samples, agent: agent.map(({ pacer, ...rest }) => ({ ...rest, pacer: pacer ? { ...pacer, hist: undefined } : null })), script: script.stats },
  };
  writeJson(join(dir, 'report.json'), report);
  const charts = writeCharts(dir, report);
  writeFileSync(join(dir, 'report.md'), markdown(report, COLUMNS, charts));
  await cleanupAll();
  return { report, dir };
}

const COLUMNS: Array<[string, string]> = [
  ['concurrency', 'calls'], ['concurrentHookline', 'calls up (target)'], ['setupP50Ms', 'setup p50'], ['setupP99Ms', 'setup p99'], ['pddP50Ms', 'post-dial delay p50 (probe)'], ['asr', 'ASR'],
  ['dtmfOk', 'digits ok'], ['pacingP99Ms', 'send pacing p99'], ['jitterMs', 'RFC 3550 jitter'], ['gapErrP99Ms', 'gap error p99'],
  ['rtpLossPct', 'loss'], ['rtpDeficitPct', 'frames short'], ['rtpDuplicates', 'dup'], ['rtpOutOfOrder', 'ooo'], ['mos', 'MOS'], ['targetCpuPct', 'CPU'], ['mediaCpuPct', 'media threads CPU'], ['mediaUsPerPacket', 'µs CPU per packet'], ['targetRssMB', 'RSS'],
  ['eldP99Ms', 'loop delay p99'], ['mediaLoopP99Ms', 'media loop delay p99'], ['gcMaxMs', 'GC max'], ['sippCpuPct', 'SIPp CPU'],
];

function show(m: Measure | undefined): string { return !m ? '–' : m.value === null ? 'n/a' : `${m.value} ${m.unit}`; }

function measureOf(xs: number[], unit: string, how: 'mean' | 'max' | 'p50' | 'p99' | 'sum', from: string): Measure {
  if (xs.length === 0) return missing(unit, `no samples (${from})`);
  const v = how === 'mean' ? mean(xs) : how === 'max' ? max(xs) : how === 'sum' ? xs.reduce((a, b) => a + b, 0) : percentile(xs, how === 'p50' ? 0.5 : 0.99);
  return measured(v!, unit, `${how} of ${from}`);
}

function buildStep(c: number, start: number, end: number, sipps: SippProcess[], probes: ProbeCallResult[], proc: ProcSample[], agentAll: AgentSample[], target: Target, bridge = false, setupFrom = start): StepReport {
  const ms: Record<string, Measure> = {};
  // SIPp: setup delays of calls answered from `setupFrom` (the step's ramp) to the window's end, counters over the same.
  const setupMs: number[] = [];
  const setupAt: number[] = [];
  const sippRows: Array<{ sipp: number; rows: SippStatRow[] }> = [];
  let answered = 0; let failed = 0; let current = 0;
  sipps.forEach((s, k) => {
    for (const r of s.rtt()) if (r.t >= setupFrom && r.t <= end) { setupMs.push(r.ms); setupAt.push(r.t); }
    const rows = s.stats();
    const w = inWindow(rows, setupFrom - 1000, end + 1000);
    sippRows.push({ sipp: k + 1, rows: w });
    if (w.length >= 2) { failed += w[w.length - 1]!.failed - w[0]!.failed; }
    const last = w[w.length - 1];
    if (last) current += last.current;
  });
  answered = setupMs.length;
  ms.concurrentSipp = sippRows.some((r) => r.rows.length) ? measured(current, 'calls', 'sum over SIPp processes of CurrentCall at the window end (raw.sipp)') : missing('calls', 'no SIPp stat rows');
  ms.setupP50Ms = setupMs.length ? measured(percentile(setupMs, 0.5)!, 'ms', 'p50 of raw.setupMs') : missing('ms', 'no call answered since the step began');
  ms.setupP99Ms = setupMs.length ? measured(percentile(setupMs, 0.99)!, 'ms', 'p99 of raw.setupMs') : missing('ms', 'no call answered since the step began');
  ms.answered = measured(answered, 'calls', 'length of raw.setupMs');
  ms.failed = sippRows.some((r) => r.rows.length >= 2) ? measured(failed, 'calls', 'Δ FailedCall(C) over raw.sipp') : missing('calls', 'fewer than two SIPp stat rows since the step began');
  ms.asr = answered + failed > 0 && ms.failed.value !== null ? measured(answered / (answered + failed), 'ratio', 'answered / (answered + failed)') : missing('ratio', 'no call answered or failed since the step began');
  // Probe: RTP quality.
  const ok = probes.filter((p) => p.answered && p.packets >= 2);
  const tot = (f: (p: ProbeCallResult) => number): number => ok.reduce((a, p) => a + f(p), 0);
  const why = probes.length === 0 ? 'no probe call' : `no probe call received RTP (${probes.map((p) => p.error ?? `status ${p.status}`).join('; ')})`;
  if (ok.length) {
    const expected = tot((p) => p.expected);
    const lost = tot((p) => p.lost);
    ms.probeCalls = measured(ok.length, 'calls', 'raw.probe (answered, ≥ 2 packets)');
    const pdd = ok.map((p) => p.pddMs).filter((v): v is number => typeof v === 'number');
    ms.pddP50Ms = pdd.length ? measured(percentile(pdd, 0.5)!, 'ms', 'p50 of raw.probe[].pddMs (INVITE → first 18x, or the 200)') : missing('ms', 'no probe call answered');
    ms.pddMaxMs = pdd.length ? measured(max(pdd)!, 'ms', 'max of raw.probe[].pddMs') : missing('ms', 'no probe call answered');
    ms.rtpPackets = measured(tot((p) => p.packets), 'packets', 'sum of raw.probe[].packets');
    ms.rtpLossPct = measured(expected ? (lost / expected) * 100 : 0, '%', 'sum lost / sum expected of raw.probe');
    // Frames the sender skipped (resynchronised after falling > 100 ms behind keep the sequence continuous, so they
    // are not sequence loss): packets short of one per 20 ms between the first and last packet received.
    const due = tot((p) => Math.floor(p.seconds * 50) + 1);
    ms.rtpDeficitPct = measured(Math.max(0, ((due - tot((p) => p.packets)) / due) * 100), '%', '1 − sum packets / sum (seconds × 50 + 1) of raw.probe');
    ms.rtpDuplicates = measured(tot((p) => p.duplicates), 'packets', 'sum of raw.probe[].duplicates');
    ms.rtpOutOfOrder = measured(tot((p) => p.outOfOrder), 'packets', 'sum of raw.probe[].outOfOrder');
    ms.jitterMs = measured(mean(ok.map((p) => p.jitterMs!))!, 'ms', 'mean of raw.probe[].jitterMs (RFC 3550 J at call end)');
    ms.jitterMaxMs = measured(max(ok.map((p) => p.jitterMaxMs!))!, 'ms', 'max of raw.probe[].jitterMaxMs');
    ms.gapErrP99Ms = measured(max(ok.map((p) => p.gapErrP99Ms ?? 0))!, 'ms', 'max of raw.probe[].gapErrP99Ms');
    const dv = max(ok.map((p) => p.delayVarP99Ms ?? 0))!;
    ms.delayVarP99Ms = measured(dv, 'ms', 'max of raw.probe[].delayVarP99Ms');
    // E-model: 20 ms packetisation + a jitter buffer as deep as the measured p99 delay variation; loss as measured.
    const e = eModel(20 + dv, expected ? (lost / expected) * 100 : 0);
    ms.rFactor = measured(e.r, 'R', 'E-model(20 ms + delayVarP99Ms, rtpLossPct)');
    ms.mos = measured(e.mos, 'MOS', 'E-model(20 ms + delayVarP99Ms, rtpLossPct)');
  } else {
    for (const k of ['probeCalls', 'pddP50Ms', 'pddMaxMs', 'rtpPackets', 'rtpLossPct', 'rtpDeficitPct', 'rtpDuplicates', 'rtpOutOfOrder', 'jitterMs', 'jitterMaxMs', 'gapErrP99Ms', 'delayVarP99Ms', 'rFactor', 'mos']) ms[k] = missing('', why);
  }
  // Agent: send pacing, event loop, GC, active calls.
  const ag = inWindow(agentAll, start + 500, end + 1000);
  const noAgent = target.external ? 'external target: no agent inside it' : 'no agent samples in the window';
  const hists = ag.filter((a) => a.pacer).map((a) => a.pacer!.hist);
  if (hists.length) {
    const merged = mergeSparse(hists);
    ms.pacingP50Ms = measured(sparsePercentile(merged, 0.5, HIST_MIN_MS, HIST_STEP_MS)!, 'ms', 'p50 of the merged agent pacer histograms (raw.agent[].pacer.hist)');
    ms.pacingP99Ms = measured(sparsePercentile(merged, 0.99, HIST_MIN_MS, HIST_STEP_MS)!, 'ms', 'p99 of the merged agent pacer histograms (raw.agent[].pacer.hist)');
    ms.pacingMaxMs = measured(max(ag.filter((a) => a.pacer && a.pacer.sent > 0).map((a) => a.pacer!.lateMax)) ?? 0, 'ms', 'max of raw.agent[].pacer.lateMax');
    ms.packetsSent = measured(ag.reduce((t, a) => t + (a.pacer?.sent ?? 0), 0), 'packets', 'sum of raw.agent[].pacer.sent');
    ms.resyncs = measured(ag.reduce((t, a) => t + (a.pacer?.resyncs ?? 0), 0), 'count', 'sum of raw.agent[].pacer.resyncs');
    ms.workerGcMs = measured(ag.reduce((t, a) => t + (a.pacer?.workerGcMs ?? 0), 0), 'ms', 'sum of raw.agent[].pacer.workerGcMs');
    // the first sample after a worker starts has no loop figures yet (the monitor starts with the first request)
    const loops = ag.filter((a) => a.pacer && typeof a.pacer.loopP99Ms === 'number' && a.pacer.loopP99Ms > 0);
    ms.mediaLoopP99Ms = loops.length ? measured(max(loops.map((a) => a.pacer!.loopP99Ms))!, 'ms', 'max of raw.agent[].pacer.loopP99Ms (worst worker, per second)') : missing('ms', 'no media loop samples in the window');
    ms.mediaLoopMaxMs = loops.length ? measured(max(loops.map((a) => a.pacer!.loopMaxMs))!, 'ms', 'max of raw.agent[].pacer.loopMaxMs') : missing('ms', 'no media loop samples in the window');
  } else for (const k of ['pacingP50Ms', 'pacingP99Ms', 'pacingMaxMs', 'packetsSent', 'resyncs', 'workerGcMs', 'mediaLoopP99Ms', 'mediaLoopMaxMs']) ms[k] = missing('ms', noAgent);
  // Media threads' own CPU (from /proc/thread-self inside each worker) per packet they sent or received: what the
  // RTP path costs on this machine, apart from signalling and the load generators.
  const cpuAg = ag.filter((a) => a.pacer && typeof a.pacer.cpuMs === 'number' && a.pacer.cpuMs >= 0);
  if (cpuAg.length) {
    const cpu = cpuAg.reduce((t, a) => t + a.pacer!.cpuMs, 0);
    const pk = cpuAg.reduce((t, a) => t + a.pacer!.sent + a.pacer!.received, 0);
    ms.mediaCpuPct = measured(cpu / (cpuAg.length * 10), '% of one core', 'sum of raw.agent[].pacer.cpuMs / (agent samples × 1000 ms)');
    ms.mediaPacketsPerSec = measured(pk / cpuAg.length, 'packets/s', 'sum of raw.agent[].pacer.sent + received / agent samples');
    ms.mediaSentPerSec = measured(cpuAg.reduce((t, a) => t + a.pacer!.sent, 0) / cpuAg.length, 'packets/s', 'sum of raw.agent[].pacer.sent / agent samples');
    ms.mediaUsPerPacket = pk > 0 ? measured((cpu * 1000) / pk, 'µs', 'sum of raw.agent[].pacer.cpuMs × 1000 / sum of sent + received') : missing('µs', 'no packets in the window');
  } else for (const k of ['mediaCpuPct', 'mediaPacketsPerSec', 'mediaSentPerSec', 'mediaUsPerPacket']) ms[k] = missing('', target.external ? noAgent : 'media thread CPU not known (not Linux, or no agent samples)');
  if (ag.length) {
    const calls = ag.map((a) => a.calls).filter((v): v is number => v !== null);
    ms.concurrentHookline = calls.length ? measured(mean(calls)!, 'calls', 'mean of raw.agent[].calls') : missing('calls', 'the agent did not find the switch');
    ms.eldP99Ms = measured(max(ag.map((a) => a.eld.p99))!, 'ms', 'max of raw.agent[].eld.p99 (per-second main-thread event-loop delay p99)');
    ms.gcCount = measured(ag.reduce((t, a) => t + a.gc.count, 0), 'count', 'sum of raw.agent[].gc.count (main thread)');
    ms.gcMs = measured(ag.reduce((t, a) => t + a.gc.ms, 0), 'ms', 'sum of raw.agent[].gc.ms');
    ms.gcMaxMs = measured(max(ag.map((a) => a.gc.maxMs))!, 'ms', 'max of raw.agent[].gc.maxMs');
    ms.heapUsedMB = measured(max(ag.map((a) => a.heapUsedMB))!, 'MB', 'max of raw.agent[].heapUsedMB');
    // What V8 has reserved (not what is live): where most of the RSS per call goes.
    const mainT = ag.map((a) => a.heapTotalMB).filter((v): v is number => typeof v === 'number');
    ms.heapTotalMB = mainT.length ? measured(max(mainT)!, 'MB', 'max of raw.agent[].heapTotalMB (main thread)') : missing('MB', 'the agent did not report heapTotalMB');
    const medT = ag.map((a) => a.pacer?.workerHeapTotalMB).filter((v): v is number => typeof v === 'number');
    ms.mediaHeapTotalMB = medT.length ? measured(max(medT)!, 'MB', 'max of raw.agent[].pacer.workerHeapTotalMB (media threads)') : missing('MB', 'the media threads did not report their heaps');
    // The main thread's young generation (V8's new space, committed): V8 grows it under load up to a fixed maximum
    // (2 × 16 MB semi-spaces on a 64-bit machine with this much memory), whatever the number of calls.
    const young = ag.map((a) => a.spacesMB?.new_space).filter((v): v is number => typeof v === 'number');
    ms.mainYoungMB = young.length ? measured(max(young)!, 'MB', 'max of raw.agent[].spacesMB.new_space (main thread)') : missing('MB', 'the agent did not report heap spaces');
  } else for (const k of ['concurrentHookline', 'eldP99Ms', 'gcCount', 'gcMs', 'gcMaxMs', 'heapUsedMB', 'heapTotalMB', 'mediaHeapTotalMB', 'mainYoungMB']) ms[k] = missing('', noAgent);
  // Processes.
  const pw = inWindow(proc, start + 1000, end);
  const tp = pw.filter((p) => p.role === 'target');
  const cpuOf = (xs: ProcSample[]): number[] => xs.map((p) => p.cpuPct).filter((v): v is number => v !== null);
  if (target.pid && tp.length) {
    ms.targetCpuPct = measureOf(cpuOf(tp), '% of one core', 'mean', 'raw.proc (role target)');
    ms.targetCpuMaxPct = measureOf(cpuOf(tp), '% of one core', 'max', 'raw.proc (role target)');
    ms.targetRssMB = measureOf(tp.map((p) => p.rssMB), 'MB', 'max', 'raw.proc (role target)');
    const rss = ms.targetRssMB.value; const young = ms.mainYoungMB?.value;
    ms.rssBeyondYoungMB = rss != null && young != null ? measured(rss - young, 'MB', 'targetRssMB - mainYoungMB')
      : missing('MB', 'needs the RSS and the main thread\'s young generation');
  } else for (const k of ['targetCpuPct', 'targetCpuMaxPct', 'targetRssMB', 'rssBeyondYoungMB']) ms[k] = missing('', target.pid ? 'no target samples in the window' : 'external target: its process is not measured');
  // SIPp: the sum over its processes of their mean CPU.
  const sippRoles = [...new Set(pw.filter((p) => p.role.startsWith('sipp')).map((p) => p.role))];
  ms.sippCpuPct = sippRoles.length ? measured(sippRoles.reduce((t, r) => t + (mean(cpuOf(pw.filter((p) => p.role === r))) ?? 0), 0), '% of one core', 'sum over SIPp processes of mean raw.proc cpuPct') : missing('%', 'no SIPp samples');
  ms.benchCpuPct = measureOf(cpuOf(pw.filter((p) => p.role === 'bench')), '% of one core', 'mean', 'raw.proc (role bench: script server + probe)');
  // Quality bar.
  const failedBar: string[] = []; const unknown: string[] = [];
  const check = (name: string, m: Measure | undefined, ok: (v: number) => boolean): void => {
    // "ASR 100 %" alone would read as a result: say why it is not known
    if (!m || m.value === null) unknown.push(`${name} not known: ${m?.reason ?? 'not measured'}`); else if (!ok(m.value)) failedBar.push(name);
  };
  // A bridge relays the far end's packets as they come (nothing of ours is paced): judge the arrival timing the
  // probe sees instead, which holds both legs and the carrier's echo.
  if (bridge) check(`inter-arrival error p99 ≤ ${PACING_BAR_MS} ms`, ms.gapErrP99Ms, (v) => v <= PACING_BAR_MS);
  else check(`send pacing p99 ≤ ${PACING_BAR_MS} ms`, ms.pacingP99Ms, (v) => v <= PACING_BAR_MS);
  check('no RTP loss', ms.rtpLossPct, (v) => v === 0);
  check('no frames skipped (deficit ≤ 1 %)', ms.rtpDeficitPct, (v) => v <= 1);
  check('ASR 100 %', ms.asr, (v) => v === 1);
  return {
    concurrency: c, window: { start, end }, measures: ms,
    qualityBar: { pass: failedBar.length ? false : unknown.length ? null : true, failed: failedBar, unknown },
    raw: { setupMs, setupAt, sipp: sippRows, probe: probes, proc: pw, agent: ag },
  };
}

/** DTMF per step, once calls have finished: calls whose first webhook request came in the step's window. */
function addDtmf(s: StepReport, script: BenchScript, external: boolean): void {
  if (external) { s.measures.dtmfOk = missing('ratio', 'external target: its web script is not the bench\'s'); s.qualityBar.unknown.push('every digit delivered'); return; }
  const calls = [...script.calls.values()].filter((c) => c.first >= s.window.start && c.first <= s.window.end);
  const raw = calls.map((c) => ({ first: c.first, second: c.second, digits: c.digits }));
  s.raw.dtmf = raw;
  const good = raw.filter((c) => c.digits === EXPECTED_DIGITS).length;
  s.measures.dtmfCalls = measured(raw.length, 'calls', 'length of raw.dtmf (first webhook request in the window)');
  s.measures.dtmfOk = raw.length ? measured(good / raw.length, 'ratio', `share of raw.dtmf whose second request carried Digits=${EXPECTED_DIGITS}`) : missing('ratio', 'no call reached the web script in the window');
  if (s.measures.dtmfOk.value === null) s.qualityBar.unknown.push('every digit delivered');
  else if (s.measures.dtmfOk.value < 1) s.qualityBar.failed.push('every digit delivered');
  s.qualityBar.pass = s.qualityBar.failed.length ? false : s.qualityBar.unknown.length ? null : true;
}

function summarize(steps: StepReport[], baseline: Record<string, Measure>, goal: number): Record<string, Measure> {
  const holding = steps.filter((s) => s.qualityBar.pass === true).map((s) => s.concurrency);
  const out: Record<string, Measure> = {
    maxConcurrentHoldingBar: holding.length ? measured(Math.max(...holding), 'calls', 'largest steps[].concurrency whose qualityBar.pass is true') : missing('calls', steps.length ? 'no step held the quality bar (or it could not be judged)' : 'no step ran'),
    stepsRun: measured(steps.length, 'count', 'steps'),
  };
  const last = steps[steps.length - 1];
  if (last) out.lastStepCpuPct = last.measures.targetCpuPct ?? missing('%', 'not measured');
  // Memory per call: least-squares slope against calls up, over the steps (one step alone is GC noise): of the RSS,
  // and of the V8 heaps' reservations (the main thread's, the media threads').
  const slopePerCall = (from: string, needs: string, note = ''): Measure => {
    const pts = steps.map((s) => [s.measures.concurrentHookline?.value, s.measures[from]?.value] as const)
      .filter((p): p is readonly [number, number] => typeof p[0] === 'number' && typeof p[1] === 'number');
    const slope = fitSlope(pts);
    return slope === null ? missing('KB', `needs ${needs} at two or more steps with different call counts`)
      : measured(slope * 1024, 'KB', `least-squares slope of steps[].measures.${from} against steps[].measures.concurrentHookline${note}`);
  };
  out.rssPerCallKB = slopePerCall('targetRssMB', 'RSS');
  out.mainHeapPerCallKB = slopePerCall('heapTotalMB', 'the main thread\'s heap', ' (main thread, V8 reserved)');
  out.mediaHeapPerCallKB = slopePerCall('mediaHeapTotalMB', 'the media threads\' heaps', ' (media threads, V8 reserved)');
  // The RSS slope also carries the main thread's young generation growing to its fixed maximum between the first
  // steps (5 → 29 MB over 100 → 700 calls, a one-time cost that does not grow with more calls): apart, and without it.
  out.mainYoungPerCallKB = slopePerCall('mainYoungMB', 'the main thread\'s young generation', ' (main thread, V8 new space; bounded)');
  out.rssPerCallBeyondYoungKB = slopePerCall('rssBeyondYoungMB', 'the RSS and the young generation', ' (RSS minus the main thread\'s young generation)');
  out.idleRssMB = baseline.idleRssMB!;
  // What the RTP path alone would cost at the target: the largest step's CPU per packet × its packets per call × goal.
  const ref = [...steps].reverse().find((s) => s.measures.mediaUsPerPacket?.value != null && (s.measures.concurrentHookline?.value ?? 0) > 0);
  if (ref) {
    const us = ref.measures.mediaUsPerPacket!.value!;
    const perCall = ref.measures.mediaPacketsPerSec!.value! / ref.measures.concurrentHookline!.value!;
    out.mediaCoresAtGoal = measured(Math.round(((us * perCall * goal) / 1e6) * 100) / 100, 'cores',
      `steps[${ref.concurrency}] mediaUsPerPacket × (mediaPacketsPerSec / concurrentHookline) × ${goal} calls / 10⁶`);
  } else out.mediaCoresAtGoal = missing('cores', 'no step measured the media threads\' CPU');
  // The machine's budget at the goal: what bare Node sockets alone need for the largest step's packets per call
  // (sent at the floor's send cost, received at its receive cost), and what the load generator needs, extrapolated
  // linearly from its CPU at that step. Both measured in this run; together against the machine's cores.
  const send = baseline.udpSendUs?.value; const recv = baseline.udpRecvUs?.value;
  const sentPs = ref?.measures.mediaSentPerSec?.value; const allPs = ref?.measures.mediaPacketsPerSec?.value;
  const callsUp = ref?.measures.concurrentHookline?.value;
  if (ref && send != null && recv != null && sentPs != null && allPs != null && callsUp) {
    const us = (sentPs * send + (allPs - sentPs) * recv) / callsUp;
    out.floorCoresAtGoal = measured(Math.round(((us * goal) / 1e6) * 100) / 100, 'cores',
      `(steps[${ref.concurrency}] mediaSentPerSec × baseline.udpSendUs + (mediaPacketsPerSec − mediaSentPerSec) × baseline.udpRecvUs) / concurrentHookline × ${goal} calls / 10⁶`);
  } else out.floorCoresAtGoal = missing('cores', 'needs the bare UDP floor and a step with media CPU and packet counts');
  const gen = [...steps].reverse().find((s) => s.measures.sippCpuPct?.value != null && (s.measures.concurrentHookline?.value ?? 0) > 0);
  if (gen) {
    out.generatorCoresAtGoal = measured(Math.round(((gen.measures.sippCpuPct!.value! / 100) * (goal / gen.measures.concurrentHookline!.value!)) * 100) / 100, 'cores',
      `steps[${gen.concurrency}] sippCpuPct / 100 × ${goal} / concurrentHookline (linear extrapolation of the load generator)`);
  } else out.generatorCoresAtGoal = missing('cores', 'no step measured the load generator\'s CPU');
  return out;
}

/** Soak: memory and latency drift over the held step (first third against last third, RSS slope per minute). */
function drift(s: StepReport): Record<string, Measure> {
  const raw = s.raw as { setupMs: number[]; setupAt: number[]; proc: ProcSample[]; agent: AgentSample[] };
  const span = s.window.end - s.window.start;
  const a = s.window.start + span / 3; const b = s.window.end - span / 3;
  const out: Record<string, Measure> = {};
  const rss = raw.proc.filter((p) => p.role === 'target').map((p) => [(p.t - s.window.start) / 60000, p.rssMB] as const);
  const slope = fitSlope(rss);
  out.rssDriftMBPerMin = slope === null ? missing('MB/min', 'fewer than two target samples') : measured(slope, 'MB/min', 'least-squares slope of raw.proc (role target) rssMB over time');
  const third = (xs: number[], ts: number[], first: boolean): number[] => xs.filter((_, i) => (first ? ts[i]! <= a : ts[i]! >= b));
  const f = third(raw.setupMs, raw.setupAt, true); const l = third(raw.setupMs, raw.setupAt, false);
  out.setupP99FirstThirdMs = f.length ? measured(percentile(f, 0.99)!, 'ms', 'p99 of raw.setupMs in the first third of the window') : missing('ms', 'no calls answered in the first third');
  out.setupP99LastThirdMs = l.length ? measured(percentile(l, 0.99)!, 'ms', 'p99 of raw.setupMs in the last third of the window') : missing('ms', 'no calls answered in the last third');
  const ef = raw.agent.filter((x) => x.t <= a).map((x) => x.eld.p99); const el = raw.agent.filter((x) => x.t >= b).map((x) => x.eld.p99);
  out.eldP99FirstThirdMs = ef.length ? measured(percentile(ef, 0.5)!, 'ms', 'median per-second event-loop p99 (raw.agent) in the first third') : missing('ms', 'no agent samples');
  out.eldP99LastThirdMs = el.length ? measured(percentile(el, 0.5)!, 'ms', 'median per-second event-loop p99 (raw.agent) in the last third') : missing('ms', 'no agent samples');
  const hf = raw.agent.filter((x) => x.t <= a).map((x) => x.heapUsedMB); const hl = raw.agent.filter((x) => x.t >= b).map((x) => x.heapUsedMB);
  out.heapFirstThirdMB = hf.length ? measured(mean(hf)!, 'MB', 'mean raw.agent heapUsedMB in the first third') : missing('MB', 'no agent samples');
  out.heapLastThirdMB = hl.length ? measured(mean(hl)!, 'MB', 'mean raw.agent heapUsedMB in the last third') : missing('MB', 'no agent samples');
  return out;
}

export function fitSlope(pts: ReadonlyArray<readonly [number, number]>): number | null {
  if (pts.length < 2) return null;
  const mx = pts.reduce((t, p) => t + p[0], 0) / pts.length;
  const my = pts.reduce((t, p) => t + p[1], 0) / pts.length;
  let sxx = 0; let sxy = 0;
  for (const [x, y] of pts) { sxx += (x - mx) ** 2; sxy += (x - mx) * (y - my); }
  return sxx > 0 ? sxy / sxx : null;
}

function targetChecks(steps: StepReport[], summary: Record<string, Measure>, baseline: Record<string, Measure>, o: IvrOptions): TargetCheck[] {
  const maxHold = summary.maxConcurrentHoldingBar!.value;
  const biggest = steps.length ? Math.max(...steps.map((s) => s.concurrency)) : 0;
  const perCall = summary.rssPerCallKB?.value ?? null;
  const beyondYoung = summary.rssPerCallBeyondYoungKB?.value ?? null;
  if (o.reference) return []; // the load generator alone: nothing of Hookline's to judge
  const bridge = o.scenario === 'bridge';
  const goal = bridge ? 1000 : 2000;
  const limit = machineLimit(summary, baseline, goal);
  return [
    {
      target: bridge ? 'bridge concurrent bridged calls (probe inter-arrival error p99 ≤ 5 ms, no loss)' : 'ivr concurrent calls (send pacing p99 ≤ 5 ms, no loss)',
      goal: `≥ ${goal.toLocaleString('en-US')}`,
      measured: (maxHold === null ? 'no step held the bar' : `${maxHold} held${biggest > maxHold ? `, ${biggest} did not` : ` (largest step tried: ${biggest})`}`) + mediaProjection(steps, summary, goal)
        + (limit ? `; ${limit}` : '')
        + (summary.referenceFirstFailingStep?.value != null ? `; the reference run (SIPp alone, no B2BUA) fails the bar from ${summary.referenceFirstFailingStep.value} calls on: the load generator's limit on this machine` : ''),
      met: maxHold === null ? (steps.some((s) => s.qualityBar.pass === false) ? false : null) : maxHold >= goal ? true : biggest > maxHold || limit ? false : null,
      ...(limit && !(maxHold !== null && maxHold >= goal) ? { machineLimit: limit } : {}),
    },
    {
      target: 'memory per active call', goal: '≤ 64 KB RSS per call',
      measured: perCall === null ? 'not measured' : beyondYoung === null
        ? `${round(perCall)} KB per call (RSS slope over ${steps.length} steps up to ${biggest} calls)${heapShare(summary)}`
        : `${round(beyondYoung)} KB per call beyond the main thread's young generation, a one-time cost that V8 bounds (${youngRange(steps)}); `
          + `with it, the RSS slope over ${steps.length} steps up to ${biggest} calls is ${round(perCall)} KB${heapShare(summary)}`,
      met: biggest < 200 ? null : beyondYoung !== null ? beyondYoung <= 64 : perCall !== null ? perCall <= 64 : null,
    },
    {
      target: 'idle process', goal: '≤ 80 MB RSS',
      measured: baseline.idleRssMB!.value === null ? 'not measured' : `${baseline.idleRssMB!.value} MB`,
      met: baseline.idleRssMB!.value === null ? null : baseline.idleRssMB!.value <= 80,
    },
    ...(o.taskset || o.nodeFlags.some((f) => f.startsWith('--max-old-space-size')) ? [{
      target: `constrained run (${[o.taskset ? `taskset -c ${o.taskset}` : '', ...o.nodeFlags].filter(Boolean).join(' ')})`, goal: '≥ 300 ivr calls',
      measured: maxHold === null ? 'no step held the bar' : `${maxHold} held`, met: maxHold === null ? (steps.some((s) => s.qualityBar.pass === false) ? false : null) : maxHold >= 300 ? true : null,
    }] : []),
  ];
}

/** "5.8 → 29 MB from the first step to the last". */
function youngRange(steps: StepReport[]): string {
  const v = steps.map((s) => s.measures.mainYoungMB?.value).filter((x): x is number => typeof x === 'number');
  return v.length ? `${round(v[0]!)} → ${round(v[v.length - 1]!)} MB from the first step to the last` : 'not measured';
}

/** "; of which V8's reserved heaps: main thread N KB, media threads M KB per call", when measured. */
function heapShare(summary: Record<string, Measure>): string {
  const a = summary.mainHeapPerCallKB?.value; const b = summary.mediaHeapPerCallKB?.value;
  return a != null && b != null ? `; of which V8's reserved heaps: main thread ${round(a)} KB, media threads ${round(b)} KB per call` : '';
}

/**
 * When this run measured that the goal cannot fit the machine: bare Node sockets for the goal's RTP plus the load
 * generator need more cores than there are. Undefined when it fits or was not measured.
 */
function machineLimit(summary: Record<string, Measure>, baseline: Record<string, Measure>, goal: number): string | undefined {
  const floor = summary.floorCoresAtGoal?.value; const gen = summary.generatorCoresAtGoal?.value;
  const cores = os.cpus().length; // as report.machine.cores
  if (floor == null || gen == null || floor + gen <= cores) return undefined;
  return `beyond this machine: at ${goal.toLocaleString('en-US')} calls bare Node UDP sockets alone need ${floor} cores for the RTP `
    + `(${round(baseline.udpSendUs!.value!)} µs per send, ${round(baseline.udpRecvUs!.value!)} µs per receive, measured in this run) `
    + `and the load generator ${gen} cores (SIPp, extrapolated from its measured CPU): ${round(floor + gen)} > ${cores} cores`;
}

/** "; the media threads' measured CPU per packet puts RTP alone at N cores for the goal", when measured. */
function mediaProjection(steps: StepReport[], summary: Record<string, Measure>, goal: number): string {
  const cores = summary.mediaCoresAtGoal?.value;
  const ref = [...steps].reverse().find((s) => s.measures.mediaUsPerPacket?.value != null);
  if (cores == null || !ref) return '';
  const us = round(ref.measures.mediaUsPerPacket!.value!);
  return `; media threads ${us} µs CPU per packet at ${ref.concurrency} calls → RTP alone needs ${cores} cores at ${goal.toLocaleString('en-US')} calls (this machine: ${os.availableParallelism()})`;
}

function writeCharts(dir: string, r: Report): string[] {
  const x = (s: StepReport): number => s.concurrency;
  const v = (s: StepReport, k: string): number | null => s.measures[k]?.value ?? null;
  const files: string[] = [];
  writeFileSync(join(dir, 'jitter.svg'), lineChart({
    title: `${r.scenario}: jitter and pacing against concurrent calls (${r.machine.cores} cores, ${r.startedAt.slice(0, 16)})`,
    xLabel: 'concurrent calls', yLabel: 'ms', hLine: { y: PACING_BAR_MS, label: 'bar: 5 ms' },
    series: [
      { name: 'send pacing p99 (agent)', points: r.steps.map((s) => [x(s), v(s, 'pacingP99Ms')]) },
      { name: 'RFC 3550 jitter (probe, mean)', points: r.steps.map((s) => [x(s), v(s, 'jitterMs')]) },
      { name: 'inter-arrival error p99 (probe)', points: r.steps.map((s) => [x(s), v(s, 'gapErrP99Ms')]), dashed: true },
    ],
  }));
  files.push('jitter.svg');
  writeFileSync(join(dir, 'cpu.svg'), lineChart({
    title: `${r.scenario}: CPU against concurrent calls (100 % = one core)`,
    xLabel: 'concurrent calls', yLabel: '% of one core',
    series: [
      { name: 'Hookline (mean)', points: r.steps.map((s) => [x(s), v(s, 'targetCpuPct')]) },
      { name: 'Hookline (max second)', points: r.steps.map((s) => [x(s), v(s, 'targetCpuMaxPct')]), dashed: true },
      { name: 'Hookline media threads', points: r.steps.map((s) => [x(s), v(s, 'mediaCpuPct')]) },
      { name: 'SIPp (sum)', points: r.steps.map((s) => [x(s), v(s, 'sippCpuPct')]) },
      { name: 'bench (script + probe)', points: r.steps.map((s) => [x(s), v(s, 'benchCpuPct')]) },
    ],
  }));
  files.push('cpu.svg');
  writeFileSync(join(dir, 'setup.svg'), lineChart({
    title: `${r.scenario}: setup delay (INVITE → 200${r.scenario === 'ivr' ? ', includes webhook + first TTS' : ''}) against concurrent calls`, xLabel: 'concurrent calls', yLabel: 'ms',
    series: [
      { name: 'p50 (SIPp)', points: r.steps.map((s) => [x(s), v(s, 'setupP50Ms')]) },
      { name: 'p99 (SIPp)', points: r.steps.map((s) => [x(s), v(s, 'setupP99Ms')]) },
    ],
  }));
  files.push('setup.svg');
  writeFileSync(join(dir, 'rss.svg'), lineChart({
    title: `${r.scenario}: target RSS against concurrent calls`, xLabel: 'concurrent calls', yLabel: 'MB',
    series: [{ name: 'RSS (max in window)', points: r.steps.map((s) => [x(s), v(s, 'targetRssMB')]) }],
  }));
  files.push('rss.svg');
  if (r.scenario === 'soak' && r.steps[0]) {
    const s0 = r.steps[0];
    const raw = s0.raw as { proc: ProcSample[]; agent: AgentSample[] };
    writeFileSync(join(dir, 'drift.svg'), lineChart({
      title: `soak: ${s0.concurrency} calls held — memory and event-loop delay over time`, xLabel: 'seconds into the window', yLabel: 'MB / ms',
      series: [
        { name: 'RSS MB', points: raw.proc.filter((p) => p.role === 'target').map((p) => [Math.round((p.t - s0.window.start) / 1000), p.rssMB]) },
        { name: 'heap used MB', points: raw.agent.map((a) => [Math.round((a.t - s0.window.start) / 1000), round(a.heapUsedMB)]) },
        { name: 'event-loop p99 ms', points: raw.agent.map((a) => [Math.round((a.t - s0.window.start) / 1000), round(a.eld.p99)]), dashed: true },
      ],
    }));
    files.push('drift.svg');
  }
  return files;
}
