/**
 * Recording files: PCM16 8 kHz mono → WAV (PCM16, 44-byte header) or MP3 (lamejs, MPEG-2.5 layer III, 32 kbit/s).
 *
 * MP3 encoding is CPU heavy in pure JavaScript (about 0.4 s per minute of audio once warm, and a first call
 * that can stall for a second while it warms up), so each file is encoded in its own worker thread
 * (src/media/mp3-worker.ts): the main thread (SIP, webhooks) never waits on it. Bounded: at most
 * MAX_ENCODERS at once, MAX_QUEUED waiting (more fail at once), a job time limit.
 */
import { Worker } from 'node:worker_threads';
import { writeWav } from './wav.js';

export type RecordingFormat = 'wav' | 'mp3';

export const RECORDING_RATE = 8000;
/** MP3 bit rate, kbit/s (8 kHz mono voice: 32 keeps tones and speech clean at 4 KB/s). */
export const MP3_KBPS = 32;
export const MAX_ENCODERS = 2;
export const MAX_QUEUED = 64;
/** An encoder job taking longer than this is stopped (3 h of audio takes about a minute). */
export const ENCODE_TIMEOUT_MS = 10 * 60_000;

export class EncodeError extends Error {
  override readonly name = 'EncodeError';
  constructor(readonly code: 'ENCODE_BUSY' | 'ENCODE_FAILED' | 'ENCODE_TIMEOUT', message: string) { super(message); }
}

export function contentTypeOf(format: RecordingFormat): string {
  return format === 'mp3' ? 'audio/mpeg' : 'audio/wav';
}

/** Encode PCM16 8 kHz mono as a WAV or MP3 file. */
export async function encodeRecording(pcm: Int16Array, format: RecordingFormat): Promise<Uint8Array> {
  if (format === 'wav') return writeWav(pcm, RECORDING_RATE);
  return encodeMp3(pcm);
}

let running = 0;
const waiting: Array<() => void> = [];

/** MP3 of PCM16 8 kHz mono, encoded in a worker thread. Throws EncodeError. */
export async function encodeMp3(pcm: Int16Array, opts: { kbps?: number; timeoutMs?: number } = {}): Promise<Uint8Array> {
  if (running >= MAX_ENCODERS) {
    if (waiting.length >= MAX_QUEUED) throw new EncodeError('ENCODE_BUSY', 'too many MP3 encodings waiting');
    await new Promise<void>((resolve) => waiting.push(resolve));
  }
  running++;
  try {
    return await runEncoder(pcm, opts.kbps ?? MP3_KBPS, opts.timeoutMs ?? ENCODE_TIMEOUT_MS);
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function runEncoder(pcm: Int16Array, kbps: number, timeoutMs: number): Promise<Uint8Array> {
  const copy = pcm.slice(); // the worker gets its own buffer (transferred, no second copy)
  return new Promise<Uint8Array>((resolve, reject) => {
    const w = new Worker(new URL('./mp3-worker.js', import.meta.url), {
      workerData: { pcm: copy, rate: RECORDING_RATE, kbps }, transferList: [copy.buffer as ArrayBuffer],
    });
    let done = false;
    const finish = (err: Error | undefined, file?: Uint8Array): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      void w.terminate();
      if (err) reject(err); else resolve(file!);
    };
    const timer = setTimeout(() => finish(new EncodeError('ENCODE_TIMEOUT', `MP3 encoding took more than ${timeoutMs} ms`)), timeoutMs);
    w.once('message', (file: Uint8Array) => finish(undefined, file));
    w.once('error', (err) => finish(new EncodeError('ENCODE_FAILED', err.message)));
    w.once('exit', (code) => finish(new EncodeError('ENCODE_FAILED', `MP3 encoder exited (${code})`)));
  });
}
