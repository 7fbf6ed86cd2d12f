/** Recording upload (src/media/upload.ts) against a real HTTP server on 127.0.0.1: retries, back-off, bounds. */
import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RecordingUploader, joinUrl } from '../../src/media/upload.js';
import { RealClock } from '../../src/util/clock.js';

interface Got { method: string; url: string; type: string | undefined; body: Buffer; at: number }

async function server(statuses: number[], opts: { hangMs?: number } = {}): Promise<{ url: string; got: Got[]; close: () => Promise<void> }> {
  const got: Got[] = [];
  const s = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ method: req.method ?? '', url: req.url ?? '', type: req.headers['content-type'], body: Buffer.concat(chunks), at: performance.now() });
      const status = statuses[got.length - 1] ?? 200;
      if (status === 0) { setTimeout(() => { res.writeHead(200); res.end(); }, opts.hangMs ?? 5000); return; }
      res.writeHead(status);
      res.end('x');
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, got, close: () => new Promise((r) => { s.closeAllConnections(); s.close(() => r()); }) };
}

const body = new Uint8Array([1, 2, 3, 4, 5, 250]);

t.test('500, 503 then 200: three attempts with growing back-off, the same bytes each time', async (t) => {
  const srv = await server([500, 503, 200]);
  t.teardown(srv.close);
  const clock = new RealClock();
  const up = new RecordingUploader({ clock, backoffMs: 100 });
  const r = await up.upload({ url: `${srv.url}/rec/a%40b.wav`, method: 'PUT', body, contentType: 'audio/wav' });
  t.same(r, { ok: true, status: 200, attempts: 3 });
  t.equal(srv.got.length, 3);
  for (const g of srv.got) {
    t.equal(g.method, 'PUT');
    t.equal(g.url, '/rec/a%40b.wav');
    t.equal(g.type, 'audio/wav');
    t.same([...g.body], [...body]);
  }
  const gap1 = srv.got[1]!.at - srv.got[0]!.at;
  const gap2 = srv.got[2]!.at - srv.got[1]!.at;
  t.ok(gap1 >= 95 && gap2 >= 395, `back-off 100 ms then 400 ms (measured ${gap1.toFixed(0)}, ${gap2.toFixed(0)})`);
  t.equal(clock.pendingTimers, 0, 'no timers left');
});

t.test('a 4xx is final; retries give up after `attempts`; POST; bad URLs and oversize files are refused', async (t) => {
  const srv = await server([404, 500, 500, 500]);
  t.teardown(srv.close);
  const up = new RecordingUploader({ backoffMs: 10, attempts: 3 });
  const r1 = await up.upload({ url: `${srv.url}/x`, method: 'POST', body, contentType: 'audio/mpeg' });
  t.match(r1, { ok: false, code: 'UPLOAD_FAILED', status: 404, attempts: 1 });
  t.equal(srv.got.length, 1, '404 not retried');
  t.equal(srv.got[0]!.method, 'POST');
  const r2 = await up.upload({ url: `${srv.url}/y`, method: 'PUT', body, contentType: 'audio/mpeg' });
  t.match(r2, { ok: false, code: 'UPLOAD_FAILED', status: 500, attempts: 3 });
  t.equal(srv.got.length, 4, 'three attempts on 500');
  t.match(await up.upload({ url: 'ftp://h/x', method: 'PUT', body, contentType: 'a' }), { ok: false, code: 'UPLOAD_BAD_URL' });
  t.match(await up.upload({ url: 'not a url', method: 'PUT', body, contentType: 'a' }), { ok: false, code: 'UPLOAD_BAD_URL' });
  const small = new RecordingUploader({ maxBytes: 3 });
  t.match(await small.upload({ url: `${srv.url}/z`, method: 'PUT', body, contentType: 'a' }), { ok: false, code: 'UPLOAD_TOO_LARGE' });
  t.equal(srv.got.length, 4, 'refused uploads never reach the server');
});

t.test('each attempt is bounded in time; connection refused is retried; concurrency is bounded', async (t) => {
  const srv = await server([0, 0, 0], { hangMs: 2000 });
  t.teardown(srv.close);
  const up = new RecordingUploader({ timeoutMs: 150, backoffMs: 10, attempts: 2 });
  const t0 = performance.now();
  const r = await up.upload({ url: `${srv.url}/slow`, method: 'PUT', body, contentType: 'a' });
  const ms = performance.now() - t0;
  t.match(r, { ok: false, code: 'UPLOAD_FAILED', error: /timeout/ });
  t.ok(ms < 1500, `gave up after two 150 ms attempts (${ms.toFixed(0)} ms)`);
  // nothing listens on a closed server's port
  const gone = await server([]);
  await gone.close();
  const r2 = await new RecordingUploader({ backoffMs: 5, attempts: 2 }).upload({ url: `${gone.url}/x`, method: 'PUT', body, contentType: 'a' });
  t.match(r2, { ok: false, code: 'UPLOAD_FAILED', attempts: 2, error: /ECONNREFUSED/ });
  // bounded: one in flight, one waiting, the third refused
  const srv2 = await server([0, 200, 200], { hangMs: 200 });
  t.teardown(srv2.close);
  const lim = new RecordingUploader({ maxInFlight: 1, maxQueued: 1 });
  const a = lim.upload({ url: `${srv2.url}/1`, method: 'PUT', body, contentType: 'a' });
  const b = lim.upload({ url: `${srv2.url}/2`, method: 'PUT', body, contentType: 'a' });
  const c = await lim.upload({ url: `${srv2.url}/3`, method: 'PUT', body, contentType: 'a' });
  t.match(c, { ok: false, code: 'UPLOAD_BUSY' });
  t.equal(lim.pending, 2);
  t.match(await a, { ok: true });
  t.match(await b, { ok: true });
  t.equal(lim.pending, 0);
});

t.test('joinUrl', async (t) => {
  t.equal(joinUrl('http://h/rec', 'a@b.wav'), 'http://h/rec/a%40b.wav');
  t.equal(joinUrl('http://h/rec/', 'x.mp3'), 'http://h/rec/x.mp3');
  t.equal(joinUrl('http://h/rec?k=1', 'x.mp3'), 'http://h/rec/x.mp3?k=1');
  t.equal(joinUrl('http://h', 'x.mp3'), 'http://h/x.mp3');
});
