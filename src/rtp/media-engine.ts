/**
 * Main-thread API of the media workers: `MediaEngine` (ports, workers, prompts) and `MediaSession`
 * (one RTP stream, owned by one worker). See docs/decisions/002-media-workers.md.
 *
 * Ownership: MediaEngine → workers → MediaSessions. `session.close()` and `engine.close()` are idempotent;
 * closing the engine closes every session, then stops the workers. A crashed worker's sessions get
 * `timeout` then `close('worker-crash')`, and a new worker takes its place.
 */
import { Worker } from 'node:worker_threads';
import os from 'node:os';
import { getLogger } from '../util/logger.js';
import { dtmfToEvent } from './telephone-event.js';
import { concatPcm, dtmfTone, silence } from '../media/tone.js';
import { HIST_BINS, HIST_MIN_MS, HIST_STEP_MS } from './protocol.js';
import type { Codec, FromWorker, MediaQuality, PacerStats, ToWorker, WorkerInit } from './protocol.js';

export type { Codec, MediaQuality, PacerStats } from './protocol.js';

const log = getLogger('rtp');

/** Settings of a MediaEngine; validated once by `MediaEngine.start`. */
/** With lazily started workers: the sessions every running worker holds before the next one starts. */
export const SPAWN_AT_SESSIONS = 16;

export interface MediaEngineOptions {
  /**
   * Worker threads. Default: one per core (`os.availableParallelism()`), started as they are needed — one at
   * start, the next when every running worker holds SPAWN_AT_SESSIONS sessions — so an idle or lightly used
   * switch holds one worker's memory (about 10 MB each). A number starts that many at once.
   */
  workers?: number;
  /** Local IP the RTP sockets bind to (e.g. '127.0.0.1' or '0.0.0.0'). */
  address: string;
  /** Address to put in SDP (`session.localAddress`). Default: `address` (or 127.0.0.1 for 0.0.0.0). */
  advertiseAddress?: string;
  /** Lowest RTP port (rounded up to even). Default 16384. */
  portMin?: number;
  /** Highest RTP port (RTCP uses port+1). Default 32766. */
  portMax?: number;
  /** No RTP received for this long (ms) since configure or the last packet → `timeout`. Default 60000; 0 disables. */
  rtpTimeoutMs?: number;
  /**
   * A worker that has not answered a ping for this long (ms) is terminated and replaced like a crashed
   * one (its sessions get `timeout` + `close('worker-crash')`). Default 10000; 0 disables.
   */
  watchdogMs?: number;
  /**
   * Nice value of each media worker thread (Linux). Media threads at a higher priority than signalling,
   * webhooks and whatever else runs on the box keep their send deadlines when the CPUs are contended, as
   * FreeSWITCH's realtime/high-priority mode does. Needs root or CAP_SYS_NICE for values below 0; without
   * them the threads log a warning and run at normal priority. Default 0 (leave as is).
   */
  niceness?: number;
}

export type MediaErrorCode =
  | 'NO_PORTS' | 'NO_WORKER' | 'BIND_FAILED' | 'CLOSED' | 'NOT_CONFIGURED' | 'INVALID_ARGUMENT' | 'UNKNOWN_PROMPT';

export class MediaError extends Error {
  readonly code: MediaErrorCode;
  constructor(code: MediaErrorCode, message: string) {
    super(message);
    this.name = 'MediaError';
    this.code = code;
  }
}

/** A prompt registered with the engine: PCM16 8 kHz mono in a SharedArrayBuffer, shared by all workers. */
export interface PromptRef {
  readonly id: number;
  readonly samples: number;
  readonly durationMs: number;
}

export interface MediaSessionConfig {
  /** Remote RTP address/port from the peer's SDP (until latching on received packets). */
  address: string;
  port: number;
  codec: Codec;
  /** Payload type for the codec (0 for PCMU, 8 for PCMA normally). */
  payloadType: number;
  /** Negotiated telephone-event PT; undefined → in-band DTMF detection, sendDtmf unavailable. */
  telephoneEventPt?: number;
  /** Override the engine's rtpTimeoutMs for this session (0 disables). */
  rtpTimeoutMs?: number;
  /**
   * Our direction (NegotiatedAudio.direction from sdp.ts). recvonly/inactive: nothing is sent (prompts still
   * progress); sendonly/inactive: no RTP timeout. Default sendrecv.
   */
  direction?: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  /** The peer's RTCP port (SDP a=rtcp, RFC 3605); default `port` + 1. */
  rtcpPort?: number;
}

/** The session config for a negotiation (sdp.ts `NegotiatedAudio`): one place for every call layer. */
export function sessionConfigFor(
  n: { address: string; port: number; codec: Codec; payloadType: number; telephoneEventPt?: number; direction?: MediaSessionConfig['direction']; rtcpPort?: number },
  rtpTimeoutMs?: number,
): MediaSessionConfig {
  return {
    address: n.address, port: n.port, codec: n.codec, payloadType: n.payloadType,
    ...(n.direction !== undefined ? { direction: n.direction } : {}),
    ...(n.telephoneEventPt !== undefined ? { telephoneEventPt: n.telephoneEventPt } : {}),
    ...(rtpTimeoutMs !== undefined ? { rtpTimeoutMs } : {}),
    ...(n.rtcpPort !== undefined ? { rtcpPort: n.rtcpPort } : {}),
  };
}

export type CloseReason = 'closed' | 'worker-crash';

export interface MediaSessionEvents {
  dtmf: (digit: string, source: 'rfc4733' | 'inband') => void;
  playDone: (playId: number, reason: 'finished' | 'stopped') => void;
  timeout: () => void;
  remote: (address: string, port: number) => void;
  close: (reason: CloseReason) => void;
  /** The call recorder reached its time limit (`full`) or heard `silenceMs` of caller silence (once each). */
  recorder: (reason: 'full' | 'silence') => void;
}

export interface MediaEngineStats {
  sessions: number;
  portsInUse: number;
  workers: number;
}

// ---------------------------------------------------------------- port allocator
/** Even RTP ports in [min, max]; port+1 is reserved for RTCP. Round-robin so a freed port is not reused at once. */
export class PortAllocator {
  readonly min: number;
  readonly max: number;
  private readonly inUse = new Set<number>();
  private cursor: number;
  constructor(min: number, max: number) {
    this.min = min % 2 === 0 ? min : min + 1;
    this.max = max;
    if (this.min > this.max || this.min < 1 || this.max > 65534) throw new MediaError('INVALID_ARGUMENT', `bad port range ${min}-${max}`);
    this.cursor = this.min;
  }
  get capacity(): number { return Math.floor((this.max - this.min) / 2) + 1; }
  get size(): number { return this.inUse.size; }
  /** An even port not in use, or undefined when all are taken. */
  take(): number | undefined {
    const cap = this.capacity;
    for (let i = 0; i < cap; i++) {
      const p = this.cursor;
      this.cursor = p + 2 > this.max ? this.min : p + 2;
      if (!this.inUse.has(p)) { this.inUse.add(p); return p; }
    }
    return undefined;
  }
  release(p: number): void { this.inUse.delete(p); }
}

// ---------------------------------------------------------------- workers
interface Slot {
  index: number;
  worker: Worker;
  alive: boolean;
  startedAt: number;
  lastPong: number;
  /** Consecutive deaths within 1 s of starting (drives the respawn backoff). */
  quickCrashes: number;
  readonly sessions: Map<number, MediaSession>;
  readonly prompts: Set<number>;
  readonly opening: Map<number, (m: Extract<FromWorker, { t: 'opened' }>) => void>;
  readonly statsReqs: Map<number, (s: PacerStats) => void>;
  /** Commands posted in the last FLUSH_DELAY_MS, sent together by `flushAll` (protocol.ts). */
  readonly outbox: ToWorker[];
}

interface PromptEntry { readonly ref: PromptRef; readonly sab: SharedArrayBuffer; readonly byteOffset: number }

const OPEN_ATTEMPTS = 32;
const CLOSE_REPLY_TIMEOUT_MS = 2000;
const RESPAWN_DELAY_MS = 200;
const MAX_RESPAWN_DELAY_MS = 10000;
/** createSession waits this long for a replacement worker when none is alive. */
const NO_WORKER_WAIT_MS = 5000;
/** A new worker may take this long (ms) to answer its first ping (module loading on a busy machine). */
const STARTUP_GRACE_MS = 30000;
/** Digits per sendDtmf call. */
const MAX_DTMF_DIGITS = 64;
/** Silence after each in-band DTMF tone, ms. */
const INBAND_DTMF_GAP_MS = 60;
/** Longest call recording (record_call / record_caller time_limit maximum, PIVOT.md 3.2). */
export const MAX_RECORDER_SECONDS = 10800;

/**
 * Young generation of a media thread, MB (V8 splits it into semi-spaces of a third each). A media thread's garbage is
 * per packet (Node's Buffer and rinfo for each datagram) and dies at once, so small semi-spaces cost only more, very
 * short scavenges; V8's default lets them grow to 16 MB each as the packet rate rises. `ivr --steps 100,400,700`:
 * the media heaps at 700 calls 50.2 MB → 34.5/34.7 MB (42 → 15-16 KB a call), send pacing unchanged within the
 * noise (p99 5.6 ms against 3.2/8.4 ms at 700 calls; 1.6 against 2.3/1.7 ms at 400). Decision 040, addendum.
 */
const MEDIA_YOUNG_GENERATION_MB = 12;

/**
 * Commands wait this long (ms) to be sent together, so that the turns of a busy event loop share one postMessage:
 * each one wakes a media thread, which at nice -10 preempts this one on a 2-core machine. At 400 calls/s: 1,200
 * postMessages a second with a flush per turn, 850 with 2 ms; postMessage 7.5 % -> 5.1 % of the main thread's
 * profile. Commands that must not wait (configure, recStart, recorderStart) still go at once.
 */
const FLUSH_DELAY_MS = 2;

export class MediaEngine {
  readonly address: string;
  readonly advertiseAddress: string;
  readonly rtpTimeoutMs: number;
  private readonly niceness: number;
  /** Most workers to run; with lazyWorkers they start one by one as sessions grow. */
  private readonly maxWorkers: number;
  private readonly lazyWorkers: boolean;
  private readonly ports: PortAllocator;
  private readonly slots: Slot[] = [];
  private readonly prompts = new Map<number, PromptEntry>();
  private readonly sessions = new Set<MediaSession>();
  private nextSid = 1;
  private nextPrompt = 1;
  private nextReq = 1;
  private closing: Promise<void> | undefined;
  private readonly watchdogMs: number;
  private watchdog: NodeJS.Timeout | undefined;
  private flushQueued = false;
  private checkEveryMs = 1000;
  private lastCheck = 0;

  private constructor(opts: MediaEngineOptions) {
    const workers = opts.workers ?? os.availableParallelism();
    if (!Number.isInteger(workers) || workers < 1 || workers > 256) throw new MediaError('INVALID_ARGUMENT', `bad workers ${String(opts.workers)}`);
    if (typeof opts.address !== 'string' || opts.address === '') throw new MediaError('INVALID_ARGUMENT', 'address is required');
    this.address = opts.address;
    this.advertiseAddress = opts.advertiseAddress ?? (opts.address === '0.0.0.0' ? '127.0.0.1' : opts.address === '::' ? '::1' : opts.address);
    this.rtpTimeoutMs = opts.rtpTimeoutMs ?? 60000;
    if (!(this.rtpTimeoutMs >= 0)) throw new MediaError('INVALID_ARGUMENT', 'bad rtpTimeoutMs');
    this.niceness = opts.niceness ?? 0;
    if (!Number.isInteger(this.niceness) || this.niceness < -20 || this.niceness > 19) throw new MediaError('INVALID_ARGUMENT', `bad niceness ${this.niceness} (an integer from -20 to 19)`);
    this.ports = new PortAllocator(opts.portMin ?? 16384, opts.portMax ?? 32766);
    this.watchdogMs = opts.watchdogMs ?? 10000;
    if (!(this.watchdogMs >= 0)) throw new MediaError('INVALID_ARGUMENT', 'bad watchdogMs');
    this.maxWorkers = workers;
    this.lazyWorkers = opts.workers === undefined;
    const initial = this.lazyWorkers ? 1 : workers;
    for (let i = 0; i < initial; i++) this.slots.push(this.spawn(i));
    this.checkEveryMs = Math.min(1000, Math.max(50, this.watchdogMs / 4));
    if (this.watchdogMs > 0) this.scheduleCheck();
  }

  /** The next liveness check, one period after this one (a chained timer, so a late check is visible as late). */
  private scheduleCheck(): void {
    this.watchdog = setTimeout(() => {
      this.checkWorkers();
      if (!this.closing) this.scheduleCheck();
    }, this.checkEveryMs);
    this.watchdog.unref();
  }

  private checkWorkers(): void {
    const now = performance.now();
    // If this check itself ran late, the main thread (not the worker) was stalled — a GC pause, a starved CPU —
    // and pongs may be waiting unread in the queue behind this timer: judge no worker on this round.
    const sinceLast = now - this.lastCheck;
    const stalled = this.lastCheck > 0 && sinceLast > 3 * this.checkEveryMs;
    this.lastCheck = now;
    if (stalled) {
      log.warn({ lateMs: Math.round(sinceLast) }, 'main thread stalled; media watchdog skips a round');
      for (const slot of this.slots) if (slot.alive && slot.lastPong !== Infinity) { slot.lastPong = Math.max(slot.lastPong, now); this.post(slot, { t: 'ping' }); }
      return;
    }
    for (const slot of this.slots) {
      if (!slot.alive) continue;
      const limit = slot.lastPong === slot.startedAt ? Math.max(this.watchdogMs, STARTUP_GRACE_MS) : this.watchdogMs;
      if (now - slot.lastPong > limit) {
        log.error({ worker: slot.index, silentMs: Math.round(now - slot.lastPong) }, 'media worker unresponsive; terminating it');
        slot.lastPong = Infinity; // terminate once
        void slot.worker.terminate().catch(() => undefined);
      } else {
        this.post(slot, { t: 'ping' });
      }
    }
  }

  /** Start the workers. Resolves once they are running. */
  static async start(opts: MediaEngineOptions): Promise<MediaEngine> {
    const engine = new MediaEngine(opts);
    try {
      await Promise.all(engine.slots.map((s) => new Promise<void>((resolve, reject) => {
        const onOnline = (): void => { s.worker.off('error', onError); resolve(); };
        const onError = (err: Error): void => { s.worker.off('online', onOnline); reject(err); };
        s.worker.once('online', onOnline);
        s.worker.once('error', onError);
      })));
    } catch (err) {
      await engine.close();
      throw err;
    }
    return engine;
  }

  stats(): MediaEngineStats {
    return { sessions: this.sessions.size, portsInUse: this.ports.size, workers: this.slots.filter((s) => s.alive).length };
  }

  /** Pacing/receive counters summed over the workers (percentiles from the merged histogram). */
  async pacerStats(reset = false): Promise<PacerStats> {
    const all = await Promise.all(this.slots.filter((s) => s.alive).map((slot) => new Promise<PacerStats>((resolve) => {
      const req = this.nextReq++;
      slot.statsReqs.set(req, resolve);
      this.post(slot, { t: 'stats', req, reset });
    })));
    return mergeStats(all);
  }

  /**
   * Create a session on the least loaded worker (or on `sameWorkerAs`'s worker, for bridging),
   * with its RTP socket on a free even port and RTCP on port+1.
   */
  async createSession(opts: { sameWorkerAs?: MediaSession } = {}): Promise<MediaSession> {
    if (this.closing) throw new MediaError('CLOSED', 'media engine closed');
    let lastErr = 'no attempt';
    let workerDeaths = 0;
    for (let attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
      const same = opts.sameWorkerAs && !opts.sameWorkerAs.closed ? this.slots[opts.sameWorkerAs.slotIndex] : undefined;
      const slot = same && same.alive ? same : await this.leastLoaded();
      const port = this.ports.take();
      if (port === undefined) throw new MediaError('NO_PORTS', `no free RTP port in ${this.ports.min}-${this.ports.max}`);
      const sid = this.nextSid++;
      const session = new MediaSession(this, slot.index, sid, this.advertiseAddress, port);
      slot.sessions.set(sid, session);
      this.sessions.add(session);
      const reply = await new Promise<Extract<FromWorker, { t: 'opened' }>>((resolve) => {
        if (!slot.alive) { resolve({ t: 'opened', sid, ok: false, code: 'EWORKER', message: 'worker not running' }); return; }
        slot.opening.set(sid, resolve);
        this.post(slot, { t: 'open', sid, port });
      });
      if (reply.ok) {
        if (this.closing) { await session.close(); throw new MediaError('CLOSED', 'media engine closed'); }
        return session;
      }
      slot.sessions.delete(sid);
      if (this.sessions.delete(session)) this.ports.release(port); // else a worker exit already released it
      lastErr = `${reply.code}: ${reply.message}`;
      if (reply.code === 'EWORKER' && ++workerDeaths >= 3) throw new MediaError('NO_WORKER', `media workers keep dying (${lastErr})`);
      if (reply.code !== 'EADDRINUSE' && reply.code !== 'EACCES' && reply.code !== 'EWORKER') {
        throw new MediaError('BIND_FAILED', `cannot bind RTP port ${port}: ${lastErr}`);
      }
      log.debug({ port, code: reply.code }, 'RTP port refused, trying the next one');
    }
    throw new MediaError('BIND_FAILED', `no bindable RTP port after ${OPEN_ATTEMPTS} attempts (${lastErr})`);
  }

  /** Register PCM16 8 kHz mono audio once; copied into a SharedArrayBuffer unless it already lives in one. */
  registerPrompt(pcm: Int16Array): PromptRef {
    let sab: SharedArrayBuffer;
    let byteOffset: number;
    if (pcm.buffer instanceof SharedArrayBuffer) {
      sab = pcm.buffer;
      byteOffset = pcm.byteOffset;
    } else {
      sab = new SharedArrayBuffer(pcm.length * 2);
      new Int16Array(sab).set(pcm);
      byteOffset = 0;
    }
    const ref: PromptRef = Object.freeze({ id: this.nextPrompt++, samples: pcm.length, durationMs: pcm.length / 8 });
    this.prompts.set(ref.id, { ref, sab, byteOffset });
    return ref;
  }

  /** Forget a prompt: workers drop it (plays already queued still finish). Playing it afterwards throws. */
  releasePrompt(ref: PromptRef): void {
    if (!this.prompts.delete(ref.id)) return;
    for (const slot of this.slots) {
      if (slot.prompts.delete(ref.id)) this.post(slot, { t: 'unprompt', pid: ref.id });
    }
  }

  /** Close every session, then stop the workers. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    if (this.watchdog) clearTimeout(this.watchdog);
    await Promise.all([...this.sessions].map((s) => s.close()));
    for (const slot of this.slots) {
      slot.alive = false;
      await slot.worker.terminate().catch(() => undefined);
    }
  }

  // ---- internals used by MediaSession ----
  /** @internal */
  postTo(slotIndex: number, msg: ToWorker): void {
    const slot = this.slots[slotIndex];
    if (slot && slot.alive) this.post(slot, msg);
  }
  /** @internal */
  sharePrompt(slotIndex: number, ref: PromptRef): void {
    const entry = this.prompts.get(ref.id);
    if (!entry) throw new MediaError('UNKNOWN_PROMPT', `prompt ${ref.id} is not registered`);
    const slot = this.slots[slotIndex]!;
    if (!slot.prompts.has(ref.id)) {
      slot.prompts.add(ref.id);
      this.post(slot, { t: 'prompt', pid: ref.id, sab: entry.sab, byteOffset: entry.byteOffset, length: ref.samples });
    }
  }
  /** @internal */
  nextRequest(): number { return this.nextReq++; }
  /** @internal */
  sessionClosed(s: MediaSession): void {
    const slot = this.slots[s.slotIndex];
    if (slot && slot.sessions.get(s.sid) === s) slot.sessions.delete(s.sid);
    if (this.sessions.delete(s)) this.ports.release(s.localPort);
  }
  /** @internal test hook: make a worker throw an uncaught exception. */
  crashWorkerForTest(index: number): void {
    const slot = this.slots[index];
    if (slot) this.post(slot, { t: 'crash' });
  }
  /** @internal test hook: block a worker's event loop for `ms`. */
  hangWorkerForTest(index: number, ms: number): void {
    const slot = this.slots[index];
    if (slot) this.post(slot, { t: 'hang', ms });
  }

  private post(slot: Slot, msg: ToWorker): void {
    slot.outbox.push(msg);
    // Commands that decide what happens to packets already on their way go out at once (with what was queued
    // before them, in order): the caller may send the SIP message that makes the peer talk in the same turn,
    // and a packet that reaches the worker before `configure` is dropped, one before `recStart` not recorded.
    if (msg.t === 'configure' || msg.t === 'recStart' || msg.t === 'recorderStart') {
      this.flushSlot(slot);
      return;
    }
    if (!this.flushQueued) {
      this.flushQueued = true;
      setTimeout(this.flushAll, FLUSH_DELAY_MS);
    }
  }

  /** Send each worker what was posted to it in the last FLUSH_DELAY_MS: one message (and one wake-up) per worker. */
  private readonly flushAll = (): void => {
    this.flushQueued = false;
    for (const slot of this.slots) this.flushSlot(slot);
  };

  private flushSlot(slot: Slot): void {
    const out = slot.outbox;
    if (out.length === 0) return;
    try {
      // postMessage copies synchronously, so the array can be emptied and reused at once
      slot.worker.postMessage(out.length === 1 ? out[0] : { t: 'batch', msgs: out });
    } catch (err) {
      log.error({ err: (err as Error).message, worker: slot.index }, 'postMessage to media worker failed');
    }
    out.length = 0;
  }

  /** The alive worker with the fewest sessions; waits (bounded) for a replacement if none is alive. */
  private async leastLoaded(): Promise<Slot> {
    const deadline = performance.now() + NO_WORKER_WAIT_MS;
    for (;;) {
      let best: Slot | undefined;
      for (const s of this.slots) {
        if (!s.alive) continue;
        if (!best || s.sessions.size < best.sessions.size) best = s;
      }
      if (best && this.lazyWorkers && best.sessions.size >= SPAWN_AT_SESSIONS && this.slots.length < this.maxWorkers && !this.closing) {
        // every running worker is busy enough: start the next (its commands queue until its thread is up)
        const slot = this.spawn(this.slots.length);
        this.slots.push(slot);
        log.info({ worker: slot.index, workers: this.slots.length, of: this.maxWorkers }, 'media worker started for load');
        return slot;
      }
      if (best) return best;
      if (this.closing) throw new MediaError('CLOSED', 'media engine closed');
      if (performance.now() > deadline) throw new MediaError('NO_WORKER', 'no media worker is running');
      await new Promise<void>((resolve) => setTimeout(resolve, 20));
    }
  }

  private spawn(index: number): Slot {
    const init: WorkerInit = { address: this.address, rtpTimeoutMs: this.rtpTimeoutMs, index, niceness: this.niceness };
    const worker = new Worker(new URL('./media-worker.js', import.meta.url), { workerData: init, resourceLimits: { maxYoungGenerationSizeMb: MEDIA_YOUNG_GENERATION_MB } });
    const slot: Slot = {
      index, worker, alive: true, startedAt: 0, lastPong: 0, quickCrashes: 0,
      sessions: new Map(), prompts: new Set(), opening: new Map(), statsReqs: new Map(), outbox: [],
    };
    slot.startedAt = slot.lastPong = performance.now();
    worker.on('message', (m: FromWorker) => this.onMessage(slot, m));
    worker.on('error', (err) => log.error({ worker: index, err: err.message }, 'media worker error'));
    worker.on('exit', (code) => this.onExit(slot, code));
    return slot;
  }

  private onExit(slot: Slot, code: number): void {
    const wasAlive = slot.alive;
    slot.alive = false;
    for (const [sid, resolve] of slot.opening) resolve({ t: 'opened', sid, ok: false, code: 'EWORKER', message: `worker exited (${code})` });
    slot.opening.clear();
    for (const resolve of slot.statsReqs.values()) resolve(emptyStats());
    slot.statsReqs.clear();
    const victims = [...slot.sessions.values()];
    slot.sessions.clear();
    for (const s of victims) s.workerDied();
    if (!wasAlive || this.closing) return;
    log.error({ worker: slot.index, code, sessions: victims.length }, 'media worker died; replacing it');
    // a worker dying right after start (e.g. a module failing to load) is respawned with backoff
    const quick = performance.now() - slot.startedAt < 1000;
    const crashes = quick ? slot.quickCrashes + 1 : 0;
    const delay = quick ? Math.min(MAX_RESPAWN_DELAY_MS, RESPAWN_DELAY_MS * 2 ** (crashes - 1)) : 0;
    const t = setTimeout(() => {
      if (this.closing) return;
      const fresh = this.spawn(slot.index);
      fresh.quickCrashes = crashes;
      this.slots[slot.index] = fresh;
    }, delay);
    t.unref();
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    switch (m.t) {
      case 'batch':
        for (const one of m.msgs) this.onMessage(slot, one);
        return;
      case 'opened': {
        const resolve = slot.opening.get(m.sid);
        slot.opening.delete(m.sid);
        resolve?.(m);
        return;
      }
      case 'pong':
        if (slot.lastPong !== Infinity) slot.lastPong = performance.now();
        return;
      case 'priority':
        // worker threads log silently unless HOOKLINE_LOG_LEVEL is set: the main thread says it
        if (m.ok) log.debug({ worker: slot.index, nice: m.nice }, 'media worker priority set');
        else if (slot.index === 0) {
          // no privilege is the common case for a non-root install: say it once, at info; anything else is a warning
          const denied = /EACCES|EPERM|permission/i.test(m.message);
          log[denied ? 'info' : 'warn']({ nice: m.nice, err: m.message }, 'media threads run at normal priority: a negative rtp.niceness needs root or CAP_SYS_NICE');
        }
        return;
      case 'stats': {
        const resolve = slot.statsReqs.get(m.req);
        slot.statsReqs.delete(m.req);
        resolve?.(m.stats);
        return;
      }
      default: {
        const s = slot.sessions.get(m.sid);
        if (s) s.onWorkerMessage(m);
        else if (m.t === 'closed') { /* already finalised */ }
      }
    }
  }
}

// ---------------------------------------------------------------- session
type Listener = (...args: never[]) => void;
/** The value a DTMF reply settles with (its waiter ignores it). */
const EMPTY_PCM = new Int16Array(0);

export class MediaSession {
  /** Address and port to advertise in our SDP. */
  readonly localAddress: string;
  readonly localPort: number;
  /** @internal */ readonly sid: number;
  /** @internal */ readonly slotIndex: number;
  private readonly engine: MediaEngine;
  /**
   * Listeners per event, in fixed slots (a session lives as long as its call: a Map of arrays per session cost
   * 0.7 KB). Created on first use, like the two tables below, which most sessions never need more than briefly.
   */
  private listeners: Record<keyof MediaSessionEvents, Listener[] | undefined> | undefined;
  /** Plays in the worker's queue: null for the owner's (reported as playDone), a callback for the session's own (in-band DTMF). */
  private plays: Map<number, (() => void) | null> | undefined;
  /** Replies awaited from the worker, by request id (engine-wide): DTMF sent, a recording, the call recorder's audio. */
  private replies: Map<number, (pcm: Int16Array) => void> | undefined;
  private nextPlayId = 1;
  private configured: MediaSessionConfig | undefined;
  /** The stream's quality, reported by the worker when the session closed (RTCP figures included); undefined before. */
  quality: MediaQuality | undefined;
  private remoteAddr: { address: string; port: number } | undefined;
  private closeResolve: (() => void) | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private closePromise: Promise<void> | undefined;
  private isClosed = false;

  /** @internal use `engine.createSession()` */
  constructor(engine: MediaEngine, slotIndex: number, sid: number, localAddress: string, localPort: number) {
    this.engine = engine;
    this.slotIndex = slotIndex;
    this.sid = sid;
    this.localAddress = localAddress;
    this.localPort = localPort;
  }

  /** True once close() was called or the worker died. */
  get closed(): boolean { return this.isClosed || this.closePromise !== undefined; }

  /** Settles once the session has closed (its `quality` is then known); undefined while nobody closed it. */
  get closing(): Promise<void> | undefined { return this.isClosed ? Promise.resolve() : this.closePromise; }
  /** Where we currently send (configured or latched), if configured. */
  get remote(): { address: string; port: number } | undefined { return this.remoteAddr; }
  get config(): Readonly<MediaSessionConfig> | undefined { return this.configured; }

  on<K extends keyof MediaSessionEvents>(event: K, fn: MediaSessionEvents[K]): this {
    const all = this.listeners ??= { dtmf: undefined, playDone: undefined, timeout: undefined, remote: undefined, close: undefined, recorder: undefined };
    const list = all[event];
    if (list) list.push(fn); else all[event] = [fn];
    return this;
  }

  off<K extends keyof MediaSessionEvents>(event: K, fn: MediaSessionEvents[K]): this {
    const list = this.listeners?.[event];
    if (list) { const i = list.indexOf(fn); if (i >= 0) list.splice(i, 1); }
    return this;
  }

  private expectReply(req: number, fn: (pcm: Int16Array) => void): void {
    (this.replies ??= new Map()).set(req, fn);
  }

  private settle(req: number, pcm: Int16Array): void {
    const fn = this.replies?.get(req);
    if (fn === undefined) return;
    this.replies!.delete(req);
    fn(pcm);
  }

  /** Start (or re-target, on re-INVITE) sending: one packet per 20 ms from now on. */
  configure(cfg: MediaSessionConfig): void {
    if (this.closed) return;
    if (cfg.codec !== 'PCMU' && cfg.codec !== 'PCMA') throw new MediaError('INVALID_ARGUMENT', `unsupported codec ${String(cfg.codec)}`);
    if (!Number.isInteger(cfg.port) || cfg.port < 1 || cfg.port > 65535) throw new MediaError('INVALID_ARGUMENT', `bad port ${cfg.port}`);
    if (!isPt(cfg.payloadType)) throw new MediaError('INVALID_ARGUMENT', `bad payload type ${cfg.payloadType}`);
    if (cfg.telephoneEventPt !== undefined && !isPt(cfg.telephoneEventPt)) throw new MediaError('INVALID_ARGUMENT', `bad telephone-event PT ${cfg.telephoneEventPt}`);
    const dir = cfg.direction ?? 'sendrecv';
    if (!['sendrecv', 'sendonly', 'recvonly', 'inactive'].includes(dir)) throw new MediaError('INVALID_ARGUMENT', `bad direction ${String(dir)}`);
    this.configured = { ...cfg };
    this.remoteAddr = { address: cfg.address, port: cfg.port };
    this.engine.postTo(this.slotIndex, {
      t: 'configure', sid: this.sid, address: cfg.address, port: cfg.port, codec: cfg.codec, payloadType: cfg.payloadType,
      telephoneEventPt: cfg.telephoneEventPt ?? -1,
      rtpTimeoutMs: dir === 'sendonly' || dir === 'inactive' ? 0 : cfg.rtpTimeoutMs ?? this.engine.rtpTimeoutMs,
      send: dir === 'sendrecv' || dir === 'sendonly',
      rtcpPort: cfg.rtcpPort !== undefined && Number.isInteger(cfg.rtcpPort) && cfg.rtcpPort > 0 && cfg.rtcpPort <= 65535 ? cfg.rtcpPort : 0,
    });
  }

  /** Queue a prompt after whatever is playing; returns its playId (reported by `playDone`). */
  play(ref: PromptRef): number {
    const playId = this.nextPlayId++;
    if (this.closed) {
      queueMicrotask(() => this.emit('playDone', playId, 'stopped'));
      return playId;
    }
    this.engine.sharePrompt(this.slotIndex, ref);
    (this.plays ??= new Map()).set(playId, null);
    this.engine.postTo(this.slotIndex, { t: 'play', sid: this.sid, playId, pid: ref.id });
    return playId;
  }

  /** Stop the current prompt and clear the queue; each item reports playDone 'stopped'. */
  stopPlayback(): void {
    if (!this.closed) this.engine.postTo(this.slotIndex, { t: 'stopPlayback', sid: this.sid });
  }

  /**
   * Send digits as RFC 4733 events; they replace audio frames at once (the prompt pauses). Without a
   * negotiated telephone-event PT the digits are played in-band as DTMF tones instead, queued after what
   * is playing (and cut by stopPlayback). Resolves when sent (or the session closed).
   */
  sendDtmf(digits: string, durationMs = 100): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.configured) return Promise.reject(new MediaError('NOT_CONFIGURED', 'configure the session first'));
    if (!(durationMs >= 20 && durationMs <= 8000)) return Promise.reject(new MediaError('INVALID_ARGUMENT', `bad DTMF duration ${durationMs}`));
    if (digits.length > MAX_DTMF_DIGITS) return Promise.reject(new MediaError('INVALID_ARGUMENT', `more than ${MAX_DTMF_DIGITS} digits`));
    const events: number[] = [];
    for (const d of digits) {
      const e = dtmfToEvent(d);
      if (e < 0) return Promise.reject(new MediaError('INVALID_ARGUMENT', `not a DTMF digit: ${JSON.stringify(d)}`));
      events.push(e);
    }
    if (events.length === 0) return Promise.resolve();
    if (this.configured.telephoneEventPt === undefined) return this.sendInbandDtmf(digits, durationMs);
    const req = this.engine.nextRequest();
    return new Promise<void>((resolve) => {
      this.expectReply(req, () => resolve());
      this.engine.postTo(this.slotIndex, { t: 'dtmf', sid: this.sid, req, events, durationMs });
    });
  }

  private async sendInbandDtmf(digits: string, durationMs: number): Promise<void> {
    const parts: Int16Array[] = [];
    for (const d of digits) parts.push(dtmfTone(d, { durationMs }), silence(INBAND_DTMF_GAP_MS));
    const ref = this.engine.registerPrompt(concatPcm(parts));
    try {
      const playId = this.nextPlayId++;
      await new Promise<void>((resolve) => {
        (this.plays ??= new Map()).set(playId, resolve);
        this.engine.sharePrompt(this.slotIndex, ref);
        this.engine.postTo(this.slotIndex, { t: 'play', sid: this.sid, playId, pid: ref.id });
      });
    } finally {
      this.engine.releasePrompt(ref);
    }
  }

  /**
   * Relay media both ways between this session and `other` (same worker: create it with
   * `createSession({ sameWorkerAs })`). Audio and telephone-events received on one leg go out of the other
   * (header rewrite, PCMU↔PCMA transcode if needed); a leg's own prompts and sendDtmf take precedence,
   * and its silence resumes 60 ms after relayed packets stop. Events (dtmf, recording) still fire per leg.
   */
  bridge(other: MediaSession): void {
    if (this.closed || other.closed) throw new MediaError('CLOSED', 'cannot bridge a closed session');
    if (other.slotIndex !== this.slotIndex) throw new MediaError('INVALID_ARGUMENT', 'bridged sessions must share a worker (createSession({ sameWorkerAs }))');
    if (other === this) throw new MediaError('INVALID_ARGUMENT', 'cannot bridge a session to itself');
    this.engine.postTo(this.slotIndex, { t: 'bridge', sid: this.sid, peer: other.sid });
  }

  /** Stop relaying (both directions). */
  unbridge(): void {
    if (!this.closed) this.engine.postTo(this.slotIndex, { t: 'unbridge', sid: this.sid });
  }

  /** Start recording received audio (decoded PCM16 8 kHz), at most `maxSeconds` (≤ 3600). Restarts if already recording. */
  startRecording(maxSeconds: number): void {
    if (this.closed) return;
    if (!(maxSeconds > 0 && maxSeconds <= 3600)) throw new MediaError('INVALID_ARGUMENT', `bad maxSeconds ${maxSeconds}`);
    this.engine.postTo(this.slotIndex, { t: 'recStart', sid: this.sid, maxSeconds });
  }

  /** Stop recording; resolves with what was recorded (empty when not recording or closed). */
  stopRecording(): Promise<Int16Array> {
    if (this.closed) return Promise.resolve(new Int16Array(0));
    const req = this.engine.nextRequest();
    return new Promise<Int16Array>((resolve) => {
      this.expectReply(req, resolve);
      this.engine.postTo(this.slotIndex, { t: 'recStop', sid: this.sid, req });
    });
  }

  /**
   * Start the call recorder (src/rtp/recorder.ts): `mix` records the caller plus what the caller hears (our
   * prompts, the bridged peer), else the caller only; at most `maxSeconds` (≤ 10800; then a `recorder` 'full'
   * event); `silenceMs` > 0 gives a `recorder` 'silence' event once the caller was quiet that long.
   * Restarts if already recording. Independent of `startRecording`.
   */
  startRecorder(opts: { mix: boolean; maxSeconds: number; silenceMs?: number }): void {
    if (this.closed) return;
    if (!(opts.maxSeconds > 0 && opts.maxSeconds <= MAX_RECORDER_SECONDS)) throw new MediaError('INVALID_ARGUMENT', `bad maxSeconds ${opts.maxSeconds}`);
    const silenceMs = opts.silenceMs ?? 0;
    if (!(silenceMs >= 0 && silenceMs <= MAX_RECORDER_SECONDS * 1000)) throw new MediaError('INVALID_ARGUMENT', `bad silenceMs ${silenceMs}`);
    this.engine.postTo(this.slotIndex, { t: 'recorderStart', sid: this.sid, mix: opts.mix, maxSeconds: opts.maxSeconds, silenceMs });
  }

  /** Stop the call recorder; resolves with the PCM16 8 kHz audio (empty when not recording or closed). */
  stopRecorder(): Promise<Int16Array> {
    if (this.closed) return Promise.resolve(new Int16Array(0));
    const req = this.engine.nextRequest();
    return new Promise<Int16Array>((resolve) => {
      this.expectReply(req, resolve);
      this.engine.postTo(this.slotIndex, { t: 'recorderStop', sid: this.sid, req });
    });
  }

  /** Stop sending, close the sockets, free the ports; pending plays report 'stopped'. Idempotent. */
  close(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    if (this.isClosed) return Promise.resolve();
    this.closePromise = new Promise<void>((resolve) => { this.closeResolve = resolve; });
    this.closeTimer = setTimeout(() => this.finish('closed'), CLOSE_REPLY_TIMEOUT_MS);
    this.closeTimer.unref();
    this.engine.postTo(this.slotIndex, { t: 'close', sid: this.sid });
    return this.closePromise;
  }

  /** @internal */
  onWorkerMessage(m: FromWorker): void {
    switch (m.t) {
      case 'dtmf': this.emit('dtmf', m.digit, m.source); break;
      case 'playDone': {
        const r = this.plays?.get(m.playId);
        if (r === undefined) break;
        this.plays!.delete(m.playId);
        if (r === null) this.emit('playDone', m.playId, m.reason); else r();
        break;
      }
      case 'timeout': this.emit('timeout'); break;
      case 'remote':
        this.remoteAddr = { address: m.address, port: m.port };
        this.emit('remote', m.address, m.port);
        break;
      case 'dtmfDone': this.settle(m.req, EMPTY_PCM); break;
      case 'recording': this.settle(m.req, m.pcm); break;
      case 'recorderData': this.settle(m.req, m.pcm); break;
      case 'recorderEvent': this.emit('recorder', m.reason); break;
      case 'closed': this.quality = m.q; this.finish('closed'); break;
      default: break;
    }
  }

  /** @internal the worker owning this session died. */
  workerDied(): void {
    if (this.isClosed) return;
    if (this.configured && !this.closePromise) this.emit('timeout');
    this.finish('worker-crash');
  }

  private finish(reason: CloseReason): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    const plays = this.plays;
    this.plays = undefined;
    if (plays) for (const [playId, r] of plays) { if (r === null) this.emit('playDone', playId, 'stopped'); else r(); }
    const replies = this.replies;
    this.replies = undefined;
    if (replies) for (const r of replies.values()) r(new Int16Array(0));
    this.engine.sessionClosed(this);
    this.closeResolve?.();
    this.emit('close', reason);
    this.listeners = undefined;
  }

  private emit<K extends keyof MediaSessionEvents>(event: K, ...args: Parameters<MediaSessionEvents[K]>): void {
    const list = this.listeners?.[event];
    if (!list) return;
    for (const fn of list.slice()) {
      try {
        (fn as (...a: Parameters<MediaSessionEvents[K]>) => void)(...args);
      } catch (err) {
        log.error({ err: (err as Error).message, event }, 'media session listener threw');
      }
    }
  }
}

function isPt(n: number): boolean { return Number.isInteger(n) && n >= 0 && n <= 127; }

function emptyStats(): PacerStats {
  return { sent: 0, lateP50: 0, lateP99: 0, lateMax: 0, resyncs: 0, ticks: 0, received: 0, rejected: 0, rtcp: 0, foreign: 0, gcCount: 0, gcMs: 0, cpuMs: 0, loopP99Ms: 0, loopMaxMs: 0, heapUsedMB: 0, heapTotalMB: 0, hist: new Array<number>(HIST_BINS).fill(0) };
}

/** Sum worker stats; percentiles recomputed from the merged histogram. */
export function mergeStats(all: readonly PacerStats[]): PacerStats {
  const out = emptyStats();
  for (const s of all) {
    out.sent += s.sent; out.resyncs += s.resyncs; out.ticks += s.ticks;
    out.received += s.received; out.rejected += s.rejected; out.rtcp += s.rtcp; out.foreign += s.foreign;
    out.gcCount += s.gcCount; out.gcMs += s.gcMs;
    out.heapUsedMB += s.heapUsedMB ?? 0; out.heapTotalMB += s.heapTotalMB ?? 0;
    out.cpuMs = out.cpuMs < 0 || s.cpuMs < 0 ? -1 : out.cpuMs + s.cpuMs;
    out.lateMax = Math.max(out.lateMax, s.lateMax);
    out.loopP99Ms = Math.max(out.loopP99Ms, s.loopP99Ms);
    out.loopMaxMs = Math.max(out.loopMaxMs, s.loopMaxMs);
    for (let i = 0; i < HIST_BINS; i++) out.hist[i]! += s.hist[i] ?? 0;
  }
  const total = out.hist.reduce((a, b) => a + b, 0);
  const pct = (p: number): number => {
    if (total === 0) return 0;
    const want = Math.ceil(total * p);
    let acc = 0;
    for (let i = 0; i < HIST_BINS; i++) { acc += out.hist[i]!; if (acc >= want) return HIST_MIN_MS + (i + 1) * HIST_STEP_MS; }
    return HIST_MIN_MS + HIST_BINS * HIST_STEP_MS;
  };
  out.lateP50 = pct(0.5);
  out.lateP99 = pct(0.99);
  return out;
}
