/**
 * Webhook client cost: CPU of the calling thread per webhook round trip, the global `fetch` (undici) against
 * Hookline's `util/http.ts` (`node:http` with a keep-alive agent). Both do what the webhook client does per
 * request: a timeout that cancels it (fetch: an AbortController; util/http.ts: an HttpCancel), a small JSON reply
 * read whole as text.
 *
 *   fetch_us   fetch: CPU µs of the client thread per request
 *   http_us    util/http.ts: CPU µs per request
 *   ratio      fetch_us / http_us
 *
 * The server runs in a worker thread, so the figures are the client's own (/proc/thread-self/stat, Linux).
 * Rounds alternate A/B/A/B in one process; each figure is the median of its rounds.
 * Run: `npm run bench -- http` (or `node dist/bench/http.js`). Exports `run()`.
 */
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { HttpCancel, httpRequest } from '../src/util/http.js';
import { threadCpuMs } from '../src/util/thread.js';

const REPLY = JSON.stringify({ module: 'tts', data: { text: 'Thanks for calling. Goodbye.' }, children: { _: { module: 'hangup', data: {} } } });
const QUERY = '?Call-ID=abc123%40127.0.0.1&Caller-ID-Name=Bench+Caller&Caller-ID-Number=5550001&To=4100&From=5550001&Request=4100&Account-ID=bench';

function serverMain(): void {
  const srv = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(REPLY); });
  });
  srv.keepAliveTimeout = 60_000;
  srv.listen(0, '127.0.0.1', () => parentPort!.postMessage((srv.address() as AddressInfo).port));
}

type Client = (url: string) => Promise<string>;

const viaFetch: Client = async (url) => {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 5000);
  try {
    const res = await fetch(url, { method: 'GET', headers: {}, signal: ac.signal, redirect: 'follow' });
    return await res.text();
  } finally {
    clearTimeout(timer);
  }
};

const viaHttp: Client = async (url) => {
  const cancel = new HttpCancel();
  const timer = setTimeout(() => cancel.cancel(), 5000);
  try {
    const res = await httpRequest(url, { method: 'GET', headers: {}, cancel, maxBodyBytes: 1 << 20, followRedirects: true });
    return res.body.toString('utf8');
  } finally {
    clearTimeout(timer);
  }
};

/** CPU µs of this thread per request, `n` requests with `concurrency` in flight. */
async function round(client: Client, url: string, n: number, concurrency: number): Promise<number> {
  let next = 0;
  const cpu0 = threadCpuMs();
  const lane = async (): Promise<void> => {
    while (next < n) {
      next++;
      const body = await client(url);
      if (body.length !== REPLY.length) throw new Error('short reply');
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const cpu = threadCpuMs() - cpu0;
  return cpu < 0 ? NaN : (cpu * 1000) / n;
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? NaN; };

export async function run(opts: { n?: number; rounds?: number; concurrency?: number } = {}): Promise<Record<string, number>> {
  const n = opts.n ?? 4000;
  const rounds = opts.rounds ?? 3;
  const concurrency = opts.concurrency ?? 32;
  const worker = new Worker(fileURLToPath(import.meta.url));
  try {
    const port = await new Promise<number>((r) => worker.once('message', r));
    const url = `http://127.0.0.1:${port}/ivr${QUERY}`;
    await round(viaFetch, url, 500, concurrency); // warm both paths (JIT, connections)
    await round(viaHttp, url, 500, concurrency);
    const f: number[] = [];
    const h: number[] = [];
    for (let i = 0; i < rounds; i++) {
      f.push(await round(viaFetch, url, n, concurrency));
      h.push(await round(viaHttp, url, n, concurrency));
    }
    const fetchUs = median(f);
    const httpUs = median(h);
    return { requests_per_round: n, concurrency, fetch_us: fetchUs, http_us: httpUs, ratio: fetchUs / httpUs };
  } finally {
    await worker.terminate();
  }
}

if (!isMainThread) serverMain();
else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  run().then((r) => { process.stdout.write(`${JSON.stringify(r, null, 2)}\n`); }, (err: unknown) => { process.stderr.write(`${String(err)}\n`); process.exitCode = 1; });
}
