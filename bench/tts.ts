/**
 * TTS and codec benchmark. Every figure is measured in this run; ratios are against a baseline from the
 * same run (prewarmed vs per-request instantiation; table G.711 vs per-sample segment search).
 *
 *   node dist/bench/tts.js           (exports `run()` for bench/run.ts)
 *
 * Keys (ms unless named otherwise):
 *   cold_first_ms          new engine → first sentence (worker start, WASM compile, synthesis)
 *   warm_sentence_ms       median engine time per sentence, prewarmed instance (default)
 *   warm_noprewarm_ms      same without prewarm (instantiate per request: the baseline)
 *   prewarm_speedup        warm_noprewarm_ms / warm_sentence_ms
 *   rtf                    warm synthesis time / audio duration (lower is better)
 *   service_sentence_ms    TtsService end to end (synth + 16→8 kHz resample + normalise), cache miss
 *   cache_hit_us           TtsService cache hit, microseconds
 *   resample_16k_8k_x      resampler speed, × real time
 *   g711_table_msps        μ-law table encode, million samples/s; g711_speedup vs segment search
 *   dtmf_x                 DTMF detector speed, × real time (8 kHz)
 */
import { fileURLToPath } from 'node:url';
import { DtmfDetector } from '../src/media/dtmf-detector.js';
import { encodeMulaw } from '../src/media/g711.js';
import { resample } from '../src/media/resample.js';
import { concatPcm, dtmfTone, silence, tone } from '../src/media/tone.js';
import { FliteEngine } from '../src/media/tts/flite-engine.js';
import { TtsService } from '../src/media/tts/service.js';

/** Idle time between requests, ms. */
const GAP_MS = 300;

const SENTENCES = [
  'Hello Sally.',
  'Your current account balance is 5 dollars and 72 cents.',
  'Please enter your account number, followed by the pound key.',
  'Thank you for calling.',
  'To speak to an operator, press zero.',
  'Your call is important to us.',
  'Goodbye.',
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function engineRun(prewarm: boolean, rounds: number): Promise<{ cold: number; warm: number; rtf: number }> {
  const t0 = performance.now();
  const engine = new FliteEngine({ workers: 1, prewarm });
  await engine.synthesize('Warming up.', 'slt');
  const cold = performance.now() - t0;
  const times: number[] = [];
  let audioSec = 0;
  let synthMs = 0;
  for (let r = 0; r < rounds; r++) {
    for (const s of SENTENCES) {
      // Requests arrive with gaps, as on a real switch (gives the prewarm a chance, like idle time would).
      await new Promise((res) => setTimeout(res, GAP_MS));
      const a = performance.now();
      const out = await engine.synthesize(`${s} ${r}`, 'slt');
      const ms = performance.now() - a;
      times.push(ms);
      synthMs += ms;
      audioSec += out.pcm.length / out.sampleRate;
    }
  }
  await engine.close();
  return { cold, warm: median(times), rtf: synthMs / 1000 / audioSec };
}

/** The encoder as G.711 describes it: per-sample segment search (baseline for the table version). */
function mulawSearch(sample: number): number {
  let v = sample >> 2;
  let mask = 0xff;
  if (v < 0) {
    v = -v - 1;
    mask = 0x7f;
  }
  if (v > 8159) v = 8159;
  v += 33;
  let seg = 0;
  while (seg < 8 && v >= 0x40 << seg) seg++;
  return ((seg << 4) | ((v >> (seg + 1)) & 0x0f)) ^ mask;
}

function codecBench(): Record<string, number> {
  const pcm = tone([440, 1800], { durationMs: 10_000, amplitude: 12000 }); // 80 000 samples
  const out = new Uint8Array(pcm.length);
  const reps = 50;
  encodeMulaw(pcm, out);
  let t0 = performance.now();
  for (let r = 0; r < reps; r++) encodeMulaw(pcm, out);
  const tableMs = performance.now() - t0;
  t0 = performance.now();
  for (let r = 0; r < reps; r++) for (let i = 0; i < pcm.length; i++) out[i] = mulawSearch(pcm[i]!);
  const searchMs = performance.now() - t0;

  const speech = tone([180, 360, 540, 900, 2300], { durationMs: 5000, sampleRate: 16000, amplitude: 5000 });
  resample(speech, 16000, 8000);
  t0 = performance.now();
  for (let r = 0; r < 10; r++) resample(speech, 16000, 8000);
  const resMs = (performance.now() - t0) / 10;

  const keys = concatPcm(Array.from('0123456789*#', (k) => concatPcm([dtmfTone(k, { durationMs: 80 }), silence(80)])));
  const det = new DtmfDetector();
  const frame = 160;
  let digits = 0;
  t0 = performance.now();
  const dreps = 20;
  for (let r = 0; r < dreps; r++) {
    for (let i = 0; i + frame <= keys.length; i += frame) det.process(keys.subarray(i, i + frame), () => digits++);
  }
  const dtmfMs = performance.now() - t0;
  return {
    g711_table_msps: (pcm.length * reps) / tableMs / 1000,
    g711_search_msps: (pcm.length * reps) / searchMs / 1000,
    g711_speedup: searchMs / tableMs,
    resample_16k_8k_x: 5000 / resMs,
    dtmf_x: ((keys.length / 8) * dreps) / dtmfMs,
    dtmf_digits_seen: digits,
  };
}

export async function run(): Promise<Record<string, number>> {
  const rounds = 2;
  // GAP_MS between requests: a switch is not synthesising back to back; the gap lets the prewarm happen.
  const base = await engineRun(false, rounds);
  const pre = await engineRun(true, rounds);

  const tts = new TtsService({ workers: 1 });
  await tts.synthesize('Warming up.');
  const svc: number[] = [];
  for (const s of SENTENCES) {
    await new Promise((res) => setTimeout(res, GAP_MS));
    const a = performance.now();
    await tts.synthesize(s);
    svc.push(performance.now() - a);
  }
  const hits: number[] = [];
  for (let i = 0; i < 200; i++) {
    const a = performance.now();
    await tts.synthesize(SENTENCES[i % SENTENCES.length]!);
    hits.push(performance.now() - a);
  }
  await tts.close();

  return {
    cold_first_ms: pre.cold,
    warm_sentence_ms: pre.warm,
    warm_noprewarm_ms: base.warm,
    prewarm_speedup: base.warm / pre.warm,
    rtf: pre.rtf,
    service_sentence_ms: median(svc),
    cache_hit_us: median(hits) * 1000,
    ...codecBench(),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await run();
  const width = Math.max(...Object.keys(r).map((k) => k.length));
  for (const [k, v] of Object.entries(r)) process.stdout.write(`${k.padEnd(width)}  ${v.toFixed(3)}\n`);
}
