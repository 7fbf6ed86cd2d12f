/**
 * `npm run bench -- <what> [options]`
 *
 *   sip | pacer | tts | udp | http   micro-benches (no argument: all five); `--quick` shortens the pacer runs
 *   ivr [--quick]            concurrent-call load: ramp in steps, quality per step (bench/load/ivr.ts)
 *       [--steps 100,250,...] [--window S] [--ramp S] [--hold MS] [--probe N] [--target HOST:PORT]
 *       [--out DIR] [--workers N] [--niceness N] [--node-flags "--max-old-space-size=256"] [--taskset 0] [--no-stop] [--no-caller-audio]
 *   cps [--quick]            highest call rate with zero failures, RFC 7502 step-up then bisect (bench/load/cps.ts)
 *       [--start-rate N] [--max-rate N | --rate N (one trial, no search)] [--sustain S] [--target HOST:PORT] [--out DIR] [--workers N] [--niceness N] [--node-flags ...] [--taskset 0]
 *   soak [--quick] [--calls N] [--duration S]   ivr calls held at N for S seconds: memory and latency drift
 *   bridge [--quick]         concurrent calls bridged by `resources` to a SIPp carrier echoing RTP, after a reference
 *       run of the same load straight at the carrier (bench/load/bridge.ts); ivr's step options, --no-reference
 *   --compare A.json B.json  ratios between two load reports (B / A)
 *
 * Micro-bench results go to bench/results/bench-<time>.json; load runs to bench/results/<scenario>-<time>/
 * (report.json, report.md, *.svg). Targets are reported, never asserted.
 */
import os from 'node:os';
import { writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { verdict } from './load/report.js';

const argv = process.argv.slice(2);

/** `--help`: the usage above, read from this file's leading comment (one text, not a copy). */
function usage(): string {
  const src = readFileSync(new URL(import.meta.url), 'utf8');
  const m = /^\/\*\*\n([\s\S]*?)\n \*\//.exec(src);
  return m ? m[1]!.split('\n').map((l) => l.replace(/^ \* ?/, '')).join('\n') + '\n' : 'see bench/run.ts\n';
}

async function micro(args: string[]): Promise<void> {
  const { run: sipParse } = await import('./sip-parse.js');
  const { run: pacer } = await import('./pacer.js');
  const { run: tts } = await import('./tts.js');
  const { run: udp } = await import('./udp.js');
  const { run: http } = await import('./http.js');
  const quick = args.includes('--quick');
  const wanted = args.filter((a) => !a.startsWith('--'));
  const all = wanted.length === 0;
  const print = (name: string, r: Record<string, number>): void => {
    process.stdout.write(`\n## ${name}\n`);
    for (const [k, v] of Object.entries(r)) process.stdout.write(`${k.padEnd(48)} ${Number.isInteger(v) ? v : v.toFixed(3)}\n`);
  };
  const results: Record<string, Record<string, number>> = {};
  const machine = { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', node: process.version, loadavg: os.loadavg() };
  process.stdout.write(`Hookline bench on ${machine.cpus} x ${machine.model}, Node ${machine.node}, load ${machine.loadavg.map((l) => l.toFixed(1)).join(' ')}\n`);
  if (all || wanted.includes('sip')) { results.sipParse = await sipParse(); print('SIP parse (INVITEs/s)', results.sipParse); }
  if (all || wanted.includes('pacer')) { results.pacer = await pacer({ quick }); print('RTP pacer (send jitter at 200 and 1,000 streams)', results.pacer); }
  if (all || wanted.includes('tts')) { results.tts = await tts(); print('TTS', results.tts); }
  if (all || wanted.includes('udp')) { results.udp = await udp(); print('UDP floor: CPU per RTP packet, bare Node dgram vs Hookline\'s media engine (µs)', results.udp); }
  if (all || wanted.includes('http')) { results.http = await http(); print('Webhook client: CPU per request, global fetch vs util/http.ts (µs)', results.http); }
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, JSON.stringify({ machine, command: `npm run bench -- ${args.join(' ')}`.trim(), results }, null, 2));
  process.stdout.write(`\nresults written to ${file}\n`);
}

function numList(s: string | undefined, name: string): number[] | undefined {
  if (s === undefined) return undefined;
  const xs = s.split(',').map((v) => Number(v.trim()));
  if (!xs.length || xs.some((v) => !Number.isInteger(v) || v <= 0)) throw new Error(`--${name} wants positive integers separated by commas, got ${s}`);
  return xs.sort((a, b) => a - b);
}

/** A nice value for Hookline's media threads (rtp.niceness), -20..19. */
function niceness(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const v = Number(s);
  if (!Number.isInteger(v) || v < -20 || v > 19) throw new Error(`--niceness wants an integer from -20 to 19, got ${s}`);
  return v;
}

function num(s: string | undefined, name: string): number | undefined {
  if (s === undefined) return undefined;
  const v = Number(s);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} wants a number, got ${s}`);
  return v;
}

async function ivr(args: string[], scenario: 'ivr' | 'soak' = 'ivr'): Promise<void> {
  const { values } = parseArgs({
    args, allowPositionals: true,
    options: {
      quick: { type: 'boolean' }, steps: { type: 'string' }, window: { type: 'string' }, ramp: { type: 'string' },
      hold: { type: 'string' }, probe: { type: 'string' }, target: { type: 'string' }, out: { type: 'string' },
      workers: { type: 'string' }, niceness: { type: 'string' }, 'node-flags': { type: 'string' }, taskset: { type: 'string' }, 'no-stop': { type: 'boolean' },
      'no-caller-audio': { type: 'boolean' }, calls: { type: 'string' }, duration: { type: 'string' },
    },
  });
  const quick = values.quick === true;
  const { runIvr, installSignalHandlers } = await import('./load/ivr.js');
  installSignalHandlers();
  const workers = num(values.workers, 'workers');
  const soak = scenario === 'soak';
  const { report, dir } = await runIvr({
    argv, quick, scenario,
    steps: soak ? [num(values.calls, 'calls') ?? (quick ? 20 : 200)] : numList(values.steps, 'steps') ?? (quick ? [10, 25, 50] : [100, 250, 500, 1000, 1500, 2000, 2500, 3000]),
    windowSeconds: soak ? num(values.duration, 'duration') ?? (quick ? 30 : 600) : num(values.window, 'window') ?? (quick ? 6 : 20),
    rampSeconds: num(values.ramp, 'ramp') ?? (quick ? 8 : 40),
    holdMs: num(values.hold, 'hold') ?? (quick ? 3000 : 20000),
    probeCalls: num(values.probe, 'probe') ?? (quick ? 3 : 5),
    ...(values.target ? { target: values.target } : {}),
    ...(values.out ? { outDir: values.out } : {}),
    ...(workers !== undefined ? { workers } : {}),
    ...(values.niceness !== undefined ? { niceness: niceness(values.niceness) } : {}),
    nodeFlags: values['node-flags'] ? values['node-flags'].split(/\s+/).filter(Boolean) : [],
    ...(values.taskset ? { taskset: values.taskset } : {}),
    noStop: values['no-stop'] === true,
    callerAudio: values['no-caller-audio'] !== true,
  });
  if (soak) {
    for (const k of ['rssDriftMBPerMin', 'setupP99FirstThirdMs', 'setupP99LastThirdMs', 'eldP99FirstThirdMs', 'eldP99LastThirdMs', 'heapFirstThirdMB', 'heapLastThirdMB']) {
      const m = report.summary[k];
      process.stdout.write(`${k.padEnd(24)} ${m?.value ?? `n/a (${m?.reason ?? ''})`} ${m?.unit ?? ''}\n`);
    }
  } else process.stdout.write(`\n${report.summary.maxConcurrentHoldingBar?.value ?? 'no step'} concurrent calls held the quality bar\n`);
  for (const t of report.targets) process.stdout.write(`target ${t.target}: goal ${t.goal}, measured ${t.measured} → ${verdict(t, 'text')}\n`);
  process.stdout.write(`report: ${dir}/report.json, ${dir}/report.md, charts ${dir}/*.svg\n`);
}

async function bridge(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args, allowPositionals: true,
    options: {
      quick: { type: 'boolean' }, steps: { type: 'string' }, window: { type: 'string' }, ramp: { type: 'string' },
      hold: { type: 'string' }, probe: { type: 'string' }, out: { type: 'string' }, workers: { type: 'string' }, niceness: { type: 'string' },
      'node-flags': { type: 'string' }, taskset: { type: 'string' }, 'no-stop': { type: 'boolean' }, 'no-reference': { type: 'boolean' },
    },
  });
  const quick = values.quick === true;
  const { runBridge } = await import('./load/bridge.js');
  const { installSignalHandlers } = await import('./load/ivr.js');
  installSignalHandlers();
  const workers = num(values.workers, 'workers');
  const { report, dir } = await runBridge({
    argv, quick,
    steps: numList(values.steps, 'steps') ?? (quick ? [10, 25, 50] : [100, 250, 500, 1000, 1500]),
    windowSeconds: num(values.window, 'window') ?? (quick ? 6 : 20),
    rampSeconds: num(values.ramp, 'ramp') ?? (quick ? 8 : 40),
    holdMs: num(values.hold, 'hold') ?? (quick ? 1000 : 10000),
    probeCalls: num(values.probe, 'probe') ?? (quick ? 3 : 5),
    ...(values.out ? { outDir: values.out } : {}),
    ...(workers !== undefined ? { workers } : {}),
    ...(values.niceness !== undefined ? { niceness: niceness(values.niceness) } : {}),
    nodeFlags: values['node-flags'] ? values['node-flags'].split(/\s+/).filter(Boolean) : [],
    ...(values.taskset ? { taskset: values.taskset } : {}),
    noStop: values['no-stop'] === true,
    reference: values['no-reference'] !== true,
  });
  const ref = report.reference?.summary.maxConcurrentHoldingBar;
  process.stdout.write(`\n${report.summary.maxConcurrentHoldingBar?.value ?? 'no step'} concurrent bridged calls held the quality bar (reference, no B2BUA: ${ref ? ref.value ?? 'no step' : 'not run'})\n`);
  for (const t of report.targets) process.stdout.write(`target ${t.target}: goal ${t.goal}, measured ${t.measured} → ${verdict(t, 'text')}\n`);
  process.stdout.write(`report: ${dir}/report.json, ${dir}/report.md, charts ${dir}/*.svg\n`);
}

async function cps(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args, allowPositionals: true,
    options: {
      quick: { type: 'boolean' }, 'start-rate': { type: 'string' }, 'max-rate': { type: 'string' }, rate: { type: 'string' }, sustain: { type: 'string' },
      target: { type: 'string' }, out: { type: 'string' }, workers: { type: 'string' }, niceness: { type: 'string' }, 'node-flags': { type: 'string' }, taskset: { type: 'string' },
    },
  });
  const quick = values.quick === true;
  const { runCps } = await import('./load/cps.js');
  const { installSignalHandlers } = await import('./load/ivr.js');
  installSignalHandlers();
  const workers = num(values.workers, 'workers');
  const rate = num(values.rate, 'rate');
  const { report, dir } = await runCps({
    argv, quick,
    startRate: num(values['start-rate'], 'start-rate') ?? (quick ? 25 : 50),
    maxRate: num(values['max-rate'], 'max-rate') ?? (quick ? 400 : 2000),
    ...(rate !== undefined ? { rate } : {}),
    sustainSeconds: num(values.sustain, 'sustain') ?? (quick ? 5 : 30),
    ...(values.target ? { target: values.target } : {}),
    ...(values.out ? { outDir: values.out } : {}),
    ...(workers !== undefined ? { workers } : {}),
    ...(values.niceness !== undefined ? { niceness: niceness(values.niceness) } : {}),
    nodeFlags: values['node-flags'] ? values['node-flags'].split(/\s+/).filter(Boolean) : [],
    ...(values.taskset ? { taskset: values.taskset } : {}),
  });
  process.stdout.write(`\nhighest rate with zero failures: ${report.summary.maxRateZeroFailures?.value ?? 'none'} calls/s\n`);
  for (const t of report.targets) process.stdout.write(`target ${t.target}: goal ${t.goal}, measured ${t.measured} → ${verdict(t, 'text')}\n`);
  process.stdout.write(`report: ${dir}/report.json, ${dir}/report.md, charts ${dir}/*.svg\n`);
}

try {
  const cmp = argv.indexOf('--compare');
  if (argv.includes('--help') || argv.includes('-h')) { process.stdout.write(usage()); process.exit(0); }
  if (cmp >= 0) {
    const [a, b] = [argv[cmp + 1], argv[cmp + 2]];
    if (!a || !b) throw new Error('--compare wants two report files: --compare A.json B.json');
    const { compare } = await import('./load/report.js');
    process.stdout.write(`${compare(a, b)}\n`);
  } else if (argv[0] === 'ivr') {
    await ivr(argv.slice(1));
  } else if (argv[0] === 'soak') {
    await ivr(argv.slice(1), 'soak');
  } else if (argv[0] === 'cps') {
    await cps(argv.slice(1));
  } else if (argv[0] === 'bridge') {
    await bridge(argv.slice(1));
  } else {
    await micro(argv);
  }
  const { isStopping } = await import('./load/ivr.js');
  process.exit(isStopping() ? 130 : 0);
} catch (err) {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  try { const { cleanupAll } = await import('./load/ivr.js'); await cleanupAll(); } catch { /* nothing started */ }
  process.exit(1);
}
