/**
 * Pacing benchmark: N RTP streams from a MediaEngine (deadline loop per worker) to receivers on 127.0.0.1,
 * against a baseline of the same streams paced by one setInterval per stream, measured in the same run.
 *
 * Receivers run in their own worker thread so they do not steal the senders' thread. Reported:
 * - send: actual send time minus deadline (engine's own histogram; baseline: vs the ideal 20 ms grid);
 * - recv jitter: |inter-arrival − 20 ms| per stream, p50/p99/max;
 * - deficit: 1 − packets received / packets a 50 pps stream should deliver in the window;
 * - seq loss: gaps in sequence numbers.
 *
 * Run: `node dist/bench/pacer.js [--quick]`. Exports `run({ quick })`.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import dgram from 'node:dgram';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import { MediaEngine } from '../src/rtp/media-engine.js';

const FRAME_MS = 20;
const BINS = 2000; // 0.1 ms bins, 0..200 ms
const STEP = 0.1;

type Role = { role: 'receiver'; n: number } | { role: 'baseline'; targets: number[]; rampMs: number };

interface RecvReport { received: number; seqLost: number; jitter: number[]; jitterMax: number; windowMs: number; rfcMean: number; rfcMax: number }
interface BaseReport { sent: number; late: number[]; lateMax: number; gc: number }

function pct(hist: readonly number[], p: number, offset = 0): number {
  let total = 0;
  for (const h of hist) total += h;
  if (total === 0) return 0;
  const want = Math.ceil(total * p);
  let acc = 0;
  for (let i = 0; i < hist.length; i++) { acc += hist[i]!; if (acc >= want) return offset + (i + 1) * STEP; }
  return offset + hist.length * STEP;
}

// ------------------------------------------------------------ worker roles
async function receiverMain(n: number): Promise<void> {
  const socks: dgram.Socket[] = [];
  const last = new Float64Array(n);
  const lastSeq = new Int32Array(n).fill(-1);
  const lastTs = new Float64Array(n);
  const rfcJ = new Float64Array(n); // RFC 3550 §6.4.1 interarrival jitter, ms
  const hist = new Uint32Array(BINS);
  let received = 0;
  let seqLost = 0;
  let jitterMax = 0;
  let measuring = false;
  let windowStart = 0;
  for (let i = 0; i < n; i++) {
    const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const idx = i;
    s.on('message', (msg: Buffer) => {
      const now = performance.now();
      if (msg.length < 12) return;
      const seq = (msg[2]! << 8) | msg[3]!;
      const ts = msg.readUInt32BE(4);
      if (measuring) {
        received++;
        if (last[idx]! > 0) {
          const d = now - last[idx]! - (((ts - lastTs[idx]!) | 0) / 8);
          rfcJ[idx] += (Math.abs(d) - rfcJ[idx]!) / 16;
          const j = Math.abs(now - last[idx]! - FRAME_MS);
          let b = Math.floor(j / STEP);
          if (b >= BINS) b = BINS - 1;
          hist[b]++;
          if (j > jitterMax) jitterMax = j;
        }
        if (lastSeq[idx]! >= 0) {
          const gap = (seq - lastSeq[idx]! - 1) & 0xffff;
          if (gap < 1000) seqLost += gap;
        }
      }
      last[idx] = now;
      lastSeq[idx] = seq;
      lastTs[idx] = ts;
    });
    socks.push(s);
  }
  parentPort!.on('message', (m: string) => {
    if (m === 'start') { measuring = true; windowStart = performance.now(); received = 0; seqLost = 0; jitterMax = 0; hist.fill(0); last.fill(0); rfcJ.fill(0); }
    else if (m === 'report') {
      measuring = false;
      let sum = 0;
      let max = 0;
      for (let i = 0; i < n; i++) { sum += rfcJ[i]!; if (rfcJ[i]! > max) max = rfcJ[i]!; }
      const r: RecvReport = { received, seqLost, jitter: Array.from(hist), jitterMax, windowMs: performance.now() - windowStart, rfcMean: sum / n, rfcMax: max };
      parentPort!.postMessage(r);
    } else if (m === 'close') {
      for (const s of socks) s.close();
      parentPort!.close();
    }
  });
  parentPort!.postMessage(socks.map((s) => s.address().port));
}

async function baselineMain(targets: number[], rampMs: number): Promise<void> {
  const hist = new Uint32Array(BINS);
  let sent = 0;
  let lateMax = 0;
  let gc = 0;
  new PerformanceObserver((list) => { gc += list.getEntries().length; }).observe({ entryTypes: ['gc'] });
  let measuring = false;
  const timers: NodeJS.Timeout[] = [];
  const socks: dgram.Socket[] = [];
  for (let i = 0; i < targets.length; i++) {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    socks.push(s);
  }
  parentPort!.on('message', (m: string) => {
    if (m === 'go') {
      targets.forEach((port, i) => {
        const s = socks[i]!;
        const buf = Buffer.alloc(172, 0xff);
        buf[0] = 0x80;
        let seq = 0;
        setTimeout(() => {
          const start = performance.now();
          let k = 0;
          timers.push(setInterval(() => {
            k++;
            const late = performance.now() - (start + k * FRAME_MS);
            if (measuring) {
              sent++;
              let b = Math.floor(Math.max(0, late) / STEP);
              if (b >= BINS) b = BINS - 1;
              hist[b]++;
              if (late > lateMax) lateMax = late;
            }
            buf[2] = (seq >>> 8) & 0xff; buf[3] = seq & 0xff; buf.writeUInt32BE((k * 160) >>> 0, 4); seq = (seq + 1) & 0xffff;
            s.send(buf, port, '127.0.0.1');
          }, FRAME_MS));
        }, (i * rampMs) / targets.length);
      });
    } else if (m === 'start') { measuring = true; sent = 0; lateMax = 0; gc = 0; hist.fill(0); }
    else if (m === 'report') {
      measuring = false;
      const r: BaseReport = { sent, late: Array.from(hist), lateMax, gc };
      parentPort!.postMessage(r);
    } else if (m === 'close') {
      for (const t of timers) clearInterval(t);
      for (const s of socks) s.close();
      parentPort!.close();
    }
  });
  parentPort!.postMessage('ready');
}

// ------------------------------------------------------------ main thread
function spawn(data: Role): Worker {
  return new Worker(fileURLToPath(import.meta.url), { workerData: data });
}

function once<T>(w: Worker): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    w.once('message', (m: T) => resolve(m));
    w.once('error', reject);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Row { n: number; pacer: string; sendP50: number; sendP99: number; sendMax: number; jP50: number; jP99: number; jMax: number; rfcMean: number; rfcMax: number; deficit: number; seqLoss: number; gcPer10k: number }

function recvRow(n: number, pacer: string, r: RecvReport, send: { p50: number; p99: number; max: number; gcPer10k: number }): Row {
  const expected = (n * r.windowMs) / FRAME_MS;
  return {
    n, pacer, sendP50: send.p50, sendP99: send.p99, sendMax: send.max, gcPer10k: send.gcPer10k,
    jP50: pct(r.jitter, 0.5), jP99: pct(r.jitter, 0.99), jMax: r.jitterMax, rfcMean: r.rfcMean, rfcMax: r.rfcMax,
    deficit: Math.max(0, 1 - r.received / expected), seqLoss: r.seqLost / Math.max(1, r.received + r.seqLost),
  };
}

async function runEngine(n: number, ms: number, warmMs: number, workers: number): Promise<Row> {
  const rx = spawn({ role: 'receiver', n });
  const ports = await once<number[]>(rx);
  const engine = await MediaEngine.start({ workers, address: '127.0.0.1', portMin: 28200, portMax: 32766, rtpTimeoutMs: 0 });
  const sessions = [];
  for (let i = 0; i < n; i++) sessions.push(await engine.createSession());
  const rampMs = 1000;
  // calls start at spread-out times, as real calls do
  await Promise.all(sessions.map((s, i) => new Promise<void>((r) => setTimeout(() => {
    s.configure({ address: '127.0.0.1', port: ports[i]!, codec: 'PCMU', payloadType: 0 });
    r();
  }, (i * rampMs) / n))));
  await sleep(warmMs);
  await engine.pacerStats(true);
  rx.postMessage('start');
  await sleep(ms);
  const st = await engine.pacerStats();
  rx.postMessage('report');
  const rep = await once<RecvReport>(rx);
  rx.postMessage('close');
  await Promise.all(sessions.map((s) => s.close()));
  await engine.close();
  return recvRow(n, `deadline×${workers}w`, rep, { p50: st.lateP50, p99: st.lateP99, max: st.lateMax, gcPer10k: (st.gcCount * 10000) / Math.max(1, st.sent) });
}

async function runBaseline(n: number, ms: number, warmMs: number, threads: number): Promise<Row> {
  const rx = spawn({ role: 'receiver', n });
  const ports = await once<number[]>(rx);
  const senders: Worker[] = [];
  for (let w = 0; w < threads; w++) {
    const part = ports.filter((_p, i) => i % threads === w);
    const sw = spawn({ role: 'baseline', targets: part, rampMs: 1000 });
    await once<string>(sw);
    senders.push(sw);
  }
  for (const sw of senders) sw.postMessage('go');
  await sleep(1000 + warmMs);
  for (const sw of senders) sw.postMessage('start');
  rx.postMessage('start');
  await sleep(ms);
  const reps = await Promise.all(senders.map((sw) => { sw.postMessage('report'); return once<BaseReport>(sw); }));
  rx.postMessage('report');
  const rep = await once<RecvReport>(rx);
  rx.postMessage('close');
  for (const sw of senders) sw.postMessage('close');
  const late = new Array<number>(BINS).fill(0);
  let max = 0;
  let gc = 0;
  let sent = 0;
  for (const r of reps) { r.late.forEach((v, i) => { late[i]! += v; }); max = Math.max(max, r.lateMax); gc += r.gc; sent += r.sent; }
  return recvRow(n, `setInterval×${threads}w`, rep, { p50: pct(late, 0.5), p99: pct(late, 0.99), max, gcPer10k: (gc * 10000) / Math.max(1, sent) });
}

export async function run(opts: { quick?: boolean; sizes?: number[]; workers?: number } = {}): Promise<Record<string, number>> {
  const ms = opts.quick ? 2000 : 10000;
  const warmMs = opts.quick ? 500 : 1000;
  const workers = opts.workers ?? Math.min(2, os.availableParallelism());
  const sizes = opts.sizes ?? [200, 1000];
  const rows: Row[] = [];
  const out: Record<string, number> = {};
  for (const n of sizes) {
    const base = await runBaseline(n, ms, warmMs, workers);
    const eng = await runEngine(n, ms, warmMs, workers);
    rows.push(base, eng);
    for (const r of [base, eng]) {
      const k = `${r.pacer.startsWith('deadline') ? 'deadline' : 'setInterval'}_${n}`;
      out[`${k}_send_p99_ms`] = r.sendP99;
      out[`${k}_jitter_p50_ms`] = r.jP50;
      out[`${k}_jitter_p99_ms`] = r.jP99;
      out[`${k}_jitter_max_ms`] = r.jMax;
      out[`${k}_rfc3550_jitter_mean_ms`] = r.rfcMean;
      out[`${k}_deficit`] = r.deficit;
      out[`${k}_sender_gc_per_10k_packets`] = r.gcPer10k;
      out[`${k}_seq_loss`] = r.seqLoss;
    }
    out[`ratio_jitter_p99_${n}`] = eng.jP99 / Math.max(base.jP99, 1e-9);
  }
  const f = (x: number): string => x.toFixed(2).padStart(7);
  const lines = [
    `pacer bench: ${ms / 1000} s per run, ${os.availableParallelism()} cores, node ${process.version}`,
    '    N  pacer              send p50  send p99  send max |  jit p50   jit p99   jit max | J3550 avg  J max |  deficit  seq loss | GC/10k pkts (sender)',
  ];
  for (const r of rows) {
    lines.push(`${String(r.n).padStart(5)}  ${r.pacer.padEnd(17)}${f(r.sendP50)}   ${f(r.sendP99)}   ${f(r.sendMax)} |${f(r.jP50)}   ${f(r.jP99)}   ${f(r.jMax)} |${f(r.rfcMean)} ${f(r.rfcMax)} | ${(r.deficit * 100).toFixed(2).padStart(6)} %  ${(r.seqLoss * 100).toFixed(2).padStart(6)} % | ${r.gcPer10k.toFixed(2).padStart(6)}`);
  }
  for (const n of sizes) lines.push(`jitter p99 ratio deadline/setInterval at ${n}: ${out[`ratio_jitter_p99_${n}`]!.toFixed(2)}`);
  process.stdout.write(lines.join('\n') + '\n');
  return out;
}

if (!isMainThread) {
  const role = workerData as Role;
  if (role.role === 'receiver') void receiverMain(role.n);
  else void baselineMain(role.targets, role.rampMs);
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const sizes = arg('n')?.split(',').map(Number);
  const w = arg('workers');
  void run({ quick: process.argv.includes('--quick'), sizes, workers: w ? Number(w) : undefined }).then(() => process.exit(0));
}
