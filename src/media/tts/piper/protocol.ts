/** Messages between PiperEngine (main thread) and piper-worker (worker thread). */

export interface PiperWorkerData {
  /** ONNX Runtime intra-op threads per inference (the machine's cores are shared with media workers). */
  threads: number;
  /** Voice models kept loaded in this worker (least recently used dropped first). */
  maxSessions: number;
}

/** What the worker needs of a voice (sent with each request; the model is loaded once and kept). */
export interface PiperVoiceSpec {
  modelPath: string;
  /** Changes when the files change: a new tag reloads the model. */
  tag: string;
  sampleRate: number;
  phonemeType: 'espeak' | 'text';
  espeakVoice: string;
  phonemeIdMap: Readonly<Record<string, readonly number[]>>;
  /** noise_scale, length_scale, noise_w. */
  scales: [number, number, number];
  /** Speaker id for multi-speaker voices; undefined for single-speaker ones (no `sid` input). */
  speaker: number | undefined;
}

export interface PiperRequest {
  type: 'synth';
  id: number;
  text: string;
  voice: PiperVoiceSpec;
  /** Resample to this rate in the worker, if set and different from the voice's. */
  sampleRate?: number;
}

export type PiperReply =
  | { type: 'ready' }
  /** The worker cannot work at all (a dependency is missing or does not load). */
  | { type: 'fatal'; message: string; missing: boolean }
  /** `missing`: phonemes espeak produced that the voice's phoneme_id_map lacks (skipped). */
  | { type: 'done'; id: number; pcm: ArrayBuffer; length: number; sampleRate: number; phonemes: number; missing: string[]; ms: number }
  | { type: 'error'; id: number; message: string };
