import t from 'tap';
import { Resampler, resample, resampledLength } from '../../src/media/resample.js';
import { tone } from '../../src/media/tone.js';

/** RMS over the middle of a buffer (skipping the filter's edge transients). */
function rms(pcm: Int16Array, skip = 200): number {
  let s = 0;
  let n = 0;
  for (let i = skip; i < pcm.length - skip; i++) {
    s += pcm[i]! * pcm[i]!;
    n++;
  }
  return Math.sqrt(s / n);
}

const db = (a: number, b: number): number => 20 * Math.log10(a / b);

t.test('16 kHz → 8 kHz: 3.5 kHz passes, 5 kHz (would alias to 3 kHz) is removed', async (t) => {
  const pass = tone(3500, { durationMs: 500, sampleRate: 16000, amplitude: 10000 });
  const stop = tone(5000, { durationMs: 500, sampleRate: 16000, amplitude: 10000 });
  const a = resample(pass, 16000, 8000);
  const b = resample(stop, 16000, 8000);
  t.equal(a.length, 4000);
  const gain = db(rms(a), rms(pass));
  const atten = db(rms(b), rms(stop));
  t.ok(Math.abs(gain) < 0.5, `3.5 kHz gain ${gain.toFixed(2)} dB`);
  t.ok(atten <= -40, `5 kHz attenuation ${atten.toFixed(1)} dB`);
  // Naive decimation would keep the alias at full level.
  const naive = new Int16Array(stop.length / 2);
  for (let i = 0; i < naive.length; i++) naive[i] = stop[2 * i]!;
  t.ok(db(rms(naive), rms(stop)) > -3, 'naive decimation aliases (sanity)');
});

t.test('22050 → 8000 keeps 1 kHz and removes 6 kHz', async (t) => {
  const pass = tone(1000, { durationMs: 500, sampleRate: 22050, amplitude: 10000 });
  const stop = tone(6000, { durationMs: 500, sampleRate: 22050, amplitude: 10000 });
  const a = resample(pass, 22050, 8000);
  t.equal(a.length, resampledLength(pass.length, 22050, 8000));
  t.ok(Math.abs(a.length - 4000) <= 1);
  t.ok(Math.abs(db(rms(a), rms(pass))) < 0.5, 'passband');
  t.ok(db(rms(resample(stop, 22050, 8000)), rms(stop)) <= -40, 'stopband');
  // Frequency is preserved: zero crossings of a 1 kHz tone at 8 kHz ≈ 2 per ms.
  let zc = 0;
  for (let i = 201; i < a.length - 200; i++) if ((a[i - 1]! < 0) !== (a[i]! < 0)) zc++;
  const ms = (a.length - 401) / 8;
  t.ok(Math.abs(zc / ms - 2) < 0.05, `zero crossings per ms ${(zc / ms).toFixed(3)}`);
});

t.test('8000 → 16000 interpolates without images', async (t) => {
  const src = tone(3000, { durationMs: 500, sampleRate: 8000, amplitude: 10000 });
  const up = resample(src, 8000, 16000);
  t.equal(up.length, 7999);
  t.ok(Math.abs(db(rms(up), rms(src))) < 0.5, 'level kept');
  // The image at 5 kHz should be ≥ 40 dB down: measure by Goertzel at 5 kHz vs 3 kHz.
  const g = (f: number): number => {
    const k = 2 * Math.cos((2 * Math.PI * f) / 16000);
    let s1 = 0;
    let s2 = 0;
    for (let i = 400; i < up.length - 400; i++) {
      const s0 = up[i]! + k * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    return s1 * s1 + s2 * s2 - k * s1 * s2;
  };
  t.ok(10 * Math.log10(g(5000) / g(3000)) <= -40, 'image suppressed');
});

t.test('44100 and 48000 → 8000 and odd rates work', async (t) => {
  for (const rate of [44100, 48000, 11025, 32000, 12345]) {
    const src = tone(440, { durationMs: 300, sampleRate: rate, amplitude: 8000 });
    const out = resample(src, rate, 8000);
    t.ok(Math.abs(out.length - 2400) <= 1, `${rate}: length ${out.length}`);
    t.ok(Math.abs(db(rms(out, 100), rms(src, 100))) < 0.5, `${rate}: level`);
  }
  t.same(resample(new Int16Array([1, 2, 3]), 8000, 8000), new Int16Array([1, 2, 3]), 'same rate copies');
  t.equal(resample(new Int16Array(0), 16000, 8000).length, 0);
  t.throws(() => resample(new Int16Array(10), 0, 8000), RangeError);
});

t.test('streaming Resampler matches the whole-buffer result', async (t) => {
  for (const [from, to] of [
    [16000, 8000],
    [22050, 8000],
    [8000, 16000],
  ] as const) {
    const src = tone([300, 2500], { durationMs: 200, sampleRate: from, amplitude: 6000 });
    const whole = resample(src, from, to);
    const r = new Resampler(from, to);
    const parts: number[] = [];
    const out = new Int16Array(r.maxOutput(333));
    for (let i = 0; i < src.length; i += 333) {
      const n = r.process(src.subarray(i, i + 333), out);
      for (let k = 0; k < n; k++) parts.push(out[k]!);
    }
    const tail = new Int16Array(r.maxOutput(r.fromRate));
    const n = r.flush(tail);
    for (let k = 0; k < n; k++) parts.push(tail[k]!);
    t.equal(parts.length, whole.length, `${from}→${to} length`);
    let maxDiff = 0;
    for (let i = 0; i < whole.length; i++) maxDiff = Math.max(maxDiff, Math.abs(whole[i]! - (parts[i] ?? 0)));
    t.ok(maxDiff <= 1, `${from}→${to} max diff ${maxDiff}`);
  }
});
