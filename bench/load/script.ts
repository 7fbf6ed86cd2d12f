/**
 * The web script the load benches need: a real HTTP server answering Hookline's Pivot requests.
 * - `/ivr`: tts greeting → collect_dtmf (3 digits, `#` ends) → pivot `/ivr-digits`;
 *   `/ivr-digits`: tts "thank you" → hangup. Records, per Call-ID, when each request came and the digits received.
 * - `/probe`: tts greeting → sleep (the quality probe hangs up itself).
 * - `/warmup`: the ivr prompts once (so every bench call hears them from the TTS cache) → hangup.
 * - `/cps`: a short tts → hangup.
 * - `/bridge`: `resources` to BRIDGE_NUMBER through the bench carrier (no ring timeout worth noting; the call ends
 *   when either side hangs up).
 * Memory is bounded: at most `maxCalls` call records are kept (the oldest are dropped and counted).
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CallRecord {
  callId: string;
  /** Date.now() of the first request. */
  first: number;
  /** Date.now() of the second (digits) request, if any. */
  second: number | null;
  digits: string | null;
}

export interface ScriptStats { requests: number; ivrCalls: number; probeCalls: number; cpsCalls: number; bridgeCalls: number; errors: number; dropped: number }

export interface BenchScript {
  url: string;
  calls: Map<string, CallRecord>;
  stats: ScriptStats;
  close(): Promise<void>;
}

export const GREETING = 'Welcome to the Hookline benchmark. Please enter your three digit code, then press pound.';
export const EXPECTED_DIGITS = '123';
/** The number the bridge scenario dials out to (the SIPp carrier answers any). */
export const BRIDGE_NUMBER = '+15550001000';

function digitsOf(params: URLSearchParams): string | null {
  for (const [k, v] of params) if (k === 'Digits' || k.startsWith('Digits[')) return v;
  return null;
}

export async function startBenchScript(opts: { collectTimeoutMs: number; maxCalls?: number }): Promise<BenchScript> {
  const maxCalls = opts.maxCalls ?? 200_000;
  const calls = new Map<string, CallRecord>();
  const stats: ScriptStats = { requests: 0, ivrCalls: 0, probeCalls: 0, cpsCalls: 0, bridgeCalls: 0, errors: 0, dropped: 0 };
  let base = '';
  const flows: Record<string, () => object> = {
    '/ivr': () => ({
      module: 'tts', data: { text: GREETING },
      children: { _: {
        module: 'collect_dtmf',
        data: { max_digits: 3, timeout: opts.collectTimeoutMs, interdigit_timeout: 3000, terminator: '#' },
        children: { _: { module: 'pivot', data: { voice_url: `${base}/ivr-digits`, method: 'post', req_body_format: 'form' } } },
      } },
    }),
    '/ivr-digits': () => ({ module: 'tts', data: { text: 'Thank you. Goodbye.' }, children: { _: { module: 'hangup', data: {} } } }),
    '/probe': () => ({ module: 'tts', data: { text: 'This is the quality probe. Please hold.' }, children: { _: { module: 'sleep', data: { duration: 600 } } } }),
    '/warmup': () => ({ module: 'tts', data: { text: GREETING }, children: { _: { module: 'tts', data: { text: 'Thank you. Goodbye.' }, children: { _: { module: 'hangup', data: {} } } } } }),
    '/cps': () => ({ module: 'tts', data: { text: 'Hello.' }, children: { _: { module: 'hangup', data: {} } } }),
    '/bridge': () => ({ module: 'resources', data: { to_did: BRIDGE_NUMBER, use_local_resources: false, timeout: 20 } }),
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => { size += c.length; if (size < 65536) chunks.push(c); });
    req.on('end', () => {
      stats.requests++;
      const now = Date.now();
      const url = new URL(req.url ?? '/', 'http://x');
      const params = new URLSearchParams(url.search);
      if (req.method === 'POST') for (const [k, v] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) params.append(k, v);
      const flow = flows[url.pathname];
      if (!flow) { stats.errors++; res.writeHead(404); res.end(); return; }
      const callId = params.get('Call-ID') ?? '';
      if (url.pathname === '/ivr') {
        stats.ivrCalls++;
        if (calls.size >= maxCalls) { const oldest = calls.keys().next().value; if (oldest !== undefined) calls.delete(oldest); stats.dropped++; }
        calls.set(callId, { callId, first: now, second: null, digits: null });
      } else if (url.pathname === '/ivr-digits') {
        const rec = calls.get(callId);
        if (rec) { rec.second = now; rec.digits = digitsOf(params); }
      } else if (url.pathname === '/probe') stats.probeCalls++;
      else if (url.pathname === '/cps') stats.cpsCalls++;
      else if (url.pathname === '/bridge') stats.bridgeCalls++;
      const body = JSON.stringify(flow());
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 30000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base, calls, stats,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
