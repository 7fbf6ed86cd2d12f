/**
 * The Pivot webhook client: one HTTP round trip per `pivot` node (PIVOT.md 1.5, 2.1–2.3, 2.9).
 *
 * - `util/http.ts` (`node:http` with shared keep-alive agents; not the global `fetch`, decision 042).
 * - One timer on the injected `Clock` bounds the whole request including the body
 *   (`req_timeout_ms`, default 5000, capped at `maxReqTimeoutMs`, default 5000).
 * - The response body is read up to `maxBodyBytes` (default 1 MiB).
 * - Never throws: every outcome is `{ kind: 'flow' }` or `{ kind: 'failure', reason, detail, hangup }`,
 *   where `hangup` is true only in strict mode for Kazoo's hang-up cases (empty body, JSON syntax
 *   error, schema error).
 */
import { createHmac } from 'node:crypto';
import type { Clock } from '../util/clock.js';
import { getLogger, type Logger } from '../util/logger.js';
import { HttpCancel, HttpError, flatHeaders, httpRequest, type HttpResponse } from '../util/http.js';
import { validateCallflow, type CallflowNode, type Compat, type ValidationIssue } from './callflow.js';
import type { JsonErrorInfo, PivotDebugRecord, PivotDebugStore } from './debug-store.js';
import type { WebhookFailureReason } from './errors.js';
import { appendQuery, encodeForm, encodeJson, type PivotParams, type ReqFormat } from './params.js';
import { translateTwiml } from './twiml/translate.js';

export const DEFAULT_REQ_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** The settings of one `pivot` node (validated `data`). */
export interface PivotRequest {
  readonly voiceUrl: string;
  readonly method: 'get' | 'post';
  readonly reqFormat: ReqFormat;
  readonly reqBodyFormat: 'form' | 'json';
  /** Milliseconds; default `defaultReqTimeoutMs`, capped at `maxReqTimeoutMs`. */
  readonly reqTimeoutMs?: number;
  readonly debug?: boolean;
  /** Extra `X-…` headers (newer 2600Hz docs' `custom_request_headers`); other names are ignored. */
  readonly customHeaders?: Readonly<Record<string, string>>;
  /** Hookline extension: tried (with its own `#rc/rp` options) when `voiceUrl` fails. */
  readonly fallbackUrl?: string;
}

/** Retry policy classes of the `#rc=N&rp=…` URL fragment options (jambonz style). */
export type RetryClass = 'ct' | 'rt' | '4xx' | '5xx' | 'all';

export interface RetryOptions {
  /** The URL with the `rc`/`rp` options removed from its fragment. */
  readonly url: string;
  /** Extra attempts after the first (0–5, default 0). */
  readonly retries: number;
  /** Failure classes worth a retry (default `ct`). */
  readonly policy: ReadonlySet<RetryClass>;
}

export const MAX_RETRIES = 5;

/**
 * Read and strip Hookline's URL fragment options: `#rc=2&rp=5xx,ct`. `ct`: the connection failed;
 * `rt`: `req_timeout_ms` fired; `4xx`/`5xx`: those statuses; `all`: every one of these. A fragment without
 * `rc`/`rp` is left untouched (it is never sent anyway).
 */
export function parseRetryFragment(voiceUrl: string): RetryOptions {
  const hash = voiceUrl.indexOf('#');
  const none: RetryOptions = { url: voiceUrl, retries: 0, policy: new Set<RetryClass>(['ct']) };
  if (hash < 0) return none;
  const sp = new URLSearchParams(voiceUrl.slice(hash + 1));
  if (!sp.has('rc') && !sp.has('rp')) return none;
  const rc = Number(sp.get('rc') ?? '0');
  const retries = Number.isInteger(rc) && rc > 0 ? Math.min(MAX_RETRIES, rc) : 0;
  const policy = new Set<RetryClass>();
  for (const p of (sp.get('rp') ?? 'ct').split(',')) {
    const c = p.trim().toLowerCase();
    if (c === 'ct' || c === 'rt' || c === '4xx' || c === '5xx' || c === 'all') policy.add(c);
  }
  if (policy.size === 0) policy.add('ct');
  sp.delete('rc');
  sp.delete('rp');
  const rest = sp.toString();
  return { url: voiceUrl.slice(0, hash) + (rest ? `#${rest}` : ''), retries, policy };
}

function retryable(r: WebhookResult, policy: ReadonlySet<RetryClass>): boolean {
  if (r.kind !== 'failure') return false;
  const all = policy.has('all');
  if (r.reason === 'connect') return all || policy.has('ct');
  if (r.reason === 'timeout') return all || policy.has('rt');
  if (r.reason === 'http_status' && r.status !== undefined) {
    if (r.status >= 400 && r.status < 500) return all || policy.has('4xx');
    if (r.status >= 500 && r.status < 600) return all || policy.has('5xx');
  }
  return false;
}

export interface RequestContext {
  readonly callId: string;
  readonly accountId: string;
  /** 1-based request number within the call (debug records). */
  readonly iteration: number;
  /** Aborts the request (call ended / session stopped) → failure `aborted`. */
  readonly signal?: AbortSignal;
}

export type WebhookResult =
  | { readonly kind: 'flow'; readonly flow: CallflowNode }
  | { readonly kind: 'failure'; readonly reason: WebhookFailureReason; readonly detail: string; readonly hangup: boolean; readonly status?: number };

export interface WebhookClientOptions {
  clock: Clock;
  logger?: Logger;
  /** Default `lenient`. */
  compat?: Compat;
  /** Upper bound for `req_timeout_ms` (default 5000; the operator may raise it). */
  maxReqTimeoutMs?: number;
  /** Timeout when the node sets none (default 5000, itself capped). */
  defaultReqTimeoutMs?: number;
  /** Maximum response body (default 1 MiB). */
  maxBodyBytes?: number;
  debugStore?: PivotDebugStore;
  /**
   * When set, every request carries `X-Hookline-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
   * "<t>.<payload>">`, the payload being the body (POST) or the query string as sent (GET, without `?`).
   */
  signingSecret?: string;
}

const XML_ROOT_RE = /^<\?xml[^>]*\?>\s*<Response[\s>/]|^<Response[\s>/]/;

/** The body as UTF-8 text without a byte-order mark. */
function bodyText(res: HttpResponse): string {
  const text = res.body.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function jsonErrorInfo(body: string, err: unknown): JsonErrorInfo {
  const message = err instanceof Error ? err.message : String(err);
  const m = /position (\d+)/.exec(message);
  if (!m) return { message };
  const pos = Number(m[1]);
  return { message, before: body.slice(Math.max(0, pos - 40), pos), after: body.slice(pos, pos + 40) };
}


export class WebhookClient {
  readonly compat: Compat;
  readonly maxReqTimeoutMs: number;
  readonly defaultReqTimeoutMs: number;
  readonly maxBodyBytes: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly loggerHasCallId: boolean;
  private readonly debugStore?: PivotDebugStore;
  private readonly signingSecret?: string;
  private inFlightCount = 0;

  constructor(opts: WebhookClientOptions) {
    this.clock = opts.clock;
    this.log = opts.logger ?? getLogger('pivot');
    this.loggerHasCallId = this.log.bindings().callId !== undefined;
    this.compat = opts.compat ?? 'lenient';
    this.maxReqTimeoutMs = Math.max(1, opts.maxReqTimeoutMs ?? DEFAULT_REQ_TIMEOUT_MS);
    this.defaultReqTimeoutMs = Math.min(this.maxReqTimeoutMs, Math.max(1, opts.defaultReqTimeoutMs ?? DEFAULT_REQ_TIMEOUT_MS));
    this.maxBodyBytes = Math.max(1, opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
    this.debugStore = opts.debugStore;
    if (opts.signingSecret) this.signingSecret = opts.signingSecret;
  }

  /** Requests currently waiting for a response. */
  get inFlight(): number { return this.inFlightCount; }

  /**
   * Make one round trip: `voiceUrl` (plus the retries its `#rc/rp` options allow), then
   * `fallbackUrl` the same way if that failed. Each attempt has its own timeout. Never throws.
   */
  async request(req: PivotRequest, params: PivotParams, ctx: RequestContext): Promise<WebhookResult> {
    this.inFlightCount++;
    try {
      const targets = req.fallbackUrl ? [req.voiceUrl, req.fallbackUrl] : [req.voiceUrl];
      let last: WebhookResult | undefined;
      for (let i = 0; i < targets.length; i++) {
        const opts = parseRetryFragment(targets[i] ?? '');
        for (let attempt = 0; attempt <= opts.retries; attempt++) {
          last = await this.doRequest({ ...req, voiceUrl: opts.url }, params, ctx);
          if (last.kind === 'flow' || last.reason === 'aborted') return last;
          if (attempt === opts.retries || !retryable(last, opts.policy)) break;
          this.log.info({ callId: ctx.callId, attempt: attempt + 1, reason: last.reason }, 'pivot request retry');
        }
        if (i + 1 < targets.length) this.log.info({ callId: ctx.callId }, 'pivot trying fallback_url');
      }
      return last ?? { kind: 'failure', reason: 'bad_url', detail: 'no URL', hangup: false };
    } finally {
      this.inFlightCount--;
    }
  }

  private async doRequest(req: PivotRequest, params: PivotParams, ctx: RequestContext): Promise<WebhookResult> {
    // the request's logger is made only when something is logged (a pino child per request is measurable at 500 calls/s)
    let child: Logger | undefined;
    const log = (): Logger => (child ??= this.loggerHasCallId
      ? this.log.child({ iteration: ctx.iteration })
      : this.log.child({ callId: ctx.callId, iteration: ctx.iteration }));
    const started = this.clock.now();
    const method: 'GET' | 'POST' = req.method === 'post' ? 'POST' : 'GET';
    const headers: Record<string, string> = {};
    let body: string | undefined;

    // URL: http(s) only; credentials in the URL become Basic auth.
    let url: URL;
    try {
      url = new URL(req.voiceUrl);
    } catch {
      return this.fail(log, undefined, 'bad_url', `cannot parse voice_url ${JSON.stringify(req.voiceUrl)}`, false);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return this.fail(log, undefined, 'bad_url', `voice_url scheme ${url.protocol} not allowed`, false);
    }
    if (url.username || url.password) {
      let user: string;
      let pass: string;
      try {
        user = decodeURIComponent(url.username);
        pass = decodeURIComponent(url.password);
      } catch {
        return this.fail(log, undefined, 'bad_url', 'malformed credentials in voice_url', false);
      }
      headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
      url.username = '';
      url.password = '';
    }
    if (req.customHeaders) {
      for (const [k, v] of Object.entries(req.customHeaders)) {
        if (/^x-[a-z0-9-]+$/i.test(k) && typeof v === 'string' && !/[\r\n]/.test(v)) headers[k.toLowerCase()] = v;
      }
    }
    let target = url.toString();
    if (method === 'GET') {
      target = appendQuery(target, encodeForm(params));
    } else if (req.reqBodyFormat === 'json') {
      headers['content-type'] = 'application/json';
      body = encodeJson(params);
    } else {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = encodeForm(params);
    }
    if (this.signingSecret) {
      const t = Math.floor(Date.now() / 1000);
      let payload = body;
      if (payload === undefined) {
        const q = target.indexOf('?');
        const h = target.indexOf('#');
        payload = q < 0 ? '' : target.slice(q + 1, h > q ? h : undefined);
      }
      const mac = createHmac('sha256', this.signingSecret).update(`${t}.${payload}`).digest('hex');
      headers['x-hookline-signature'] = `t=${t},v1=${mac}`;
    }

    const rec: PivotDebugRecord | undefined = req.debug && this.debugStore
      ? { callId: ctx.callId, accountId: ctx.accountId, iteration: ctx.iteration, uri: target, method, reqHeaders: { ...headers }, reqBody: this.debugStore.clip(body), startedAt: Date.now() }
      : undefined;
    if (rec && this.debugStore) this.debugStore.add(rec);

    if (ctx.signal?.aborted) return this.fail(log, rec, 'aborted', 'call ended before the request', false);

    const timeoutMs = Math.min(this.maxReqTimeoutMs, Math.max(1, req.reqTimeoutMs ?? this.defaultReqTimeoutMs));
    const cancel = new HttpCancel();
    let timedOut = false;
    const timer = this.clock.setTimeout(() => { timedOut = true; cancel.cancel(); }, timeoutMs);
    const onOuterAbort = (): void => { cancel.cancel(); };
    ctx.signal?.addEventListener('abort', onOuterAbort, { once: true });
    const aborted = (): WebhookResult => timedOut
      ? this.fail(log, rec, 'timeout', `no complete response within ${timeoutMs} ms`, false)
      : this.fail(log, rec, 'aborted', 'call ended while the request was in flight', false);

    try {
      if (this.log.isLevelEnabled('debug')) log().debug({ method, uri: target }, 'pivot request');
      let res: HttpResponse;
      try {
        res = await httpRequest(target, {
          method,
          headers,
          ...(body !== undefined ? { body } : {}),
          cancel,
          maxBodyBytes: this.maxBodyBytes,
          // httpc follows GET redirects; a 3xx to a POST is a failure.
          followRedirects: method === 'GET',
          // a failed status is a failure whatever its body; its start is kept for the debug record only
          bodyFor: (status) => (status === 200 ? 'read' : rec ? 'clip' : 'discard'),
        });
      } catch (err) {
        if (cancel.cancelled) return aborted();
        if (err instanceof HttpError) return this.fail(log, rec, err.reason === 'body_too_large' ? 'body_too_large' : 'connect', err.message, false);
        return this.fail(log, rec, 'connect', String(err), false);
      }
      if (rec) {
        rec.respStatusCode = res.status;
        rec.headersMs = this.clock.now() - started;
        rec.respHeaders = flatHeaders(res.headers);
      }

      if (res.status !== 200) {
        if (rec) rec.respBody = this.debugStore?.clip(bodyText(res));
        return this.fail(log, rec, 'http_status', `HTTP ${res.status}`, false, res.status);
      }

      const text = bodyText(res);
      if (rec) {
        rec.respBody = this.debugStore?.clip(text);
      }
      const result = this.classify(res.headers['content-type'] ?? null, text, rec, req.voiceUrl);
      if (result.kind === 'failure') return this.fail(log, rec, result.reason, result.detail, result.hangup);
      if (rec) rec.totalMs = this.clock.now() - started;
      if (this.log.isLevelEnabled('debug')) log().debug({ module: result.flow.module }, 'pivot flow accepted');
      return result;
    } finally {
      this.clock.clearTimeout(timer);
      ctx.signal?.removeEventListener('abort', onOuterAbort);
      if (rec && rec.totalMs === undefined) rec.totalMs = this.clock.now() - started;
    }
  }

  /**
   * A form POST whose reply is ignored (the `cdr_url` notification at call end): one attempt,
   * bounded by the default timeout, the response body discarded. Resolves `true` on any 2xx. Never throws.
   */
  async notify(targetUrl: string, params: PivotParams, signal?: AbortSignal): Promise<boolean> {
    let url: URL;
    try {
      url = new URL(parseRetryFragment(targetUrl).url);
    } catch {
      this.log.warn({ url: targetUrl }, 'cdr_url cannot be parsed');
      return false;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    const body = encodeForm(params);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (this.signingSecret) {
      const t = Math.floor(Date.now() / 1000);
      headers['x-hookline-signature'] = `t=${t},v1=${createHmac('sha256', this.signingSecret).update(`${t}.${body}`).digest('hex')}`;
    }
    const cancel = new HttpCancel();
    const timer = this.clock.setTimeout(() => { cancel.cancel(); }, this.defaultReqTimeoutMs);
    const onAbort = (): void => { cancel.cancel(); };
    signal?.addEventListener('abort', onAbort, { once: true });
    this.inFlightCount++;
    try {
      const res = await httpRequest(url.toString(), {
        method: 'POST', headers, body, cancel, maxBodyBytes: this.maxBodyBytes, followRedirects: false, bodyFor: () => 'discard',
      });
      if (res.status < 200 || res.status > 299) this.log.warn({ status: res.status }, 'cdr_url answered with an error');
      return res.status >= 200 && res.status <= 299;
    } catch (err) {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'cdr_url request failed');
      return false;
    } finally {
      this.inFlightCount--;
      this.clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Response classification for a 200 (PIVOT.md 2.2, 2.3). TwiML is translated into a callflow
   * (`twiml/translate.ts`); its relative URLs resolve against `baseUrl` (the URL that was requested).
   */
  classify(contentType: string | null, text: string, rec?: PivotDebugRecord, baseUrl = ''): WebhookResult {
    const strict = this.compat === 'strict';
    const ct = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    const trimmed = text.trim();
    if (trimmed === '') return { kind: 'failure', reason: 'empty_body', detail: 'empty body', hangup: strict };

    const looksXml = trimmed.startsWith('<');
    const twiml = (): WebhookResult => {
      if (!XML_ROOT_RE.test(trimmed)) return { kind: 'failure', reason: 'unrecognised', detail: 'XML reply is not a <Response> document', hangup: false };
      const t = translateTwiml(trimmed, baseUrl);
      if (!t.ok) return { kind: 'failure', reason: 'unrecognised', detail: `TwiML not usable: ${t.error}`, hangup: false };
      if (t.skipped.length > 0) this.log.warn({ skipped: t.skipped.slice(0, 20) }, 'TwiML verbs not supported: skipped');
      return { kind: 'flow', flow: t.flow };
    };

    const isJsonType = ct === 'application/json' || (!strict && ct.endsWith('+json'));
    if (ct === 'text/xml' || ct === 'application/xml') return twiml();
    if (ct === '') {
      if (looksXml) return twiml();
      if (strict || !(trimmed.startsWith('{') || trimmed.startsWith('['))) {
        return { kind: 'failure', reason: 'unrecognised', detail: 'no Content-Type (handled as XML): reply not recognised', hangup: false };
      }
      // Lenient: sniff JSON without a Content-Type.
    } else if (!isJsonType) {
      // Unknown type: TwiML first, then Kazoo JSON.
      if (XML_ROOT_RE.test(trimmed)) return twiml();
    }

    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      const info = jsonErrorInfo(trimmed, err);
      if (rec) rec.jsonErrors = info;
      return { kind: 'failure', reason: 'json_syntax', detail: info.message, hangup: strict };
    }
    const v = validateCallflow(parsed, { compat: this.compat });
    if (!v.ok) {
      if (rec) rec.schemaErrors = v.errors;
      return { kind: 'failure', reason: 'schema', detail: summarise(v.errors), hangup: strict };
    }
    return { kind: 'flow', flow: v.flow };
  }

  private fail(log: () => Logger, rec: PivotDebugRecord | undefined, reason: WebhookFailureReason, detail: string, hangup: boolean, status?: number): WebhookResult {
    if (rec) rec.failure = { reason, detail, hangup };
    if (reason === 'twiml_unsupported') log().warn('TwiML not yet supported');
    else if (reason !== 'aborted') log().warn({ reason, detail, hangup }, 'pivot request failed');
    return status !== undefined ? { kind: 'failure', reason, detail, hangup, status } : { kind: 'failure', reason, detail, hangup };
  }
}

function summarise(errors: readonly ValidationIssue[]): string {
  const first = errors.slice(0, 5).map((e) => `${e.path || '/'}: ${e.message}`).join('; ');
  return errors.length > 5 ? `${first}; … (${errors.length} errors)` : first;
}
