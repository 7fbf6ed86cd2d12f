/** Messages between FliteEngine (main thread) and flite-worker (worker thread). */

export interface FliteWorkerData {
  /** Absolute path of flite.wasm; the worker reads and compiles it (custom sections dropped). */
  wasmPath: string;
  /** Host directory preopened as /out, where the WASM program writes its WAV. Owned by the main thread. */
  outDir: string;
  /** Unique prefix for this worker's files in outDir. */
  prefix: string;
  /** Instantiate the next WASM instance while idle (hides ~50 ms per synthesis, costs ~17 MB). */
  prewarm: boolean;
}

export interface FliteRequest {
  type: 'synth';
  id: number;
  text: string;
  voice: string;
  /** Resample to this rate in the worker (anti-alias filter), if set and different from the voice's. */
  sampleRate?: number;
}

export type FliteReply =
  | { type: 'ready' }
  | { type: 'fatal'; message: string }
  | { type: 'done'; id: number; pcm: ArrayBuffer; length: number; sampleRate: number; ms: number }
  | { type: 'error'; id: number; message: string };
