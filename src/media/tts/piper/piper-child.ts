/**
 * Child process running Piper voices: espeak-ng (WASM) for phonemes, onnxruntime-node for the VITS model.
 *
 * A process, not a worker thread: terminating a worker thread while ONNX Runtime is loading or running a
 * model aborts the whole process (a native exception escapes the addon: "terminate called after throwing
 * an instance of 'Napi::Error'"), and a timeout must be able to stop a synthesis. A child can be killed.
 * It exits by itself when its parent goes away (IPC disconnect).
 *
 *   text → sentences → clauses → espeak IPA → phoneme ids (^ _ p _ … $) → model(input, input_lengths,
 *   scales[, sid]) → float audio at the voice's rate → PCM16 → resample to the requested rate.
 *
 * Sentences are run one by one (the model's cost grows with length, and Piper voices were trained on
 * sentences) and joined with SENTENCE_SILENCE_S of silence. Models stay loaded (bounded LRU per worker).
 * Both dependencies are optional packages: if either cannot be loaded, the worker reports `fatal` once.
 */
import { resample } from '../../resample.js';
import { EspeakPhonemizer, ESPEAK_PACKAGE } from './espeak.js';
import { phonemesToIds, sentencePhonemes, splitClauses, textPhonemes } from './phonemes.js';
import type { PiperReply, PiperRequest, PiperVoiceSpec, PiperWorkerData } from './protocol.js';

/** The members of onnxruntime-node this file uses. */
interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}
interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release?(): Promise<void>;
}
interface Ort {
  Tensor: new (type: 'int64' | 'float32', data: BigInt64Array | Float32Array, dims: number[]) => OrtTensor;
  InferenceSession: { create(path: string, opts: object): Promise<OrtSession> };
}

export const ORT_PACKAGE = 'onnxruntime-node';
/** Silence between sentences of one request, seconds (Piper's default sentence_silence). */
const SENTENCE_SILENCE_S = 0.2;
/** Distinct phonemes absent from a voice's map reported per request. */
const MAX_MISSING_REPORTED = 16;
/** Longest audio one request may produce, seconds (a runaway model must not exhaust memory). */
const MAX_AUDIO_S = 600;

const data = JSON.parse(process.argv[2] ?? '{}') as PiperWorkerData;

function post(msg: PiperReply): void {
  process.send?.(msg);
}

process.on('disconnect', () => process.exit(0));

interface Loaded {
  tag: string;
  session: OrtSession;
}

async function loadOrt(): Promise<Ort> {
  const specifier: string = ORT_PACKAGE;
  const mod = (await import(specifier)) as { default?: Ort } & Ort;
  return mod.default ?? mod;
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

async function main(): Promise<void> {
  let ort: Ort;
  let espeak: EspeakPhonemizer;
  try {
    ort = await loadOrt();
  } catch (err) {
    post({ type: 'fatal', missing: isMissing(err), message: `${ORT_PACKAGE} cannot be loaded: ${(err as Error).message}` });
    return;
  }
  try {
    espeak = await EspeakPhonemizer.load();
  } catch (err) {
    post({ type: 'fatal', missing: isMissing(err), message: `${ESPEAK_PACKAGE} cannot be loaded: ${(err as Error).message}` });
    return;
  }
  const sessions = new Map<string, Loaded>();

  const session = async (voice: PiperVoiceSpec): Promise<OrtSession> => {
    const hit = sessions.get(voice.modelPath);
    if (hit && hit.tag === voice.tag) {
      sessions.delete(voice.modelPath);
      sessions.set(voice.modelPath, hit);
      return hit.session;
    }
    if (hit) {
      sessions.delete(voice.modelPath);
      void hit.session.release?.().catch(() => undefined);
    }
    let s: OrtSession;
    try {
      s = await ort.InferenceSession.create(voice.modelPath, {
        intraOpNumThreads: data.threads,
        interOpNumThreads: 1,
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
      });
    } catch (err) {
      throw new Error(`cannot load voice model ${voice.modelPath}: ${(err as Error).message}`);
    }
    const absent = ['input', 'input_lengths', 'scales'].find((name) => !s.inputNames.includes(name));
    if (absent !== undefined || s.outputNames.length === 0) {
      void s.release?.().catch(() => undefined);
      throw new Error(absent !== undefined
        ? `voice model ${voice.modelPath} has no input "${absent}" (inputs: ${s.inputNames.join(', ')}): not a Piper voice`
        : `voice model ${voice.modelPath} has no output`);
    }
    while (sessions.size >= data.maxSessions) {
      const [oldest, old] = sessions.entries().next().value as [string, Loaded];
      sessions.delete(oldest);
      void old.session.release?.().catch(() => undefined);
    }
    sessions.set(voice.modelPath, { tag: voice.tag, session: s });
    return s;
  };

  const synth = async (req: PiperRequest): Promise<{ pcm: Int16Array; rate: number; phonemes: number; missing: string[] }> => {
    const voice = req.voice;
    const s = await session(voice);
    const sentences: string[][] = [];
    if (voice.phonemeType === 'text') {
      for (const clauses of splitClauses(req.text)) sentences.push(textPhonemes(clauses.map((c) => c.text + c.terminator).join(' ')));
    } else {
      try {
        espeak.setVoice(voice.espeakVoice);
      } catch (err) {
        throw new Error(`${voice.modelPath}.json: espeak.voice: ${(err as Error).message}`);
      }
      for (const clauses of splitClauses(req.text)) sentences.push(sentencePhonemes(clauses, (t) => espeak.phonemize(t)));
    }
    const chunks: Float32Array[] = [];
    const gap = Math.round(SENTENCE_SILENCE_S * voice.sampleRate);
    const maxSamples = MAX_AUDIO_S * voice.sampleRate;
    let total = 0;
    let phonemeCount = 0;
    const missing = new Set<string>();
    for (const phonemes of sentences) {
      const { ids, missing: m } = phonemesToIds(phonemes, voice.phonemeIdMap);
      for (const p of m.keys()) if (missing.size < MAX_MISSING_REPORTED) missing.add(p);
      if (ids.length <= 3) continue; // BOS, pad, EOS: nothing to say
      phonemeCount += phonemes.length;
      const feeds: Record<string, OrtTensor> = {
        input: new ort.Tensor('int64', BigInt64Array.from(ids, (i) => BigInt(i)), [1, ids.length]),
        input_lengths: new ort.Tensor('int64', BigInt64Array.of(BigInt(ids.length)), [1]),
        scales: new ort.Tensor('float32', Float32Array.from(voice.scales), [3]),
      };
      if (s.inputNames.includes('sid')) feeds.sid = new ort.Tensor('int64', BigInt64Array.of(BigInt(voice.speaker ?? 0)), [1]);
      const out = (await s.run(feeds))[s.outputNames[0]!];
      if (!out || !(out.data instanceof Float32Array)) throw new Error(`voice model ${voice.modelPath}: output is not float32 audio`);
      if (chunks.length > 0) {
        chunks.push(new Float32Array(gap));
        total += gap;
      }
      chunks.push(out.data);
      total += out.data.length;
      if (total > maxSamples) throw new Error(`voice model ${voice.modelPath}: more than ${MAX_AUDIO_S} s of audio for ${req.text.length} characters`);
    }
    let pcm: Int16Array = new Int16Array(total);
    let at = 0;
    for (const c of chunks) {
      for (let i = 0; i < c.length; i++) {
        const v = Math.round(c[i]! * 32767);
        pcm[at++] = v > 32767 ? 32767 : v < -32768 ? -32768 : Number.isNaN(v) ? 0 : v;
      }
    }
    let rate = voice.sampleRate;
    if (req.sampleRate && req.sampleRate !== rate && pcm.length > 0) {
      pcm = resample(pcm, rate, req.sampleRate);
      rate = req.sampleRate;
    } else if (req.sampleRate) {
      rate = req.sampleRate;
    }
    return { pcm, rate, phonemes: phonemeCount, missing: [...missing] };
  };

  post({ type: 'ready' });
  // The parent sends one job at a time per child; chain anyway so two can never interleave.
  let chain = Promise.resolve();
  process.on('message', (req: PiperRequest) => {
    chain = chain.then(async () => {
      const started = performance.now();
      try {
        const { pcm, rate, phonemes, missing } = await synth(req);
        // pcm owns its whole buffer (allocated above or by resample()); the IPC channel copies it.
        post({ type: 'done', id: req.id, pcm: pcm.buffer as ArrayBuffer, length: pcm.length, sampleRate: rate, phonemes, missing, ms: performance.now() - started });
      } catch (err) {
        post({ type: 'error', id: req.id, message: (err as Error).message });
      }
    });
  });
}

void main();
