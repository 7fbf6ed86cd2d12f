/**
 * UDP floor: what one RTP packet costs on this machine, with and without Hookline. Every figure is measured in this
 * run, in the same minute, as CPU time per packet of the thread that did the work (/proc/thread-self/stat, Linux):
 *
 *   bare_send_us      a worker thread with N plain dgram sockets, each sending a 172-byte datagram every 20 ms
 *                     (deadline-paced, IP literal resolved synchronously): Node's own floor for a paced stream
 *   engine_send_us    Hookline's MediaEngine, one media worker, N sessions sending PCMU frames (pacerStats().cpuMs)
 *   engine_ratio      engine_send_us / bare_send_us: Hookline's own share on top of the platform
 *   recv_us           the receiving thread (one socket taking every stream), per packet
 *
 * Run: `npm run bench -- udp` (or `node dist/bench/udp.js [--n=500] [--seconds=5]`). Exports `run()`.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { MediaEngine } from '../src/rtp/media-engine.js';
import { ipLiteralLookup, threadCpuMs } from '../src/util/thread.js';

type Role = { role: 'receiver' } | { role: 'sender'; n: number; port: number; ms: number };

/** This thread's CPU ms; NaN off Linux, so a figure from it reads NaN rather than 0. */
const cpuNow = (): number => { const v = threadCpuMs(); return v < 0 ? NaN : v; };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function receiverMain(): Promise<void> {
  const sock = dgram.createSocket('udp4');
  let packets = 0;
  sock.on('message', () => { packets++; });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  let base = { cpu: cpuNow(), packets: 0 };
  parentPort!.on('message', (m: string) => {
    if (m === 'mark') { base = { cpu: cpuNow(), packets }; parentPort!.postMessage({ t: 'marked' }); }
    else if (m === 'read') parentPort!.postMessage({ t: 'read', cpu: cpuNow() - base.cpu, packets: packets - base.packets });
    else if (m === 'close') { sock.close(); parentPort!.close(); }
  });
  parentPort!.postMessage({ t: 'port', port: sock.address().port });
}

async function senderMain(o: { n: number; port: number; ms: number }): Promise<void> {
  const socks: dgram.Socket[] = [];
  for (let i = 0; i < o.n; i++) {
    const s = dgram.createSocket({ type: 'udp4', lookup: ipLiteralLookup });
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    socks.push(s);
  }
  const buf = Buffer.alloc(172);
  let sent = 0; let cpu0 = 0; let sent0 = 0;
  const t0 = performance.now();
  const warmEnd = t0 + 1000;
  let marked = false;
  let next = t0;
  await new Promise<void>((done) => {
    const tick = (): void => {
      for (const s of socks) s.send(buf, o.port, '127.0.0.1');
      sent += socks.length;
      next += 20;
      const now = performance.now();
      if (!marked && now >= warmEnd) { marked = true; cpu0 = cpuNow(); sent0 = sent; }
      if (now - warmEnd < o.ms) setTimeout(tick, Math.max(0, next - now));
      else done();
    };
    tick();
  });
  parentPort!.postMessage({ t: 'done', cpu: cpuNow() - cpu0, packets: sent - sent0 });
  for (const s of socks) s.close();
}

interface Msg { t: string; port?: number; cpu?: number; packets?: number }

function once(w: Worker, t: string): Promise<Msg> {
  return new Promise((resolve) => { const f = (m: Msg): void => { if (m.t === t) { w.off('message', f); resolve(m); } }; w.on('message', f); });
}

/** Raw figures of one bare-sockets run: CPU ms and packets of the sending thread and of the receiving thread. */
export interface UdpFloorRaw { streams: number; seconds: number; sendCpuMs: number; sendPackets: number; recvCpuMs: number; recvPackets: number }

/** Start the receiving thread; `mark` zeroes its counters, `read` returns CPU and packets since the mark. */
async function startReceiver(self: string): Promise<{ port: number; mark: () => Promise<void>; read: () => Promise<Msg>; close: () => void }> {
  const receiver = new Worker(self, { workerData: { role: 'receiver' } satisfies Role });
  const port = (await once(receiver, 'port')).port!;
  return {
    port,
    mark: async () => { receiver.postMessage('mark'); await once(receiver, 'marked'); },
    read: async () => { receiver.postMessage('read'); return once(receiver, 'read'); },
    close: () => receiver.postMessage('close'),
  };
}

async function bareRun(self: string, rx: { port: number; mark: () => Promise<void>; read: () => Promise<Msg> }, n: number, ms: number): Promise<UdpFloorRaw> {
  const sender = new Worker(self, { workerData: { role: 'sender', n, port: rx.port, ms } satisfies Role });
  await sleep(1000);
  await rx.mark();
  const bare = await once(sender, 'done');
  const recv = await rx.read();
  await sender.terminate();
  return { streams: n, seconds: ms / 1000, sendCpuMs: bare.cpu!, sendPackets: bare.packets!, recvCpuMs: recv.cpu!, recvPackets: recv.packets! };
}

/**
 * Node's own floor for RTP on this machine: N plain dgram sockets in one thread, each sending a 172-byte datagram
 * every 20 ms, to one socket in another thread (one receiving socket, so the receive figure is a lower bound for a
 * switch with a socket per call). The load benches run it before their steps to say what the platform alone costs.
 */
export async function udpFloor(opts: { n?: number; seconds?: number } = {}): Promise<UdpFloorRaw> {
  const rx = await startReceiver(fileURLToPath(import.meta.url));
  try {
    return await bareRun(fileURLToPath(import.meta.url), rx, opts.n ?? 500, (opts.seconds ?? 5) * 1000);
  } finally { rx.close(); }
}

export async function run(opts: { n?: number; seconds?: number } = {}): Promise<Record<string, number>> {
  const n = opts.n ?? 500;
  const ms = (opts.seconds ?? 5) * 1000;
  const self = fileURLToPath(import.meta.url);
  const rx = await startReceiver(self);
  const { port, mark, read } = rx;

  // Bare Node: N sockets in one thread.
  const bare = await bareRun(self, rx, n, ms);

  // Hookline's engine: one media worker, N sessions.
  const engine = await MediaEngine.start({ address: '127.0.0.1', workers: 1, portMin: 40000, portMax: 40000 + 4 * n + 8, niceness: 0 });
  const sessions = [];
  for (let i = 0; i < n; i++) {
    const s = await engine.createSession();
    s.configure({ address: '127.0.0.1', port, codec: 'PCMU', payloadType: 0, telephoneEventPt: 101 });
    sessions.push(s);
  }
  await sleep(1000);
  await engine.pacerStats(true);
  await mark();
  await sleep(ms);
  const st = await engine.pacerStats(true);
  const recvEng = await read();
  await Promise.all(sessions.map((s) => s.close()));
  await engine.close();
  rx.close();

  const out: Record<string, number> = {
    streams: n,
    bare_send_us: (bare.sendCpuMs * 1000) / bare.sendPackets,
    engine_send_us: st.cpuMs >= 0 && st.sent > 0 ? (st.cpuMs * 1000) / st.sent : NaN,
    recv_us_bare_run: (bare.recvCpuMs * 1000) / Math.max(1, bare.recvPackets),
    recv_us_engine_run: (recvEng.cpu! * 1000) / Math.max(1, recvEng.packets!),
    engine_late_p99_ms: st.lateP99,
  };
  out.engine_ratio = out.engine_send_us! / out.bare_send_us!;
  return out;
}

if (!isMainThread) {
  const role = workerData as Role;
  if (role.role === 'receiver') void receiverMain();
  else void senderMain(role);
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  void run({ n: arg('n') ? Number(arg('n')) : undefined, seconds: arg('seconds') ? Number(arg('seconds')) : undefined })
    .then((r) => { for (const [k, v] of Object.entries(r)) process.stdout.write(`${k.padEnd(22)} ${Number.isInteger(v) ? v : v.toFixed(2)}\n`); process.exit(0); });
}
