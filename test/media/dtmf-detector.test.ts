import t from 'tap';
import { DtmfDetector } from '../../src/media/dtmf-detector.js';
import { concatPcm, dtmfTone, silence, tone } from '../../src/media/tone.js';
import { MULAW_DECODE, linearToMulaw, ALAW_DECODE, linearToAlaw } from '../../src/media/g711.js';

/** Run `pcm` through a fresh detector in `chunk`-sample pieces and return the digits. */
function detect(pcm: Int16Array, chunk = 160, rate = 8000): string {
  const d = new DtmfDetector(rate);
  let digits = '';
  for (let i = 0; i < pcm.length; i += chunk) d.process(pcm.subarray(i, i + chunk), (k) => (digits += k));
  return digits;
}

function keys(seq: string, onMs: number, offMs: number, rate = 8000, amplitude = 6000, twistDb = 0): Int16Array {
  const parts: Int16Array[] = [silence(30, rate)];
  for (const k of seq) {
    parts.push(dtmfTone(k, { durationMs: onMs, sampleRate: rate, amplitude, twistDb }), silence(offMs, rate));
  }
  return concatPcm(parts);
}

/** Deterministic pseudo-random noise (LCG), uniform in ±amp. */
function noise(n: number, amp: number, seed = 1): Int16Array {
  const out = new Int16Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = Math.round((s / 0x100000000 - 0.5) * 2 * amp);
  }
  return out;
}

function mix(a: Int16Array, b: Int16Array): Int16Array {
  const out = new Int16Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Math.max(-32768, Math.min(32767, a[i]! + (b[i] ?? 0)));
  return out;
}

const ALL = '123A456B789C*0#D';

t.test('all sixteen keys, 100 ms on / 100 ms off', async (t) => {
  t.equal(detect(keys(ALL, 100, 100)), ALL);
});

t.test('40 ms tones with 40 ms gaps (Q.24 minimum) are all caught', async (t) => {
  t.equal(detect(keys(ALL, 40, 40)), ALL);
  t.equal(detect(keys('5555', 40, 40)), '5555');
});

t.test('a long press is reported once; the same key after a gap twice', async (t) => {
  t.equal(detect(keys('7', 1500, 50)), '7');
  t.equal(detect(keys('99', 80, 60)), '99');
});

t.test('a key change without a gap reports both keys', async (t) => {
  const pcm = concatPcm([dtmfTone('1', { durationMs: 80, rampMs: 0 }), dtmfTone('2', { durationMs: 80, rampMs: 0 }), silence(50)]);
  t.equal(detect(pcm), '12');
});

t.test('chunk size does not matter', async (t) => {
  const pcm = keys('#90*', 60, 60);
  for (const chunk of [1, 7, 80, 102, 160, 333, 4096]) t.equal(detect(pcm, chunk), '#90*', `chunk ${chunk}`);
});

t.test('survives G.711 μ-law and A-law', async (t) => {
  const pcm = keys(ALL, 60, 60, 8000, 3000);
  const u = pcm.map((s) => MULAW_DECODE[linearToMulaw(s)]!);
  const a = pcm.map((s) => ALAW_DECODE[linearToAlaw(s)]!);
  t.equal(detect(u), ALL);
  t.equal(detect(a), ALL);
});

t.test('tolerates twist within limits and noise at 20 dB SNR', async (t) => {
  t.equal(detect(keys('159', 80, 80, 8000, 4000, 4)), '159', 'column +4 dB');
  t.equal(detect(keys('159', 80, 80, 8000, 4000, -4)), '159', 'row +4 dB');
  const pcm = keys(ALL, 80, 80, 8000, 6000);
  // Uniform noise of amplitude A has RMS A/√3; two tones of 6000 have RMS 6000. 20 dB SNR → A ≈ 1040.
  t.equal(detect(mix(pcm, noise(pcm.length, 1040))), ALL);
});

t.test('rejects what is not DTMF', async (t) => {
  t.equal(detect(keys('5', 200, 50, 8000, 6000, 14)), '', 'excessive normal twist');
  t.equal(detect(keys('5', 200, 50, 8000, 6000, -12)), '', 'excessive reverse twist');
  t.equal(detect(keys('5', 200, 50, 8000, 100)), '', 'too quiet');
  t.equal(detect(keys('5', 10, 100)), '', '10 ms blip');
  t.equal(detect(tone(1000, { durationMs: 500, amplitude: 10000 })), '', 'single 1 kHz tone');
  t.equal(detect(tone(770, { durationMs: 500, amplitude: 10000 })), '', 'row tone alone');
  t.equal(detect(tone([697, 770, 1209], { durationMs: 500, amplitude: 6000 })), '', 'two row tones + column');
  t.equal(detect(noise(8000, 20000)), '', 'loud white noise');
  t.equal(detect(mix(keys('8', 200, 50, 8000, 3000), noise(3600, 20000, 7))), '', 'DTMF buried in noise (-15 dB SNR)');
  // Voiced-speech-like signals: harmonic series with a falling spectrum over a range of pitches.
  let speechDigits = '';
  for (let f0 = 80; f0 <= 300; f0 += 3) {
    const harmonics: number[] = [];
    for (let h = 1; h * f0 < 3800; h++) harmonics.push(h * f0);
    const pcm = new Int16Array(1600);
    for (let i = 0; i < pcm.length; i++) {
      let v = 0;
      for (let h = 0; h < harmonics.length; h++) v += Math.sin((2 * Math.PI * harmonics[h]! * i) / 8000) / (h + 1);
      pcm[i] = Math.round(v * 3000);
    }
    speechDigits += detect(pcm);
  }
  t.equal(speechDigits, '', 'harmonic series 80–300 Hz');
});

t.test('16 kHz input', async (t) => {
  t.equal(detect(keys(ALL, 60, 60, 16000), 320, 16000), ALL);
});

t.test('reset forgets a held key and a partial block', async (t) => {
  const d = new DtmfDetector();
  const got: string[] = [];
  const press = dtmfTone('3', { durationMs: 200 });
  d.process(press, (k) => got.push(k));
  d.process(press, (k) => got.push(k));
  t.same(got, ['3'], 'held key once');
  d.reset();
  d.process(press, (k) => got.push(k));
  t.same(got, ['3', '3'], 'after reset it is new');
  t.throws(() => new DtmfDetector(0));
});

t.test('a throwing listener does not break detection', async (t) => {
  const d = new DtmfDetector();
  let n = 0;
  const pcm = keys('12', 80, 80);
  d.process(pcm, () => {
    n++;
    throw new Error('boom');
  });
  t.equal(n, 2);
});
