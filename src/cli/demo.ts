/**
 * The built-in demo web script, served by the switch itself on 127.0.0.1 so that a fresh
 * `npm start` already speaks: a greeting with the caller's number, a request for digits,
 * and the digits read back. It is an ordinary Pivot web script (Kazoo JSON over HTTP).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DemoScript {
  readonly url: string;
  close(): Promise<void>;
}

/** Say a digit string one key at a time ("1 2 3 pound"). */
export function spokenDigits(digits: string): string {
  const names: Record<string, string> = { '*': 'star', '#': 'pound' };
  return [...digits].map((d) => names[d] ?? d).join(' ');
}

function readBody(req: IncomingMessage, limit = 65536): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Parameters from the query string and a form or JSON body, flattened (`Digits[default]` → `Digits.default`). */
async function params(req: IncomingMessage): Promise<Record<string, unknown>> {
  const url = new URL(req.url ?? '/', 'http://demo');
  const out: Record<string, unknown> = {};
  const put = (k: string, v: string): void => {
    const m = /^([^[]+)\[([^\]]*)\]$/.exec(k);
    if (m) {
      const o = (out[m[1]!] && typeof out[m[1]!] === 'object' ? out[m[1]!] : {}) as Record<string, string>;
      o[m[2]!] = v;
      out[m[1]!] = o;
    } else out[k] = v;
  };
  for (const [k, v] of url.searchParams) put(k, v);
  if (req.method === 'POST') {
    const body = await readBody(req);
    if ((req.headers['content-type'] ?? '').includes('json')) {
      try { Object.assign(out, JSON.parse(body) as Record<string, unknown>); } catch { /* ignore */ }
    } else for (const [k, v] of new URLSearchParams(body)) put(k, v);
  }
  return out;
}

function digitsOf(p: Record<string, unknown>, name: string): string {
  const d = p.Digits;
  if (typeof d === 'string') return d;
  if (d && typeof d === 'object') {
    const v = (d as Record<string, unknown>)[name];
    return typeof v === 'string' ? v : '';
  }
  return '';
}

export function demoReply(path: string, p: Record<string, unknown>, base: string): unknown {
  if (path.endsWith('/digits')) {
    const digits = digitsOf(p, 'demo');
    const text = digits
      ? `You entered ${spokenDigits(digits)}. Thank you for calling Hookline. Goodbye.`
      : `I did not get any digits. Thank you for calling Hookline. Goodbye.`;
    return { module: 'tts', data: { text }, children: { _: { module: 'hangup', data: {} } } };
  }
  const caller = typeof p['Caller-ID-Number'] === 'string' ? (p['Caller-ID-Number'] as string) : '';
  const greeting = caller
    ? `Hello caller ${spokenDigits(caller)}. Welcome to Hookline.`
    : 'Hello. Welcome to Hookline.';
  return {
    module: 'tts',
    data: { text: `${greeting} Please enter some digits, then press pound.` },
    children: {
      _: {
        module: 'collect_dtmf',
        data: { max_digits: 10, timeout: 8000, interdigit_timeout: 3000, terminator: '#', collection_name: 'demo' },
        children: { _: { module: 'pivot', data: { voice_url: `${base}/demo/digits`, method: 'post', req_body_format: 'form' } } },
      },
    },
  };
}

/** Serve the demo script on 127.0.0.1 (port 0 = any free port). */
export async function startDemoScript(port = 0): Promise<DemoScript> {
  let base = '';
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    params(req).then((p) => {
      const body = JSON.stringify(demoReply(new URL(req.url ?? '/', 'http://demo').pathname, p, base));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }, () => { res.writeHead(400); res.end(); });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/demo`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
