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
  synthesize(text: string, voice: string): Promise<TtsAudio>;
  /** Release workers and files. Idempotent. */
  close?(): Promise<void>;
}
