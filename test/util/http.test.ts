/** util/http.ts against real HTTP servers on 127.0.0.1: bodies, bounds, redirects, encodings, keep-alive reuse. */
import t, { type Test } from 'tap';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { HttpCancel, HttpError, httpRequest, flatHeaders, MAX_REDIRECTS, type HttpRequestOptions } from '../../src/util/http.js';

type H = (req: IncomingMessage, res: ServerResponse, body: string) => void;

async function server(t0: Test, h: H): Promise<{ base: string; connections: () => number; srv: http.Server }> {
  let conns = 0;
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => h(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  srv.on('connection', () => { conns++; });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t0.teardown(() => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); }));
  return { base: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, connections: () => conns, srv };
}

const GET: HttpRequestOptions = { method: 'GET', headers: {}, maxBodyBytes: 1000, followRedirects: true };

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return err instanceof HttpError ? err.reason : `not an HttpError: ${String(err)}`;
  }
}

t.test('GET and POST: status, headers, body; content-length and user-agent sent', async (tt) => {
  const seen: Array<{ method?: string; url?: string; len?: string; ua?: string; body: string }> = [];
  const s = await server(tt, (req, res, body) => {
    seen.push({ method: req.method, url: req.url, len: req.headers['content-length'], ua: req.headers['user-agent'], body });
    res.writeHead(201, { 'content-type': 'application/json', 'x-a': 'b' });
    res.end('{"ok":true}');
  });
  const g = await httpRequest(`${s.base}/a?x=1#frag`, GET);
  tt.equal(g.status, 201);
  tt.equal(g.headers['x-a'], 'b');
  tt.equal(g.body.toString(), '{"ok":true}');
  const p = await httpRequest(`${s.base}/b`, { ...GET, method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'héllo' });
  tt.equal(p.status, 201);
  tt.same(seen, [
    { method: 'GET', url: '/a?x=1', len: undefined, ua: 'Hookline', body: '' },
    { method: 'POST', url: '/b', len: '6', ua: 'Hookline', body: 'héllo' },
  ]);
  tt.same(flatHeaders({ a: 'x', 'set-cookie': ['1', '2'] }), { a: 'x', 'set-cookie': '1, 2' });
});

t.test('keep-alive: sequential requests share one connection', async (tt) => {
  const s = await server(tt, (_q, res) => res.end('x'));
  for (let i = 0; i < 5; i++) tt.equal((await httpRequest(`${s.base}/k`, GET)).body.toString(), 'x');
  tt.equal(s.connections(), 1);
});

t.test('a keep-alive connection the server closed while idle: the request is tried again on a new one', async (tt) => {
  // a raw server: the first request on a connection is answered with keep-alive; a second one on the same
  // connection finds it closed (as when the server's idle timeout and the client's reuse cross)
  let conns = 0;
  const socks = new Set<net.Socket>();
  const srv = net.createServer((sock) => {
    conns++;
    socks.add(sock);
    let n = 0;
    sock.on('data', () => {
      if (++n === 1) sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\nKeep-Alive: timeout=60\r\n\r\nok');
      else sock.destroy();
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  tt.teardown(() => new Promise<void>((r) => { for (const k of socks) k.destroy(); srv.close(() => r()); }));
  const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  tt.equal((await httpRequest(`${base}/1`, GET)).body.toString(), 'ok');
  const r2 = await httpRequest(`${base}/2`, GET);
  tt.equal(r2.body.toString(), 'ok', 'second request answered');
  tt.equal(conns, 2, 'on a second connection');
});

t.test('body bounds: declared, streamed, clip and discard modes', async (tt) => {
  const big = 'y'.repeat(5000);
  const s = await server(tt, (req, res) => {
    if (req.url === '/declared') { res.writeHead(200, { 'content-length': String(big.length) }); res.end(big); return; }
    res.writeHead(req.url === '/err' ? 500 : 200);
    res.write(big.slice(0, 3000));
    res.end(big.slice(3000));
  });
  tt.equal(await failure(httpRequest(`${s.base}/declared`, GET)), 'body_too_large');
  tt.equal(await failure(httpRequest(`${s.base}/streamed`, GET)), 'body_too_large');
  const clipped = await httpRequest(`${s.base}/err`, { ...GET, bodyFor: (st) => (st === 200 ? 'read' : 'clip') });
  tt.equal(clipped.status, 500);
  tt.equal(clipped.body.length, 1000, 'clipped to maxBodyBytes');
  const discarded = await httpRequest(`${s.base}/err`, { ...GET, bodyFor: () => 'discard' });
  tt.equal(discarded.status, 500);
  tt.equal(discarded.body.length, 0);
  tt.equal((await httpRequest(`${s.base}/declared`, { ...GET, maxBodyBytes: 5000 })).body.length, 5000, 'exactly the bound is fine');
});

t.test('Content-Encoding gzip, deflate and br are decoded; the bound applies to the decoded size', async (tt) => {
  const text = JSON.stringify({ module: 'tts', data: { text: 'hello' } });
  const s = await server(tt, (req, res) => {
    const enc = req.url!.slice(1);
    const plain = enc.endsWith('-big') ? 'z'.repeat(50_000) : text;
    const e = enc.replace('-big', '');
    const body = e === 'gzip' ? zlib.gzipSync(plain) : e === 'deflate' ? zlib.deflateSync(plain) : zlib.brotliCompressSync(plain);
    res.writeHead(200, { 'content-encoding': e, 'content-length': String(body.length) });
    res.end(body);
  });
  for (const e of ['gzip', 'deflate', 'br']) tt.equal((await httpRequest(`${s.base}/${e}`, GET)).body.toString(), text, e);
  tt.equal(await failure(httpRequest(`${s.base}/gzip-big`, GET)), 'body_too_large', 'a small gzip of a big body');
});

t.test(`redirects: followed up to ${MAX_REDIRECTS} hops when asked, relative Location resolved`, async (tt) => {
  const s = await server(tt, (req, res) => {
    const m = /^\/hop(\d+)$/.exec(req.url ?? '');
    if (m) { res.writeHead(302, { location: `/hop${Number(m[1]) - 1}`.replace('/hop0', '/end') }); res.end('moved'); return; }
    if (req.url === '/nolocation') { res.writeHead(302); res.end(); return; }
    if (req.url === '/ftp') { res.writeHead(301, { location: 'ftp://x/' }); res.end(); return; }
    res.end('final');
  });
  const ok = await httpRequest(`${s.base}/hop${MAX_REDIRECTS}`, GET);
  tt.equal(ok.status, 200);
  tt.equal(ok.body.toString(), 'final');
  const tooMany = await httpRequest(`${s.base}/hop${MAX_REDIRECTS + 1}`, GET);
  tt.equal(tooMany.status, 302, 'the last redirect is returned once the hops are used up');
  const manual = await httpRequest(`${s.base}/hop1`, { ...GET, followRedirects: false });
  tt.equal(manual.status, 302);
  tt.equal(manual.body.toString(), 'moved');
  tt.equal((await httpRequest(`${s.base}/nolocation`, GET)).status, 302);
  tt.equal(await failure(httpRequest(`${s.base}/ftp`, GET)), 'connect');
});

t.test('failures: refused, bad URL, bad scheme, reset mid-body, aborted before and during', async (tt) => {
  const s0 = http.createServer();
  await new Promise<void>((r) => s0.listen(0, '127.0.0.1', r));
  const closed = (s0.address() as AddressInfo).port;
  await new Promise<void>((r) => s0.close(() => r()));
  tt.equal(await failure(httpRequest(`http://127.0.0.1:${closed}/`, GET)), 'connect');
  tt.equal(await failure(httpRequest('not a url', GET)), 'connect');
  tt.equal(await failure(httpRequest('file:///etc/passwd', GET)), 'connect');
  const s = await server(tt, (req, res) => {
    if (req.url === '/reset') { res.writeHead(200, { 'content-length': '100' }); res.write('partial'); setTimeout(() => res.socket?.destroy(), 10); return; }
    /* /hang: never answers */
  });
  tt.equal(await failure(httpRequest(`${s.base}/reset`, GET)), 'connect');
  const pre = new HttpCancel();
  pre.cancel();
  tt.equal(await failure(httpRequest(`${s.base}/hang`, { ...GET, cancel: pre })), 'aborted');
  const during = new HttpCancel();
  setTimeout(() => during.cancel(), 30);
  tt.equal(await failure(httpRequest(`${s.base}/hang`, { ...GET, cancel: during })), 'aborted');
  during.cancel(); // again, after it settled: nothing happens
  tt.ok(during.cancelled);
  // cancelling after a request has completed changes nothing
  const late = new HttpCancel();
  const s2 = await server(tt, (_req, res) => { res.end('done'); });
  tt.equal((await httpRequest(`${s2.base}/`, { ...GET, cancel: late })).body.toString(), 'done');
  late.cancel();
  tt.ok(late.cancelled, 'a settled request\'s cancel is a no-op');
});
