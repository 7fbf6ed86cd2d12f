/**
 * The RTP quality probe: a few calls placed on Hookline's own SIP stack from a worker thread, alongside the SIPp
 * load (SIPp cannot measure the RTP it receives). Each probe call receives the target's RTP on a plain UDP
 * socket and measures, per RFC 3550: packets, expected (from the extended sequence range), loss, duplicates,
 * out-of-order, the interarrival jitter estimator J (§6.4.1 / A.8), the inter-arrival time error
 * |arrival gap − 20 ms| (p99), and the delay variation of each packet against its RTP timestamp
 * (transit − minimum transit, p99: an upper bound on the sender's pacing error plus loopback transport).
 * It sends 20 ms silence frames back (deadline-paced) so a symmetric-RTP peer latches and an RTP timeout never
 * fires; in the bridge scenario the carrier echoes them and they are what the probe measures.
 *
 * Runs in a worker so the HTTP script server and the report code in the bench process do not delay the receive
 * timestamps. `Probe.start()` in the main thread; `probe.run(n, ms)` places n concurrent calls for ms each.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { SipStack, Dialog, createRequest, parseUri, type SipResponse, type InviteClientTransaction } from '../../src/sip/index.js';
import { createOffer, acceptAnswer, serializeSdp } from '../../src/rtp/sdp.js';
import { configureLogging } from '../../src/util/logger.js';

export interface ProbeCallResult {
  /** SIP final status (0 = none). */
  status: number;
  answered: boolean;
  /** INVITE sent → 200 received, ms (performance.now, µs resolution). */
  setupMs: number | null;
  /** Post-dial delay: INVITE sent → the first 180/181/182/183, or the 200 when no 18x came first, ms. */
  pddMs: number | null;
  codec: string | null;
  /** Seconds between the first and last RTP packet received. */
  seconds: number;
  packets: number;
  expected: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  /** RFC 3550 interarrival jitter J at the end of the call, and its maximum over the call, ms. */
  jitterMs: number | null;
  jitterMaxMs: number | null;
  /** p99 and max of |arrival gap − 20 ms| between consecutive packets, ms. */
  gapErrP99Ms: number | null;
  gapErrMaxMs: number | null;
  /** p99 of transit − minimum transit (arrival vs RTP timestamp), ms. */
  delayVarP99Ms: number | null;
  /** Who ended the call. */
  endedBy: 'probe' | 'remote' | 'none';
  error?: string;
}

interface RunMsg { t: 'run'; id: number; n: number; durationMs: number; number?: string }
type FromProbe = { t: 'ready' } | { t: 'done'; id: number; results: ProbeCallResult[] };

export interface ProbeOptions {
  host: string;
  port: number;
  /** Number dialled. */
  number: string;
  from: string;
  localAddress: string;
}

export class Probe {
  private seq = 0;
  private readonly pending = new Map<number, (r: ProbeCallResult[]) => void>();
  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: FromProbe) => {
      if (m.t === 'done') { this.pending.get(m.id)?.(m.results); this.pending.delete(m.id); }
    });
    worker.on('error', () => { for (const r of this.pending.values()) r([]); this.pending.clear(); });
  }

  static async start(o: ProbeOptions): Promise<Probe> {
    const w = new Worker(fileURLToPath(import.meta.url), { workerData: o });
    await new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', reject);
    });
    return new Probe(w);
  }

  /** Place `n` concurrent calls (to `number`, default the probe number), hold each `durationMs` (or until the far end hangs up), measure, hang up. */
  run(n: number, durationMs: number, number?: string): Promise<ProbeCallResult[]> {
    const id = ++this.seq;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.worker.postMessage({ t: 'run', id, n, durationMs, ...(number !== undefined ? { number } : {}) } satisfies RunMsg);
    });
  }

  async close(): Promise<void> { await this.worker.terminate(); }
}

// ------------------------------------------------------------------ worker side

const GAP_BINS = 2000; // 0.1 ms bins, 0..200 ms
const DV_BINS = 3000; // 0.1 ms bins, transit relative to the first packet, −50 .. +250 ms
const DV_MIN = -50;
const BIN = 0.1;

export class StreamStats {
  packets = 0;
  dups = 0;
  ooo = 0;
  private firstExt = -1;
  private maxExt = -1;
  private readonly seen = new Int32Array(1024).fill(-1);
  private lastArrival = -1;
  private lastTsExt = 0;
  private lastTsRaw = 0;
  private transit0 = 0;
  j = 0; // RFC 3550 J in timestamp units
  jMax = 0;
  private lastTransit = 0;
  private readonly gapHist = new Uint32Array(GAP_BINS);
  gapMax = 0;
  private readonly dvHist = new Uint32Array(DV_BINS);
  dvMin = Infinity;
  firstAt = 0;
  lastAt = 0;

  onPacket(buf: Buffer, now: number): void {
    if (buf.length < 12 || (buf[0]! & 0xc0) !== 0x80) return;
    const pt = buf[1]! & 0x7f;
    if (pt >= 72 && pt <= 76) return; // RTCP multiplexed
    const seq = (buf[2]! << 8) | buf[3]!;
    const ts = buf.readUInt32BE(4);
    // Extended sequence number: the signed 16-bit distance from the highest seen so far.
    if (this.maxExt < 0) { this.firstExt = seq + 0x10000; this.maxExt = this.firstExt; }
    const ext = this.maxExt + ((((seq - (this.maxExt & 0xffff)) + 0x8000) & 0xffff) - 0x8000);
    const slot = ext & 1023;
    if (this.seen[slot] === ext) { this.dups++; return; }
    this.seen[slot] = ext;
    if (ext > this.maxExt) this.maxExt = ext; else if (ext < this.maxExt) this.ooo++;
    if (ext < this.firstExt) this.firstExt = ext;
    this.packets++;
    // Timestamp, unwrapped.
    if (this.packets === 1) { this.lastTsRaw = ts; this.lastTsExt = 0; this.firstAt = now; }
    else { this.lastTsExt += (ts - this.lastTsRaw) | 0; this.lastTsRaw = ts; }
    const transit = now * 8 - this.lastTsExt; // timestamp units (8 kHz)
    if (this.packets === 1) { this.transit0 = transit; this.lastTransit = transit; }
    else {
      const dd = Math.abs(transit - this.lastTransit);
      this.lastTransit = transit;
      this.j += (dd - this.j) / 16;
      if (this.j > this.jMax) this.jMax = this.j;
      const gap = Math.abs(now - this.lastArrival - 20);
      let b = Math.floor(gap / BIN);
      if (b >= GAP_BINS) b = GAP_BINS - 1;
      this.gapHist[b]!++;
      if (gap > this.gapMax) this.gapMax = gap;
    }
    const rel = (transit - this.transit0) / 8; // ms
    let db = Math.floor((rel - DV_MIN) / BIN);
    if (db < 0) db = 0; else if (db >= DV_BINS) db = DV_BINS - 1;
    this.dvHist[db]!++;
    if (rel < this.dvMin) this.dvMin = rel;
    this.lastArrival = now;
    this.lastAt = now;
  }

  expected(): number { return this.maxExt < 0 ? 0 : this.maxExt - this.firstExt + 1; }

  gapP99(): number | null { return histPct(this.gapHist, 0.99, 0); }

  delayVarP99(): number | null {
    const p = histPct(this.dvHist, 0.99, DV_MIN);
    if (p === null || !Number.isFinite(this.dvMin)) return null;
    return Math.max(0, p - this.dvMin);
  }
}

function histPct(h: Uint32Array, p: number, min: number): number | null {
  let total = 0;
  for (let i = 0; i < h.length; i++) total += h[i]!;
  if (total === 0) return null;
  const want = Math.ceil(total * p);
  let acc = 0;
  for (let i = 0; i < h.length; i++) { acc += h[i]!; if (acc >= want) return min + (i + 1) * BIN; }
  return min + h.length * BIN;
}

function r3(v: number): number { return Math.round(v * 1000) / 1000; }

async function probeCall(stack: SipStack, o: ProbeOptions, durationMs: number): Promise<ProbeCallResult> {
  const res: ProbeCallResult = {
    status: 0, answered: false, setupMs: null, pddMs: null, codec: null, seconds: 0, packets: 0, expected: 0, lost: 0, duplicates: 0,
    outOfOrder: 0, jitterMs: null, jitterMaxMs: null, gapErrP99Ms: null, gapErrMaxMs: null, delayVarP99Ms: null, endedBy: 'none',
  };
  const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
  await new Promise<void>((r) => sock.bind(0, o.localAddress, () => r()));
  const stats = new StreamStats();
  sock.on('message', (msg: Buffer) => stats.onPacket(msg, performance.now()));
  let sendTimer: NodeJS.Timeout | undefined;
  try {
    const target = parseUri(`sip:${o.number}@${o.host}:${o.port}`)!;
    const offer = createOffer({ address: o.localAddress, port: sock.address().port, codecs: ['PCMA', 'PCMU'] });
    const invite = createRequest({
      method: 'INVITE', uri: target,
      from: { displayName: 'Bench Probe', uri: { scheme: 'sip', user: o.from, host: o.localAddress, params: {}, headers: {} }, params: '' },
      to: { uri: { ...target, params: {}, headers: {} }, params: '' },
      contact: [stack.contact(o.from, 'udp')],
      body: serializeSdp(offer), contentType: 'application/sdp',
    });
    let dialog: Dialog | undefined;
    let pddAt: number | null = null;
    const t0 = performance.now();
    const final = await new Promise<SipResponse>((resolve) => {
      const tx = stack.sendRequest(invite, { transport: 'udp', address: o.host, port: o.port }, (r) => {
        if (pddAt === null && r.status >= 180) pddAt = performance.now();
        if (r.status < 200) return;
        if (r.status < 300) {
          if (!dialog) dialog = Dialog.fromUac(invite, r, tx.peer);
          (tx as InviteClientTransaction).sendAck(dialog.createAck());
        }
        resolve(r);
      });
    });
    res.status = final.status;
    if (final.status >= 300 || !dialog) { res.error = `${final.status} ${final.reason}`; return res; }
    const answeredAt = performance.now();
    res.setupMs = r3(answeredAt - t0);
    res.pddMs = r3((pddAt ?? answeredAt) - t0);
    res.answered = true;
    const d = dialog;
    const neg = acceptAnswer(offer, final.body.toString('utf8'));
    if (neg.ok) {
      res.codec = neg.media.codec;
      // 20 ms silence back to the far end (symmetric RTP, RTP timeout).
      const pkt = Buffer.alloc(172, neg.media.codec === 'PCMA' ? 0xd5 : 0xff);
      pkt[0] = 0x80; pkt[1] = neg.media.payloadType;
      const ssrc = (Math.random() * 0xffffffff) >>> 0;
      pkt.writeUInt32BE(ssrc, 8);
      let seq = 0; let ts = 0;
      const addr = neg.media.address; const port = neg.media.port;
      // Paced by deadline (next += 20 ms exactly), not setInterval, which drifts 1-2 % slow: in the bridge scenario
      // this stream comes back through both legs and is what the probe measures. A sender more than 100 ms late
      // jumps to now instead of bursting the backlog.
      let next = performance.now() + 20;
      const tick = (): void => {
        const now = performance.now();
        if (now - next > 100) next = now;
        while (next - now <= 1) {
          pkt.writeUInt16BE(seq, 2); pkt.writeUInt32BE(ts >>> 0, 4);
          seq = (seq + 1) & 0xffff; ts += 160;
          sock.send(pkt, port, addr);
          next += 20;
        }
        sendTimer = setTimeout(tick, Math.max(0, next - performance.now() - 1));
      };
      sendTimer = setTimeout(tick, 19);
    }
    let byeSeen: (() => void) | undefined;
    const remoteBye = new Promise<void>((r) => { byeSeen = r; });
    byes.set(d.callId, () => byeSeen?.());
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      remoteBye.then(() => 'remote' as const),
      new Promise<'probe'>((r) => { timer = setTimeout(() => r('probe'), durationMs); }),
    ]);
    clearTimeout(timer);
    byes.delete(d.callId);
    res.endedBy = ended;
    if (ended === 'probe') {
      await new Promise<void>((resolve) => {
        stack.sendRequest(d.createRequest('BYE'), d.peer, (r) => { if (r.status >= 200) resolve(); });
      });
    }
    return res;
  } catch (err) {
    res.error = String(err);
    return res;
  } finally {
    clearTimeout(sendTimer);
    sock.close();
    res.packets = stats.packets;
    res.expected = stats.expected();
    res.lost = Math.max(0, res.expected - stats.packets);
    res.duplicates = stats.dups;
    res.outOfOrder = stats.ooo;
    res.seconds = r3((stats.lastAt - stats.firstAt) / 1000);
    if (stats.packets >= 2) {
      res.jitterMs = r3(stats.j / 8);
      res.jitterMaxMs = r3(stats.jMax / 8);
      res.gapErrP99Ms = stats.gapP99();
      res.gapErrMaxMs = r3(stats.gapMax);
      const dv = stats.delayVarP99();
      res.delayVarP99Ms = dv === null ? null : r3(dv);
    }
  }
}

const byes = new Map<string, () => void>();

async function workerMain(o: ProbeOptions): Promise<void> {
  configureLogging('silent');
  const stack = await SipStack.create({ udp: { address: o.localAddress, port: 0 }, tcp: false, userAgent: 'Hookline-bench-probe/0.1' });
  stack.onRequest = (req) => {
    const m = req.message;
    if (m.method === 'ACK') return;
    if (m.method === 'BYE') { req.respond(200, 'OK'); byes.get(m.callId)?.(); return; }
    req.respond(200, 'OK');
  };
  parentPort!.on('message', (m: RunMsg) => {
    if (m.t !== 'run') return;
    void Promise.all(Array.from({ length: m.n }, () => probeCall(stack, m.number ? { ...o, number: m.number } : o, m.durationMs)))
      .then((results) => parentPort!.postMessage({ t: 'done', id: m.id, results } satisfies FromProbe));
  });
  parentPort!.postMessage({ t: 'ready' } satisfies FromProbe);
}

if (!isMainThread && (workerData as { number?: unknown } | null)?.number !== undefined) {
  void workerMain(workerData as ProbeOptions);
}
