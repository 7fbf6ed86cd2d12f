/**
 * espeak-ng (Emscripten build, @echogarden/espeak-ng-emscripten, an optional dependency) as a phonemizer:
 * text → IPA for one clause in a given espeak voice. Used inside the Piper worker thread only.
 *
 * The build's `text_to_phonemes(text, ipa)` returns a pointer to a C string in the module's memory with
 * phonemes separated by "_" and espeak's own clause breaks as " | "; both separators are removed here
 * (Piper voices were trained on separator-free IPA, clauses handled by the caller).
 * Voices: tried by name (en-us, en-gb-x-rp, fr), then by language (en-gb, fr-fr); espeak reports an
 * unknown one only on its error stream ("Unknown phoneme table"), which is watched while switching.
 */

/** The members of the Emscripten module this file uses. */
interface EspeakPointer {
  readonly ptr: number;
}
interface EspeakWorker {
  set_voice(name: string, language: string): number;
  text_to_phonemes(text: string, ipa: number): EspeakPointer;
}
interface EspeakModule {
  readonly HEAPU8: Uint8Array;
  readonly eSpeakNGWorker: new () => EspeakWorker;
}
type EspeakFactory = (opts: { print: (s: string) => void; printErr: (s: string) => void }) => Promise<EspeakModule>;

export const ESPEAK_PACKAGE = '@echogarden/espeak-ng-emscripten';

const decoder = new TextDecoder();

export class EspeakPhonemizer {
  private voice: string | undefined;
  private errors: string[] = [];

  private constructor(
    private readonly module: EspeakModule,
    private readonly worker: EspeakWorker,
    private readonly errSink: { target: string[] | undefined },
  ) {}

  /** Load the module (≈ 0.3 s, reads its 24 MB data file). Throws if the package is not installed. */
  static async load(): Promise<EspeakPhonemizer> {
    const specifier: string = ESPEAK_PACKAGE;
    const mod = (await import(specifier)) as { default: EspeakFactory };
    const sink: { target: string[] | undefined } = { target: undefined };
    const module = await mod.default({
      print: () => undefined,
      printErr: (s: string) => sink.target?.push(s),
    });
    return new EspeakPhonemizer(module, new module.eSpeakNGWorker(), sink);
  }

  /** Switch voice (cheap when it is already current). Throws when espeak-ng has no such voice. */
  setVoice(voice: string): void {
    if (this.voice === voice) return;
    this.voice = undefined;
    const attempt = (name: string, language: string): boolean => {
      this.errors = [];
      this.errSink.target = this.errors;
      try {
        const rc = this.worker.set_voice(name, language);
        return rc === 0 && this.errors.length === 0;
      } finally {
        this.errSink.target = undefined;
      }
    };
    if (!attempt(voice, '') && !attempt('', voice)) {
      throw new Error(`espeak-ng has no voice ${JSON.stringify(voice)}${this.errors[0] ? ` (${this.errors[0]})` : ''}`);
    }
    this.voice = voice;
  }

  /** IPA of one clause in the current voice, without separators (words separated by one space). */
  phonemize(text: string): string {
    if (this.voice === undefined) throw new Error('espeak-ng: no voice set');
    const p = this.worker.text_to_phonemes(text, 1);
    const heap = this.module.HEAPU8;
    let end = p.ptr;
    while (end < heap.length && heap[end] !== 0) end++;
    const raw = decoder.decode(heap.subarray(p.ptr, end));
    return raw.replace(/\s*\|\s*/g, ' ').replace(/_/g, '').replace(/\s+/g, ' ').trim();
  }
}
