/**
 * Test media: WAV/MP3 files made in memory, and a real HTTP media server with ETag/Last-Modified and
 * request logging. Not a test file itself (no `.test.`).
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Mp3Encoder } from '@breezystack/lamejs';
import { tone } from '../../src/media/tone.js';
import { writeWav, writeWavG711 } from '../../src/media/wav.js';
import { encodeMulaw } from '../../src/media/g711.js';

/** A sine tone as PCM16 at `rate`. */
export function sine(freq: number, ms: number, rate: number, amplitude = 10000): Int16Array {
  return tone(freq, { durationMs: ms, sampleRate: rate, amplitude });
}

export function wavBytes(freq: number, ms: number, rate: number, amplitude = 10000): Buffer {
  return Buffer.from(writeWav(sine(freq, ms, rate, amplitude), rate));
}

export function mulawWavBytes(freq: number, ms: number, amplitude = 10000): Buffer {
  const pcm = sine(freq, ms, 8000, amplitude);
  const out = new Uint8Array(pcm.length);
  encodeMulaw(pcm, out);
  return Buffer.from(writeWavG711(out, 'mulaw'));
}

export function mp3Bytes(freq: number, ms: number, rate = 16000, amplitude = 10000): Buffer {
  const enc = new Mp3Encoder(1, rate, 32);
  const parts = [enc.encodeBuffer(sine(freq, ms, rate, amplitude)), enc.flush()];
  return Buffer.concat(parts.map((p) => Buffer.from(p)));
}

export interface MediaFile { body: Buffer; contentType?: string; etag?: string; lastModified?: string; cacheControl?: string; status?: number; delayMs?: number }

export interface MediaRequestLog { path: string; ifNoneMatch?: string; ifModifiedSince?: string; status: number }

export interface MediaServer {
  url: string;
  files: Map<string, MediaFile>;
  log: MediaRequestLog[];
  close(): Promise<void>;
}

export async function startMediaServer(files: Record<string, MediaFile> = {}): Promise<MediaServer> {
  const map = new Map(Object.entries(files));
  const log: MediaRequestLog[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const f = map.get(path);
    const entry: MediaRequestLog = { path, status: 404 };
    if (typeof req.headers['if-none-match'] === 'string') entry.ifNoneMatch = req.headers['if-none-match'];
    if (typeof req.headers['if-modified-since'] === 'string') entry.ifModifiedSince = req.headers['if-modified-since'];
    log.push(entry);
    const send = (): void => {
      if (!f) { res.writeHead(404); res.end(); return; }
      const h: Record<string, string> = {};
      if (f.etag) h.etag = f.etag;
      if (f.lastModified) h['last-modified'] = f.lastModified;
      if (f.cacheControl) h['cache-control'] = f.cacheControl;
      if ((f.etag && entry.ifNoneMatch === f.etag) || (!f.etag && f.lastModified && entry.ifModifiedSince === f.lastModified)) {
        entry.status = 304;
        res.writeHead(304, h);
        res.end();
        return;
      }
      entry.status = f.status ?? 200;
      h['content-type'] = f.contentType ?? 'application/octet-stream';
      res.writeHead(entry.status, h);
      res.end(f.body);
    };
    if (f?.delayMs) setTimeout(send, f.delayMs); else send();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, files: map, log, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/** RMS of a buffer (optionally a slice). */
export function rmsOf(pcm: Int16Array, from = 0, to = pcm.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += pcm[i]! * pcm[i]!;
  return to > from ? Math.sqrt(s / (to - from)) : 0;
}

/** Dominant-frequency check via Goertzel power ratio of `freq` vs total energy (0..1). */
export function toneShare(pcm: Int16Array, freq: number, rate = 8000): number {
  const n = pcm.length;
  if (n === 0) return 0;
  const k = 2 * Math.cos((2 * Math.PI * freq) / rate);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (let i = 0; i < n; i++) {
    const x = pcm[i]!;
    const s0 = x + k * s1 - s2;
    s2 = s1;
    s1 = s0;
    energy += x * x;
  }
  const power = s1 * s1 + s2 * s2 - k * s1 * s2;
  return energy > 0 ? (2 * power) / (n * energy) : 0;
}
