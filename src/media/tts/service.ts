/**
 * TtsService: the main-thread facade for speech prompts.
 *
 *   synthesize(text, {voice, language, engine}) → PCM16 8 kHz (cached; identical concurrent requests share
 *   one synthesis) ; segments(text) → one buffer per sentence, the next synthesised while the previous plays.
 *
 * Pipeline per request: voice/language mapping → cache (memory LRU, then disk) → engine → anti-alias
 * resample to 8 kHz (in the flite worker, off the main thread; here for engines that cannot) → level
 * normalisation (peak ≈ -3 dBFS, gain ≤ +12 dB) → cache.
 * Returned buffers are shared with the cache and other callers: treat them as read-only.
 */
import { getLogger } from '../../util/logger.js';
import { resample } from '../resample.js';
import { PcmCache } from './cache.js';
import { TtsError } from './errors.js';
import { FliteEngine } from './flite-engine.js';
import { cleanText, isEnglish, mapVoice, splitSentences } from './text.js';
import type { TtsEngine } from './types.js';

const log = getLogger('tts');

/** Output rate of everything TtsService returns. */
export const TTS_OUTPUT_RATE = 8000;
/** Normalisation target: peak at -3 dBFS. */
const TARGET_PEAK = Math.round(32767 * Math.pow(10, -3 / 20));
/** Quiet input is not boosted by more than this (+12 dB), so near-silence stays near-silent. */
const MAX_GAIN = 4;
/** Distinct unknown voices/languages remembered for "warn once" (bounded). */
const WARN_ONCE_LIMIT = 100;

export interface TtsServiceOptions {
  /** flite worker threads; default 1. */
  workers?: number;
  /** Requests allowed to wait for a worker (beyond those running); default 64. */
  queueLimit?: number;
  /** In-memory cache entries; default 512. */
  cacheEntries?: number;
  /** In-memory cache size, bytes of PCM; default 64 MiB. */
  cacheBytes?: number;
  /** Folder for a persistent cache of synthesised prompts (WAV, 8 kHz); none by default. */
  cacheDir?: string;
  /** Size bound of `cacheDir`, bytes; oldest files are deleted beyond it. Default 512 MiB. */
  cacheDirMaxBytes?: number;
  /** Voice when a request names none: a Kazoo name (female/male) or a flite voice; default 'female' (slt). */
  defaultVoice?: string;
  /** Language assumed when a request names none; default 'en-US'. */
  defaultLanguage?: string;
  /** Per-synthesis timeout once a worker starts, ms; default 15000. */
  timeoutMs?: number;
  /** Longest text accepted by synthesize(), characters; default 5000 (segments() splits first). */
  maxTextLength?: number;
  /** Engines to use instead of the built-in flite one (the first is the default). For tests and add-ons. */
  engines?: TtsEngine[];
}

export interface SayOptions {
  /** Kazoo voice (female, male) or engine voice name; default from the service options. */
  voice?: string;
  /** Language tag (en-US…); non-English falls back to the default voice. */
  language?: string;
  /** Engine name; default the first engine (flite). */
  engine?: string;
}

export class TtsService {
  private readonly engines = new Map<string, TtsEngine>();
  private readonly defaultEngine: TtsEngine;
  private readonly cache: PcmCache;
  private readonly inflight = new Map<string, Promise<Int16Array>>();
  private readonly warned = new Set<string>();
  private readonly defaultVoice: string;
  private readonly defaultLanguage: string;
  private readonly maxTextLength: number;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(opts: TtsServiceOptions = {}) {
    const engines = opts.engines?.length
      ? opts.engines
      : [new FliteEngine({ workers: opts.workers, queueLimit: opts.queueLimit, timeoutMs: opts.timeoutMs })];
    for (const e of engines) this.engines.set(e.name, e);
    this.defaultEngine = engines[0]!;
    this.cache = new PcmCache({ maxEntries: opts.cacheEntries, maxBytes: opts.cacheBytes, dir: opts.cacheDir, maxDiskBytes: opts.cacheDirMaxBytes, sampleRate: TTS_OUTPUT_RATE });
    this.defaultVoice = opts.defaultVoice ?? 'female';
    this.defaultLanguage = opts.defaultLanguage ?? 'en-US';
    this.maxTextLength = opts.maxTextLength ?? 5000;
  }

  /** Synthesise `text` to PCM16 at 8 kHz. Shared, read-only result. */
  async synthesize(text: string, opts: SayOptions = {}): Promise<Int16Array> {
    if (this.closed) throw new TtsError('TTS_CLOSED', 'TTS service closed');
    const clean = cleanText(text);
    if (clean.length > this.maxTextLength) {
      throw new TtsError('TTS_TEXT_TOO_LONG', `text of ${clean.length} characters exceeds ${this.maxTextLength}`);
    }
    if (!/[\p{L}\p{N}]/u.test(clean)) return new Int16Array(0);
    const { engine, voice, language } = this.resolve(opts);
    return this.speak(clean, engine, voice, language);
  }

  /** Cache, then engine (one synthesis for identical concurrent requests). `language`: the key's third part. */
  private speak(clean: string, engine: TtsEngine, voice: string, language: string): Promise<Int16Array> {
    const key = `${engine.name}\u0000${voice}\u0000${language}\u0000${TTS_OUTPUT_RATE}\u0000${clean}`;
    const hit = this.cache.get(key);
    if (hit) return Promise.resolve(hit);
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const job = (async () => {
      try {
        const disk = await this.cache.load(key);
        if (disk) return disk;
        let audio;
        try {
          audio = await engine.synthesize(clean, voice, { sampleRate: TTS_OUTPUT_RATE });
        } catch (err) {
          if (!(err instanceof TtsError) || err.code !== 'TTS_UNAVAILABLE' || engine === this.defaultEngine) throw err;
          // An optional engine that cannot run here (reason logged by the engine): speak with the default
          // engine's voice. Straight to speak(), not through resolve(), which could pick this engine again.
          this.warnOnce(`unavailable:${engine.name}`, { engine: engine.name, reason: err.message }, 'TTS engine unavailable; using the default engine');
          const d = this.defaultEngine;
          return await this.speak(clean, d, this.defaultEngineVoice(), this.hasVoices(d) ? 'en' : this.defaultLanguage);
        }
        if (this.closed) throw new TtsError('TTS_CLOSED', 'TTS service closed');
        const pcm = audio.sampleRate === TTS_OUTPUT_RATE ? audio.pcm : resample(audio.pcm, audio.sampleRate, TTS_OUTPUT_RATE);
        normalizePeak(pcm);
        this.cache.set(key, pcm);
        return pcm;
      } finally {
        this.inflight.delete(key);
      }
    })();
    this.inflight.set(key, job);
    return job;
  }

  /**
   * Sentence by sentence: yields each sentence's audio as soon as it is ready, with the next sentence
   * already being synthesised (one ahead). Breaking out of the loop stops further synthesis.
   */
  async *segments(text: string, opts: SayOptions = {}): AsyncIterable<Int16Array> {
    const sentences = splitSentences(/^\s*(?:<\?xml[^>]*>\s*)?<speak[\s>]/i.test(text) ? cleanText(text) : text);
    if (sentences.length === 0) return;
    const start = (s: string): Promise<Int16Array> => {
      const p = this.synthesize(s, opts);
      p.catch(() => undefined); // consumed below; avoids an unhandled rejection if the caller stops early
      return p;
    };
    let current = start(sentences[0]!);
    for (let i = 0; i < sentences.length; i++) {
      const next = i + 1 < sentences.length ? start(sentences[i + 1]!) : undefined;
      yield await current;
      if (!next) break;
      current = next;
    }
  }

  /** Start the engines' workers now (avoids the cold start, ~0.3–1 s, on the first prompt). */
  async warmUp(): Promise<void> {
    await Promise.all([...this.engines.values()].map((e) => e.warmUp?.()));
  }

  /**
   * A call is arriving: engines that start lazily (flite) start their workers now in the background, so that
   * the call's first prompt does not wait for them. Cheap when they are running; never throws.
   */
  wake(): void {
    if (this.closed) return;
    for (const e of this.engines.values()) e.wake?.();
  }

  /** Wait for background cache writes (tests, orderly shutdown). */
  async flushCache(): Promise<void> {
    await this.cache.flush();
  }

  /** Stop the engines (pending requests fail with TTS_CLOSED) and drop the memory cache. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.closing = (async () => {
      await Promise.allSettled([...this.engines.values()].map((e) => e.close?.()));
      await this.cache.flush();
      this.cache.clear();
    })();
    return this.closing;
  }

  /**
   * Pick engine and voice. An explicit `engine` wins; otherwise the voice chooses: the default engine's
   * voices first (Kazoo names, flite names), then the other engines' (e.g. a Piper voice by file name).
   * A voice of a non-default engine keeps its own language (it is that voice's language), so the
   * language tag does not replace it. A non-English language otherwise looks for an engine voice speaking
   * it, else falls back to the default voice (as before). Unknown voices fall back to the default voice,
   * whichever engine it belongs to (a Piper voice may be the configured default).
   */
  private resolve(opts: SayOptions): { engine: TtsEngine; voice: string; language: string } {
    const language = opts.language ?? this.defaultLanguage;
    const requested = opts.voice ?? this.defaultVoice;
    let forced: TtsEngine | undefined;
    if (opts.engine) {
      forced = this.engines.get(opts.engine);
      if (!forced) this.warnOnce(`engine:${opts.engine}`, { engine: opts.engine }, 'unknown TTS engine; using the default');
    }
    if (forced && forced !== this.defaultEngine) {
      const voice = this.match(forced, requested) ?? this.match(forced, this.defaultVoice);
      if (voice !== undefined) return this.picked(forced, voice, language);
      this.warnOnce(`voice:${forced.name}:${requested}`, { voice: requested, engine: forced.name }, 'unknown TTS voice for this engine; using the default engine');
      forced = this.defaultEngine;
    }
    const free = forced === undefined;
    const d = this.defaultEngine;
    const defaultKnows = !this.hasVoices(d) || this.match(d, requested) !== undefined;
    if (free && !defaultKnows) {
      // Only names the default engine does not know: a Piper file named "slt" does not shadow flite's slt.
      for (const engine of this.engines.values()) {
        if (engine === d || !this.hasVoices(engine)) continue;
        const voice = this.match(engine, requested);
        if (voice !== undefined) return this.picked(engine, voice, language);
      }
    }
    if (!isEnglish(language)) {
      if (free) {
        for (const engine of this.engines.values()) {
          const voice = engine.voiceForLanguage?.(language);
          if (voice !== undefined) return this.picked(engine, voice, language);
        }
      }
      this.warnOnce(`lang:${language}`, { language }, 'no TTS voice for this language; using the default English voice');
      return this.defaultVoicePick(free, language);
    }
    if (!this.hasVoices(d)) return { engine: d, voice: requested, language };
    const voice = this.match(d, requested);
    // The bundled voices are all English: the audio depends on voice and text only, so every request
    // that reaches them shares one cache entry whatever language tag it carried.
    if (voice !== undefined) return { engine: d, voice, language: 'en' };
    if (requested !== this.defaultVoice) this.warnOnce(`voice:${requested}`, { voice: requested }, 'unknown TTS voice; using the default');
    return this.defaultVoicePick(free, language);
  }

  /** The configured default voice, on whichever engine has it (only the default engine when one was forced). */
  private defaultVoicePick(free: boolean, language: string): { engine: TtsEngine; voice: string; language: string } {
    const d = this.defaultEngine;
    if (!this.hasVoices(d)) return { engine: d, voice: this.defaultVoice, language };
    const voice = this.match(d, this.defaultVoice);
    if (voice !== undefined) return { engine: d, voice, language: 'en' };
    if (free) {
      for (const engine of this.engines.values()) {
        if (engine === d || !this.hasVoices(engine)) continue;
        const v = this.match(engine, this.defaultVoice);
        if (v !== undefined) return this.picked(engine, v, language);
      }
    }
    return { engine: d, voice: this.defaultEngineVoice(), language: 'en' };
  }

  /** A voice of the default engine: the default voice if it has it, else its 'female', else its first. */
  private defaultEngineVoice(): string {
    const d = this.defaultEngine;
    if (!this.hasVoices(d)) return this.defaultVoice;
    return this.match(d, this.defaultVoice) ?? this.match(d, 'female') ?? Object.keys(d.voices ?? {})[0] ?? this.defaultVoice;
  }

  private hasVoices(engine: TtsEngine): boolean {
    return engine.voices !== undefined || engine.matchVoice !== undefined;
  }

  private picked(engine: TtsEngine, voice: string, language: string): { engine: TtsEngine; voice: string; language: string } {
    // The cache key's third part: what the audio depends on besides voice and text.
    return { engine, voice, language: engine.voiceTag ? engine.voiceTag(voice) : language };
  }

  private match(engine: TtsEngine, requested: string): string | undefined {
    if (engine.matchVoice) return engine.matchVoice(requested);
    if (!engine.voices) return requested;
    return mapVoice(requested, engine.voices);
  }

  private warnOnce(key: string, fields: Record<string, string>, msg: string): void {
    if (this.warned.has(key)) return;
    if (this.warned.size < WARN_ONCE_LIMIT) this.warned.add(key);
    log.warn(fields, msg);
  }
}

/** Scale in place so the peak sits at -3 dBFS, boosting by at most +12 dB and never clipping. */
export function normalizePeak(pcm: Int16Array): void {
  let peak = 0;
  for (let i = 0; i < pcm.length; i++) {
    const a = pcm[i]! < 0 ? -pcm[i]! : pcm[i]!;
    if (a > peak) peak = a;
  }
  if (peak === 0) return;
  const gain = Math.min(MAX_GAIN, TARGET_PEAK / peak);
  if (Math.abs(gain - 1) < 0.01) return;
  for (let i = 0; i < pcm.length; i++) {
    const v = Math.round(pcm[i]! * gain);
    pcm[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
}
