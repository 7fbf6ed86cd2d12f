/**
 * Media fetching for `play`: an http(s) URL or a local file → mono PCM16 at 8 kHz, ready for
 * `CallControl.play({ kind: 'audio', pcm })`.
 *
 * - Formats: WAV (PCM 8/16/24/32-bit, float, A-law, μ-law at any rate, via `readWav`) and MP3 (via
 *   `decodeMp3`), told apart by their first bytes (the Content-Type is only a hint); then resampled to 8 kHz.
 * - Bounds: download size (`maxBytes`, default 20 MiB, checked against Content-Length and while reading),
 *   whole-request time (`timeoutMs`, default 10 s, on the injected Clock), decoded length (`maxSeconds`,
 *   default 600 s).
 * - Cache: decoded audio in memory, an LRU bounded by entries and bytes. An entry is fresh for `maxAgeMs`
 *   (default 60 s, or the response's `Cache-Control: max-age`, at most 24 h); after that it is revalidated
 *   with a conditional GET (`If-None-Match` / `If-Modified-Since`) when the server gave an `ETag` or
 *   `Last-Modified`: a 304 keeps the decoded audio (no download, no decode), a 200 replaces it. Without
 *   validators a stale entry is fetched again. `Cache-Control: no-store` is not cached. Concurrent loads of
 *   one URL share one request. The same URL always yields the same `Int16Array` while cached, so the call
 *   layer shares one copy with the media workers.
 * - Errors are `MediaFetchError` with a `code`; nothing else escapes.
 */
import { open } from 'node:fs/promises';
import type { Clock } from '../util/clock.js';
import { realClock } from '../util/clock.js';
import { getLogger, type Logger } from '../util/logger.js';
import { causeText, redactUrl, ABORTED } from '../util/errors.js';
import { readWav, WavError } from './wav.js';
import { decodeMp3, looksLikeMp3, Mp3Error } from './mp3.js';
import { resample } from './resample.js';

export type MediaFetchErrorCode =
  | 'MEDIA_BAD_URL' | 'MEDIA_HTTP_STATUS' | 'MEDIA_CONNECT' | 'MEDIA_TIMEOUT' | 'MEDIA_TOO_LARGE'
  | 'MEDIA_TOO_LONG' | 'MEDIA_UNSUPPORTED' | 'MEDIA_INVALID' | 'MEDIA_FILE' | 'MEDIA_ABORTED';

export class MediaFetchError extends Error {
  override readonly name = 'MediaFetchError';
  constructor(readonly code: MediaFetchErrorCode, message: string, readonly status?: number) {
    super(message);
  }
}

export const MEDIA_RATE = 8000;
export const DEFAULT_MEDIA_MAX_BYTES = 20 * 1024 * 1024;
export const DEFAULT_MEDIA_TIMEOUT_MS = 10_000;
export const DEFAULT_MEDIA_MAX_AGE_MS = 60_000;
const MAX_AGE_CAP_MS = 24 * 3600 * 1000;

export interface MediaLoaderOptions {
  /** Timeouts and cache ages run on this clock (default: the real one). */
  clock?: Clock;
  logger?: Logger;
  /** Largest download or file, bytes (default 20 MiB). */
  maxBytes?: number;
  /** Whole request, headers and body (default 10 s). */
  timeoutMs?: number;
  /** Longest decoded audio, seconds (default 600). */
  maxSeconds?: number;
  /** Most cache entries (default 128). */
  cacheEntries?: number;
  /** Most bytes of decoded PCM cached (default 64 MiB). */
  cacheBytes?: number;
  /** Freshness without a `Cache-Control: max-age` from the server (default 60 s). */
  maxAgeMs?: number;
  /** Injectable for tests. */
  fetch?: typeof fetch;
}

export interface MediaLoaderStats {
  entries: number;
  bytes: number;
  /** Served from the cache without any request. */
  hits: number;
  /** Full downloads (200). */
  downloads: number;
  /** Conditional requests answered 304. */
  revalidated: number;
  inFlight: number;
}

interface Entry {
  pcm: Int16Array;
  etag?: string;
  lastModified?: string;
  /** Clock time the entry was last confirmed fresh. */
  checkedAt: number;
  maxAgeMs: number;
}

/** Decode WAV or MP3 bytes to mono PCM16 at 8 kHz. Throws `MediaFetchError`. */
export async function decodeMedia(bytes: Uint8Array, opts: { maxSeconds?: number; what?: string } = {}): Promise<Int16Array> {
  const maxSeconds = opts.maxSeconds ?? 600;
  const what = opts.what ?? 'media';
  let pcm: Int16Array;
  let rate: number;
  const riff = bytes.length >= 12 && bytes[0] === 0x52 && bytes[1] === 0x49 && bytes[2] === 0x46 && bytes[3] === 0x46;
  if (riff) {
    try {
      const w = readWav(bytes);
      pcm = w.pcm;
      rate = w.sampleRate;
    } catch (err) {
      if (err instanceof WavError) {
        throw new MediaFetchError(err.code === 'WAV_UNSUPPORTED' ? 'MEDIA_UNSUPPORTED' : 'MEDIA_INVALID', `${what}: ${err.message}`);
      }
      throw err;
    }
  } else if (looksLikeMp3(bytes)) {
    try {
      // The file's own rate is at most 48 kHz: bound the decode before resampling.
      const d = await decodeMp3(bytes, { maxSamples: Math.ceil(maxSeconds * 48000) });
      pcm = d.pcm;
      rate = d.sampleRate;
    } catch (err) {
      if (err instanceof Mp3Error) throw new MediaFetchError(err.code === 'MP3_TOO_LONG' ? 'MEDIA_TOO_LONG' : 'MEDIA_INVALID', `${what}: ${err.message}`);
      throw new MediaFetchError('MEDIA_INVALID', `${what}: MP3 decoding failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  } else {
    throw new MediaFetchError('MEDIA_UNSUPPORTED', `${what}: neither WAV nor MP3`);
  }
  if (pcm.length / rate > maxSeconds) throw new MediaFetchError('MEDIA_TOO_LONG', `${what}: longer than ${maxSeconds} s`);
  if (pcm.length === 0) throw new MediaFetchError('MEDIA_INVALID', `${what}: no audio samples`);
  if (rate === MEDIA_RATE) return pcm;
  try {
    return resample(pcm, rate, MEDIA_RATE);
  } catch (err) {
    throw new MediaFetchError('MEDIA_UNSUPPORTED', `${what}: cannot resample from ${rate} Hz: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function maxAgeOf(cacheControl: string | null, dflt: number): number | 'no-store' {
  if (!cacheControl) return dflt;
  const cc = cacheControl.toLowerCase();
  if (/(^|[\s,])no-store([\s,]|$)/.test(cc)) return 'no-store';
  if (/(^|[\s,])no-cache([\s,]|$)/.test(cc)) return 0;
  const m = /(^|[\s,])max-age\s*=\s*"?(\d{1,10})/.exec(cc);
  if (m) return Math.min(MAX_AGE_CAP_MS, Number(m[2]) * 1000);
  return dflt;
}

export class MediaLoader {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly maxBytes: number;
  private readonly timeoutMs: number;
  private readonly maxSeconds: number;
  private readonly cacheEntries: number;
  private readonly cacheBytes: number;
  private readonly maxAgeMs: number;
  private readonly doFetch: typeof fetch;
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Int16Array>>();
  private bytes = 0;
  private hits = 0;
  private downloads = 0;
  private revalidated = 0;

  constructor(opts: MediaLoaderOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.log = opts.logger ?? getLogger('media');
    this.maxBytes = Math.max(1, opts.maxBytes ?? DEFAULT_MEDIA_MAX_BYTES);
    this.timeoutMs = Math.max(1, opts.timeoutMs ?? DEFAULT_MEDIA_TIMEOUT_MS);
    this.maxSeconds = Math.max(1, opts.maxSeconds ?? 600);
    this.cacheEntries = Math.max(0, opts.cacheEntries ?? 128);
    this.cacheBytes = Math.max(0, opts.cacheBytes ?? 64 * 1024 * 1024);
    this.maxAgeMs = Math.max(0, opts.maxAgeMs ?? DEFAULT_MEDIA_MAX_AGE_MS);
    this.doFetch = opts.fetch ?? fetch;
  }

  stats(): MediaLoaderStats {
    return { entries: this.cache.size, bytes: this.bytes, hits: this.hits, downloads: this.downloads, revalidated: this.revalidated, inFlight: this.inflight.size };
  }

  clear(): void {
    this.cache.clear();
    this.bytes = 0;
  }

  /**
   * Fetch (or take from the cache) an http(s) URL as 8 kHz PCM16. `signal` only stops this caller's wait;
   * a shared download carries on for the others (it is bounded by `timeoutMs` anyway).
   */
  async load(url: string, signal?: AbortSignal): Promise<Int16Array> {
    let u: URL;
    try { u = new URL(url); } catch { throw new MediaFetchError('MEDIA_BAD_URL', `cannot parse media URL ${JSON.stringify(url.slice(0, 200))}`); }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new MediaFetchError('MEDIA_BAD_URL', `media URL scheme ${u.protocol} not allowed`);
    u.hash = '';
    const key = u.toString();
    const e = this.cache.get(key);
    if (e && this.clock.now() - e.checkedAt < e.maxAgeMs) {
      this.touch(key, e);
      this.hits++;
      return e.pcm;
    }
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetchInto(key, e)
        .catch((err: unknown) => {
          // Stale-if-error: a cached copy beats silence when the media server is down.
          if (e && err instanceof MediaFetchError && (err.code === 'MEDIA_CONNECT' || err.code === 'MEDIA_TIMEOUT' || (err.status ?? 0) >= 500)) {
            this.log.warn({ url: redactUrl(key), err: err.message }, 'media revalidation failed: playing the cached copy');
            return e.pcm;
          }
          throw err;
        })
        .finally(() => { this.inflight.delete(key); });
      this.inflight.set(key, p);
    }
    return signal ? raceAbort(p, signal) : p;
  }

  /** Read a local WAV/MP3 file as 8 kHz PCM16 (cached by path like a URL without validators, checked by mtime). */
  async loadFile(path: string): Promise<Int16Array> {
    const key = `file:${path}`;
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      throw new MediaFetchError('MEDIA_FILE', `cannot open media file ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    try {
      const st = await fh.stat();
      const stamp = `${st.size}:${st.mtimeMs}`;
      const e = this.cache.get(key);
      if (e && e.etag === stamp) { this.touch(key, e); this.hits++; return e.pcm; }
      if (st.size > this.maxBytes) throw new MediaFetchError('MEDIA_TOO_LARGE', `media file ${path} is larger than ${this.maxBytes} bytes`);
      const buf = new Uint8Array(st.size);
      let at = 0;
      while (at < buf.length) {
        const { bytesRead } = await fh.read(buf, at, buf.length - at, at);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
      const pcm = await decodeMedia(buf.subarray(0, at), { maxSeconds: this.maxSeconds, what: path });
      this.store(key, { pcm, etag: stamp, checkedAt: this.clock.now(), maxAgeMs: Number.MAX_SAFE_INTEGER });
      return pcm;
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  private touch(key: string, e: Entry): void {
    this.cache.delete(key);
    this.cache.set(key, e);
  }

  private store(key: string, e: Entry): void {
    const old = this.cache.get(key);
    if (old) { this.cache.delete(key); this.bytes -= old.pcm.byteLength; }
    if (this.cacheEntries === 0 || e.pcm.byteLength > this.cacheBytes) return;
    this.cache.set(key, e);
    this.bytes += e.pcm.byteLength;
    while (this.cache.size > this.cacheEntries || this.bytes > this.cacheBytes) {
      const oldest = this.cache.keys().next();
      if (oldest.done) break;
      const v = this.cache.get(oldest.value);
      this.cache.delete(oldest.value);
      if (v) this.bytes -= v.pcm.byteLength;
    }
  }

  private async fetchInto(key: string, stale: Entry | undefined): Promise<Int16Array> {
    const headers: Record<string, string> = { accept: 'audio/wav, audio/x-wav, audio/mpeg, audio/*;q=0.8, */*;q=0.5' };
    const conditional = !!stale && (stale.etag !== undefined || stale.lastModified !== undefined);
    if (stale?.etag !== undefined) headers['if-none-match'] = stale.etag;
    if (stale?.lastModified !== undefined) headers['if-modified-since'] = stale.lastModified;
    // Credentials in the URL become Basic auth (fetch refuses them inline).
    const u = new URL(key);
    if (u.username || u.password) {
      try {
        headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
      } catch {
        throw new MediaFetchError('MEDIA_BAD_URL', 'malformed credentials in the media URL');
      }
      u.username = '';
      u.password = '';
    }
    const ac = new AbortController();
    let timedOut = false;
    const timer = this.clock.setTimeout(() => { timedOut = true; ac.abort(ABORTED); }, this.timeoutMs);
    try {
      let res: Response;
      try {
        res = await this.doFetch(u.toString(), { headers, signal: ac.signal, redirect: 'follow' });
      } catch (err) {
        if (timedOut) throw new MediaFetchError('MEDIA_TIMEOUT', `no response within ${this.timeoutMs} ms`);
        throw new MediaFetchError('MEDIA_CONNECT', `media request failed: ${causeText(err)}`);
      }
      if (res.status === 304 && stale) {
        await res.body?.cancel().catch(() => undefined);
        const age = maxAgeOf(res.headers.get('cache-control'), this.maxAgeMs);
        stale.checkedAt = this.clock.now();
        if (age !== 'no-store') stale.maxAgeMs = age;
        this.touch(key, stale);
        this.revalidated++;
        this.log.debug({ url: redactUrl(key) }, 'media revalidated (304)');
        return stale.pcm;
      }
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => undefined);
        throw new MediaFetchError('MEDIA_HTTP_STATUS', `media server answered HTTP ${res.status}`, res.status);
      }
      const declared = Number(res.headers.get('content-length') ?? NaN);
      if (Number.isFinite(declared) && declared > this.maxBytes) {
        await res.body?.cancel().catch(() => undefined);
        throw new MediaFetchError('MEDIA_TOO_LARGE', `Content-Length ${declared} > ${this.maxBytes}`);
      }
      const body = await this.readBody(res, () => timedOut);
      this.downloads++;
      const pcm = await decodeMedia(body, { maxSeconds: this.maxSeconds, what: redactUrl(key) });
      const age = maxAgeOf(res.headers.get('cache-control'), this.maxAgeMs);
      if (age !== 'no-store') {
        const etag = res.headers.get('etag') ?? undefined;
        const lastModified = res.headers.get('last-modified') ?? undefined;
        this.store(key, {
          pcm,
          ...(etag !== undefined ? { etag } : {}),
          ...(lastModified !== undefined ? { lastModified } : {}),
          checkedAt: this.clock.now(),
          maxAgeMs: age,
        });
      } else if (stale) {
        this.cache.delete(key);
        this.bytes -= stale.pcm.byteLength;
      }
      this.log.debug({ url: redactUrl(key), conditional, samples: pcm.length }, 'media fetched');
      return pcm;
    } finally {
      this.clock.clearTimeout(timer);
    }
  }

  private async readBody(res: Response, timedOut: () => boolean): Promise<Uint8Array> {
    if (!res.body) return new Uint8Array(0);
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        if (total > this.maxBytes) {
          await reader.cancel().catch(() => undefined);
          throw new MediaFetchError('MEDIA_TOO_LARGE', `media larger than ${this.maxBytes} bytes`);
        }
        chunks.push(value);
      }
    } catch (err) {
      if (err instanceof MediaFetchError) throw err;
      if (timedOut()) throw new MediaFetchError('MEDIA_TIMEOUT', `media not complete within ${this.timeoutMs} ms`);
      throw new MediaFetchError('MEDIA_CONNECT', `media download failed: ${causeText(err)}`);
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) { out.set(c, at); at += c.byteLength; }
    return out;
  }
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new MediaFetchError('MEDIA_ABORTED', 'aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { reject(new MediaFetchError('MEDIA_ABORTED', 'aborted')); };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e: unknown) => { signal.removeEventListener('abort', onAbort); reject(e instanceof Error ? e : new Error(String(e))); },
    );
  });
}
