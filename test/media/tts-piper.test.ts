import t from 'tap';
import type { Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TtsError } from '../../src/media/tts/errors.js';
import { PiperEngine } from '../../src/media/tts/piper/engine.js';
import { ipaPhonemes, phonemesToIds, sentencePhonemes, splitClauses } from '../../src/media/tts/piper/phonemes.js';
import { parseVoiceConfig, PiperVoiceError, scanVoices } from '../../src/media/tts/piper/voice.js';
import { TtsService } from '../../src/media/tts/service.js';
import type { TtsAudio, TtsEngine } from '../../src/media/tts/types.js';
import { tinyPiperConfig, tinyPiperModel, type TinyPiperModelOptions } from '../helpers/onnx.js';

/** Why the real pipeline cannot run here, or undefined when it can. */
function pipelineUnavailable(): string | undefined {
  const req = createRequire(import.meta.url);
  try {
    req('onnxruntime-node');
  } catch (err) {
    return `onnxruntime-node does not load here (${(err as Error).message.split('\n')[0]}); install it with npm ci (see .npmrc)`;
  }
  try {
    req.resolve('@echogarden/espeak-ng-emscripten');
  } catch {
    return '@echogarden/espeak-ng-emscripten is not installed';
  }
  return undefined;
}
const SKIP = pipelineUnavailable();
if (SKIP) t.comment(`SKIPPING the Piper pipeline tests: ${SKIP}`);

function rms(pcm: Int16Array): number {
  let s = 0;
  for (let i = 0; i < pcm.length; i++) s += pcm[i]! * pcm[i]!;
  return Math.sqrt(s / Math.max(1, pcm.length));
}

/** Relative power of `freq` in pcm (Goertzel, normalised by the signal's energy): ~0.5 for a pure tone. */
function toneShare(pcm: Int16Array, rate: number, freq: number): number {
  const k = (2 * Math.PI * freq) / rate;
  const coeff = 2 * Math.cos(k);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (let i = 0; i < pcm.length; i++) {
    const x = pcm[i]!;
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
    energy += x * x;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return power / (energy * pcm.length) * 2;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return e instanceof TtsError ? e.code : `other: ${String(e)}`;
  }
}

function voicesDir(t: Test, voices: Record<string, { model?: TinyPiperModelOptions; config?: Record<string, unknown> }>): string {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-piper-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, v] of Object.entries(voices)) {
    writeFileSync(join(dir, `${name}.onnx`), tinyPiperModel(v.model));
    writeFileSync(join(dir, `${name}.onnx.json`), JSON.stringify(v.config ?? tinyPiperConfig()));
  }
  return dir;
}

// ---------------------------------------------------------------------------------------------------
// Phonemes and ids (no dependencies)

t.test('phonemesToIds: ^ _ (p _)* $, missing phonemes skipped and counted', async (t) => {
  const map = { _: [0], '^': [1], $: [2], ' ': [3], a: [4], b: [5], ˈ: [6], x: [7, 8] };
  const cases: Array<{ in: string[]; ids: number[]; missing?: Record<string, number> }> = [
    { in: [], ids: [1, 0, 2] },
    { in: ['a'], ids: [1, 0, 4, 0, 2] },
    { in: ['a', ' ', 'b'], ids: [1, 0, 4, 0, 3, 0, 5, 0, 2] },
    { in: ['ˈ', 'a'], ids: [1, 0, 6, 0, 4, 0, 2] },
    { in: ['x'], ids: [1, 0, 7, 8, 0, 2] },
    { in: ['a', 'z', 'z', 'b'], ids: [1, 0, 4, 0, 5, 0, 2], missing: { z: 2 } },
    { in: ['constructor', '__proto__'], ids: [1, 0, 2], missing: Object.fromEntries([['constructor', 1], ['__proto__', 1]]) },
  ];
  for (const c of cases) {
    const r = phonemesToIds(c.in, map);
    t.same(r.ids, c.ids, JSON.stringify(c.in));
    t.same([...r.missing], Object.entries(c.missing ?? {}), `missing for ${JSON.stringify(c.in)}`);
  }
  t.throws(() => phonemesToIds(['a'], { a: [1] }), /"_", "\^" and "\$"/);
});

t.test('ipaPhonemes: NFD code points, language flags dropped', async (t) => {
  t.same(ipaPhonemes('həlˈoʊ'), ['h', 'ə', 'l', 'ˈ', 'o', 'ʊ']);
  t.same(ipaPhonemes('ç'), ['c', '\u0327'], 'decomposed');
  t.same(ipaPhonemes('(en)bˈɔː(cmn) a'), ['b', 'ˈ', 'ɔ', 'ː', ' ', 'a']);
});

t.test('splitClauses and sentencePhonemes: Piper punctuation', async (t) => {
  const s = splitClauses('Hello, world; yes: nope. Is it 5.72? Mr. Smith!');
  t.same(s, [
    [
      { text: 'Hello', terminator: ',' },
      { text: 'world', terminator: ';' },
      { text: 'yes', terminator: ':' },
      { text: 'nope', terminator: '.' },
    ],
    [{ text: 'Is it 5.72', terminator: '?' }],
    [{ text: 'Mr. Smith', terminator: '!' }],
  ]);
  t.same(splitClauses('no punctuation'), [[{ text: 'no punctuation', terminator: '' }]]);
  t.same(splitClauses(' ... '), []);
  const fake = (text: string): string => text.toLowerCase();
  t.same(sentencePhonemes(s[0]!, fake), ['h', 'e', 'l', 'l', 'o', ',', ' ', 'w', 'o', 'r', 'l', 'd', ';', ' ', 'y', 'e', 's', ':', ' ', 'n', 'o', 'p', 'e', '.']);
  t.same(sentencePhonemes([{ text: 'ab', terminator: ',' }], fake), ['a', 'b', ','], 'trailing space trimmed');
});

// ---------------------------------------------------------------------------------------------------
// Voice files

t.test('parseVoiceConfig: errors name the file and the field', async (t) => {
  const good = tinyPiperConfig();
  const v = parseVoiceConfig(good, 'v.onnx.json');
  t.equal(v.sampleRate, 22050);
  t.equal(v.espeakVoice, 'en-us');
  t.same([v.noiseScale, v.lengthScale, v.noiseW], [0.667, 1, 0.8]);
  t.same(v.phonemeIdMap['^'], [1]);
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...good, audio: undefined }, /audio\.sample_rate/],
    [{ ...good, audio: { sample_rate: 'x' } }, /audio\.sample_rate must be a number/],
    [{ ...good, audio: { sample_rate: 100 } }, /out of range/],
    [{ ...good, espeak: {} }, /espeak\.voice missing/],
    [{ ...good, phoneme_type: 'pinyin' }, /phoneme_type "pinyin" not supported/],
    [{ ...good, phoneme_id_map: { _: [0], '^': [1] } }, /no "\$"/],
    [{ ...good, phoneme_id_map: { ...(good.phoneme_id_map as object), a: ['x'] } }, /phoneme_id_map\["a"\]/],
    [{ ...good, inference: { length_scale: 0 } }, /length_scale/],
    [{ ...good, num_speakers: 0 }, /num_speakers/],
    [{ ...good, num_speakers: 2, speaker_id_map: { a: 5 } }, /speaker_id_map\["a"\]/],
  ];
  for (const [cfg, re] of bad) {
    const err = t.throws(() => parseVoiceConfig(cfg, '/voices/v.onnx.json')) as unknown;
    t.ok(err instanceof PiperVoiceError, 'PiperVoiceError');
    t.match((err as Error).message, /^\/voices\/v\.onnx\.json: /, 'names the file');
    t.match((err as Error).message, re);
  }
  t.equal(parseVoiceConfig({ ...good, phoneme_type: 'text', espeak: undefined }, 'x').phonemeType, 'text', 'text voices need no espeak voice');
});

t.test('scanVoices: pairs, orphans, bad JSON, missing folder', async (t) => {
  const dir = voicesDir(t, { good: {}, Second: {} });
  writeFileSync(join(dir, 'lonely.onnx'), tinyPiperModel());
  writeFileSync(join(dir, 'orphan.onnx.json'), '{}');
  writeFileSync(join(dir, 'broken.onnx'), tinyPiperModel());
  writeFileSync(join(dir, 'broken.onnx.json'), '{ not json');
  writeFileSync(join(dir, 'readme.txt'), 'hi');
  const r = scanVoices(dir);
  t.same(r.voices.map((v) => v.name).sort(), ['Second', 'good']);
  t.equal(r.voices.find((v) => v.name === 'good')!.modelPath, join(dir, 'good.onnx'));
  const msgs = r.errors.map((e) => e.message).sort();
  t.equal(msgs.length, 3, msgs.join(' | '));
  t.ok(msgs.some((m) => m.startsWith(join(dir, 'broken.onnx.json')) && /not valid JSON/.test(m)), 'bad JSON names the config');
  t.ok(msgs.some((m) => m.startsWith(join(dir, 'lonely.onnx')) && /no config beside it/.test(m)), 'model without config');
  t.ok(msgs.some((m) => m.startsWith(join(dir, 'orphan.onnx.json')) && /no model beside it/.test(m)), 'config without model');
  const none = scanVoices(join(dir, 'nope'));
  t.same(none.voices, []);
  t.match(none.errors[0]!.message, /voices folder not found/);
});

t.test('PiperEngine: voice names, speakers, languages, rescan; missing packages → TTS_UNAVAILABLE', async (t) => {
  let clock = 0;
  const dir = voicesDir(t, {
    'en_US-tiny-x_low': {},
    'de_DE-tiny': { config: tinyPiperConfig({ espeakVoice: 'de' }) },
    multi: { model: { speakers: true }, config: tinyPiperConfig({ speakers: 3 }) },
  });
  const e = new PiperEngine({ voicesDir: dir, now: () => clock, dependencies: ['no-such-package-hookline-test'] });
  t.teardown(() => e.close());
  t.same(Object.keys(e.voices).sort(), ['de_de-tiny', 'en_us-tiny-x_low', 'multi']);
  t.equal(e.voices['en_us-tiny-x_low']!.name, 'en_US-tiny-x_low');
  t.equal(e.matchVoice('EN_us-Tiny-X_LOW'), 'en_us-tiny-x_low', 'case-insensitive');
  t.equal(e.matchVoice('multi#2'), 'multi#2');
  t.equal(e.matchVoice('multi#spk1'), 'multi#spk1', 'speaker by name');
  t.equal(e.matchVoice('multi#3'), undefined, 'speaker out of range');
  t.equal(e.matchVoice('female'), undefined);
  t.equal(e.voiceForLanguage('de-DE'), 'de_de-tiny');
  t.equal(e.voiceForLanguage('en-GB'), 'en_us-tiny-x_low', 'same primary language');
  t.equal(e.voiceForLanguage('fr-FR'), undefined);
  t.not(e.voiceTag('multi#1'), e.voiceTag('de_de-tiny'));

  writeFileSync(join(dir, 'late.onnx'), tinyPiperModel());
  writeFileSync(join(dir, 'late.onnx.json'), JSON.stringify(tinyPiperConfig()));
  clock += 5000;
  t.equal(e.matchVoice('late'), undefined, 'no rescan within 10 s');
  clock += 5000;
  t.equal(e.matchVoice('late'), 'late', 'a voice dropped in later is found');
  rmSync(join(dir, 'late.onnx'));
  rmSync(join(dir, 'late.onnx.json'));
  e.rescan();
  t.equal(e.matchVoice('late'), undefined, 'a removed voice is dropped');
  t.ok(e.matchVoice('multi'), 'the others stay');

  t.match(e.unavailableReason ?? '', /no-such-package-hookline-test not installed; install the optional packages: npm install onnxruntime-node/);
  t.equal(await codeOf(e.synthesize('hello', 'late')), 'TTS_UNAVAILABLE');
});

// ---------------------------------------------------------------------------------------------------
// The real pipeline: espeak-ng WASM + onnxruntime-node + the tiny model

/** "Hello world." in espeak en-us IPA is "həlˈoʊ wˈɜːld." = 14 phonemes → 2·14 + 3 ids. */
const HELLO_IDS = 2 * 14 + 3;

t.test('pipeline: text → phonemes → ids → tiny model → PCM', { skip: SKIP }, async (t) => {
  const dir = voicesDir(t, {
    tiny: {},
    slow: { config: tinyPiperConfig({ lengthScale: 1.5 }) },
    multi: { model: { speakers: true }, config: tinyPiperConfig({ speakers: 3 }) },
    rank4: { model: { outputRank: 4 } },
    rank2: { model: { outputRank: 2 } },
    lowrate: { model: { sampleRate: 16000 }, config: tinyPiperConfig({ sampleRate: 16000 }) },
    klingon: { config: tinyPiperConfig({ espeakVoice: 'tlh-zz' }) },
    onlyh: { config: { ...tinyPiperConfig(), phoneme_id_map: { _: [0], '^': [1], $: [2], h: [20] } } },
  });
  writeFileSync(join(dir, 'garbage.onnx'), Buffer.from('this is not an onnx model at all'));
  writeFileSync(join(dir, 'garbage.onnx.json'), JSON.stringify(tinyPiperConfig()));
  const e = new PiperEngine({ voicesDir: dir, timeoutMs: 20000 });
  t.teardown(() => e.close());
  t.equal(e.unavailableReason, undefined);

  const started = performance.now();
  const a = await e.synthesize('Hello world.', 'tiny');
  t.comment(`first synthesis (worker start, espeak load, model load): ${(performance.now() - started).toFixed(0)} ms`);
  t.equal(a.sampleRate, 22050);
  t.equal(a.pcm.length, HELLO_IDS * 256, 'samples = ids × hop: the phonemes reached the model');
  t.ok(rms(a.pcm) > 10000, `non-silent (RMS ${rms(a.pcm).toFixed(0)})`);
  t.ok(toneShare(a.pcm, 22050, 440) > 0.4, 'the model\'s 440 Hz sine');

  const t2 = performance.now();
  const longer = await e.synthesize('Hello world, hello world.', 'tiny');
  t.comment(`warm synthesis: ${(performance.now() - t2).toFixed(1)} ms`);
  // "həlˈoʊ wˈɜːld, həlˈoʊ wˈɜːld." = 13 + ", " + 14
  t.equal(longer.pcm.length, (2 * 29 + 3) * 256, 'comma clause: "," and a space');

  const two = await e.synthesize('Hello world. Hello world.', 'tiny');
  t.equal(two.pcm.length, 2 * HELLO_IDS * 256 + Math.round(0.2 * 22050), 'two sentences, 0.2 s apart');

  t.equal((await e.synthesize('Hello world.', 'onlyh')).pcm.length, 5 * 256, 'phonemes the voice lacks are skipped: ^ _ h _ $');
  const slow = await e.synthesize('Hello world.', 'slow');
  t.equal(slow.pcm.length, HELLO_IDS * 256 * 1.5, 'length_scale from the voice config reaches scales[1]');

  const spk = await e.synthesize('Hello world.', 'multi#2');
  t.ok(toneShare(spk.pcm, 22050, 660) > 0.4, 'sid 2 → 660 Hz: the speaker id reached the model');
  const spk0 = await e.synthesize('Hello world.', 'multi');
  t.ok(toneShare(spk0.pcm, 22050, 440) > 0.4, 'multi-speaker voice without a speaker uses sid 0');

  for (const v of ['rank4', 'rank2']) t.equal((await e.synthesize('Hello world.', v)).pcm.length, HELLO_IDS * 256, `${v} output shape`);

  const at8k = await e.synthesize('Hello world.', 'tiny', { sampleRate: 8000 });
  t.equal(at8k.sampleRate, 8000);
  t.ok(Math.abs(at8k.pcm.length - (HELLO_IDS * 256 * 8000) / 22050) <= 1, `resampled in the worker: ${at8k.pcm.length} samples`);
  t.ok(toneShare(at8k.pcm, 8000, 440) > 0.4, 'still 440 Hz at 8 kHz');
  const low = await e.synthesize('Hello world.', 'lowrate', { sampleRate: 8000 });
  t.equal(low.pcm.length, Math.floor(((HELLO_IDS * 256 - 1) * 1) / 2) + 1, '16 kHz voice → 8 kHz');

  const err = await e.synthesize('Hello.', 'garbage').then(
    () => undefined,
    (x: unknown) => x,
  );
  t.ok(err instanceof TtsError && err.code === 'TTS_ENGINE', 'bad model → TTS_ENGINE');
  t.match((err as Error).message, join(dir, 'garbage.onnx'), 'the message names the file');
  t.equal(await codeOf(e.synthesize('Hello.', 'nobody')), 'TTS_ENGINE', 'unknown voice');
  const esp = await e.synthesize('Hello.', 'klingon').then(
    () => undefined,
    (x: unknown) => x,
  );
  t.ok(esp instanceof TtsError && esp.code === 'TTS_ENGINE', 'espeak voice espeak-ng lacks → TTS_ENGINE');
  t.match((esp as Error).message, `${join(dir, 'klingon.onnx.json')}: espeak.voice: espeak-ng has no voice "tlh-zz"`);
  // The worker survived the bad model.
  t.equal((await e.synthesize('Hello world.', 'tiny')).pcm.length, HELLO_IDS * 256, 'still works after an error');
});

t.test('pipeline: warmUp preloads the configured voices in every process', { skip: SKIP }, async (t) => {
  const dir = voicesDir(t, { tiny: {}, other: {} });
  const e = new PiperEngine({ voicesDir: dir, workers: 2, preload: ['TINY', 'female', 'nobody'] });
  t.teardown(() => e.close());
  await e.warmUp();
  t.equal(e.liveWorkers, 2);
  // The model file is gone: only a model loaded during warmUp can still speak.
  rmSync(join(dir, 'tiny.onnx'));
  rmSync(join(dir, 'other.onnx'));
  const both = await Promise.all([e.synthesize('Hello world.', 'tiny'), e.synthesize('Hello world.', 'tiny')]);
  for (const a of both) t.equal(a.pcm.length, HELLO_IDS * 256, 'spoken by a process that preloaded it');
  t.equal(await codeOf(e.synthesize('Hello world.', 'other')), 'TTS_ENGINE', 'a voice not preloaded needs its file');
});

t.test('pipeline: timeout replaces the worker; queue bound', { skip: SKIP }, async (t) => {
  const dir = voicesDir(t, { tiny: {} });
  const e = new PiperEngine({ voicesDir: dir, timeoutMs: 1, queueLimit: 1 });
  t.teardown(() => e.close());
  const first = e.synthesize('Hello world.', 'tiny');
  const second = e.synthesize('Hello world.', 'tiny');
  t.equal(await codeOf(e.synthesize('Hello world.', 'tiny')), 'TTS_QUEUE_FULL', 'one running, one waiting: the third is refused');
  t.equal(await codeOf(first), 'TTS_TIMEOUT');
  t.equal(await codeOf(second), 'TTS_TIMEOUT');
  await e.close();
  t.equal(e.liveWorkers, 0, 'no worker left');
});

t.test('pipeline: a synthesis overrunning its budget mid-inference is killed; the next one works', { skip: SKIP }, async (t) => {
  // ONNX Runtime aborts the whole process when a worker *thread* running it is terminated; the engine uses
  // child processes so that this test's process survives the kill.
  const dir = voicesDir(t, { tiny: {}, slow: { model: { slowMatMuls: 150 } } });
  const budget = 1500;
  const e = new PiperEngine({ voicesDir: dir, timeoutMs: budget });
  t.teardown(() => e.close());
  await e.warmUp();
  t.equal((await e.synthesize('Hello world.', 'tiny')).pcm.length, HELLO_IDS * 256, 'fast voice within the budget');
  const started = performance.now();
  // 150 chained 1024² matrix products: about 4 s of one core on a quiet machine.
  t.equal(await codeOf(e.synthesize('Hello world.', 'slow')), 'TTS_TIMEOUT');
  const took = performance.now() - started;
  t.ok(took >= budget && took < budget + 1000, `reported on time (${took.toFixed(0)} ms)`);
  await e.warmUp(); // the replacement process starts outside the next job's budget
  t.equal((await e.synthesize('Hello world.', 'tiny')).pcm.length, HELLO_IDS * 256, 'a new process took over');
  await e.close();
  t.equal(e.liveWorkers, 0);
});

t.test('TtsService: Piper voice by name, flite for the rest, cache keyed by engine and voice', { skip: SKIP }, async (t) => {
  const dir = voicesDir(t, { 'en_US-tiny': {}, de_tiny: { config: tinyPiperConfig({ espeakVoice: 'de' }), model: { frequency: 880 } }, slt: {} });
  const piper = new PiperEngine({ voicesDir: dir });
  const { FliteEngine } = await import('../../src/media/tts/flite-engine.js');
  const tts = new TtsService({ engines: [new FliteEngine(), piper] });
  t.teardown(() => tts.close());
  const p = await tts.synthesize('Hello world.', { voice: 'en_US-tiny' });
  t.ok(Math.abs(p.length - (HELLO_IDS * 256 * 8000) / 22050) <= 1, `Piper voice at 8 kHz: ${p.length} samples`);
  t.ok(toneShare(p, 8000, 440) > 0.4, 'the tiny model spoke');
  const f = await tts.synthesize('Hello world.', { voice: 'female' });
  t.ok(toneShare(f, 8000, 440) < 0.2, 'flite spoke (not a sine)');
  t.not(p.length, f.length);
  t.equal(await tts.synthesize('Hello world.', { voice: 'en_US-tiny' }), p, 'cache hit for the Piper voice');
  t.equal(await tts.synthesize('Hello world.', { voice: 'female' }), f, 'separate entry for flite');
  t.equal(await tts.synthesize('Hello world.', { voice: 'slt' }), f, 'a Piper file named like a flite voice does not shadow it');
  const de = await tts.synthesize('Hallo Welt.', { language: 'de-DE' });
  t.ok(toneShare(de, 8000, 880) > 0.4, 'a German request with no voice finds the German Piper voice');
  const piperDefault = new TtsService({ engines: [new FliteEngine(), new PiperEngine({ voicesDir: dir })], defaultVoice: 'en_US-tiny' });
  t.teardown(() => piperDefault.close());
  t.ok(toneShare(await piperDefault.synthesize('Hello world.'), 8000, 440) > 0.4, 'a Piper voice as the configured default');
  t.ok(toneShare(await piperDefault.synthesize('Hello world.', { voice: 'nobody' }), 8000, 440) > 0.4, 'unknown voice → the (Piper) default');
});

t.test('TtsService + a PiperEngine whose packages are missing: flite speaks the Piper-voice prompt', async (t) => {
  const dir = voicesDir(t, { 'en_US-tiny': {} });
  const { FliteEngine } = await import('../../src/media/tts/flite-engine.js');
  const piper = new PiperEngine({ voicesDir: dir, dependencies: ['onnxruntime-node-not-here'] });
  const tts = new TtsService({ engines: [new FliteEngine(), piper] });
  t.teardown(() => tts.close());
  const pcm = await tts.synthesize('Hello world.', { voice: 'en_US-tiny' });
  t.ok(pcm.length > 4000 && rms(pcm) > 1000, `flite audio (${pcm.length} samples)`);
  t.ok(toneShare(pcm, 8000, 440) < 0.2, 'not the tiny model');
  t.match(piper.unavailableReason ?? '', /npm install onnxruntime-node @echogarden\/espeak-ng-emscripten --onnxruntime-node-install=skip/);
});

t.test('TtsService: an unavailable engine falls back to the default engine', async (t) => {
  class Unavailable implements TtsEngine {
    readonly name = 'piper';
    calls = 0;
    matchVoice(v: string): string | undefined {
      return v === 'neural' ? v : undefined;
    }
    async synthesize(): Promise<TtsAudio> {
      this.calls++;
      throw new TtsError('TTS_UNAVAILABLE', 'onnxruntime-node not installed');
    }
  }
  class Tone implements TtsEngine {
    readonly name = 'tone';
    readonly voices = { female: 1 };
    voicesAsked: string[] = [];
    async synthesize(_text: string, voice: string): Promise<TtsAudio> {
      this.voicesAsked.push(voice);
      return { pcm: new Int16Array(800).fill(1000), sampleRate: 8000 };
    }
  }
  const u = new Unavailable();
  const tone = new Tone();
  const tts = new TtsService({ engines: [tone, u] });
  t.teardown(() => tts.close());
  const pcm = await tts.synthesize('hello', { voice: 'neural' });
  t.equal(pcm.length, 800, 'spoken by the default engine');
  t.equal(u.calls, 1);
  t.same(tone.voicesAsked, ['female']);
  t.equal(await codeOf(tts.synthesize('other text', { voice: 'neural' })), 'resolved');

  // The unavailable engine's voice as the configured default, with a non-English default language: the
  // fallback must not resolve back to the same engine (it used to wait on its own pending request).
  const u2 = new Unavailable();
  const tone2 = new Tone();
  const tts2 = new TtsService({ engines: [tone2, u2], defaultVoice: 'neural', defaultLanguage: 'de-DE' });
  t.teardown(() => tts2.close());
  const guard = new Promise<string>((r) => setTimeout(() => r('hung'), 3000).unref());
  t.equal(await Promise.race([tts2.synthesize('hallo').then((p) => `resolved ${p.length}`), guard]), 'resolved 800', 'falls back, does not hang');
  t.same(tone2.voicesAsked, ['female']);
  t.equal(u2.calls, 1);
  await tts2.synthesize('forced', { engine: 'tone' });
  t.equal(u2.calls, 1, 'engine forced to the default one: the default voice (of another engine) is not used');
  t.same(tone2.voicesAsked, ['female', 'female']);
});
