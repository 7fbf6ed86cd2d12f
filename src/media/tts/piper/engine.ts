/**
 * PiperEngine: Piper neural voices (`<name>.onnx` + `<name>.onnx.json` in a voices folder) in child
 * processes, behind one bounded fastq queue (the same shape as FliteEngine):
 *
 *   synthesize() ──► fastq (concurrency = workers, at most `queueLimit` waiting) ──► idle child
 *
 * Child processes rather than worker threads: ONNX Runtime aborts the whole process when a worker thread
 * running it is terminated (see piper-child.ts), and a timeout has to stop a synthesis. Each job gets
 * `timeoutMs` once a child starts it; a job that overruns kills its child (SIGKILL), which is replaced on
 * the next job. A child exits by itself when the parent goes away. Voices are scanned at construction and again (at most every RESCAN_MS) when a
 * request names a voice not seen yet, so a voice dropped into the folder is found without a restart.
 *
 * onnxruntime-node and @echogarden/espeak-ng-emscripten are optional dependencies. When either is
 * missing or cannot load, synthesize() rejects with TTS_UNAVAILABLE (TtsService then speaks with its
 * default engine) and the reason, with how to install, is logged once.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastq from 'fastq';
import { getLogger } from '../../../util/logger.js';
import { TtsError } from '../errors.js';
import type { TtsAudio, TtsEngine } from '../types.js';
import { ESPEAK_PACKAGE } from './espeak.js';
import type { PiperReply, PiperRequest, PiperVoiceSpec, PiperWorkerData } from './protocol.js';
import { scanVoices, type PiperVoice } from './voice.js';

const log = getLogger('tts');

const ORT_PACKAGE = 'onnxruntime-node';
/** What to tell an operator whose installation lacks the optional packages. */
export const PIPER_INSTALL_HINT =
  `install the optional packages: npm install ${ORT_PACKAGE} ${ESPEAK_PACKAGE} --onnxruntime-node-install=skip ` +
  '(the skip flag avoids a CUDA download; the CPU runtime is bundled)';
/** Most distinct voice-file problems remembered so that each is logged once. */
const MAX_REPORTED = 256;
/** Least time between two rescans of the voices folder triggered by unknown voice names. */
const RESCAN_MS = 10_000;

export interface PiperEngineOptions {
  /** Folder holding `<name>.onnx` + `<name>.onnx.json` voices. */
  voicesDir: string;
  /** Child processes; default 1. Each keeps its loaded models (tens of MB per voice) besides ~60 MB of its own. */
  workers?: number;
  /** Requests allowed to wait for a worker; more are rejected with TTS_QUEUE_FULL. Default 64. */
  queueLimit?: number;
  /** Per-synthesis budget once a worker starts it (including loading the model the first time), ms. Default 30000. */
  timeoutMs?: number;
  /** ONNX Runtime threads per inference; default 1 (media workers share the cores). */
  threads?: number;
  /** Voice models kept loaded per worker; default 4. */
  maxLoadedVoices?: number;
  /** Clock for the rescan throttle; default Date.now. */
  now?: () => number;
  /** Voices whose models warmUp() loads in every process (e.g. the configured default voice); names that
   * are not Piper voices are ignored. */
  preload?: readonly string[];
  /** Packages the engine needs (checked at construction). Default onnxruntime-node and the espeak-ng build; tests override it. */
  dependencies?: readonly string[];
}

/** Public description of a voice (values of `voices`). */
export interface PiperVoiceInfo {
  name: string;
  sampleRate: number;
  /** espeak voice, e.g. en-us. */
  language: string;
  speakers: number;
}

interface Job {
  text: string;
  spec: PiperVoiceSpec;
  sampleRate: number | undefined;
}

/** Most bytes of a child's stderr kept for the error message when it dies. */
const STDERR_TAIL = 2048;

interface Slot {
  index: number;
  worker: ChildProcess | undefined;
  ready: Promise<void> | undefined;
  current: { id: number; modelPath: string; resolve: (a: TtsAudio) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | undefined;
  busy: boolean;
}

/** SIGKILL a child and wait for it to be gone (at once if it already is). */
function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    child.ref(); // so that waiting for the exit keeps the event loop alive
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Whether the IPC channel keeps the event loop alive (while a start or a job is pending). */
function hold(child: ChildProcess, on: boolean): void {
  if (on) child.channel?.ref();
  else child.channel?.unref();
}

/** The optional packages Piper needs that are not installed (empty when it can run, as far as resolving goes). */
export function missingPiperPackages(): string[] {
  return [ORT_PACKAGE, ESPEAK_PACKAGE].filter((p) => !installed(p));
}

/** True when `name` can be resolved from this package (the optional dependency is installed). */
function installed(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}

export class PiperEngine implements TtsEngine {
  readonly name = 'piper';
  readonly voicesDir: string;
  private byKey = new Map<string, PiperVoice>();
  private voiceInfo: Record<string, PiperVoiceInfo> = Object.create(null) as Record<string, PiperVoiceInfo>;
  private readonly workers: number;
  private readonly queueLimit: number;
  private readonly timeoutMs: number;
  private readonly threads: number;
  private readonly maxLoaded: number;
  private readonly now: () => number;
  private readonly preload: readonly string[];
  private lastScan = 0;
  /** Voice-file problems already logged (bounded). */
  private readonly reported = new Set<string>();
  private readonly slots: Slot[] = [];
  private readonly live = new Set<ChildProcess>();
  private readonly queue: fastq.queueAsPromised<Job, TtsAudio>;
  private nextJobId = 1;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Set once the engine is known not to work here; every request then fails with TTS_UNAVAILABLE. */
  private unavailable: string | undefined;

  constructor(opts: PiperEngineOptions) {
    this.voicesDir = resolvePath(opts.voicesDir);
    this.workers = opts.workers ?? 1;
    this.queueLimit = opts.queueLimit ?? 64;
    this.timeoutMs = opts.timeoutMs ?? 30000;
    this.threads = opts.threads ?? 1;
    this.maxLoaded = opts.maxLoadedVoices ?? 4;
    this.now = opts.now ?? Date.now;
    this.preload = opts.preload ?? [];
    if (!Number.isInteger(this.workers) || this.workers < 1 || this.workers > 16) throw new RangeError('PiperEngine: workers must be 1..16');
    if (!Number.isInteger(this.queueLimit) || this.queueLimit < 0) throw new RangeError('PiperEngine: queueLimit must be >= 0');
    if (!(this.timeoutMs > 0)) throw new RangeError('PiperEngine: timeoutMs must be > 0');
    if (!Number.isInteger(this.threads) || this.threads < 1 || this.threads > 64) throw new RangeError('PiperEngine: threads must be 1..64');
    if (!Number.isInteger(this.maxLoaded) || this.maxLoaded < 1) throw new RangeError('PiperEngine: maxLoadedVoices must be >= 1');
    for (let i = 0; i < this.workers; i++) this.slots.push({ index: i, worker: undefined, ready: undefined, current: undefined, busy: false });
    this.queue = fastq.promise(this, (job: Job) => this.run(job), this.workers);
    const missing = (opts.dependencies ?? [ORT_PACKAGE, ESPEAK_PACKAGE]).filter((p) => !installed(p));
    if (missing.length > 0) this.markUnavailable(`${missing.join(' and ')} not installed; ${PIPER_INSTALL_HINT}`);
    this.rescan();
  }

  /** Voices found, by lower-case name. */
  get voices(): Readonly<Record<string, PiperVoiceInfo>> {
    return this.voiceInfo;
  }

  /** Why the engine cannot run here, or undefined while it can (as far as known). */
  get unavailableReason(): string | undefined {
    return this.unavailable;
  }

  /** Child processes alive (0 after close() resolves). */
  get liveWorkers(): number {
    return this.live.size;
  }

  /** Read the voices folder again: new voices are added, removed ones dropped, known ones kept as read
   * (bad voices are logged once and skipped). */
  rescan(): void {
    this.lastScan = this.now();
    const known = new Map([...this.byKey.values()].map((v) => [v.modelPath, v] as const));
    const { voices, errors } = scanVoices(this.voicesDir, known);
    for (const e of errors) {
      if (this.reported.has(e.message)) continue; // once per problem, not at every rescan
      if (this.reported.size < MAX_REPORTED) this.reported.add(e.message);
      log.warn({ file: e.file }, `Piper voice skipped: ${e.message}`);
    }
    const byKey = new Map<string, PiperVoice>();
    const info: Record<string, PiperVoiceInfo> = Object.create(null) as Record<string, PiperVoiceInfo>; // keys are file names
    for (const v of voices) {
      const key = v.name.toLowerCase();
      if (byKey.has(key)) {
        log.warn({ file: v.modelPath }, 'Piper voice skipped: another voice has the same name (names are case-insensitive)');
        continue;
      }
      byKey.set(key, v);
      info[key] = { name: v.name, sampleRate: v.sampleRate, language: v.espeakVoice, speakers: v.numSpeakers };
    }
    const added = [...byKey.keys()].filter((k) => !this.byKey.has(k));
    this.byKey = byKey;
    this.voiceInfo = info;
    if (added.length > 0) log.info({ dir: this.voicesDir, voices: added }, 'Piper voices found');
  }

  /**
   * `name` or `name#speaker` (speaker: an id, or a name from the voice's speaker_id_map), case-insensitive.
   * An unknown name triggers a rescan of the folder (at most every 10 s; a listing plus the new files).
   */
  matchVoice(requested: string): string | undefined {
    const v = requested.trim().toLowerCase();
    if (v === '') return undefined;
    const hash = v.indexOf('#');
    const base = hash >= 0 ? v.slice(0, hash) : v;
    let voice = this.byKey.get(base);
    if (!voice && this.now() - this.lastScan >= RESCAN_MS) {
      this.rescan();
      voice = this.byKey.get(base);
    }
    if (!voice) return undefined;
    if (hash < 0) return base;
    return this.speakerOf(voice, v.slice(hash + 1)) === undefined ? undefined : v;
  }

  voiceForLanguage(language: string): string | undefined {
    const want = language.trim().toLowerCase().replace(/_/g, '-');
    const primary = want.split('-')[0]!;
    let fallback: string | undefined;
    for (const [key, v] of this.byKey) {
      const lang = v.espeakVoice.toLowerCase();
      if (lang === want) return key;
      if (fallback === undefined && lang.split('-')[0] === primary) fallback = key;
    }
    return fallback;
  }

  voiceTag(voice: string): string {
    const v = this.byKey.get(voice.split('#')[0]!);
    return v ? `${v.espeakVoice}:${v.tag}` : '';
  }

  /** Start the processes, and load the `preload` voices' models in each (a first request then skips ~1 s). */
  async warmUp(): Promise<void> {
    if (this.unavailable || this.byKey.size === 0) return;
    await Promise.all(this.slots.map((s) => this.ensureWorker(s)));
    const voices = this.preload.map((v) => this.matchVoice(v)).filter((v): v is string => v !== undefined);
    for (const v of voices) {
      // One job per process: an idle process takes each, so every process loads the model.
      const jobs = this.slots.map(() => this.synthesize('Hello.', v));
      for (const r of await Promise.allSettled(jobs)) {
        if (r.status === 'rejected') log.warn({ voice: v, err: (r.reason as Error).message }, 'Piper voice preload failed');
      }
    }
  }

  synthesize(text: string, voice: string, opts: { sampleRate?: number } = {}): Promise<TtsAudio> {
    if (this.closed) return Promise.reject(new TtsError('TTS_CLOSED', 'TTS engine closed'));
    if (this.unavailable) return Promise.reject(new TtsError('TTS_UNAVAILABLE', `Piper voices unavailable: ${this.unavailable}`));
    const spec = this.spec(voice);
    if (!spec) return Promise.reject(new TtsError('TTS_ENGINE', `unknown Piper voice ${voice} (voices folder ${this.voicesDir})`));
    if (this.queue.running() >= this.workers && this.queue.length() >= this.queueLimit) {
      return Promise.reject(new TtsError('TTS_QUEUE_FULL', `TTS queue full (${this.queueLimit} waiting)`));
    }
    return this.queue.push({ text, spec, sampleRate: opts.sampleRate });
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.closing = (async () => {
      for (const slot of this.slots) {
        if (slot.current) {
          clearTimeout(slot.current.timer);
          slot.current.reject(new TtsError('TTS_CLOSED', 'TTS engine closed'));
          slot.current = undefined;
        }
        slot.worker = undefined;
        slot.ready = undefined;
      }
      await Promise.all([...this.live].map((c) => kill(c)));
    })();
    return this.closing;
  }

  private speakerOf(voice: PiperVoice, speaker: string): number | undefined {
    if (/^\d+$/.test(speaker)) {
      const id = Number(speaker);
      return id < voice.numSpeakers ? id : undefined;
    }
    for (const [name, id] of Object.entries(voice.speakerIdMap)) if (name.toLowerCase() === speaker) return id;
    return undefined;
  }

  private spec(requested: string): PiperVoiceSpec | undefined {
    const key = this.matchVoice(requested);
    if (!key) return undefined;
    const hash = key.indexOf('#');
    const voice = this.byKey.get(hash >= 0 ? key.slice(0, hash) : key)!;
    const speaker = hash >= 0 ? this.speakerOf(voice, key.slice(hash + 1)) : voice.numSpeakers > 1 ? 0 : undefined;
    return {
      modelPath: voice.modelPath,
      tag: voice.tag,
      sampleRate: voice.sampleRate,
      phonemeType: voice.phonemeType,
      espeakVoice: voice.espeakVoice,
      phonemeIdMap: voice.phonemeIdMap,
      scales: [voice.noiseScale, voice.lengthScale, voice.noiseW],
      speaker,
    };
  }

  /** Warn (once per voice and phoneme) about phonemes the voice cannot say: usually an espeak-ng version
   * or voice that differs from the one the voice was trained with. */
  private reportMissing(modelPath: string, missing: readonly string[]): void {
    const fresh = missing.filter((p) => !this.reported.has(`${modelPath}\u0000${p}`));
    if (fresh.length === 0) return;
    for (const p of fresh) if (this.reported.size < MAX_REPORTED) this.reported.add(`${modelPath}\u0000${p}`);
    log.warn({ file: modelPath, phonemes: fresh }, 'Piper voice has no id for these phonemes (skipped)');
  }

  private markUnavailable(reason: string): void {
    if (this.unavailable) return;
    this.unavailable = reason;
    log.error({ dir: this.voicesDir }, `Piper voices unavailable, speaking with the default engine instead: ${reason}`);
  }

  private ensureWorker(slot: Slot): Promise<void> {
    if (slot.ready) return slot.ready;
    const data: PiperWorkerData = { threads: this.threads, maxSessions: this.maxLoaded };
    const child = fork(fileURLToPath(new URL('./piper-child.js', import.meta.url)), [JSON.stringify(data)], {
      serialization: 'advanced', // ArrayBuffers cross the IPC channel as binary, not JSON
      execArgv: ['--no-warnings'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    // The channel keeps the parent alive only while the child starts or works (see hold()).
    child.unref();
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL);
    });
    (child.stderr as { unref?: () => void } | null)?.unref?.();
    this.live.add(child);
    child.once('exit', () => this.live.delete(child));
    slot.worker = child;
    slot.ready = new Promise<void>((resolve, reject) => {
      let started = false;
      child.on('message', (msg: PiperReply) => {
        if (msg.type === 'ready') {
          started = true;
          hold(child, false);
          resolve();
        } else if (msg.type === 'fatal') {
          this.markUnavailable(msg.missing ? `${msg.message}; ${PIPER_INSTALL_HINT}` : msg.message);
          reject(new TtsError('TTS_UNAVAILABLE', `Piper voices unavailable: ${msg.message}`));
          this.discard(slot, child);
        } else {
          const cur = slot.current;
          if (!cur || cur.id !== msg.id) return;
          clearTimeout(cur.timer);
          slot.current = undefined;
          hold(child, false);
          if (msg.type === 'done') {
            log.debug({ ms: Math.round(msg.ms), phonemes: msg.phonemes, samples: msg.length }, 'piper synthesis');
            this.reportMissing(cur.modelPath, msg.missing);
            cur.resolve({ pcm: new Int16Array(msg.pcm, 0, msg.length), sampleRate: msg.sampleRate });
          } else {
            cur.reject(new TtsError('TTS_ENGINE', `piper: ${msg.message}`));
          }
        }
      });
      const died = (why: string): void => {
        if (slot.worker !== child) return;
        const detail = stderr.trim() ? `${why}: ${stderr.trim().split('\n').slice(-3).join(' / ')}` : why;
        log.warn({ worker: slot.index, why: detail }, 'piper process died');
        if (!started) reject(new TtsError('TTS_ENGINE', `piper process failed to start: ${detail}`));
        const cur = slot.current;
        if (cur) {
          clearTimeout(cur.timer);
          slot.current = undefined;
          cur.reject(new TtsError('TTS_ENGINE', `piper process died: ${detail}`));
        }
        this.discard(slot, child);
      };
      child.on('error', (err) => died(err.message));
      child.on('exit', (code, signal) => died(signal ? `killed by ${signal}` : `exit ${code}`));
    });
    slot.ready.catch(() => undefined);
    return slot.ready;
  }

  private discard(slot: Slot, child: ChildProcess): void {
    if (slot.worker === child) {
      slot.worker = undefined;
      slot.ready = undefined;
    }
    void kill(child);
  }

  private async run(job: Job): Promise<TtsAudio> {
    if (this.closed) throw new TtsError('TTS_CLOSED', 'TTS engine closed');
    if (this.unavailable) throw new TtsError('TTS_UNAVAILABLE', `Piper voices unavailable: ${this.unavailable}`);
    const slot = this.slots.find((s) => !s.busy);
    if (!slot) throw new TtsError('TTS_ENGINE', 'no idle worker (internal)');
    slot.busy = true;
    try {
      await this.ensureWorker(slot);
      const worker = slot.worker;
      if (this.closed || !worker) throw new TtsError('TTS_CLOSED', 'TTS engine closed');
      const id = this.nextJobId++;
      return await new Promise<TtsAudio>((resolve, reject) => {
        const timer = setTimeout(() => {
          if (slot.current?.id !== id) return;
          slot.current = undefined;
          log.warn({ worker: slot.index, ms: this.timeoutMs }, 'piper synthesis timed out; replacing its process');
          this.discard(slot, worker);
          reject(new TtsError('TTS_TIMEOUT', `TTS synthesis exceeded ${this.timeoutMs} ms`));
        }, this.timeoutMs);
        slot.current = { id, modelPath: job.spec.modelPath, resolve, reject, timer };
        const req: PiperRequest = { type: 'synth', id, text: job.text, voice: job.spec, ...(job.sampleRate ? { sampleRate: job.sampleRate } : {}) };
        hold(worker, true);
        worker.send(req);
      });
    } finally {
      slot.busy = false;
    }
  }
}
