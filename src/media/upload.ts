/**
 * Recording uploads (PIVOT.md 2.8): HTTP PUT (or POST) of a finished recording file to the script's URL.
 *
 * Bounded and never in the way of calls:
 * - each attempt has a whole-request timeout (`timeoutMs`, default 30 s, on the injected Clock);
 * - a failed attempt (connection error, timeout, 5xx, 408, 429) is retried with exponential back-off
 *   (`backoffMs` × 4^n, default 1 s then 4 s), at most `attempts` (default 3); other statuses are final;
 * - files larger than `maxBytes` (default 200 MiB) are not sent;
 * - at most `maxInFlight` uploads run at once (default 16) and `maxQueued` wait (default 256); beyond that
 *   an upload fails at once (`UPLOAD_BUSY`).
 * The result says what happened; nothing throws. Failures are logged by the caller (the call layer notes
 * them in its log and CDR).
 */
import type { Clock } from '../util/clock.js';
import { realClock } from '../util/clock.js';
import { causeText, redactUrl, ABORTED } from '../util/errors.js';

export interface UploadOptions {
  clock?: Clock;
  attempts?: number;
  backoffMs?: number;
  timeoutMs?: number;
  maxBytes?: number;
  maxInFlight?: number;
  maxQueued?: number;
}

export interface UploadRequest {
  readonly url: string;
  readonly method: 'PUT' | 'POST';
  readonly body: Uint8Array;
  readonly contentType: string;
}

export type UploadResult =
  | { readonly ok: true; readonly status: number; readonly attempts: number }
  | { readonly ok: false; readonly code: 'UPLOAD_BAD_URL' | 'UPLOAD_TOO_LARGE' | 'UPLOAD_BUSY' | 'UPLOAD_FAILED'; readonly error: string; readonly attempts: number; readonly status?: number };

const RETRY_STATUS = (s: number): boolean => s >= 500 || s === 408 || s === 429;

export class RecordingUploader {
  private readonly clock: Clock;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly maxInFlight: number;
  private readonly maxQueued: number;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(o: UploadOptions = {}) {
    this.clock = o.clock ?? realClock;
    this.attempts = Math.max(1, o.attempts ?? 3);
    this.backoffMs = Math.max(0, o.backoffMs ?? 1000);
    this.timeoutMs = Math.max(1, o.timeoutMs ?? 30_000);
    this.maxBytes = o.maxBytes ?? 200 * 1024 * 1024;
    this.maxInFlight = Math.max(1, o.maxInFlight ?? 16);
    this.maxQueued = Math.max(0, o.maxQueued ?? 256);
  }

  /** Uploads running now and waiting for a slot. */
  get pending(): number { return this.inFlight + this.waiting.length; }

  async upload(req: UploadRequest): Promise<UploadResult> {
    let u: URL;
    try { u = new URL(req.url); } catch { return { ok: false, code: 'UPLOAD_BAD_URL', error: 'not a URL', attempts: 0 }; }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return { ok: false, code: 'UPLOAD_BAD_URL', error: `unsupported scheme ${u.protocol}`, attempts: 0 };
    if (req.body.length > this.maxBytes) return { ok: false, code: 'UPLOAD_TOO_LARGE', error: `${req.body.length} bytes > ${this.maxBytes}`, attempts: 0 };
    if (this.inFlight >= this.maxInFlight) {
      if (this.waiting.length >= this.maxQueued) return { ok: false, code: 'UPLOAD_BUSY', error: 'too many uploads waiting', attempts: 0 };
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.inFlight++;
    try {
      return await this.attemptAll(req);
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }

  private async attemptAll(req: UploadRequest): Promise<UploadResult> {
    let lastError = '';
    let lastStatus: number | undefined;
    let tried = 0;
    for (let n = 1; n <= this.attempts; n++) {
      tried = n;
      if (n > 1) await this.sleep(this.backoffMs * 4 ** (n - 2));
      const r = await this.once(req);
      if (r.status !== undefined && r.status >= 200 && r.status < 300) return { ok: true, status: r.status, attempts: n };
      lastStatus = r.status;
      lastError = r.error ?? `HTTP ${r.status}`;
      if (r.status !== undefined && !RETRY_STATUS(r.status)) break;
    }
    return {
      ok: false, code: 'UPLOAD_FAILED', error: `${redactUrl(req.url)}: ${lastError}`, attempts: tried,
      ...(lastStatus !== undefined ? { status: lastStatus } : {}),
    };
  }

  private async once(req: UploadRequest): Promise<{ status?: number; error?: string }> {
    const ac = new AbortController();
    const timer = this.clock.setTimeout(() => ac.abort(ABORTED), this.timeoutMs);
    try {
      const res = await fetch(req.url, {
        method: req.method, body: req.body, signal: ac.signal, redirect: 'manual',
        headers: { 'Content-Type': req.contentType },
      });
      // drain (bounded by the same timeout) so the connection can be reused
      await res.arrayBuffer().catch(() => undefined);
      return { status: res.status };
    } catch (err) {
      return { error: ac.signal.aborted ? `timeout after ${this.timeoutMs} ms` : causeText(err) };
    } finally {
      this.clock.clearTimeout(timer);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => { this.clock.setTimeout(resolve, ms); });
  }
}

let shared: RecordingUploader | undefined;
/** The process-wide uploader (default bounds) used by calls that were not given one. */
export function defaultUploader(): RecordingUploader {
  return (shared ??= new RecordingUploader());
}

/** `base` + `/` + `file` (no doubled slash; a query string on the base is kept after the path). */
export function joinUrl(base: string, file: string): string {
  try {
    const u = new URL(base);
    u.pathname = u.pathname.replace(/\/+$/, '') + '/' + encodeURIComponent(file);
    return u.toString();
  } catch {
    return base.replace(/\/+$/, '') + '/' + encodeURIComponent(file);
  }
}
