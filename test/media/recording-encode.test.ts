/** Recording files (src/media/recording.ts): WAV header and length; MP3 decodes back with its length and tone. */
import t from 'tap';
import { encodeRecording, encodeMp3 } from '../../src/media/recording.js';
import { readWav } from '../../src/media/wav.js';
import { decodeMp3 } from '../../src/media/mp3.js';
import { tone } from '../../src/media/tone.js';
import { goertzel, toneSeconds } from '../helpers/audio-check.js';

t.test('WAV: RIFF header for 8 kHz 16-bit mono PCM, sizes match the samples', async (t) => {
  const pcm = tone([1000], { durationMs: 1500 });
  const f = await encodeRecording(pcm, 'wav');
  const b = Buffer.from(f);
  t.equal(b.toString('ascii', 0, 4), 'RIFF');
  t.equal(b.readUInt32LE(4), 36 + pcm.length * 2, 'RIFF size');
  t.equal(b.toString('ascii', 8, 12), 'WAVE');
  t.equal(b.toString('ascii', 12, 16), 'fmt ');
  t.equal(b.readUInt16LE(20), 1, 'PCM');
  t.equal(b.readUInt16LE(22), 1, 'mono');
  t.equal(b.readUInt32LE(24), 8000, '8 kHz');
  t.equal(b.readUInt32LE(28), 16000, 'byte rate');
  t.equal(b.readUInt16LE(34), 16, '16-bit');
  t.equal(b.toString('ascii', 36, 40), 'data');
  t.equal(b.readUInt32LE(40), pcm.length * 2, 'data size');
  t.equal(f.length, 44 + pcm.length * 2, 'file length');
  const back = readWav(f);
  t.same(Array.from(back.pcm.subarray(0, 50)), Array.from(pcm.subarray(0, 50)), 'samples round-trip');
  t.equal((await encodeRecording(new Int16Array(0), 'wav')).length, 44, 'empty recording: header only');
});

t.test('MP3: decodes back (mpg123) with the same length, and a 1 kHz tone stays 1 kHz', async (t) => {
  const pcm = tone([1000], { durationMs: 4000, amplitude: 12000 });
  const f = await encodeRecording(pcm, 'mp3');
  t.ok(f.length > 1000 && f.length < 4 * 4000 + 2000, `about 4 KB/s at 32 kbit/s (${f.length} bytes)`);
  t.ok(f[0] === 0xff && (f[1]! & 0xe0) === 0xe0, 'starts with an MPEG frame sync');
  const d = await decodeMp3(f);
  t.equal(d.sampleRate, 8000);
  const secs = d.pcm.length / 8000;
  t.ok(Math.abs(secs - 4) < 0.25, `decoded duration ${secs.toFixed(3)} s ≈ 4 s`);
  const mid = d.pcm.subarray(4000, 28000);
  const p1000 = goertzel(mid, 1000);
  t.ok(p1000 > 50 * goertzel(mid, 700) && p1000 > 50 * goertzel(mid, 1400), '1 kHz dominates after the round trip');
  t.ok(toneSeconds(d.pcm, 1000, [600, 1400]) > 3.5, 'the tone lasts the whole file');
});

t.test('MP3 of a long recording is encoded off the main thread', async (t) => {
  const seconds = 120;
  const pcm = tone([440, 1200], { durationMs: seconds * 1000 });
  let maxGap = 0;
  let last = performance.now();
  let ticks = 0;
  const iv = setInterval(() => { const n = performance.now(); maxGap = Math.max(maxGap, n - last); last = n; ticks++; }, 5);
  const t0 = performance.now();
  const [f, g] = await Promise.all([encodeMp3(pcm), encodeMp3(pcm.subarray(0, 8000))]);
  const ms = performance.now() - t0;
  clearInterval(iv);
  t.ok(f.length > 100_000 && g.length > 1000, 'two files at once');
  t.ok(ticks > 10, `timers ran during the encoding (${ticks})`);
  // on the main thread the stall would be the whole encoding (or at least a slice plus the warm-up); the bound
  // leaves room for a loaded machine (full test suite in parallel)
  t.ok(maxGap < Math.max(150, ms / 4), `longest main-thread stall ${maxGap.toFixed(1)} ms (encoding ${seconds} s took ${ms.toFixed(0)} ms)`);
  t.ok(pcm[101] !== 0 && pcm.length === seconds * 8000, 'the caller keeps its samples (the worker got a copy)');
});
