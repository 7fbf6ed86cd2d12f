/**
 * `npm run bench [-- --quick] [-- sip|pacer|tts ...]`: runs the benchmarks and prints one table of results,
 * with the machine they ran on. Each bench reports ratios against a baseline measured in the same run.
 * Targets (reported, never asserted): SIP parse >= 100,000 INVITEs/s; 1,000 paced streams with p99 jitter <= 5 ms.
 */
import os from 'node:os';
import { writeFileSync, mkdirSync } from 'node:fs';
import { run as sipParse } from './sip-parse.js';
import { run as pacer } from './pacer.js';
import { run as tts } from './tts.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const wanted = args.filter((a) => !a.startsWith('--'));
const all = wanted.length === 0;

function print(name: string, r: Record<string, number>): void {
  process.stdout.write(`\n## ${name}\n`);
  for (const [k, v] of Object.entries(r)) {
    process.stdout.write(`${k.padEnd(48)} ${Number.isInteger(v) ? v : v.toFixed(3)}\n`);
  }
}

const results: Record<string, Record<string, number>> = {};
const machine = { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', node: process.version, loadavg: os.loadavg() };
process.stdout.write(`Hookline bench on ${machine.cpus} x ${machine.model}, Node ${machine.node}, load ${machine.loadavg.map((l) => l.toFixed(1)).join(' ')}\n`);

if (all || wanted.includes('sip')) { results.sipParse = await sipParse(); print('SIP parse (INVITEs/s)', results.sipParse); }
if (all || wanted.includes('pacer')) { results.pacer = await pacer({ quick }); print('RTP pacer (send jitter at 200 and 1,000 streams)', results.pacer); }
if (all || wanted.includes('tts')) { results.tts = await tts(); print('TTS', results.tts); }

mkdirSync('bench/results', { recursive: true });
const file = `bench/results/bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
writeFileSync(file, JSON.stringify({ machine, command: `npm run bench -- ${args.join(' ')}`.trim(), results }, null, 2));
process.stdout.write(`\nresults written to ${file}\n`);
process.exit(0);
