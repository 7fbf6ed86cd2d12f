/**
 * A small HTTP/1.1 client on `node:http`/`node:https` for the per-call webhooks (`pivot` requests, `cdr_url`).
 *
 * Why not the global `fetch`: every call makes at least one webhook round trip, and on the main thread (which
 * also carries all SIP signalling) `fetch` costs several times the CPU of `http.request` for the same request:
 * WHATWG streams, an AbortSignal per request, DOMException and transferable objects (decision 042,
 * `npm run bench -- http`).
 *
 * - Keep-alive agents shared by the process, at most `MAX_SOCKETS_PER_ORIGIN` connections to one origin;
 *   requests beyond that wait in the agent's queue (still bounded by the caller's timeout through `cancel`).
 * - GET may follow up to `MAX_REDIRECTS` redirects (301, 302, 303, 307, 308).
 * - The body is read up to `maxBodyBytes` (after decompression when the server sends a `Content-Encoding`).
 * - A request on a reused keep-alive connection that the server had already closed (ECONNRESET/EPIPE before
 *   any response) is tried once more on a fresh connection, as a browser does.
 * - Every failure rejects with an `HttpError` whose `reason` is `connect`, `aborted` or `body_too_large`.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import type { Readable } from 'node:stream';

export const MAX_SOCKETS_PER_ORIGIN = 1024;
export const MAX_FREE_SOCKETS = 256;
export const MAX_REDIRECTS = 5;

const agentOptions = { keepAlive: true, maxSockets: MAX_SOCKETS_PER_ORIGIN, maxFreeSockets: MAX_FREE_SOCKETS, scheduling: 'lifo' as const };
const httpAgent = new http.Agent(agentOptions);
const httpsAgent = new https.Agent(agentOptions);

export type HttpFailure = 'connect' | 'aborted' | 'body_too_large';

export class HttpError extends Error {
  constructor(readonly reason: HttpFailure, message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

/**
 * Cancels one request: `cancel()` destroys its connection and rejects it with reason `aborted`. A plain object
 * rather than an AbortController: a controller, its signal and the listener on it cost about 15 µs of main-thread
 * CPU per request, a fifth of a whole keep-alive round trip (`npm run bench -- http`: 78 → 64 µs), and every
 * call makes at least one request.
 */
export class HttpCancel {
  private hook: (() => void) | undefined;
  private done = false;
  get cancelled(): boolean { return this.done; }
  /** Idempotent; after the request has settled it does nothing. */
  cancel(): void {
    if (this.done) return;
    this.done = true;
    const h = this.hook;
    this.hook = undefined;
    h?.();
  }
  /** @internal the request in flight registers (and clears) what cancelling does. */
  onCancel(h: (() => void) | undefined): void { this.hook = h; }
}

export interface HttpRequestOptions {
  readonly method: 'GET' | 'POST';
  /** Lower-case names. `content-length` is set from `body`. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly cancel?: HttpCancel;
  readonly maxBodyBytes: number;
  /** Follow redirects (the final response is returned; a redirect without `Location` is returned as is). */
  readonly followRedirects: boolean;
  /**
   * What to do with the body of a response with this status (default: always `read`): `read` it whole, failing
   * the request beyond `maxBodyBytes`; `clip`: keep its first `maxBodyBytes`, no failure; `discard` it.
   */
  readonly bodyFor?: (status: number) => BodyMode;
}

export type BodyMode = 'read' | 'clip' | 'discard';

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Empty when discarded. */
  readonly body: Buffer;
}

const EMPTY = Buffer.alloc(0);
const USER_AGENT = 'Hookline';

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

export async function httpRequest(url: string, o: HttpRequestOptions): Promise<HttpResponse> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new HttpError('connect', `cannot parse URL ${JSON.stringify(url)}`);
  }
  for (let hop = 0; ; hop++) {
    const follow = o.followRedirects && hop < MAX_REDIRECTS;
    const res = await attempt(target, o, follow, true);
    const location = res.headers.location;
    if (!follow || !isRedirect(res.status) || typeof location !== 'string') return res;
    let next: URL;
    try {
      next = new URL(location, target);
    } catch {
      throw new HttpError('connect', `redirect to an unparsable Location ${JSON.stringify(location)}`);
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new HttpError('connect', `redirect to scheme ${next.protocol}`);
    target = next;
  }
}

function attempt(url: URL, o: HttpRequestOptions, follow: boolean, mayRetry: boolean): Promise<HttpResponse> {
  return new Promise<HttpResponse>((resolve, reject) => {
    const cancel = o.cancel;
    if (cancel?.cancelled) { reject(new HttpError('aborted', 'aborted before the request')); return; }
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') { reject(new HttpError('connect', `scheme ${url.protocol} not allowed`)); return; }
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, accept: '*/*', ...o.headers };
    if (o.body !== undefined) headers['content-length'] = String(Buffer.byteLength(o.body));
    let settled = false;
    let gotResponse = false;
    const finish = (err: HttpError | undefined, res?: HttpResponse): void => {
      if (settled) return;
      settled = true;
      cancel?.onCancel(undefined);
      if (err) reject(err); else resolve(res!);
    };
    const req = (secure ? https : http).request(url, { method: o.method, headers, agent: secure ? httpsAgent : httpAgent }, (res) => {
      gotResponse = true;
      const status = res.statusCode ?? 0;
      const mode: BodyMode = follow && isRedirect(status) && typeof res.headers.location === 'string' ? 'discard' : o.bodyFor?.(status) ?? 'read';
      if (mode === 'discard') {
        res.resume();
        res.on('error', () => undefined);
        finish(undefined, { status, headers: res.headers, body: EMPTY });
        return;
      }
      readBody(res, o.maxBodyBytes, mode === 'clip', (err, body) => {
        if (err) { req.destroy(); finish(err); } else finish(undefined, { status, headers: res.headers, body: body! });
      });
    });
    const onAbort = (): void => {
      req.destroy();
      finish(new HttpError('aborted', 'request aborted'));
    };
    cancel?.onCancel(onAbort);
    req.on('error', (err: Error & { code?: string }) => {
      if (settled) return;
      if (mayRetry && !gotResponse && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
        // the server closed an idle keep-alive connection as we reused it: once more on a new one
        settled = true;
        cancel?.onCancel(undefined);
        attempt(url, o, follow, false).then(resolve, reject);
        return;
      }
      finish(new HttpError(cancel?.cancelled ? 'aborted' : 'connect', err.code ? `${err.code}: ${err.message}` : err.message));
    });
    req.end(o.body);
  });
}

function decoder(encoding: string | undefined): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case 'gzip': case 'x-gzip': return zlib.createGunzip();
    case 'deflate': return zlib.createInflate();
    case 'br': return zlib.createBrotliDecompress();
    default: return undefined;
  }
}

/** The whole body, at most `max` bytes (decoded), or with `clip` its first `max` bytes; calls back once. */
function readBody(res: IncomingMessage, max: number, clip: boolean, done: (err: HttpError | undefined, body?: Buffer) => void): void {
  const declared = Number(res.headers['content-length'] ?? NaN);
  const dec = decoder(res.headers['content-encoding']);
  let finished = false;
  const end = (err: HttpError | undefined, body?: Buffer): void => {
    if (finished) return;
    finished = true;
    if (err) { res.destroy(); dec?.destroy(); }
    done(err, body);
  };
  if (!clip && !dec && Number.isFinite(declared) && declared > max) {
    end(new HttpError('body_too_large', `Content-Length ${declared} > ${max}`));
    return;
  }
  const src: Readable = dec ? res.pipe(dec) : res;
  const chunks: Buffer[] = [];
  let total = 0;
  src.on('data', (c: Buffer) => {
    total += c.length;
    if (total > max) {
      if (!clip) { end(new HttpError('body_too_large', `body larger than ${max} bytes`)); return; }
      chunks.push(c.subarray(0, c.length - (total - max)));
      const body = Buffer.concat(chunks, max);
      res.destroy();
      dec?.destroy();
      end(undefined, body);
      return;
    }
    chunks.push(c);
  });
  src.on('end', () => { end(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total)); });
  src.on('error', (err: Error) => { end(new HttpError('connect', `response body: ${err.message}`)); });
  if (dec) res.on('error', (err: Error) => { end(new HttpError('connect', `response body: ${err.message}`)); });
  res.on('close', () => { if (!res.complete) end(new HttpError('connect', 'connection closed before the body was complete')); });
}

/** Response headers as one string per name (repeated headers joined with ", "), for logs and debug records. */
export function flatHeaders(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}
