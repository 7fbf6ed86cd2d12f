/** The webhook client: encodings on the wire, the failure matrix (PIVOT.md 2.1–2.3), bounds, debug records. */
import t, { type Test } from 'tap';
import { FakeClock, RealClock } from '../../src/util/clock.js';
import { createHmac } from 'node:crypto';
import { WebhookClient, parseRetryFragment, type PivotRequest, type WebhookResult } from '../../src/pivot/webhook.js';
import { PivotDebugStore } from '../../src/pivot/debug-store.js';
import type { Compat } from '../../src/pivot/callflow.js';
import { closedPort, reply, startServer, type Handler } from './helpers.js';

const PARAMS = { 'Call-ID': 'c1', 'Caller-ID-Name': 'John Smith', Digits: { default: '1' } };
const CTX = { callId: 'c1', accountId: 'a1', iteration: 1 };
const FLOW = { module: 'tts', data: { text: 'hi' } };

function req(url: string, extra: Partial<PivotRequest> = {}): PivotRequest {
  return { voiceUrl: url, method: 'get', reqFormat: 'kazoo', reqBodyFormat: 'form', ...extra };
}

async function once(tt: Test, handler: Handler, compat: Compat = 'lenient', extra: Partial<PivotRequest> = {}, opts: { maxBodyBytes?: number; debugStore?: PivotDebugStore } = {}): Promise<WebhookResult> {
  const server = await startServer(handler);
  tt.teardown(() => server.close());
  const clock = new RealClock();
  const client = new WebhookClient({ clock, compat, ...opts });
  const r = await client.request(req(`${server.base}/ivr`, extra), PARAMS, CTX);
  tt.equal(clock.pendingTimers, 0, 'timeout timer released');
  tt.equal(client.inFlight, 0);
  return r;
}

function failure(r: WebhookResult): { reason: string; hangup: boolean } | undefined {
  return r.kind === 'failure' ? { reason: r.reason, hangup: r.hangup } : undefined;
}

t.test('non-200 statuses are failures (failover in both modes)', async (tt) => {
  for (const status of [500, 404, 503, 201, 204, 206]) {
    for (const compat of ['lenient', 'strict'] as const) {
      const r = await once(tt, (_q, res) => reply(res, status === 204 ? '' : FLOW, { status }), compat);
      tt.same(failure(r), { reason: 'http_status', hangup: false }, `${status} ${compat}`);
    }
  }
});

t.test('200 application/json (with charset, BOM) is a flow, defaults written', async (tt) => {
  const r = await once(tt, (_q, res) => reply(res, '\ufeff' + JSON.stringify(FLOW), { type: 'application/json; charset=utf-8' }));
  tt.equal(r.kind, 'flow');
  if (r.kind === 'flow') tt.equal((r.flow.data.terminators as string[]).length, 12);
});

const matrix: Array<{ name: string; body: string; type: string | null; lenient: string | null; strict: string | null; strictHangup?: boolean }> = [
  { name: 'empty body', body: '', type: 'application/json', lenient: 'empty_body', strict: 'empty_body', strictHangup: true },
  { name: 'whitespace body', body: '  \n', type: 'application/json', lenient: 'empty_body', strict: 'empty_body', strictHangup: true },
  { name: 'bad JSON', body: '{"module":"tts","data":{"text":"x"}', type: 'application/json', lenient: 'json_syntax', strict: 'json_syntax', strictHangup: true },
  { name: 'schema error', body: '{"module":"tts","data":{}}', type: 'application/json', lenient: 'schema', strict: 'schema', strictHangup: true },
  { name: 'text/html page', body: '<html><body>oops</body></html>', type: 'text/html', lenient: 'json_syntax', strict: 'json_syntax', strictHangup: true },
  { name: 'text/plain JSON', body: JSON.stringify(FLOW), type: 'text/plain', lenient: null, strict: null },
  { name: 'no content type, JSON', body: JSON.stringify(FLOW), type: null, lenient: null, strict: 'unrecognised', strictHangup: false },
  { name: 'no content type, text', body: 'hello', type: null, lenient: 'unrecognised', strict: 'unrecognised', strictHangup: false },
  { name: 'TwiML', body: '<?xml version="1.0"?><Response><Say>hi</Say></Response>', type: 'text/xml', lenient: null, strict: null },
  { name: 'TwiML as text/html', body: '<Response><Say>hi</Say></Response>', type: 'text/html', lenient: null, strict: null },
  { name: 'TwiML without a Content-Type', body: '<Response><Hangup/></Response>', type: null, lenient: null, strict: null },
  { name: 'broken TwiML', body: '<Response><Say>hi</Response>', type: 'text/xml', lenient: 'unrecognised', strict: 'unrecognised', strictHangup: false },
  { name: 'TwiML with a DTD', body: '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "boom">]><Response><Say>&x;</Say></Response>', type: 'text/xml', lenient: 'unrecognised', strict: 'unrecognised', strictHangup: false },
  { name: 'XML not Response', body: '<foo/>', type: 'application/xml', lenient: 'unrecognised', strict: 'unrecognised', strictHangup: false },
  { name: 'JSON as text/xml', body: JSON.stringify(FLOW), type: 'text/xml', lenient: 'unrecognised', strict: 'unrecognised', strictHangup: false },
];

for (const m of matrix) {
  t.test(`200 ${m.name}`, async (tt) => {
    for (const compat of ['lenient', 'strict'] as const) {
      const want = compat === 'lenient' ? m.lenient : m.strict;
      const r = await once(tt, (_q, res) => reply(res, m.body, { type: m.type }), compat);
      if (want === null) tt.equal(r.kind, 'flow', compat);
      else tt.same(failure(r), { reason: want, hangup: compat === 'strict' ? m.strictHangup === true : false }, compat);
    }
  });
}

t.test('connection refused and bad URLs fail at once', async (tt) => {
  const port = await closedPort();
  const clock = new FakeClock();
  const client = new WebhookClient({ clock });
  tt.same(failure(await client.request(req(`http://127.0.0.1:${port}/x`), PARAMS, CTX)), { reason: 'connect', hangup: false });
  tt.same(failure(await client.request(req('not a url'), PARAMS, CTX)), { reason: 'bad_url', hangup: false });
  tt.same(failure(await client.request(req('file:///etc/passwd'), PARAMS, CTX)), { reason: 'bad_url', hangup: false });
  tt.equal(clock.pendingTimers, 0);
});

t.test('timeout covers the headers', async (tt) => {
  const start = Date.now();
  const r = await once(tt, () => new Promise<void>(() => undefined), 'lenient', { reqTimeoutMs: 150 });
  tt.same(failure(r), { reason: 'timeout', hangup: false });
  tt.ok(Date.now() - start < 2000);
});

t.test('timeout covers the body', async (tt) => {
  const r = await once(tt, (_q, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.write('{"module":'); }, 'lenient', { reqTimeoutMs: 150 });
  tt.same(failure(r), { reason: 'timeout', hangup: false });
});

t.test('req_timeout_ms is capped at maxReqTimeoutMs (virtual time, a server that never answers)', async (tt) => {
  const server = await startServer(() => new Promise<void>(() => undefined));
  tt.teardown(() => server.close());
  for (const [cap, asked, fires] of [[undefined, 60_000, 5000], [20_000, 60_000, 20_000], [20_000, 800, 800], [undefined, undefined, 5000]] as const) {
    const clock = new FakeClock();
    const client = new WebhookClient({ clock, ...(cap ? { maxReqTimeoutMs: cap } : {}) });
    const p = client.request(req(`${server.base}/x`, asked ? { reqTimeoutMs: asked } : {}), PARAMS, CTX);
    let done = false;
    void p.then(() => { done = true; });
    await new Promise((r) => setTimeout(r, 20)); // the request reaches the server
    clock.tick(fires - 1);
    await new Promise((r) => setImmediate(r));
    tt.notOk(done, `not yet at ${fires - 1}`);
    clock.tick(1);
    tt.same(failure(await p), { reason: 'timeout', hangup: false }, `fires at ${fires}`);
    tt.equal(clock.pendingTimers, 0);
  }
});

t.test('abort signal (call ended) → aborted', async (tt) => {
  const server = await startServer(() => new Promise<void>(() => undefined));
  tt.teardown(() => server.close());
  const clock = new FakeClock();
  const client = new WebhookClient({ clock });
  const ac = new AbortController();
  const p = client.request(req(`${server.base}/x`), PARAMS, { ...CTX, signal: ac.signal });
  setTimeout(() => ac.abort(), 30);
  tt.same(failure(await p), { reason: 'aborted', hangup: false });
  tt.equal(clock.pendingTimers, 0);
  const ac2 = new AbortController();
  ac2.abort();
  tt.same(failure(await client.request(req(`${server.base}/x`), PARAMS, { ...CTX, signal: ac2.signal })), { reason: 'aborted', hangup: false });
});

t.test('body size is bounded (declared and streamed)', async (tt) => {
  const big = JSON.stringify({ module: 'tts', data: { text: 'x', pad: 'y'.repeat(5000) } });
  let r = await once(tt, (_q, res) => reply(res, big), 'lenient', {}, { maxBodyBytes: 1000 });
  tt.same(failure(r), { reason: 'body_too_large', hangup: false });
  r = await once(tt, (_q, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.write(big.slice(0, 3000)); res.end(big.slice(3000)); }, 'lenient', {}, { maxBodyBytes: 1000 });
  tt.same(failure(r), { reason: 'body_too_large', hangup: false });
});

t.test('redirects: GET follows, POST does not', async (tt) => {
  const handler: Handler = (q, res) => {
    if (q.path === '/ivr') { res.writeHead(302, { location: '/final' }); res.end(); } else reply(res, FLOW);
  };
  tt.equal((await once(tt, handler)).kind, 'flow');
  tt.same(failure(await once(tt, handler, 'lenient', { method: 'post' })), { reason: 'http_status', hangup: false });
});

t.test('wire format: GET query, POST form, POST json, basic auth from the URL, X- headers', async (tt) => {
  const server = await startServer((_q, res) => reply(res, FLOW));
  tt.teardown(() => server.close());
  const client = new WebhookClient({ clock: new FakeClock() });
  const url = server.base.replace('http://', 'http://us%40er:p%3Ass@') + '/ivr?tenant=42#frag';
  await client.request(req(url, { customHeaders: { 'X-Tenant': 't1', Host: 'evil', 'X-Bad': 'a\r\nb' } }), PARAMS, CTX);
  await client.request(req(`${server.base}/form`, { method: 'post' }), PARAMS, CTX);
  await client.request(req(`${server.base}/json`, { method: 'post', reqBodyFormat: 'json' }), PARAMS, CTX);
  const [g, f, j] = server.requests;
  tt.match(g!.url, /^\/ivr\?tenant=42&Call-ID=c1&Caller-ID-Name=John\+Smith&Digits\[default\]=1$/);
  tt.equal(g!.headers.authorization, `Basic ${Buffer.from('us@er:p:ss').toString('base64')}`);
  tt.equal(g!.headers['x-tenant'], 't1');
  tt.equal(g!.headers['x-bad'], undefined);
  tt.not(g!.headers.host, 'evil');
  tt.equal(g!.headers['content-type'], undefined);
  tt.equal(f!.headers['content-type'], 'application/x-www-form-urlencoded');
  tt.equal(f!.body, 'Call-ID=c1&Caller-ID-Name=John+Smith&Digits[default]=1');
  tt.equal(j!.headers['content-type'], 'application/json');
  tt.same(JSON.parse(j!.body), PARAMS);
});

t.test('debug records: request, response, errors; bounded store', async (tt) => {
  const store = new PivotDebugStore({ maxCalls: 2, maxRecordsPerCall: 2, maxBodyChars: 10 });
  const server = await startServer((q, res) => (q.path === '/bad' ? reply(res, '{"module":"tts","data":{}}') : reply(res, FLOW, { status: 500 })));
  tt.teardown(() => server.close());
  const client = new WebhookClient({ clock: new FakeClock(), debugStore: store });
  await client.request(req(`${server.base}/bad`, { debug: true, method: 'post' }), PARAMS, CTX);
  const [rec] = store.forCall('c1');
  tt.equal(rec!.method, 'POST');
  tt.equal(rec!.respStatusCode, 200);
  tt.equal(rec!.respHeaders?.['content-type'], 'application/json');
  tt.equal(rec!.reqBody?.length, 10, 'bodies clipped');
  tt.ok(rec!.schemaErrors?.some((e) => e.path === '/data/text'));
  tt.equal(rec!.failure?.reason, 'schema');
  tt.type(rec!.totalMs, 'number');
  await client.request(req(`${server.base}/err`, { debug: true }), PARAMS, { ...CTX, iteration: 2 });
  await client.request(req(`${server.base}/err`, { debug: true }), PARAMS, { ...CTX, iteration: 3 });
  tt.same(store.forCall('c1').map((r) => r.iteration), [2, 3], 'per-call bound');
  tt.equal(store.forCall('c1')[0]!.respStatusCode, 500);
  await client.request(req(`${server.base}/err`), PARAMS, { ...CTX, callId: 'nodebug' });
  tt.same(store.forCall('nodebug'), [], 'debug off: nothing stored');
  await client.request(req(`${server.base}/err`, { debug: true }), PARAMS, { ...CTX, callId: 'c2' });
  await client.request(req(`${server.base}/err`, { debug: true }), PARAMS, { ...CTX, callId: 'c3' });
  tt.same(store.callIds(), ['c2', 'c3'], 'oldest call evicted');
  tt.same(store.callIds('a1'), ['c2', 'c3']);
  tt.same(store.callIds('other'), []);
});

t.test('parseRetryFragment', async (tt) => {
  tt.same(parseRetryFragment('http://h/x'), { url: 'http://h/x', retries: 0, policy: new Set(['ct']) });
  tt.same(parseRetryFragment('http://h/x#top'), { url: 'http://h/x#top', retries: 0, policy: new Set(['ct']) });
  tt.same(parseRetryFragment('http://h/x?a=1#rc=2&rp=5xx,ct'), { url: 'http://h/x?a=1', retries: 2, policy: new Set(['5xx', 'ct']) });
  tt.same(parseRetryFragment('http://h/x#rc=99&keep=1'), { url: 'http://h/x#keep=1', retries: 5, policy: new Set(['ct']) });
  tt.same(parseRetryFragment('http://h/x#rc=-1&rp=bogus'), { url: 'http://h/x', retries: 0, policy: new Set(['ct']) });
});

t.test('retries per #rc/rp, then fallback_url', async (tt) => {
  let n = 0;
  const server = await startServer((q, res) => {
    if (q.path === '/flaky') { n++; if (n < 3) reply(res, 'busy', { status: 503, type: 'text/plain' }); else reply(res, FLOW); }
    else if (q.path === '/nf') reply(res, 'nope', { status: 404, type: 'text/plain' });
    else if (q.path === '/fb') reply(res, { module: 'tts', data: { text: 'fallback' } });
    else reply(res, 'x', { status: 500, type: 'text/plain' });
  });
  tt.teardown(() => server.close());
  const clock = new FakeClock();
  const client = new WebhookClient({ clock });
  tt.equal((await client.request(req(`${server.base}/flaky#rc=2&rp=5xx`), PARAMS, CTX)).kind, 'flow', '503, 503, 200');
  tt.equal(server.requests.filter((r) => r.path === '/flaky').length, 3);
  n = 0;
  tt.same(failure(await client.request(req(`${server.base}/flaky#rc=1&rp=5xx`), PARAMS, CTX)), { reason: 'http_status', hangup: false }, 'retries exhausted');
  tt.same(failure(await client.request(req(`${server.base}/nf#rc=3&rp=5xx,ct`), PARAMS, CTX)), { reason: 'http_status', hangup: false });
  tt.equal(server.requests.filter((r) => r.path === '/nf').length, 1, '404 not in policy: no retry');
  const r = await client.request(req(`${server.base}/nf`, { fallbackUrl: `${server.base}/fb` }), PARAMS, CTX);
  tt.equal(r.kind === 'flow' ? r.flow.data.text : undefined, 'fallback');
  const port = await closedPort();
  const before = server.requests.length;
  const r2 = await client.request(req(`http://127.0.0.1:${port}/x#rc=2`, { fallbackUrl: `${server.base}/fb` }), PARAMS, CTX);
  tt.equal(r2.kind, 'flow', 'connect failures retried (default ct), then fallback');
  tt.equal(server.requests.length, before + 1);
  tt.equal(clock.pendingTimers, 0);
});

t.test('X-Hookline-Signature', async (tt) => {
  const server = await startServer((_q, res) => reply(res, FLOW));
  tt.teardown(() => server.close());
  const secret = 's3cret';
  const client = new WebhookClient({ clock: new FakeClock(), signingSecret: secret });
  await client.request(req(`${server.base}/p`, { method: 'post' }), PARAMS, CTX);
  await client.request(req(`${server.base}/g?tenant=1`), PARAMS, CTX);
  for (const [i, payload] of [[0, server.requests[0]!.body], [1, server.requests[1]!.url.slice(server.requests[1]!.url.indexOf('?') + 1)]] as const) {
    const h = String(server.requests[i]!.headers['x-hookline-signature']);
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(h);
    tt.ok(m, h);
    tt.ok(Math.abs(Number(m![1]) - Date.now() / 1000) < 60);
    tt.equal(m![2], createHmac('sha256', secret).update(`${m![1]}.${payload}`).digest('hex'));
  }
  const plain = new WebhookClient({ clock: new FakeClock() });
  await plain.request(req(`${server.base}/p`), PARAMS, CTX);
  tt.equal(server.requests[2]!.headers['x-hookline-signature'], undefined);
});

t.test('malformed credentials are a bad_url failure, not a throw', async (tt) => {
  const client = new WebhookClient({ clock: new FakeClock() });
  tt.same(failure(await client.request(req('http://u%zz:p@127.0.0.1:9/x'), PARAMS, CTX)), { reason: 'bad_url', hangup: false });
});
