/**
 * Messages between the main thread (`MediaEngine`) and a media worker (`media-worker.ts`).
 * Commands and events are rare (per call, per prompt, per digit); packets never cross threads.
 * Each side queues what it sends and posts it as one message (a `batch` when there are several): the worker per
 * turn of its event loop, the engine per 2 ms (media-engine.ts FLUSH_DELAY_MS). Every postMessage wakes the other
 * thread, and at hundreds of calls a second the wake-ups, not the copying, were the cost. `configure`, `recStart` and `recorderStart` go at once (after what was
 * queued before them): they decide what happens to packets the peer may already be sending.
 * `sid` is a session id unique within the engine; `req` correlates a reply with its request.
 */

export type Codec = 'PCMU' | 'PCMA';

export interface WorkerInit {
  /** Local address the worker binds its sockets to. */
  readonly address: string;
  /** Default RTP inactivity timeout in ms. */
  readonly rtpTimeoutMs: number;
  /** Worker index (for logs). */
  readonly index: number;
  /** Nice value for this thread (Linux; negative raises priority, needs CAP_SYS_NICE). 0 leaves it. */
  readonly niceness: number;
}

export interface ConfigureMsg {
  readonly t: 'configure';
  readonly sid: number;
  readonly address: string;
  readonly port: number;
  readonly codec: Codec;
  readonly payloadType: number;
  /** -1 when telephone-event was not negotiated. */
  readonly telephoneEventPt: number;
  readonly rtpTimeoutMs: number;
  /** False for recvonly/inactive: frames are produced (prompts progress) but not sent. */
  readonly send: boolean;
  /** The peer's RTCP port from its SDP (a=rtcp, RFC 3605); 0 = `port` + 1. */
  readonly rtcpPort: number;
}

/** One stream's quality at its end: our counts, and the peer's RTCP report about what we sent (-1 = none came). */
export interface MediaQuality {
  /** RTP packets we sent, and received from the peer. */
  sent: number;
  received: number;
  /** Packets of the peer's we never received (RFC 3550 A.3; duplicates do not make it negative here). */
  lost: number;
  /** RFC 3550 interarrival jitter of what we received, ms. */
  jitterMs: number;
  /**
   * From the peer's last report block about our stream: fraction lost (0..1), cumulative lost, jitter (ms); all -1
   * when no report came (`remoteFractionLost` < 0 tells; a cumulative loss can itself be negative with duplicates).
   */
  remoteFractionLost: number;
  remoteLost: number;
  remoteJitterMs: number;
  /** Round-trip time from the peer's LSR/DLSR echo of our SR, ms. */
  rttMs: number;
}

export interface ConfJoinMsg {
  readonly t: 'confJoin';
  readonly rid: number;
  readonly mid: number;
  readonly buf: SharedArrayBuffer;
  readonly muted: boolean;
  readonly deaf: boolean;
  readonly moderator: boolean;
  /** Room options, taken from the member that creates the room. */
  readonly entryTone: boolean;
  readonly exitTone: boolean;
  readonly waitForModerator: boolean;
}

export type ToWorker =
  | { readonly t: 'open'; readonly sid: number; readonly port: number }
  | ConfigureMsg
  | { readonly t: 'prompt'; readonly pid: number; readonly sab: SharedArrayBuffer; readonly byteOffset: number; readonly length: number }
  | { readonly t: 'unprompt'; readonly pid: number }
  | { readonly t: 'play'; readonly sid: number; readonly playId: number; readonly pid: number }
  | { readonly t: 'stopPlayback'; readonly sid: number }
  | { readonly t: 'dtmf'; readonly sid: number; readonly req: number; readonly events: readonly number[]; readonly durationMs: number }
  | { readonly t: 'recStart'; readonly sid: number; readonly maxSeconds: number }
  | { readonly t: 'recStop'; readonly sid: number; readonly req: number }
  /** Call recorder (recorder.ts): `mix` = caller + what the caller hears; `silenceMs` 0 = no silence stop. */
  | { readonly t: 'recorderStart'; readonly sid: number; readonly mix: boolean; readonly maxSeconds: number; readonly silenceMs: number }
  | { readonly t: 'recorderStop'; readonly sid: number; readonly req: number }
  | { readonly t: 'close'; readonly sid: number }
  | { readonly t: 'bridge'; readonly sid: number; readonly peer: number }
  | { readonly t: 'unbridge'; readonly sid: number }
  | { readonly t: 'stats'; readonly req: number; readonly reset: boolean }
  /** Conference (src/rtp/mixer.ts): the room's home worker mixes; `buf` holds the member's up/down rings. */
  | ConfJoinMsg
  | { readonly t: 'confLeave'; readonly rid: number; readonly mid: number }
  /** The worker owning the member's RTP session: received audio goes up the rings, paced frames come down. */
  | { readonly t: 'confAttach'; readonly sid: number; readonly buf: SharedArrayBuffer }
  | { readonly t: 'confDetach'; readonly sid: number }
  /** Test hook: throw an uncaught exception in the worker. */
  | { readonly t: 'crash' }
  /** Test hook: block the worker's event loop for `ms`. */
  | { readonly t: 'hang'; readonly ms: number }
  /** Watchdog probe; the worker answers 'pong'. */
  | { readonly t: 'ping' }
  /** Several commands posted in one turn of the main thread's event loop, in order. */
  | { readonly t: 'batch'; readonly msgs: readonly ToWorker[] };

/** Send-side pacing and receive counters of one worker (or summed over all). */
export interface PacerStats {
  /** RTP packets sent. */
  sent: number;
  /** Send time minus deadline, ms (negative = early, bounded by the 1 ms early tolerance). */
  lateP50: number;
  lateP99: number;
  lateMax: number;
  /** Times a stream fell > 100 ms behind and was resynchronised instead of bursting. */
  resyncs: number;
  /** Loop ticks (each serves all due streams). */
  ticks: number;
  /** Packets received: valid RTP, malformed/unknown, RTCP (on port+1 or multiplexed). */
  received: number;
  rejected: number;
  rtcp: number;
  /** RTP dropped because it came from another source than the latched one (strict source, media-worker.ts). */
  foreign: number;
  /** Garbage collections in the worker(s) and their total pause, ms (allocation pressure of the hot paths). */
  gcCount: number;
  gcMs: number;
  /** CPU time (user + system) the media threads used since the last reset, ms (Linux, 10 ms ticks); -1 where unknown. */
  cpuMs: number;
  /**
   * Event-loop delay of the media thread(s) since the last reset, ms (perf_hooks, 10 ms resolution): how long a
   * received packet can wait before it is read and relayed. Measured from the first stats request on (an idle
   * worker has no extra timer); the highest of the workers when merged.
   */
  loopP99Ms: number;
  loopMaxMs: number;
  /** V8 heap of the media thread(s) at the snapshot, MB (summed when merged): used, and reserved (total). */
  heapUsedMB: number;
  heapTotalMB: number;
  /** Lateness histogram: bin i counts sends with lateness in [HIST_MIN + i*HIST_STEP, +HIST_STEP) ms. */
  hist: number[];
}

export const HIST_MIN_MS = -2;
export const HIST_STEP_MS = 0.1;
export const HIST_BINS = 1020; // -2 ms .. +100 ms; the last bin also holds everything later

export type FromWorker =
  | { readonly t: 'opened'; readonly sid: number; readonly ok: true }
  | { readonly t: 'opened'; readonly sid: number; readonly ok: false; readonly code: string; readonly message: string }
  | { readonly t: 'dtmf'; readonly sid: number; readonly digit: string; readonly source: 'rfc4733' | 'inband' }
  | { readonly t: 'playDone'; readonly sid: number; readonly playId: number; readonly reason: 'finished' | 'stopped' }
  | { readonly t: 'timeout'; readonly sid: number }
  | { readonly t: 'remote'; readonly sid: number; readonly address: string; readonly port: number }
  | { readonly t: 'dtmfDone'; readonly sid: number; readonly req: number }
  | { readonly t: 'recording'; readonly sid: number; readonly req: number; readonly pcm: Int16Array }
  | { readonly t: 'recorderEvent'; readonly sid: number; readonly reason: 'full' | 'silence' }
  | { readonly t: 'recorderData'; readonly sid: number; readonly req: number; readonly pcm: Int16Array }
  | { readonly t: 'closed'; readonly sid: number; readonly q?: MediaQuality }
  | { readonly t: 'pong' }
  /** The outcome of setting the thread's nice value (sent once at start when rtp.niceness is not 0). */
  | { readonly t: 'priority'; readonly ok: boolean; readonly nice: number; readonly message: string }
  | { readonly t: 'stats'; readonly req: number; readonly stats: PacerStats }
  /** Several events posted in one turn of the worker's event loop, in order. */
  | { readonly t: 'batch'; readonly msgs: readonly FromWorker[] };
