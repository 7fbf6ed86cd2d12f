/**
 * Recording files: PCM16 8 kHz mono → WAV (PCM16, 44-byte header) or MP3 (lamejs, MPEG-2.5 layer III).
 *
 * MP3 encoding is CPU work on the main thread: it runs in slices of `MP3_SLICE_SAMPLES` (5 s of audio, a few
 * ms of CPU) with a macrotask yield (setImmediate) between slices, so SIP timers, webhook I/O and other calls
 * keep going while a long recording encodes. Measured figure: see docs/decisions/010-recording.md.
 */
import { Mp3Encoder } from '@breezystack/lamejs';
import { writeWav } from './wav.js';

export type RecordingFormat = 'wav' | 'mp3';

export const RECORDING_RATE = 8000;
/** MP3 bit rate, kbit/s (8 kHz mono voice: 32 keeps tones and speech clean at 4 KB/s). */
export const MP3_KBPS = 32;
/** Samples encoded per slice before yielding (5 s; a multiple of the 576-sample MPEG-2.5 granule). */
export const MP3_SLICE_SAMPLES = 576 * 70;

export function contentTypeOf(format: RecordingFormat): string {
  return format === 'mp3' ? 'audio/mpeg' : 'audio/wav';
}

const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Encode PCM16 8 kHz mono as a WAV or MP3 file. */
export async function encodeRecording(pcm: Int16Array, format: RecordingFormat): Promise<Uint8Array> {
  if (format === 'wav') return writeWav(pcm, RECORDING_RATE);
  return encodeMp3(pcm);
}

/** MP3 of PCM16 8 kHz mono, sliced with yields (see the header). `signal` abandons the work between slices. */
export async function encodeMp3(pcm: Int16Array, opts: { signal?: AbortSignal; kbps?: number } = {}): Promise<Uint8Array> {
  const enc = new Mp3Encoder(1, RECORDING_RATE, opts.kbps ?? MP3_KBPS);
  const parts: Uint8Array[] = [];
  let total = 0;
  for (let off = 0; off < pcm.length; off += MP3_SLICE_SAMPLES) {
    if (opts.signal?.aborted) throw new Error('MP3 encoding aborted');
    const out = enc.encodeBuffer(pcm.subarray(off, Math.min(pcm.length, off + MP3_SLICE_SAMPLES)));
    if (out.length > 0) { parts.push(out.slice()); total += out.length; }
    if (off + MP3_SLICE_SAMPLES < pcm.length) await yieldNow();
  }
  const tail = enc.flush();
  if (tail.length > 0) { parts.push(tail.slice()); total += tail.length; }
  const file = new Uint8Array(total);
  let at = 0;
  for (const p of parts) { file.set(p, at); at += p.length; }
  return file;
}
