import t from 'tap';
import { DTMF_FREQUENCIES, ToneGenerator, beep, concatPcm, dtmfTone, silence, tone } from '../../src/media/tone.js';

t.test('lengths, levels and silence', async (t) => {
  t.equal(silence(20).length, 160);
  t.equal(silence(20, 16000).length, 320);
  t.ok(silence(20).every((s) => s === 0));
  const b = beep({ durationMs: 100, amplitude: 10000 });
  t.equal(b.length, 800);
  let peak = 0;
  for (const s of b) peak = Math.max(peak, Math.abs(s));
  t.ok(peak <= 10000 && peak > 9900, `peak ${peak}`);
  t.equal(b[0], 0, 'ramped start');
  const d = dtmfTone('5', { durationMs: 50, amplitude: 20000 });
  t.equal(d.length, 400);
  t.ok(d.every((s) => s >= -32768 && s <= 32767), 'clipped to 16 bits');
  t.throws(() => dtmfTone('x'), RangeError);
  t.same(DTMF_FREQUENCIES['#'], [941, 1477]);
  t.equal(concatPcm([silence(10), beep({ durationMs: 10 })]).length, 160);
});

t.test('ToneGenerator is phase-continuous across fills', async (t) => {
  const g = new ToneGenerator(1000, 8000);
  const a = new Int16Array(80);
  const b = new Int16Array(80);
  g.fill(a);
  g.fill(b);
  const whole = tone(1000, { durationMs: 20, amplitude: 8000, rampMs: 0 });
  const joined = concatPcm([a, b]);
  let maxDiff = 0;
  for (let i = 0; i < whole.length; i++) maxDiff = Math.max(maxDiff, Math.abs(whole[i]! - joined[i]!));
  t.ok(maxDiff <= 1, `max diff ${maxDiff}`);
});
