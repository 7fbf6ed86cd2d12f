/** Audio produced by an engine at its native rate (mono PCM16). */
export interface TtsAudio {
  pcm: Int16Array;
  sampleRate: number;
}

/** A speech synthesiser. `voice` is an engine-specific name (already mapped by TtsService). */
export interface TtsEngine {
  readonly name: string;
  /** Voice names this engine accepts (values are engine data, e.g. native rate). When present,
   * TtsService maps Kazoo names (female/male) onto them and replaces unknown names by the default. */
  readonly voices?: Readonly<Record<string, unknown>>;
  /**
   * `sampleRate` is a wish: an engine may deliver that rate (e.g. resampling off the main thread);
   * callers check `TtsAudio.sampleRate` and convert when it differs.
   */
  synthesize(text: string, voice: string, opts?: { sampleRate?: number }): Promise<TtsAudio>;
  /** Start workers ahead of the first request. */
  warmUp?(): Promise<void>;
  /** Release workers and files. Idempotent. */
  close?(): Promise<void>;
}
