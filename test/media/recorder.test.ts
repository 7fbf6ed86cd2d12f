/** CallRecorder (src/rtp/recorder.ts): timeline, mixing with clipping, bounds, silence; no worker needed. */
import t from 'tap';
import { CallRecorder, REC_FULL, REC_NONE, REC_SILENCE } from '../../src/rtp/recorder.js';
import { MULAW_DECODE, linearToMulaw } from '../../src/media/g711.js';

const mu = (v: number, n = 160): Uint8Array => new Uint8Array(n).fill(linearToMulaw(v));
const pcm = (v: number, n = 160): Int16Array => new Int16Array(n).fill(v);

t.test('mix: caller and what the caller hears are summed on our send timeline', async (t) => {
  const base = 0xfffffe00; // wraps during the test
  const r = new CallRecorder({ mix: true, maxSamples: 8000, baseTs: base, silenceSamples: 0 });
  const tx = MULAW_DECODE[linearToMulaw(1000)]!; // the value as μ-law decodes it
  // our frames at base, base+160, base+320
  for (let i = 0; i < 3; i++) t.equal(r.tx(mu(1000), 0, 160, MULAW_DECODE, (base + i * 160) >>> 0), REC_NONE);
  // caller packets: their own timestamps (1234...), first one arrives when our next frame is base+480
  t.equal(r.rx(pcm(500), 160, 1234, 7, (base + 480) >>> 0), REC_NONE);
  t.equal(r.rx(pcm(500), 160, 1234 + 160, 7, (base + 640) >>> 0), REC_NONE);
  t.equal(r.len, 640, 'anchored so the first caller packet ends "now" (320..480), the next follows it (480..640)');
  const out = r.take();
  t.equal(out[0], tx);
  t.equal(out[319], tx, 'second frame: our audio only');
  t.equal(out[320], tx + 500, 'third frame: our audio + the caller');
  t.equal(out[479], tx + 500);
  t.equal(out[500], 500, 'the caller alone where we sent nothing yet');
  // our next frame adds onto the caller's second packet
  t.equal(r.tx(mu(-700), 0, 160, MULAW_DECODE, (base + 480) >>> 0), REC_NONE);
  t.equal(r.take()[500], MULAW_DECODE[linearToMulaw(-700)]! + 500);
});

t.test('mix clips instead of wrapping', async (t) => {
  const r = new CallRecorder({ mix: true, maxSamples: 8000, baseTs: 0, silenceSamples: 0 });
  r.tx(mu(30000), 0, 160, MULAW_DECODE, 0);
  r.rx(pcm(30000), 160, 99, 1, 160);
  t.equal(r.take()[10], 32767, 'positive overflow clips at 32767');
  const q = new CallRecorder({ mix: true, maxSamples: 8000, baseTs: 0, silenceSamples: 0 });
  q.tx(mu(-30000), 0, 160, MULAW_DECODE, 0);
  q.rx(pcm(-30000), 160, 99, 1, 160);
  t.equal(q.take()[10], -32768, 'negative overflow clips at -32768');
});

t.test('duplicates and late packets are not added twice; gaps stay silent; SSRC change re-anchors', async (t) => {
  const r = new CallRecorder({ mix: false, maxSamples: 80000, baseTs: 1000, silenceSamples: 0 });
  r.rx(pcm(100), 160, 5000, 1, 1160);
  r.rx(pcm(100), 160, 5000, 1, 1320); // duplicate
  t.equal(r.take()[50], 100, 'a duplicate is dropped');
  r.rx(pcm(200), 160, 5000 + 800, 1, 1960); // 640-sample gap
  t.equal(r.len, 960);
  t.equal(r.take()[300], 0, 'gap is silence');
  t.equal(r.take()[900], 200);
  // caller-only: our frames only extend the length
  r.tx(mu(5000), 0, 160, MULAW_DECODE, 1000 + 960);
  t.equal(r.len, 1120);
  t.equal(r.take()[1000], 0, 'caller-only mode does not record our audio');
  // a timestamp jump (same SSRC) lands far from now: re-anchored at now
  r.rx(pcm(300), 160, 900000, 1, 1000 + 1280);
  t.equal(r.take()[1200], 300);
  t.equal(r.len, 1280);
  // new SSRC
  r.rx(pcm(400), 160, 42, 2, 1000 + 1440);
  t.equal(r.take()[1300], 400);
});

t.test('time limit: capped buffer, REC_FULL once; growth by doubling keeps the content', async (t) => {
  const max = 8000 * 25; // beyond the 10 s initial buffer
  const r = new CallRecorder({ mix: true, maxSamples: max, baseTs: 0, silenceSamples: 0 });
  let fulls = 0;
  let ts = 0;
  for (let i = 0; i < 1400; i++) { // 28 s of frames
    const ev = r.tx(mu(i % 2 ? 2000 : -2000), 0, 160, MULAW_DECODE, ts);
    if (ev === REC_FULL) fulls++;
    ts = (ts + 160) >>> 0;
  }
  t.equal(fulls, 1, 'REC_FULL exactly once');
  t.equal(r.len, max, 'never longer than the limit');
  t.equal(r.buf.length, max, 'buffer capped at the limit');
  t.ok(r.take()[160 * 3 + 5]! > 0 && r.take()[160 * 2 + 5]! < 0, 'early frames survived the growth');
});

t.test('silence: REC_SILENCE after silenceSamples without caller sound, counted on our timeline', async (t) => {
  const r = new CallRecorder({ mix: false, maxSamples: 80000, baseTs: 0, silenceSamples: 800 });
  let ts = 0;
  let rxTs = 0;
  const evs: number[] = [];
  for (let i = 0; i < 20; i++) { // loud caller for 400 ms
    evs.push(r.tx(mu(0), 0, 160, MULAW_DECODE, ts));
    ts += 160;
    evs.push(r.rx(pcm(i % 2 ? 3000 : -3000), 160, rxTs, 9, ts));
    rxTs += 160;
  }
  t.notOk(evs.includes(REC_SILENCE), 'no silence while the caller talks');
  let at = -1;
  for (let i = 0; i < 20; i++) { // then the caller stops sending at all
    if (r.tx(mu(0), 0, 160, MULAW_DECODE, ts) === REC_SILENCE) { at = i; break; }
    ts += 160;
  }
  t.ok(at >= 3 && at <= 6, `silence reported after ~100 ms of quiet (frame ${at})`);
  t.equal(r.tx(mu(0), 0, 160, MULAW_DECODE, ts + 160), REC_NONE, 'reported once');
});
