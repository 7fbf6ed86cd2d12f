/**
 * `webhook` (PIVOT.md 3.5): fire and forget. Sends the call's Kazoo parameters plus `custom_data` to `uri`
 * (`http_verb` post: form body, default; get: query string), then → `_` at once. The request runs in the
 * background: each attempt bounded by 5 s, up to `retries` extra attempts (default 2, at most 4) on a
 * connection error, a timeout or a 5xx, with 1 s, 2 s, 4 s… between them. At most 256 such requests are
 * in flight per process; beyond that a webhook is dropped with a warning.
 */
import type { CallflowNode } from '../callflow.js';
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { buildParams, encodeForm, appendQuery, type PivotParams } from '../params.js';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import { errText, int, str } from './data.js';
import { ABORTED } from '../../util/errors.js';

export const WEBHOOK_ATTEMPT_MS = 5000;
export const WEBHOOK_MAX_RETRIES = 4;
export const WEBHOOK_MAX_IN_FLIGHT = 256;

let inFlight = 0;
/** Background webhook requests now running (tests, leak checks). */
export function webhooksInFlight(): number { return inFlight; }

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((r) => { clock.setTimeout(r, ms); });
}

async function attempt(clock: Clock, url: string, init: RequestInit): Promise<'ok' | 'retry' | 'fail'> {
  const ac = new AbortController();
  const timer = clock.setTimeout(() => { ac.abort(ABORTED); }, WEBHOOK_ATTEMPT_MS);
  try {
    const res = await fetch(url, { ...init, signal: ac.signal, redirect: 'manual' });
    await res.body?.cancel().catch(() => undefined);
    if (res.status >= 200 && res.status < 400) return 'ok';
    return res.status >= 500 ? 'retry' : 'fail';
  } catch {
    return 'retry';
  } finally {
    clock.clearTimeout(timer);
  }
}

async function deliver(clock: Clock, log: Logger, url: string, init: RequestInit, retries: number): Promise<void> {
  try {
    for (let i = 0; i <= retries; i++) {
      const r = await attempt(clock, url, init);
      if (r === 'ok') return;
      if (r === 'fail' || i === retries) { log.warn({ attempts: i + 1 }, 'webhook delivery failed'); return; }
      await sleep(clock, 1000 * 2 ** i);
    }
  } catch (err) {
    log.warn({ err: errText(err) }, 'webhook delivery failed');
  } finally {
    inFlight--;
  }
}

function customData(v: unknown): PivotParams {
  const out: PivotParams = {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return out;
  let n = 0;
  for (const [k, x] of Object.entries(v)) {
    if (++n > 64) break;
    if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') out[k.slice(0, 128)] = typeof x === 'string' ? x.slice(0, 2048) : x;
  }
  return out;
}

export const webhookModule: PivotModule = {
  name: 'webhook',
  run(node: CallflowNode, ctx: ModuleContext): Promise<Step> {
    const d = node.data;
    const uri = str(d, 'uri') ?? '';
    let url: URL;
    try {
      url = new URL(uri);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
    } catch {
      ctx.log.warn('webhook: uri is not an http(s) URL: skipped');
      return Promise.resolve({ kind: 'next' });
    }
    if (inFlight >= WEBHOOK_MAX_IN_FLIGHT) {
      ctx.log.warn('webhook: too many in flight: dropped');
      return Promise.resolve({ kind: 'next' });
    }
    const retries = Math.max(0, Math.min(WEBHOOK_MAX_RETRIES, int(d, 'retries', 2)));
    const params: PivotParams = { ...customData(d.custom_data), ...buildParams(ctx.paramState(), 'kazoo') };
    const headers: Record<string, string> = {};
    if (url.username || url.password) {
      try {
        headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
      } catch { /* malformed credentials: sent without */ }
      url.username = '';
      url.password = '';
    }
    let target = url.toString();
    let init: RequestInit;
    if (str(d, 'http_verb') === 'get') {
      target = appendQuery(target, encodeForm(params));
      init = { method: 'GET', headers };
    } else {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      init = { method: 'POST', headers, body: encodeForm(params) };
    }
    inFlight++;
    void deliver(ctx.clock, ctx.log, target, init, retries);
    return Promise.resolve({ kind: 'next' });
  },
};
