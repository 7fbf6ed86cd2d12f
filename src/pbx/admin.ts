/**
 * The admin HTTP endpoint (config `admin`, off unless `admin.port` is set): read-only JSON for operators and the
 * `hookline debug` / `hookline cdrs` commands.
 *
 *   GET /health                  {"ok":true}
 *   GET /stats                   the switch's counters (calls, legs, dialogs, transactions, media, registrations)
 *   GET /debug                   call ids with Pivot debug records (`debug: true` on a pivot node), newest last;
 *                                ?account=ID filters
 *   GET /debug/<Call-ID>         that call's debug records: each request, status, headers, body, timings, errors
 *   GET /cdrs                    call detail records, newest first; ?call_id, account, since, until, cause, limit
 *
 * Bound to 127.0.0.1 by default; with `admin.token` every request needs `Authorization: Bearer <token>`.
 * Bounds: GET only, no request body read, at most 1,000 CDRs per answer, 64 connections.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from '../util/logger.js';
import type { PivotDebugStore } from '../pivot/debug-store.js';
import type { CdrQuery, CdrStore } from './cdr.js';

export interface AdminConfig {
  listen: string;
  /** Unset: no admin endpoint. 0 = a free port the OS picks. */
  port?: number;
  token?: string;
}

export interface AdminSource {
  stats(): unknown;
  readonly debugStore: PivotDebugStore;
  readonly cdrs: CdrStore;
}

export interface AdminServer {
  readonly url: string;
  close(): Promise<void>;
}

const MAX_CDRS = 1000;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const h = req.headers.authorization ?? '';
  const given = Buffer.from(h.startsWith('Bearer ') ? h.slice(7) : '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

function cdrQuery(q: URLSearchParams): CdrQuery | string {
  const out: CdrQuery = {};
  const callId = q.get('call_id');
  const account = q.get('account');
  const cause = q.get('cause');
  if (callId) out.callId = callId;
  if (account) out.accountId = account;
  if (cause) out.hangupCause = cause;
  for (const k of ['since', 'until'] as const) {
    const v = q.get(k);
    if (v === null) continue;
    const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
    if (!Number.isFinite(t)) return `${k}: expected an ISO time or milliseconds since 1970, got ${JSON.stringify(v)}`;
    out[k] = t;
  }
  const limit = q.get('limit');
  if (limit !== null) {
    if (!/^\d+$/.test(limit) || Number(limit) < 1) return `limit: expected a positive integer, got ${JSON.stringify(limit)}`;
    out.limit = Math.min(Number(limit), MAX_CDRS);
  }
  return out;
}

export async function startAdmin(src: AdminSource, cfg: AdminConfig, log: Logger): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    try {
      if (!authorized(req, cfg.token)) { res.setHeader('www-authenticate', 'Bearer'); send(res, 401, { error: 'unauthorized' }); return; }
      if (req.method !== 'GET' && req.method !== 'HEAD') { res.setHeader('allow', 'GET'); send(res, 405, { error: 'GET only' }); return; }
      const url = new URL(req.url ?? '/', 'http://admin');
      const path = url.pathname.replace(/\/+$/, '') || '/';
      if (path === '/health') { send(res, 200, { ok: true }); return; }
      if (path === '/stats') { send(res, 200, src.stats()); return; }
      if (path === '/debug') { send(res, 200, { callIds: src.debugStore.callIds(url.searchParams.get('account') ?? undefined) }); return; }
      if (path.startsWith('/debug/')) {
        const callId = decodeURIComponent(path.slice(7));
        const recs = src.debugStore.forCall(callId);
        if (recs.length === 0) { send(res, 404, { error: `no debug records for call ${callId} (pivot nodes record with "debug": true; old calls are evicted)` }); return; }
        send(res, 200, { callId, records: recs });
        return;
      }
      if (path === '/cdrs') {
        const q = cdrQuery(url.searchParams);
        if (typeof q === 'string') { send(res, 400, { error: q }); return; }
        send(res, 200, { cdrs: src.cdrs.query(q) });
        return;
      }
      send(res, 404, { error: 'not found', paths: ['/health', '/stats', '/debug', '/debug/<Call-ID>', '/cdrs'] });
    } catch (err) {
      log.error({ err: String(err) }, 'admin request failed');
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    }
  });
  server.maxConnections = 64;
  server.headersTimeout = 10000;
  server.requestTimeout = 10000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port ?? 0, cfg.listen, () => { server.off('error', reject); resolve(); });
  });
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  const url = `http://${host}:${a.port}`;
  log.info({ url }, 'admin endpoint listening');
  return {
    url,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
