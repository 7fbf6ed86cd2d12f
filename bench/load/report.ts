/**
 * Reports: the machine, the JSON file, the Markdown summary, and `--compare A.json B.json` (ratios B / A).
 */
import os from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Measure } from './stats.js';

export interface Machine { cores: number; model: string; node: string; os: string; totalMemMB: number; loadavgStart: number[]; loadavgEnd: number[] | null }

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cores: cpus.length, model: cpus[0]?.model ?? 'unknown', node: process.version, os: `${os.type()} ${os.release()} ${os.arch()}`,
    totalMemMB: Math.round(os.totalmem() / 1048576), loadavgStart: os.loadavg().map((l) => Math.round(l * 100) / 100), loadavgEnd: null,
  };
}

/** The command as the user would type it (npm run bench -- ...). */
export function commandLine(argv: readonly string[]): string {
  const q = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return `npm run bench -- ${argv.map(q).join(' ')}`.trim();
}

export interface StepReport {
  /** ivr: concurrent calls of the step; cps: the trial's rate (also in `rate`). */
  concurrency: number;
  rate?: number;
  window: { start: number; end: number };
  measures: Record<string, Measure>;
  qualityBar: { pass: boolean | null; failed: string[]; unknown: string[] };
  raw: Record<string, unknown>;
}

export interface TargetCheck {
  target: string; goal: string; measured: string; met: boolean | null;
  /**
   * Set when the run measured that the goal does not fit this machine at all, whatever the switch does: why, with
   * the figures (e.g. the bare UDP floor plus the load generator need more cores than the machine has).
   */
  machineLimit?: string;
}

/** How a target's verdict reads in a report or on the console. */
export function verdict(t: TargetCheck, style: 'md' | 'text'): string {
  if (t.met === true) return style === 'md' ? 'yes' : 'met';
  if (t.met === null) return 'not measured';
  const no = style === 'md' ? '**no**' : 'NOT met';
  return t.machineLimit ? `${no} (beyond this machine)` : no;
}

export interface Report {
  schema: 'hookline-bench/1';
  scenario: string;
  quick: boolean;
  command: string;
  argv: string[];
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  machine: Machine;
  target: { kind: 'hookline-child' | 'external'; host: string; port: number; command: string | null; config: Record<string, unknown> | null };
  settings: Record<string, unknown>;
  baseline: Record<string, Measure>;
  steps: StepReport[];
  summary: Record<string, Measure>;
  targets: TargetCheck[];
  /**
   * Node's bare UDP floor, run by the bench on this machine before the steps (bench/udp.ts udpFloor): the raw CPU
   * and packet counts behind baseline.udpSendUs / udpRecvUs. Absent when the run did not measure it.
   */
  udpFloor?: { streams: number; seconds: number; sendCpuMs: number; sendPackets: number; recvCpuMs: number; recvPackets: number };
  notes: string[];
  /** Per-second samples of the whole run (process CPU/RSS, agent) for charts and drift. */
  timeline: Record<string, unknown>;
}

function show(m: Measure | undefined): string {
  if (!m) return '–';
  if (m.value === null) return `n/a (${m.reason ?? 'not measured'})`;
  if (m.unit === 'ratio') return `${(m.value * 100).toFixed(1)} %`;
  const v = Math.abs(m.value) >= 100 ? Math.round(m.value) : Math.round(m.value * 100) / 100;
  const unit = m.unit === '% of one core' ? '%' : m.unit;
  return `${Math.abs(v) >= 10000 ? v.toLocaleString('en-US') : v}${unit && !['count', 'calls', 'packets'].includes(unit) ? (unit === '%' ? '%' : ` ${unit}`) : ''}`;
}

export function markdown(r: Report, columns: Array<[string, string]>, charts: string[]): string {
  const L: string[] = [];
  L.push(`# Hookline bench: ${r.scenario}${r.quick ? ' (--quick)' : ''}`, '');
  L.push(`- command: \`${r.command}\``);
  L.push(`- machine: ${r.machine.cores} × ${r.machine.model}, ${r.machine.totalMemMB} MB, Node ${r.machine.node}, ${r.machine.os}`);
  L.push(`- load average at start ${r.machine.loadavgStart.join(' ')}, at end ${r.machine.loadavgEnd?.join(' ') ?? '?'} (other work on the machine shows here)`);
  L.push(`- started ${r.startedAt}, ${r.durationSeconds} s`);
  L.push(`- target: ${r.target.kind} ${r.target.host}:${r.target.port}${r.target.command ? ` — \`${r.target.command}\`` : ''}`);
  L.push('');
  if (Object.keys(r.baseline).length) {
    L.push('## Baseline (no calls)', '');
    for (const [k, m] of Object.entries(r.baseline)) L.push(`- ${k}: ${show(m)}`);
    L.push('');
  }
  if (r.steps.length) {
    L.push('## Steps', '');
    L.push(`| ${columns.map((c) => c[1]).join(' | ')} | quality bar |`);
    L.push(`|${columns.map(() => '---').join('|')}|---|`);
    for (const s of r.steps) {
      const bar = s.qualityBar.pass === null ? `unknown (${s.qualityBar.unknown.join(', ')})` : s.qualityBar.pass ? 'holds' : `fails: ${s.qualityBar.failed.join(', ')}`;
      L.push(`| ${columns.map(([k]) => (k === 'concurrency' ? String(s.concurrency) : k === 'rate' ? String(s.rate ?? '') : show(s.measures[k]).replace(/\|/g, '/'))).join(' | ')} | ${bar} |`);
    }
    L.push('');
  }
  L.push('CPU in % of one core (200 % = both cores of a 2-core machine). n/a: not measured, the JSON says why.', '');
  L.push('## Summary', '');
  for (const [k, m] of Object.entries(r.summary)) L.push(`- ${k}: ${show(m)}`);
  L.push('');
  if (r.targets.length) {
    L.push('## Targets', '', '| target | goal | measured | met |', '|---|---|---|---|');
    for (const t of r.targets) L.push(`| ${t.target} | ${t.goal} | ${t.measured} | ${verdict(t, 'md')} |`);
    L.push('');
  }
  if (charts.length) { L.push('## Charts', ''); for (const c of charts) L.push(`![${c}](${c})`); L.push(''); }
  if (r.notes.length) { L.push('## Notes', ''); for (const n of r.notes) L.push(`- ${n}`); L.push(''); }
  return L.join('\n');
}

export function writeJson(file: string, r: Report): void { writeFileSync(file, JSON.stringify(r, null, 1)); }

function fmtRatio(a: number | null, b: number | null): string {
  if (a === null || b === null) return 'n/a';
  if (a === 0 && b === 0) return '1.00';
  if (a === 0) return '∞';
  return (b / a).toFixed(2);
}

/** `--compare A.json B.json`: for every measure present in both (steps matched by concurrency), B / A. */
export function compare(fileA: string, fileB: string): string {
  const a = JSON.parse(readFileSync(fileA, 'utf8')) as Report;
  const b = JSON.parse(readFileSync(fileB, 'utf8')) as Report;
  const out: string[] = [];
  out.push(`A: ${fileA} (${a.scenario}, ${a.startedAt}, load ${a.machine.loadavgStart.join(' ')})`);
  out.push(`B: ${fileB} (${b.scenario}, ${b.startedAt}, load ${b.machine.loadavgStart.join(' ')})`);
  out.push('ratio = B / A (below 1: B is lower)', '');
  const row = (name: string, ma: Measure | undefined, mb: Measure | undefined): void => {
    if (!ma || !mb) return;
    out.push(`${name.padEnd(40)} ${String(ma.value ?? 'n/a').padStart(12)} ${String(mb.value ?? 'n/a').padStart(12)}  ×${fmtRatio(ma.value, mb.value)}${ma.unit ? `  (${ma.unit})` : ''}`);
  };
  out.push(`${'measure'.padEnd(40)} ${'A'.padStart(12)} ${'B'.padStart(12)}  ratio`);
  for (const k of Object.keys(a.baseline ?? {})) row(`baseline ${k}`, a.baseline[k], b.baseline?.[k]);
  for (const k of Object.keys(a.summary ?? {})) row(`summary ${k}`, a.summary[k], b.summary?.[k]);
  const label = (s: StepReport): string => (s.rate !== undefined ? `${s.rate}/s` : `${s.concurrency} calls`);
  for (const sa of a.steps ?? []) {
    const sb = (b.steps ?? []).find((s) => label(s) === label(sa));
    if (!sb) { out.push(`step ${label(sa)}: only in A`); continue; }
    for (const k of Object.keys(sa.measures)) row(`${label(sa)} ${k}`, sa.measures[k], sb.measures[k]);
  }
  for (const sb of b.steps ?? []) if (!(a.steps ?? []).some((s) => label(s) === label(sb))) out.push(`step ${label(sb)}: only in B`);
  return out.join('\n');
}
