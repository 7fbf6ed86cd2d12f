/**
 * MP3 encoder thread (worker_threads): PCM16 8 kHz mono in (workerData), one MP3 file out (posted back,
 * transferred). lamejs is pure JavaScript and needs about 0.4 s of CPU per minute of audio plus a slow first
 * call while it warms up, so it runs here instead of on the main thread (see docs/decisions/010-recording.md).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Mp3Encoder } from '@breezystack/lamejs';

interface Job { pcm: Int16Array; rate: number; kbps: number }

const SLICE = 576 * 70;
const job = workerData as Job;
const enc = new Mp3Encoder(1, job.rate, job.kbps);
const parts: Uint8Array[] = [];
let total = 0;
for (let off = 0; off < job.pcm.length; off += SLICE) {
  const out = enc.encodeBuffer(job.pcm.subarray(off, Math.min(job.pcm.length, off + SLICE)));
  if (out.length > 0) { parts.push(out.slice()); total += out.length; }
}
const tail = enc.flush();
if (tail.length > 0) { parts.push(tail.slice()); total += tail.length; }
const file = new Uint8Array(total);
let at = 0;
for (const p of parts) { file.set(p, at); at += p.length; }
parentPort!.postMessage(file, [file.buffer]);
