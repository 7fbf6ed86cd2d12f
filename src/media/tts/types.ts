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
  /**
   * Map a requested voice name to this engine's voice (the name then passed to synthesize), or undefined
   * when the engine has no such voice. Without it TtsService matches against `voices` (Kazoo names too).
   */
  matchVoice?(requested: string): string | undefined;
  /** A voice of this engine speaking `language` (a BCP 47 tag such as de-DE), if it has one. */
  voiceForLanguage?(language: string): string | undefined;
  /** Changes when the voice's data changes (e.g. a voice file replaced on disk); part of the cache key. */
  voiceTag?(voice: string): string;
  /** Start workers ahead of the first request. */
  warmUp?(): Promise<void>;
  /** Cheap and idempotent: start workers in the background if they are not running (a call is arriving). */
  wake?(): void;
  /** Release workers and files. Idempotent. */
  close?(): Promise<void>;
}
