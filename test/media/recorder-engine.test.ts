/** The call recorder through the media engine and a real worker: events, limits, caller-only, stop racing close. */
import t from 'tap';
import { MediaEngine, MediaError, type MediaSession } from '../../src/rtp/media-engine.js';
import { tone } from '../../src/media/tone.js';
import { toneSeconds } from '../helpers/audio-check.js';

const base = 16384 + 2 * Math.floor(Math.random() * 3000);
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function next(s: MediaSession, ms: number): Promise<'full' | 'silence'> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no recorder event')), ms);
    s.on('recorder', (why) => { clearTimeout(timer); resolve(why); });
  });
}

t.test('mix: caller (received) + what the caller hears (sent), time limit event, exact length', async (t) => {
  const engine = await MediaEngine.start({ workers: 1, address: '127.0.0.1', portMin: base, portMax: base + 100 });
  t.teardown(() => engine.close());
  const a = await engine.createSession(); // "the caller's session": we record here
  const b = await engine.createSession(); // plays "the caller"
  a.configure({ address: '127.0.0.1', port: b.localPort, codec: 'PCMU', payloadType: 0, telephoneEventPt: 101 });
  b.configure({ address: '127.0.0.1', port: a.localPort, codec: 'PCMU', payloadType: 0, telephoneEventPt: 101 });
  const heard = engine.registerPrompt(tone([1000], { durationMs: 3000 }));
  const caller = engine.registerPrompt(tone([600], { durationMs: 3000 }));
  a.play(heard);
  b.play(caller);
  await delay(100);
  t.throws(() => a.startRecorder({ mix: true, maxSeconds: 0 }), MediaError);
  t.throws(() => a.startRecorder({ mix: true, maxSeconds: 10801 }), MediaError);
  t.throws(() => a.startRecorder({ mix: true, maxSeconds: 5, silenceMs: -1 }), MediaError);
  const t0 = performance.now();
  const ev = next(a, 3000);
  a.startRecorder({ mix: true, maxSeconds: 1 });
  t.equal(await ev, 'full');
  const took = performance.now() - t0;
  t.ok(took > 900 && took < 1500, `time limit reached after ${took.toFixed(0)} ms`);
  const pcm = await a.stopRecorder();
  t.equal(pcm.length, 8000, 'exactly the time limit');
  t.ok(toneSeconds(pcm, 1000, [300, 1400]) >= 0.8, 'what the caller hears (1 kHz) is in it');
  t.ok(toneSeconds(pcm, 600, [300, 1400]) >= 0.8, 'the caller (600 Hz) is in it');
  t.same(await a.stopRecorder(), new Int16Array(0), 'a second stop: nothing');
  await a.close();
  await b.close();
  engine.releasePrompt(heard);
  engine.releasePrompt(caller);
});

t.test('caller only: our prompt is not recorded; silence event; a stop posted before close still delivers', async (t) => {
  const engine = await MediaEngine.start({ workers: 1, address: '127.0.0.1', portMin: base + 200, portMax: base + 300 });
  t.teardown(() => engine.close());
  const a = await engine.createSession();
  const b = await engine.createSession();
  a.configure({ address: '127.0.0.1', port: b.localPort, codec: 'PCMA', payloadType: 8 });
  b.configure({ address: '127.0.0.1', port: a.localPort, codec: 'PCMA', payloadType: 8 });
  const heard = engine.registerPrompt(tone([1000], { durationMs: 3000 }));
  const caller = engine.registerPrompt(tone([600], { durationMs: 500 }));
  a.play(heard);
  b.play(caller); // 0.5 s of "speech", then b sends silence
  await delay(40);
  const ev = next(a, 3000);
  const t0 = performance.now();
  a.startRecorder({ mix: false, maxSeconds: 10, silenceMs: 400 });
  t.equal(await ev, 'silence');
  const took = performance.now() - t0;
  t.ok(took > 700 && took < 1400, `silence reported ${took.toFixed(0)} ms after the start (0.5 s speech + 0.4 s quiet)`);
  await delay(200);
  const p = a.stopRecorder();
  await a.close(); // as Call.end does: the stop was posted first
  const pcm = await p;
  t.ok(pcm.length >= 8000 * 0.9, `the audio came back before the session closed (${pcm.length} samples)`);
  t.ok(toneSeconds(pcm, 600, [300, 1400]) >= 0.3, 'the caller is in it');
  t.equal(toneSeconds(pcm, 1000, [300, 1400]), 0, 'our own prompt is not');
  t.same(await a.stopRecorder(), new Int16Array(0), 'closed: empty');
  a.startRecorder({ mix: true, maxSeconds: 5 }); // closed: ignored, no throw
  await b.close();
  engine.releasePrompt(heard);
  engine.releasePrompt(caller);
});
