/**
 * `bridge`: concurrent calls bridged through `resources` to a SIPp carrier that answers and echoes RTP
 * (`bench/scenarios/bridge-carrier.xml`, `-rtp_echo`). The callers (`bench/scenarios/bridge-uac.xml`) talk for
 * 14 s plus the hold; probe calls send paced RTP and measure what the echo brings back through both legs.
 *
 * First a reference run: the same steps with the callers and probes straight at the carrier, no B2BUA in the path
 * — the floor of what SIPp and this machine do. Then the Hookline run. One report (the Hookline run's folder)
 * holds both, side by side; the reference's own report is in its `reference/` subfolder.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runIvr, isStopping, type IvrOptions } from './ivr.js';
import { SippProcess, freePort, freeMediaPort, hasSipp } from './sipp.js';
import { writeJson, type Report, type StepReport } from './report.js';
import type { Measure } from './stats.js';

/** ivr's step options (the bridge scenario runs on the same step loop), plus the reference run switch. */
export type BridgeOptions = Pick<IvrOptions, 'argv' | 'quick' | 'steps' | 'windowSeconds' | 'rampSeconds' | 'holdMs' | 'probeCalls' | 'outDir' | 'workers' | 'niceness' | 'nodeFlags' | 'taskset' | 'noStop'> & {
  /** Run the reference (no B2BUA) first. Default true. */
  reference: boolean;
};

export interface BridgeReport extends Report {
  reference: { folder: string; steps: Array<Pick<StepReport, 'concurrency' | 'measures' | 'qualityBar'>>; summary: Record<string, Measure> } | null;
}

const carrierFile = fileURLToPath(new URL('../../../bench/scenarios/bridge-carrier.xml', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runBridge(o: BridgeOptions): Promise<{ report: BridgeReport; dir: string }> {
  if (!hasSipp()) throw new Error('sipp is not on the PATH (Debian: apt-get install sip-tester)');
  const dir = resolve(o.outDir ?? join('bench/results', `bridge-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  mkdirSync(dir, { recursive: true });
  // The carrier outlives both runs: it is not on the shared cleanup list (each run empties it when it ends); the
  // bench's exit hook kills it on Ctrl-C or an error.
  const port = await freePort();
  const carrier = SippProcess.start(join(dir, 'carrier'), [
    '-sf', carrierFile, '-i', '127.0.0.1', '-p', String(port), '-mp', String(await freeMediaPort()), '-rtp_echo',
    '-max_recv_loops', '10000', '-max_sched_loops', '10000',
  ]);
  try {
    await sleep(500);
    if (!carrier.running) throw new Error(`the SIPp carrier did not start: ${carrier.stderr.slice(-500)}`);
    const common: IvrOptions = {
      argv: o.argv, quick: o.quick, scenario: 'bridge', steps: o.steps, windowSeconds: o.windowSeconds, rampSeconds: o.rampSeconds,
      holdMs: o.holdMs, probeCalls: o.probeCalls, nodeFlags: o.nodeFlags, noStop: o.noStop, callerAudio: true,
      carrier: { host: '127.0.0.1', port, pid: carrier.pid },
      ...(o.workers !== undefined ? { workers: o.workers } : {}), ...(o.niceness !== undefined ? { niceness: o.niceness } : {}),
      ...(o.taskset ? { taskset: o.taskset } : {}),
    };
    // The reference is the floor at every step: it runs them all even where the bar breaks.
    const ref = o.reference ? (await runIvr({ ...common, noStop: true, reference: true, outDir: join(dir, 'reference') })).report : undefined;
    if (isStopping()) throw new Error('interrupted');
    await sleep(1000);
    const { report } = await runIvr({ ...common, outDir: dir, ...(ref ? { referenceSteps: ref.steps } : {}) });
    const out: BridgeReport = {
      ...report,
      reference: ref ? { folder: 'reference/', steps: ref.steps.map((s) => ({ concurrency: s.concurrency, measures: s.measures, qualityBar: s.qualityBar })), summary: ref.summary } : null,
    };
    writeJson(join(dir, 'report.json'), out);
    writeFileSync(join(dir, 'report.md'), readFileSync(join(dir, 'report.md'), 'utf8') + referenceMarkdown(out));
    return { report: out, dir };
  } finally {
    carrier.kill();
  }
}

function v(m: Measure | undefined): string {
  if (!m || m.value === null) return 'n/a';
  if (m.unit === 'ratio') return `${Math.round(m.value * 1000) / 10} %`;
  return `${Math.round(m.value * 100) / 100}`;
}

/** Hookline beside the reference, step by step. */
export function referenceMarkdown(r: BridgeReport): string {
  const L: string[] = ['', '## Hookline beside the reference (same callers straight at the SIPp carrier, no B2BUA)', ''];
  if (!r.reference) { L.push('No reference run (`--no-reference`).', ''); return L.join('\n'); }
  const cols: Array<[string, string]> = [
    ['setupP99Ms', 'setup p99 ms'], ['gapErrP99Ms', 'inter-arrival error p99 ms'], ['jitterMs', 'RFC 3550 jitter ms'],
    ['rtpLossPct', 'loss %'], ['rtpDeficitPct', 'frames short %'], ['asr', 'ASR'], ['mos', 'MOS'], ['sippCpuPct', 'SIPp CPU %'],
  ];
  L.push(`| calls | ${cols.map(([, h]) => `${h} (Hookline / reference)`).join(' | ')} | Hookline CPU % | bar (Hookline / reference) |`);
  L.push(`|---|${cols.map(() => '---').join('|')}|---|---|`);
  const bar = (q: StepReport['qualityBar'] | undefined): string => (!q ? '–' : q.pass === null ? 'unknown' : q.pass ? 'holds' : 'fails');
  const all = [...new Set([...r.steps.map((s) => s.concurrency), ...r.reference.steps.map((s) => s.concurrency)])].sort((a, b) => a - b);
  for (const c of all) {
    const h = r.steps.find((s) => s.concurrency === c);
    const f = r.reference.steps.find((s) => s.concurrency === c);
    L.push(`| ${c} | ${cols.map(([k]) => `${v(h?.measures[k])} / ${v(f?.measures[k])}`).join(' | ')} | ${v(h?.measures.targetCpuPct)} | ${bar(h?.qualityBar)} / ${bar(f?.qualityBar)} |`);
  }
  L.push('', `Reference run's own report: \`${r.reference.folder}report.md\`.`, '');
  return L.join('\n');
}
