/**
 * MP3 (MPEG-1/2/2.5 layer I/II/III) decoding to mono PCM16 through `mpg123-decoder` (mpg123 compiled to
 * WebAssembly; no native code). The input is fed in slices with a macrotask yield between them, so a long
 * file never blocks the event loop (SIP timers, webhook I/O) for more than a slice's worth of decoding.
 *
 * ```ts
 * const { pcm, sampleRate } = await decodeMp3(bytes, { maxSamples: 8000 * 600 });
 * ```
 */
import type { MPEGDecoder as Decoder } from 'mpg123-decoder';

/** mpg123-decoder (about 1 MB of RSS with its WASM) is loaded with the first MP3, not at start. */
let decoderClass: Promise<typeof Decoder> | undefined;
function loadDecoder(): Promise<typeof Decoder> {
  decoderClass ??= import('mpg123-decoder').then((m) => m.MPEGDecoder);
  decoderClass.catch(() => { decoderClass = undefined; });
  return decoderClass;
}

export class Mp3Error extends Error {
  override readonly name = 'Mp3Error';
  constructor(readonly code: 'MP3_INVALID' | 'MP3_TOO_LONG', message: string) {
    super(message);
  }
}

export interface DecodedMp3 {
  /** Mono PCM16 (channels averaged). */
  pcm: Int16Array;
  sampleRate: number;
}

/** Bytes decoded per slice before yielding (≈ 16 s of 128 kbit/s audio, a few ms of CPU). */
const SLICE_BYTES = 256 * 1024;

/** True when `b` starts like an MP3 stream: an ID3v2 tag or an MPEG audio frame sync. */
export function looksLikeMp3(b: Uint8Array): boolean {
  if (b.length >= 3 && b[0] === 0x49 && b[1] === 0x44 && b[2] === 0x33) return true; // "ID3"
  return b.length >= 2 && b[0] === 0xff && (b[1]! & 0xe0) === 0xe0 && (b[1]! & 0x06) !== 0;
}

const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Decode a whole MP3 held in memory. Throws `Mp3Error` when nothing decodes (`MP3_INVALID`) or the audio
 * is longer than `maxSamples` (per channel, at the file's rate; `MP3_TOO_LONG`).
 */
export async function decodeMp3(bytes: Uint8Array, opts: { maxSamples?: number } = {}): Promise<DecodedMp3> {
  const maxSamples = opts.maxSamples ?? Number.MAX_SAFE_INTEGER;
  const MPEGDecoder = await loadDecoder();
  const decoder = new MPEGDecoder();
  const parts: Int16Array[] = [];
  let total = 0;
  let sampleRate = 0;
  try {
    await decoder.ready;
    for (let off = 0; off < bytes.length; off += SLICE_BYTES) {
      const out = decoder.decode(bytes.subarray(off, Math.min(bytes.length, off + SLICE_BYTES)));
      if (out.samplesDecoded > 0) {
        if (sampleRate === 0) sampleRate = out.sampleRate;
        if (total + out.samplesDecoded > maxSamples) {
          throw new Mp3Error('MP3_TOO_LONG', `MP3 longer than ${maxSamples} samples`);
        }
        parts.push(mixDown(out.channelData, out.samplesDecoded));
        total += out.samplesDecoded;
      }
      if (off + SLICE_BYTES < bytes.length) await yieldNow();
    }
  } finally {
    decoder.free();
  }
  if (total === 0 || sampleRate <= 0) throw new Mp3Error('MP3_INVALID', 'no MPEG audio frames decoded');
  const pcm = new Int16Array(total);
  let at = 0;
  for (const p of parts) { pcm.set(p, at); at += p.length; }
  return { pcm, sampleRate };
}

function mixDown(channels: readonly Float32Array[], n: number): Int16Array {
  const out = new Int16Array(n);
  const k = channels.length;
  if (k === 0) return out;
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let c = 0; c < k; c++) acc += channels[c]![i]!;
    const s = Math.round((acc / k) * 32767);
    out[i] = s > 32767 ? 32767 : s < -32768 ? -32768 : s;
  }
  return out;
}
