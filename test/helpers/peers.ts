/**
 * Real peers for end-to-end tests: SIPp and baresip processes, and a real HTTP server playing the web script.
 * Everything binds to 127.0.0.1 on free ports.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, connect, type AddressInfo, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { mkdtempSync, writeFileSync, mkdirSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const hasSipp = spawnSync('sh', ['-c', 'command -v sipp'], { encoding: 'utf8' }).status === 0;
export const hasBaresip = spawnSync('sh', ['-c', 'command -v baresip'], { encoding: 'utf8' }).status === 0;

/** Whether `port` on 127.0.0.1 can be bound over UDP right now. */
function udpFree(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const u = createSocket('udp4');
    u.once('error', () => { u.close(); resolve(false); });
    u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
  });
}

/** Whether `port` on 127.0.0.1 can be listened on over TCP right now. */
function tcpFree(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const tcp = createNetServer();
    tcp.once('error', () => resolve(false));
    tcp.listen(port, '127.0.0.1', () => tcp.close(() => resolve(true)));
  });
}

/** A free UDP+TCP port on 127.0.0.1 (bind, read, release). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const tcp = createNetServer();
    const port = await new Promise<number>((resolve) => tcp.listen(0, '127.0.0.1', () => resolve((tcp.address() as AddressInfo).port)));
    await new Promise<void>((r) => tcp.close(() => r()));
    if (await udpFree(port)) return port;
  }
  throw new Error('no free port');
}

/** A free UDP+TCP port whose next port is free for TCP too (baresip listens for TLS on the SIP port + 1). */
export async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    if (p < 65535 && await tcpFree(p + 1)) return p;
  }
  throw new Error('no free port pair');
}

/** An even free port with port+1 free too (SIPp media ports). */
export async function freeEvenPort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const p = await freePort();
    const even = p % 2 === 0 ? p : p + 1;
    if (even > 65000) continue;
    if (await udpFree(even) && await udpFree(even + 1)) return even;
  }
  throw new Error('no free even port');
}

// ---------------------------------------------------------------- web script server

export interface ScriptRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
  /** Parameters from the query (GET) or the form/JSON body (POST); form `A[b]=c` becomes `{A: {b: c}}`. */
  params: Record<string, unknown>;
}

export type ScriptReply = { status?: number; contentType?: string | null; body: string | object; delayMs?: number };

export interface ScriptServer {
  url: string;
  requests: ScriptRequest[];
  /** Resolves when `n` requests have arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<ScriptRequest[]>;
  close(): Promise<void>;
}

function formToObject(sp: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of sp) {
    const m = /^([^[]+)\[([^\]]*)\]$/.exec(k);
    if (m) {
      const cur = out[m[1]!];
      const o = (cur && typeof cur === 'object' ? cur : {}) as Record<string, string>;
      o[m[2]!] = v;
      out[m[1]!] = o;
    } else out[k] = v;
  }
  return out;
}

export async function startScriptServer(handler: (req: ScriptRequest, index: number) => ScriptReply): Promise<ScriptServer> {
  const requests: ScriptRequest[] = [];
  const waiters: Array<{ n: number; resolve: (r: ScriptRequest[]) => void }> = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://x');
      let params: Record<string, unknown> = formToObject(url.searchParams);
      if (req.method === 'POST') {
        if ((req.headers['content-type'] ?? '').includes('json')) {
          try { params = { ...params, ...(JSON.parse(body) as Record<string, unknown>) }; } catch { /* keep */ }
        } else params = { ...params, ...formToObject(new URLSearchParams(body)) };
      }
      const sr: ScriptRequest = { method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers, body, params };
      const index = requests.length;
      requests.push(sr);
      for (let i = waiters.length - 1; i >= 0; i--) if (requests.length >= waiters[i]!.n) { waiters[i]!.resolve(requests.slice()); waiters.splice(i, 1); }
      let reply: ScriptReply;
      try { reply = handler(sr, index); } catch (e) { reply = { status: 500, body: String(e) }; }
      const send = (): void => {
        const text = typeof reply.body === 'string' || Buffer.isBuffer(reply.body) ? reply.body : JSON.stringify(reply.body);
        const headers: Record<string, string> = {};
        const ct = reply.contentType === undefined ? 'application/json' : reply.contentType;
        if (ct) headers['content-type'] = ct;
        res.writeHead(reply.status ?? 200, headers);
        res.end(text);
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs); else send();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    waitFor(n, timeoutMs = 30000) {
      if (requests.length >= n) return Promise.resolve(requests.slice());
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${n} webhook requests (got ${requests.length})`)), timeoutMs);
        waiters.push({ n, resolve: (r) => { clearTimeout(t); resolve(r); } });
      });
    },
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

// ---------------------------------------------------------------- SIPp

export interface SippResult { code: number | null; stdout: string; stderr: string; successful: number; failed: number; errors: string }

/** Run SIPp to completion (`-m` must bound it). Counts come from its -trace_stat CSV. */
export async function runSipp(args: string[], timeoutMs = 120000): Promise<SippResult> {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-sipp-'));
  const stf = join(dir, 'stat.csv');
  const full = ['-nostdin', '-trace_stat', '-stf', stf, '-fd', '1', '-trace_err', ...args];
  const child = spawn('sipp', full, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); if (stdout.length > 1e6) stdout = stdout.slice(-5e5); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const code = await new Promise<number | null>((resolve) => {
    const t = setTimeout(() => { child.kill('SIGKILL'); }, timeoutMs);
    child.on('exit', (c) => { clearTimeout(t); resolve(c); });
  });
  let successful = -1;
  let failed = -1;
  if (existsSync(stf)) {
    const lines = readFileSync(stf, 'utf8').trim().split('\n');
    const head = lines[0]!.split(';');
    const last = lines[lines.length - 1]!.split(';');
    const si = head.indexOf('SuccessfulCall(C)');
    const fi = head.indexOf('FailedCall(C)');
    successful = Number(last[si >= 0 ? si : 15]);
    failed = Number(last[fi >= 0 ? fi : 17]);
  }
  let errors = '';
  for (const f of readdirSync(dir)) if (f.endsWith('_errors.log')) errors += readFileSync(join(dir, f), 'utf8');
  rmSync(dir, { recursive: true, force: true });
  return { code, stdout, stderr, successful, failed, errors: errors.slice(-4000) };
}

// ---------------------------------------------------------------- baresip

export interface BaresipEvent { type: string; param?: string; id?: string; [k: string]: unknown }

export class Baresip {
  private child?: ChildProcess;
  private sock?: Socket;
  private buf = '';
  readonly events: BaresipEvent[] = [];
  private waiters: Array<{ type: string; resolve: (e: BaresipEvent) => void }> = [];
  private seq = 0;
  readonly dir: string;
  readonly recDir: string;
  log = '';

  private constructor(dir: string) { this.dir = dir; this.recDir = join(dir, 'rec'); }

  /**
   * Start baresip with its own config folder: G.711 only, audio from a WAV (or silence), sndfile dumps, ctrl_tcp.
   * Its ports are picked free, but another test file may take one between the pick and baresip's bind (baresip
   * also listens on the SIP port + 1 for TLS), so a start that fails on a taken port is tried again on new ports.
   */
  static async start(opts: { sourceWav?: string; account?: string } = {}): Promise<Baresip> {
    let last = '';
    for (let attempt = 0; attempt < 4; attempt++) {
      const b = await Baresip.tryStart(opts);
      if (b.sock) return b;
      last = b.log;
      await b.stop();
      if (!/already in use/i.test(last)) break;
    }
    throw new Error(`baresip ctrl_tcp did not come up: ${last}`);
  }

  private static async tryStart(opts: { sourceWav?: string; account?: string }): Promise<Baresip> {
    const dir = mkdtempSync(join(tmpdir(), 'hookline-baresip-'));
    const b = new Baresip(dir);
    mkdirSync(b.recDir);
    const sipPort = await freePortPair();
    const ctrlPort = await freePort();
    const rtpBase = await freeEvenPort();
    let source = opts.sourceWav;
    if (!source) {
      // 120 s of silence: baresip hangs up when its aufile source ends.
      source = join(dir, 'silence8k.wav');
      writeFileSync(source, silentWav(8000, 120));
    }
    writeFileSync(join(dir, 'config'), [
      `sip_listen 127.0.0.1:${sipPort}`,
      `audio_source aufile,${source}`,
      'audio_player aubridge,nil',
      'audio_srate 8000',
      'audio_channels 1',
      `rtp_ports ${rtpBase}-${rtpBase + 1}`,
      'module_path /usr/lib/baresip/modules',
      'module g711.so', 'module aufile.so', 'module aubridge.so', 'module sndfile.so',
      `snd_path ${b.recDir}`,
      'module_app account.so', 'module_app menu.so', 'module_app ctrl_tcp.so',
      `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
      '',
    ].join('\n'));
    // `account`: the accounts line, e.g. `<sip:1001@127.0.0.1:5060>;auth_pass=secret;regint=600;answermode=auto`.
    writeFileSync(join(dir, 'accounts'), (opts.account ?? '<sip:bob@127.0.0.1>;regint=0') + '\n');
    writeFileSync(join(dir, 'contacts'), '');
    const child = spawn('baresip', ['-f', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    b.child = child;
    child.stdout!.on('data', (d: Buffer) => { b.log = (b.log + d.toString()).slice(-20000); });
    child.stderr!.on('data', (d: Buffer) => { b.log = (b.log + d.toString()).slice(-20000); });
    for (let i = 0; i < 50 && child.exitCode === null && child.signalCode === null; i++) {
      try {
        b.sock = await new Promise<Socket>((resolve, reject) => {
          const s = connect(ctrlPort, '127.0.0.1', () => resolve(s));
          s.once('error', reject);
        });
        break;
      } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
    b.sock?.on('data', (d: Buffer) => b.onData(d.toString('utf8')));
    return b;
  }

  private onData(s: string): void {
    this.buf += s;
    for (;;) {
      const colon = this.buf.indexOf(':');
      if (colon < 0) return;
      const len = Number(this.buf.slice(0, colon));
      if (!Number.isFinite(len) || this.buf.length < colon + 1 + len + 1) return;
      const json = this.buf.slice(colon + 1, colon + 1 + len);
      this.buf = this.buf.slice(colon + 1 + len + 1);
      try {
        const msg = JSON.parse(json) as BaresipEvent & { event?: boolean };
        if (msg.event) {
          this.events.push(msg);
          for (let i = this.waiters.length - 1; i >= 0; i--) {
            if (this.waiters[i]!.type === msg.type) { this.waiters[i]!.resolve(msg); this.waiters.splice(i, 1); }
          }
        }
      } catch { /* ignore */ }
    }
  }

  command(command: string, params?: string): void {
    const j = JSON.stringify({ command, params, token: `t${++this.seq}` });
    this.sock!.write(`${Buffer.byteLength(j)}:${j},`);
  }

  waitEvent(type: string, timeoutMs = 20000): Promise<BaresipEvent> {
    const seen = this.events.find((e) => e.type === type);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`baresip: no ${type} within ${timeoutMs} ms; events: ${this.events.map((e) => `${e.type}(${e.param ?? ''})`).join(',')}; log: ${this.log.slice(-1500)}`)), timeoutMs);
      this.waiters.push({ type, resolve: (e) => { clearTimeout(t); resolve(e); } });
    });
  }

  dial(uri: string): void { this.command('dial', uri); }
  sendDigit(d: string): void { this.command('sndcode', d); }
  hangup(): void { this.command('hangup'); }

  /** The WAV baresip wrote of what it received (decoded), once the call closed. */
  receivedWav(): string | undefined {
    const f = readdirSync(this.recDir).find((n) => n.endsWith('-dec.wav'));
    return f ? join(this.recDir, f) : undefined;
  }

  async stop(): Promise<void> {
    this.sock?.destroy();
    if (this.child && this.child.exitCode === null) {
      this.child.kill('SIGTERM');
      await new Promise<void>((r) => { const t = setTimeout(() => { this.child?.kill('SIGKILL'); r(); }, 2000); this.child!.once('exit', () => { clearTimeout(t); r(); }); });
    }
    if (!process.env.HOOKLINE_KEEP_BARESIP) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A PCM16 mono WAV of silence. */
export function silentWav(rate: number, seconds: number): Buffer {
  const n = rate * seconds;
  const b = Buffer.alloc(44 + n * 2);
  b.write('RIFF', 0); b.writeUInt32LE(36 + n * 2, 4); b.write('WAVE', 8);
  b.write('fmt ', 12); b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24); b.writeUInt32LE(rate * 2, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34);
  b.write('data', 36); b.writeUInt32LE(n * 2, 40);
  return b;
}

/** RMS (0..32767) and duration of the PCM16 data chunk of a WAV file; plus seconds above a level. */
export function wavStats(file: string, threshold = 300): { seconds: number; rms: number; activeSeconds: number; rate: number } {
  const b = readFileSync(file);
  let off = 12;
  let rate = 8000;
  let channels = 1;
  let dataOff = -1;
  let dataLen = 0;
  while (off + 8 <= b.length) {
    const id = b.toString('ascii', off, off + 4);
    const len = b.readUInt32LE(off + 4);
    if (id === 'fmt ') { channels = b.readUInt16LE(off + 10); rate = b.readUInt32LE(off + 12); }
    if (id === 'data') { dataOff = off + 8; dataLen = Math.min(len, b.length - dataOff); break; }
    off += 8 + len + (len & 1);
  }
  if (dataOff < 0) return { seconds: 0, rms: 0, activeSeconds: 0, rate };
  const n = Math.floor(dataLen / 2 / channels);
  let sum = 0;
  let active = 0;
  const win = Math.floor(rate / 50);
  let wsum = 0;
  for (let i = 0; i < n; i++) {
    const s = b.readInt16LE(dataOff + i * 2 * channels);
    sum += s * s;
    wsum += s * s;
    if ((i + 1) % win === 0) { if (Math.sqrt(wsum / win) > threshold) active += win; wsum = 0; }
  }
  return { seconds: n / rate, rms: n ? Math.sqrt(sum / n) : 0, activeSeconds: active / rate, rate };
}
