/** The closed set of TTS failures; tests and callers switch on `code`. */
export type TtsErrorCode =
  /** The engine's bounded queue is full: shed load (play a file, retry later). */
  | 'TTS_QUEUE_FULL'
  /** One synthesis exceeded its time budget; the worker running it was replaced. */
  | 'TTS_TIMEOUT'
  /** The service/engine was closed before the request finished. */
  | 'TTS_CLOSED'
  /** The engine failed (worker crashed, WASM failed to load, unreadable output). */
  | 'TTS_ENGINE'
  /** The text is longer than the configured maximum. */
  | 'TTS_TEXT_TOO_LONG'
  /** The engine cannot run on this installation (an optional dependency is missing or does not load);
   * TtsService falls back to its default engine. */
  | 'TTS_UNAVAILABLE';

export class TtsError extends Error {
  override readonly name = 'TtsError';
  constructor(
    readonly code: TtsErrorCode,
    message: string,
  ) {
    super(message);
  }
}
