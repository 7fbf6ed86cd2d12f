/**
 * Media worker entry (worker_threads). Owns the RTP/RTCP sockets of its sessions; packets never cross threads.
 *
 * One deadline loop serves every due stream per tick: each stream has `deadline` (performance.now() ms),
 * a packet is sent when `deadline - now <= EARLY_MS`, then `deadline += 20` exactly (no drift). A stream
 * more than RESYNC_MS behind (GC pause, overload) jumps to now instead of bursting the backlog.
 *
 * Hot paths (send tick, receive) allocate nothing of their own: one preallocated Buffer per session for
 * audio and one for telephone-events, G.711 via table lookups, a reused RtpPacket/TelephoneEvent.
 */
import { parentPort, workerData } from 'node:worker_threads';
import dgram from 'node:dgram';
import { readlinkSync } from 'node:fs';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { getHeapStatistics } from 'node:v8';
import { performance, PerformanceObserver, monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { getLogger } from '../util/logger.js';
import { ipLiteralLookup, threadCpuMs } from '../util/thread.js';
import { linearToAlaw, linearToMulaw, MULAW_DECODE, ALAW_DECODE, MULAW_SILENCE, ALAW_SILENCE } from '../media/g711.js';
import { DtmfDetector } from '../media/dtmf-detector.js';
import { decodeRtp, looksLikeRtcp, RtpDecodeResult, RtpPacket, writeU32, MARKER_BIT, RTP_VERSION, VERSION_SHIFT } from './packet.js';
import { decodeTelephoneEvent, eventToDtmf, TelephoneEvent, END_BIT, DEFAULT_EVENT_VOLUME } from './telephone-event.js';
import { HIST_BINS, HIST_MIN_MS, HIST_STEP_MS } from './protocol.js';
import { Mixer, MemberPort } from './mixer.js';
import { CallRecorder, REC_NONE, REC_FULL } from './recorder.js';
import { RxStats, RtcpInfo, parseRtcp, buildReport, rttFromReport, RTCP_INTERVAL_MS } from './rtcp.js';
import type { ConfigureMsg, FromWorker, MediaQuality, PacerStats, ToWorker, WorkerInit } from './protocol.js';

const FRAME_MS = 20;
const FRAME_SAMPLES = 160;
const EARLY_MS = 1;
const RESYNC_MS = 100;
const HOUSEKEEPING_MS = 200;
const HEADER = 12;
const DTMF_END_PACKETS = 3;
const DTMF_GAP_FRAMES = 3; // ~50 ms (rounded up to whole frames) between digits
const REC_INITIAL_SAMPLES = 8000 * 10;
const REC_MAX_GAP_FILL = 8000 * 10; // fill timestamp gaps up to 10 s with silence
const MAX_QUEUED_PLAYS = 256; // beyond this a play reports 'stopped' at once
const MAX_DTMF_JOBS = 32; // queued sendDtmf calls per session; beyond: resolved unsent
const MAX_DECODE_SAMPLES = 1920; // 240 ms of 8 kHz: larger audio payloads are ignored

const log = getLogger('rtp');
const port = parentPort;
if (!port) throw new Error('media-worker must run in a worker thread');
const init = workerData as WorkerInit;

/**
 * Linux: `setpriority(PRIO_PROCESS, tid)` with a thread id changes that thread only, so the pacing thread can
 * run above the main thread's signalling and webhooks. `/proc/thread-self` names this thread's id.
 */
function applyNiceness(nice: number): void {
  if (nice === 0 || process.platform !== 'linux') return;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) throw new Error('no thread id in /proc/thread-self');
    os.setPriority(tid, nice);
    post({ t: 'priority', ok: true, nice, message: `thread ${tid}` });
  } catch (err) {
    post({ t: 'priority', ok: false, nice, message: (err as Error).message });
  }
}

/** Events posted during this turn of the event loop, sent together by `flushOut` (protocol.ts). */
const outbox: FromWorker[] = [];
let flushQueued = false;

function post(msg: FromWorker, transfer?: ArrayBuffer[]): void {
  if (transfer) {
    // a transfer (recorded audio) goes on its own, after what was queued before it
    flushOut();
    port!.postMessage(msg, transfer);
    return;
  }
  outbox.push(msg);
  if (!flushQueued) {
    flushQueued = true;
    setImmediate(flushOut);
  }
}

function flushOut(): void {
  flushQueued = false;
  if (outbox.length === 0) return;
  // postMessage copies synchronously, so the array can be emptied and reused at once
  port!.postMessage(outbox.length === 1 ? outbox[0] : { t: 'batch', msgs: outbox });
  outbox.length = 0;
}
applyNiceness(init.niceness);

// Encoders indexed by the 16-bit two's complement sample (sample & 0xffff).
const ENC_MU = new Uint8Array(65536);
const ENC_A = new Uint8Array(65536);
for (let i = 0; i < 65536; i++) {
  const s = (i << 16) >> 16;
  ENC_MU[i] = linearToMulaw(s);
  ENC_A[i] = linearToAlaw(s);
}

// G.711 ↔ G.711 transcoding for bridges whose legs negotiated different laws.
const U2A = new Uint8Array(256);
const A2U = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  U2A[i] = linearToAlaw(MULAW_DECODE[i]!);
  A2U[i] = linearToMulaw(ALAW_DECODE[i]!);
}
const RELAY_HOLD_MS = 60;
/**
 * Strict source (RTP bleed protection, as rtpengine's strict-source and Asterisk's strictrtp): once a session has
 * latched onto the source of its media, packets from any other address are dropped while the latched source keeps
 * sending; another source is learnt only after the latched one has been quiet this long (a NAT rebinding, a
 * re-routed peer). Otherwise anyone who guesses the port could take over where the call's audio goes.
 */
const RELATCH_QUIET_MS = 1000;
/** Timestamp slack (samples) when matching a long event's next segment to the previous one. */
const LONG_EVENT_SLACK = 800;
/** Only a segment that reached (nearly) the 16-bit duration limit can have a continuation. */
const LONG_EVENT_MIN_DUR = 0xffff - 800; // after the last relayed packet, resume our own paced frames

interface PlayItem { readonly playId: number; readonly pcm: Int16Array }
interface DtmfJob { readonly req: number; readonly events: readonly number[]; readonly durationMs: number }

const enum DtmfPhase { Idle = 0, Tone = 1, End = 2, Gap = 3 }

class Session {
  readonly sid: number;
  readonly rtp: dgram.Socket;
  readonly rtcp: dgram.Socket;
  configured = false;
  closed = false;
  /** Index in `active` while configured, else -1. */
  slot = -1;
  enc: Uint8Array = ENC_MU;
  dec: Int16Array = MULAW_DECODE;
  silence = MULAW_SILENCE;
  pt = 0;
  tePt = -1;
  sending = true;
  timeoutMs = 60000;
  remoteAddr = '';
  remotePort = 0;
  latchedAddr = '';
  latchedPort = 0;
  readonly ssrc = (Math.random() * 0x100000000) >>> 0;
  seq = (Math.random() * 0x10000) >>> 0;
  ts = (Math.random() * 0x100000000) >>> 0;
  marker = true;
  deadline = 0;
  readonly audio = Buffer.alloc(HEADER + FRAME_SAMPLES);
  readonly event = Buffer.alloc(HEADER + 4);
  // playback
  readonly queue: PlayItem[] = [];
  pos = 0;
  // DTMF out
  readonly dtmfJobs: DtmfJob[] = [];
  dtmfPhase = DtmfPhase.Idle;
  dtmfIdx = 0;
  dtmfCode = 0;
  dtmfTs = 0;
  dtmfTotal = 0;
  dtmfCount = 0;
  // receive
  lastRx = 0;
  timedOut = false;
  haveEv = false;
  lastEvTs = 0;
  lastEvCode = -1;
  lastEvDur = 0;
  lastEvEnded = true;
  detector: DtmfDetector | undefined;
  decodeBuf = new Int16Array(FRAME_SAMPLES);
  readonly onInband: (digit: string) => void;
  // recording
  rec: Int16Array | undefined;
  recLen = 0;
  recMax = 0;
  recHaveTs = false;
  recNextTs = 0;
  recSsrc = 0;
  /** Call recorder (record_call / record_caller), see recorder.ts. */
  recorder: CallRecorder | undefined;
  // bridging (relay to `peer`, a session of this worker)
  peer: Session | undefined;
  /** Our paced frames are suppressed while relayed packets flow (performance.now() ms). */
  relayUntil = 0;
  relayHaveOffset = false;
  relayInSsrc = 0;
  relayTsOffset = 0;
  isPcma = false;
  relayAudio: Buffer | undefined;
  relayEvent: Buffer | undefined;
  /** Conference member: received audio goes up to the room's mixer, paced frames come down from it. */
  member: MemberPort | undefined;
  // RTCP (rtcp.ts): what we received, what we sent, where reports go, and the peer's report about us
  readonly rx = new RxStats();
  txPackets = 0;
  txOctets = 0;
  txAtReport = 0;
  rtcpAt = 0;
  /** Reports sent; a stream that ends before its first one sends no RTCP at all (no BYE either). */
  rtcpReports = 0;
  /** From the SDP's a=rtcp (RFC 3605); 0 = the RTP port + 1. */
  rtcpPort = 0;
  /** Where the peer's RTCP came from (symmetric RTCP), else ''. */
  rtcpAddr = '';
  rtcpLatchedPort = 0;
  cname = '';
  haveRemoteReport = false;
  remoteFraction = 0;
  remoteLost = 0;
  remoteJitter = 0;
  rttMs = -1;

  constructor(sid: number, rtp: dgram.Socket, rtcp: dgram.Socket) {
    this.sid = sid;
    this.rtp = rtp;
    this.rtcp = rtcp;
    this.onInband = (digit: string): void => post({ t: 'dtmf', sid: this.sid, digit, source: 'inband' });
    this.audio[0] = RTP_VERSION << VERSION_SHIFT;
    this.event[0] = RTP_VERSION << VERSION_SHIFT;
    writeU32(this.audio, 8, this.ssrc);
    writeU32(this.event, 8, this.ssrc);
  }
}

const sessions = new Map<number, Session>();
const active: Session[] = [];
const prompts = new Map<number, Int16Array>();
const rxPacket = new RtpPacket();
const rtcpInfo = new RtcpInfo();
const rxEvent = new TelephoneEvent();
const mixer = new Mixer();

// ---- stats ----
const hist = new Uint32Array(HIST_BINS);
let statSent = 0;
let statResyncs = 0;
let statTicks = 0;
let statLateMax = -Infinity;
let statReceived = 0;
let statRejected = 0;
let statRtcp = 0;
let statForeign = 0;
let statGcCount = 0;
let statGcMs = 0;
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) { statGcCount++; statGcMs += e.duration; }
});
gcObserver.observe({ entryTypes: ['gc'] });

let cpuBase = threadCpuMs();

function recordLateness(late: number): void {
  let bin = Math.floor((late - HIST_MIN_MS) / HIST_STEP_MS);
  if (bin < 0) bin = 0;
  else if (bin >= HIST_BINS) bin = HIST_BINS - 1;
  hist[bin]++;
  if (late > statLateMax) statLateMax = late;
}

function percentile(p: number, total: number): number {
  if (total === 0) return 0;
  const want = Math.ceil(total * p);
  let acc = 0;
  for (let i = 0; i < HIST_BINS; i++) {
    acc += hist[i]!;
    if (acc >= want) return HIST_MIN_MS + (i + 1) * HIST_STEP_MS;
  }
  return HIST_MIN_MS + HIST_BINS * HIST_STEP_MS;
}

/** Started by the first stats request, so an idle worker wakes for nothing. */
let loopDelay: IntervalHistogram | undefined;

function snapshotStats(reset: boolean): PacerStats {
  if (!loopDelay) {
    loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
  }
  const loopP99Ms = loopDelay.count > 0 ? loopDelay.percentile(99) / 1e6 : 0;
  const loopMaxMs = loopDelay.count > 0 ? loopDelay.max / 1e6 : 0;
  let total = 0;
  for (let i = 0; i < HIST_BINS; i++) total += hist[i]!;
  const cpuNow = threadCpuMs();
  const heap = getHeapStatistics();
  const s: PacerStats = {
    sent: statSent, lateP50: percentile(0.5, total), lateP99: percentile(0.99, total),
    lateMax: total ? statLateMax : 0, resyncs: statResyncs, ticks: statTicks,
    received: statReceived, rejected: statRejected, rtcp: statRtcp, foreign: statForeign, gcCount: statGcCount, gcMs: statGcMs,
    cpuMs: cpuNow < 0 || cpuBase < 0 ? -1 : cpuNow - cpuBase, loopP99Ms, loopMaxMs,
    heapUsedMB: heap.used_heap_size / 1048576, heapTotalMB: heap.total_heap_size / 1048576, hist: Array.from(hist),
  };
  if (reset) {
    loopDelay.reset();
    cpuBase = cpuNow;
    hist.fill(0);
    statSent = statResyncs = statTicks = statReceived = statRejected = statRtcp = statForeign = statGcCount = statGcMs = 0;
    statLateMax = -Infinity;
  }
  return s;
}

// ---- pacing loop ----
let timer: NodeJS.Timeout | undefined;
let timerAt = Infinity;
let housekeepingAt = 0;

function schedule(at: number): void {
  if (at >= timerAt && timer) return;
  if (timer) clearTimeout(timer);
  timerAt = at;
  const delay = at - EARLY_MS - performance.now();
  timer = setTimeout(tick, delay > 1 ? delay : 1);
}

function tick(): void {
  timer = undefined;
  timerAt = Infinity;
  statTicks++;
  let now = performance.now();
  // conference rooms homed here mix first, so members on this worker send this tick's mix
  let next = mixer.roomCount > 0 ? mixer.tick(now) : Infinity;
  for (let i = 0; i < active.length; i++) {
    const s = active[i]!;
    let d = s.deadline;
    if (d - now <= EARLY_MS) {
      if (now - d > RESYNC_MS) {
        const skipped = Math.floor((now - d) / FRAME_MS);
        s.ts = (s.ts + skipped * FRAME_SAMPLES) >>> 0;
        d += skipped * FRAME_MS;
        statResyncs++;
      }
      recordLateness(now - d);
      if (s.relayUntil <= now || s.queue.length > 0 || s.dtmfJobs.length > 0) sendFrame(s);
      d += FRAME_MS;
      s.deadline = d;
      // sending takes time: refresh the clock every few streams so lateness is measured honestly
      if ((i & 15) === 15) now = performance.now();
    }
    if (d < next) next = d;
  }
  // RTP-timeout housekeeping runs on the same deadline loop (only configured streams can time out, and they keep it ticking).
  if (now >= housekeepingAt) {
    housekeepingAt = now + HOUSEKEEPING_MS;
    checkTimeouts(now);
  }
  if (next !== Infinity) schedule(next);
}

function sendFrame(s: Session): void {
  if (s.dtmfPhase === DtmfPhase.Idle && s.dtmfJobs.length > 0) startDigit(s);
  if (s.dtmfPhase === DtmfPhase.Tone || s.dtmfPhase === DtmfPhase.End) {
    sendEvent(s);
  } else {
    const buf = s.audio;
    fillAudio(s, buf);
    buf[1] = (s.marker ? MARKER_BIT : 0) | s.pt;
    buf[2] = (s.seq >>> 8) & 0xff;
    buf[3] = s.seq & 0xff;
    writeU32(buf, 4, s.ts);
    if (s.recorder) recorderEvent(s, s.recorder.tx(buf, HEADER, FRAME_SAMPLES, s.dec, s.ts));
    if (s.sending) {
      s.rtp.send(buf, s.remotePort, s.remoteAddr);
      s.marker = false;
      s.seq = (s.seq + 1) & 0xffff;
      s.txPackets++;
      s.txOctets += FRAME_SAMPLES;
      statSent++;
    }
    if (s.dtmfPhase === DtmfPhase.Gap) dtmfGapFrame(s);
  }
  s.ts = (s.ts + FRAME_SAMPLES) >>> 0;
}

function fillAudio(s: Session, buf: Buffer): void {
  const enc = s.enc;
  let o = HEADER;
  const end = HEADER + FRAME_SAMPLES;
  while (o < end && s.queue.length > 0) {
    const item = s.queue[0]!;
    const pcm = item.pcm;
    let p = s.pos;
    const n = Math.min(end - o, pcm.length - p);
    for (let k = 0; k < n; k++) buf[o + k] = enc[pcm[p + k]! & 0xffff]!;
    o += n;
    p += n;
    if (p >= pcm.length) {
      s.queue.shift();
      s.pos = 0;
      post({ t: 'playDone', sid: s.sid, playId: item.playId, reason: 'finished' });
    } else {
      s.pos = p;
    }
  }
  if (o === HEADER && s.member !== undefined) s.member.fill(buf, HEADER, enc, s.silence);
  else if (o < end) buf.fill(s.silence, o, end);
}

// ---- DTMF out (RFC 4733 §2.5) ----
function startDigit(s: Session): void {
  const job = s.dtmfJobs[0]!;
  s.dtmfCode = job.events[s.dtmfIdx]!;
  s.dtmfTotal = Math.max(1, Math.round(job.durationMs / FRAME_MS));
  s.dtmfCount = 0;
  s.dtmfPhase = DtmfPhase.Tone;
  s.dtmfTs = -1; // set to the timestamp of the first event packet
}

function sendEvent(s: Session): void {
  const buf = s.event;
  let first = false;
  if (s.dtmfTs < 0) { s.dtmfTs = s.ts; first = true; }
  let duration: number;
  let end = false;
  if (s.dtmfPhase === DtmfPhase.Tone) {
    s.dtmfCount++;
    duration = s.dtmfCount * FRAME_SAMPLES;
    if (s.dtmfCount >= s.dtmfTotal) { s.dtmfPhase = DtmfPhase.End; s.dtmfCount = 0; }
  } else {
    duration = s.dtmfTotal * FRAME_SAMPLES;
    end = true;
    s.dtmfCount++;
    if (s.dtmfCount >= DTMF_END_PACKETS) { s.dtmfPhase = DtmfPhase.Gap; s.dtmfCount = 0; }
  }
  if (duration > 0xffff) duration = 0xffff;
  buf[1] = (first ? MARKER_BIT : 0) | s.tePt;
  buf[2] = (s.seq >>> 8) & 0xff;
  buf[3] = s.seq & 0xff;
  writeU32(buf, 4, s.dtmfTs);
  buf[12] = s.dtmfCode;
  buf[13] = (end ? END_BIT : 0) | DEFAULT_EVENT_VOLUME;
  buf[14] = (duration >>> 8) & 0xff;
  buf[15] = duration & 0xff;
  if (s.sending) {
    s.rtp.send(buf, s.remotePort, s.remoteAddr);
    s.seq = (s.seq + 1) & 0xffff;
    s.txPackets++;
    s.txOctets += 4;
    statSent++;
  }
  s.marker = false;
}

function dtmfGapFrame(s: Session): void {
  s.dtmfCount++;
  if (s.dtmfCount < DTMF_GAP_FRAMES) return;
  const job = s.dtmfJobs[0]!;
  s.dtmfIdx++;
  s.dtmfPhase = DtmfPhase.Idle;
  if (s.dtmfIdx >= job.events.length) {
    s.dtmfJobs.shift();
    s.dtmfIdx = 0;
    post({ t: 'dtmfDone', sid: s.sid, req: job.req });
  }
}

function abortDtmf(s: Session): void {
  for (const job of s.dtmfJobs) post({ t: 'dtmfDone', sid: s.sid, req: job.req });
  s.dtmfJobs.length = 0;
  s.dtmfPhase = DtmfPhase.Idle;
  s.dtmfIdx = 0;
}

function enqueueDtmf(s: Session, job: DtmfJob): void {
  if (job.events.length === 0 || s.tePt < 0) { post({ t: 'dtmfDone', sid: s.sid, req: job.req }); return; }
  if (s.dtmfJobs.length >= MAX_DTMF_JOBS) { post({ t: 'dtmfDone', sid: s.sid, req: job.req }); return; }
  s.dtmfJobs.push(job);
}

// ---- receive ----
function onRtp(s: Session, msg: Buffer, rinfo: dgram.RemoteInfo): void {
  if (!s.configured) { statRejected++; return; }
  const len = msg.length;
  if (looksLikeRtcp(msg, len)) { onRtcp(s, msg, len, undefined); return; }
  if (decodeRtp(msg, rxPacket, len, false) !== RtpDecodeResult.Ok) { statRejected++; return; }
  const pt = rxPacket.payloadType;
  const isEvent = pt === s.tePt;
  if (!isEvent && pt !== s.pt) { statRejected++; return; }
  const now = performance.now();
  if (rinfo.port !== s.latchedPort || rinfo.address !== s.latchedAddr) {
    if (s.latchedPort !== 0 && now - s.lastRx < RELATCH_QUIET_MS) { statForeign++; return; }
    s.latchedAddr = rinfo.address;
    s.latchedPort = rinfo.port;
    s.remoteAddr = rinfo.address;
    s.remotePort = rinfo.port;
    post({ t: 'remote', sid: s.sid, address: rinfo.address, port: rinfo.port });
  }
  statReceived++;
  s.lastRx = now;
  s.timedOut = false;
  s.rx.onPacket(rxPacket.ssrc, rxPacket.sequenceNumber, rxPacket.timestamp, now * 8, !isEvent);
  const peer = s.peer;
  if (peer !== undefined && peer.configured) relay(s, peer, msg, isEvent);
  if (isEvent) {
    if (!decodeTelephoneEvent(msg, rxEvent, rxPacket.payloadOffset, rxPacket.payloadLength)) { statRejected++; return; }
    const ts = rxPacket.timestamp;
    // one digit per event timestamp: start, updates, end and its retransmissions share it
    if (s.haveEv && ts === s.lastEvTs) {
      if (rxEvent.duration > s.lastEvDur) s.lastEvDur = rxEvent.duration;
      if (rxEvent.end) s.lastEvEnded = true;
      return;
    }
    // a long event (> 0xFFFF samples) continues in a new segment at ts = previous ts + its duration (§2.5.2.3)
    const continuation = s.haveEv && !s.lastEvEnded && rxEvent.event === s.lastEvCode && s.lastEvDur >= LONG_EVENT_MIN_DUR &&
      ((ts - s.lastEvTs - s.lastEvDur) >>> 0) <= LONG_EVENT_SLACK;
    s.haveEv = true;
    s.lastEvTs = ts;
    s.lastEvCode = rxEvent.event;
    s.lastEvDur = rxEvent.duration;
    s.lastEvEnded = rxEvent.end;
    if (continuation) return;
    const digit = eventToDtmf(rxEvent.event);
    if (digit !== undefined) post({ t: 'dtmf', sid: s.sid, digit, source: 'rfc4733' });
    return;
  }
  const n = rxPacket.payloadLength;
  if ((!s.detector && !s.rec && !s.recorder && !s.member) || n === 0 || n > MAX_DECODE_SAMPLES) return;
  if (s.decodeBuf.length !== n) s.decodeBuf = new Int16Array(n); // only when the peer's ptime differs
  const pcm = s.decodeBuf;
  const dec = s.dec;
  const off = rxPacket.payloadOffset;
  for (let i = 0; i < n; i++) pcm[i] = dec[msg[off + i]!]!;
  if (s.detector) s.detector.process(pcm, s.onInband);
  if (s.rec) record(s, pcm, rxPacket.timestamp, rxPacket.ssrc);
  if (s.member) s.member.up.write(pcm, n);
  if (s.recorder) recorderEvent(s, s.recorder.rx(pcm, n, rxPacket.timestamp, rxPacket.ssrc, s.ts));
}

function recorderEvent(s: Session, ev: number): void {
  if (ev !== REC_NONE) post({ t: 'recorderEvent', sid: s.sid, reason: ev === REC_FULL ? 'full' : 'silence' });
}

/**
 * Bridge: forward what `s` received out of `o` — a header rewrite (o's SSRC, sequence, a fixed timestamp
 * offset per incoming SSRC) plus a table transcode when the laws differ. While packets are relayed, o's own
 * paced frames are suppressed; o's prompts and outgoing DTMF take precedence over the relay.
 */
function relay(s: Session, o: Session, msg: Buffer, isEvent: boolean): void {
  if (!o.sending || o.queue.length > 0 || o.dtmfPhase !== DtmfPhase.Idle || o.dtmfJobs.length > 0) return;
  if (isEvent && o.tePt < 0) return;
  const n = rxPacket.payloadLength;
  if (n === 0) return;
  const size = HEADER + n;
  let buf: Buffer;
  if (isEvent) {
    buf = o.relayEvent && o.relayEvent.length === size ? o.relayEvent : (o.relayEvent = Buffer.alloc(size));
  } else {
    buf = o.relayAudio && o.relayAudio.length === size ? o.relayAudio : (o.relayAudio = Buffer.alloc(size));
  }
  const inTs = rxPacket.timestamp;
  let marker = rxPacket.marker;
  const now = performance.now();
  // new source, or relaying resumes after our own frames: re-anchor the timestamp mapping on our clock
  if (!o.relayHaveOffset || rxPacket.ssrc !== o.relayInSsrc || o.relayUntil <= now) {
    o.relayHaveOffset = true;
    o.relayInSsrc = rxPacket.ssrc;
    o.relayTsOffset = (o.ts - inTs) >>> 0;
    marker = true;
  }
  const outTs = (inTs + o.relayTsOffset) >>> 0;
  buf[0] = RTP_VERSION << VERSION_SHIFT;
  buf[1] = (marker ? MARKER_BIT : 0) | (isEvent ? o.tePt : o.pt);
  buf[2] = (o.seq >>> 8) & 0xff;
  buf[3] = o.seq & 0xff;
  writeU32(buf, 4, outTs);
  writeU32(buf, 8, o.ssrc);
  const off = rxPacket.payloadOffset;
  if (isEvent || s.isPcma === o.isPcma) {
    msg.copy(buf, HEADER, off, off + n);
  } else {
    const x = s.isPcma ? A2U : U2A;
    for (let i = 0; i < n; i++) buf[HEADER + i] = x[msg[off + i]!]!;
  }
  if (o.recorder && !isEvent) recorderEvent(o, o.recorder.tx(buf, HEADER, n, o.dec, outTs));
  o.rtp.send(buf, o.remotePort, o.remoteAddr);
  statSent++;
  o.txPackets++;
  o.txOctets += n;
  o.seq = (o.seq + 1) & 0xffff;
  o.marker = false;
  // keep o's own clock continuous with what it relayed, for when the relay stops
  const next = isEvent ? outTs : (outTs + n) >>> 0;
  if (((next - o.ts) | 0) > 0) o.ts = next;
  o.relayUntil = now + RELAY_HOLD_MS;
}

function unbridge(s: Session): void {
  const o = s.peer;
  s.peer = undefined;
  if (o && o.peer === s) o.peer = undefined;
}

function bridge(s: Session, o: Session): void {
  if (s === o) return;
  if (s.peer !== o) unbridge(s);
  if (o.peer !== s) unbridge(o);
  s.peer = o;
  o.peer = s;
  s.relayHaveOffset = false;
  o.relayHaveOffset = false;
}

function record(s: Session, pcm: Int16Array, ts: number, ssrc: number): void {
  if (s.recHaveTs && ssrc === s.recSsrc) {
    const gap = (ts - s.recNextTs) >>> 0;
    if (gap >= 0x80000000) return; // late or duplicate packet
    if (gap > 0 && gap <= REC_MAX_GAP_FILL) recWrite(s, undefined, gap);
  }
  s.recHaveTs = true;
  s.recSsrc = ssrc;
  s.recNextTs = (ts + pcm.length) >>> 0;
  recWrite(s, pcm, pcm.length);
}

function recWrite(s: Session, pcm: Int16Array | undefined, n: number): void {
  let rec = s.rec!;
  const want = Math.min(s.recLen + n, s.recMax);
  if (want > rec.length) {
    const grown = new Int16Array(Math.min(s.recMax, Math.max(want, rec.length * 2)));
    grown.set(rec.subarray(0, s.recLen));
    s.rec = rec = grown;
  }
  const m = want - s.recLen;
  if (m <= 0) return;
  if (pcm) rec.set(m === pcm.length ? pcm : pcm.subarray(0, m), s.recLen);
  else rec.fill(0, s.recLen, want);
  s.recLen = want;
}

function checkTimeouts(now: number): void {
  for (let i = 0; i < active.length; i++) {
    const s = active[i]!;
    if (!s.timedOut && s.timeoutMs > 0 && now - s.lastRx > s.timeoutMs) {
      s.timedOut = true;
      post({ t: 'timeout', sid: s.sid });
    }
    if (now >= s.rtcpAt) sendRtcp(s, now, false);
  }
}

// ---- RTCP (rtcp.ts) ----
/** The peer's RTCP, on our RTCP port (`rinfo`) or multiplexed on the RTP port (undefined). */
function onRtcp(s: Session, msg: Buffer, len: number, rinfo: dgram.RemoteInfo | undefined): void {
  statRtcp++;
  if (!s.configured || !parseRtcp(msg, len, s.ssrc, rtcpInfo)) return;
  const now = performance.now();
  if (rinfo !== undefined && rinfo.address === s.remoteAddr) {
    // symmetric RTCP: answer where the peer's reports come from (it may sit behind a NAT)
    s.rtcpAddr = rinfo.address;
    s.rtcpLatchedPort = rinfo.port;
  }
  if (rtcpInfo.haveSr && rtcpInfo.senderSsrc === s.rx.ssrc) {
    s.rx.lsr = rtcpInfo.srNtpMiddle;
    s.rx.lsrAt = now;
  }
  if (rtcpInfo.haveReport) {
    s.haveRemoteReport = true;
    s.remoteFraction = rtcpInfo.fractionLost / 256;
    s.remoteLost = rtcpInfo.cumulativeLost;
    s.remoteJitter = rtcpInfo.jitter;
    const rtt = rttFromReport(rtcpInfo.lsr, rtcpInfo.dlsr, performance.timeOrigin + now);
    if (rtt >= 0) s.rttMs = rtt;
  }
}

/** Our compound report (and BYE at the end) to the peer's RTCP address; the next one in 2.5-7.5 s (RFC 3550 6.2). */
function sendRtcp(s: Session, now: number, bye: boolean): void {
  s.rtcpAt = now + RTCP_INTERVAL_MS * (0.5 + Math.random());
  const addr = s.rtcpAddr !== '' ? s.rtcpAddr : s.remoteAddr;
  const port = s.rtcpAddr !== '' ? s.rtcpLatchedPort : s.rtcpPort > 0 ? s.rtcpPort : s.remotePort + 1;
  if (s.remotePort === 0 || port > 65535 || addr === '0.0.0.0' || addr === '::') return;
  if (s.cname === '') s.cname = randomBytes(12).toString('base64');
  const sender = s.txPackets !== s.txAtReport;
  s.txAtReport = s.txPackets;
  // the timestamp of "now" on our stream: s.ts belongs to the frame due at s.deadline
  const rtpTs = (s.ts - Math.round((s.deadline - now) * 8)) >>> 0;
  const buf = buildReport({ ssrc: s.ssrc, sender, rtpTs, packets: s.txPackets, octets: s.txOctets, cname: s.cname }, s.rx, performance.timeOrigin + now, now, bye);
  s.rtcp.send(buf, port, addr);
  s.rtcpReports++;
}

function qualityOf(s: Session): MediaQuality {
  return {
    sent: s.txPackets, received: s.rx.received, lost: Math.max(0, s.rx.lost), jitterMs: s.rx.jitter / 8,
    remoteFractionLost: s.haveRemoteReport ? s.remoteFraction : -1, remoteLost: s.haveRemoteReport ? s.remoteLost : -1,
    remoteJitterMs: s.haveRemoteReport ? s.remoteJitter / 8 : -1, rttMs: s.rttMs,
  };
}

// ---- commands ----
function bindSocket(sock: dgram.Socket, p: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => { sock.off('listening', onListening); reject(err); };
    const onListening = (): void => { sock.off('error', onError); resolve(); };
    sock.once('error', onError);
    sock.once('listening', onListening);
    sock.bind({ port: p, address: init.address, exclusive: true });
  });
}

function closeSocket(sock: dgram.Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    try { sock.close(() => resolve()); } catch { resolve(); }
  });
}


async function open(sid: number, p: number): Promise<void> {
  const type = init.address.includes(':') ? 'udp6' : 'udp4';
  const rtp = dgram.createSocket({ type, lookup: ipLiteralLookup });
  const rtcp = dgram.createSocket({ type, lookup: ipLiteralLookup });
  // an 'error' without a listener would crash the worker: listen from creation on, not only after binding
  const onSockError = (err: Error): void => { log.debug({ sid, err: err.message }, 'rtp socket error'); };
  rtp.on('error', onSockError);
  rtcp.on('error', onSockError);
  try {
    await bindSocket(rtp, p);
    await bindSocket(rtcp, p + 1);
  } catch (err) {
    await Promise.all([closeSocket(rtp), closeSocket(rtcp)]);
    const e = err as NodeJS.ErrnoException;
    post({ t: 'opened', sid, ok: false, code: e.code ?? 'EBIND', message: e.message });
    return;
  }
  const s = new Session(sid, rtp, rtcp);
  rtp.on('message', (msg, rinfo) => onRtp(s, msg, rinfo));
  rtcp.on('message', (msg, rinfo) => onRtcp(s, msg, msg.length, rinfo));
  sessions.set(sid, s);
  post({ t: 'opened', sid, ok: true });
}

function configure(m: ConfigureMsg): void {
  const s = sessions.get(m.sid);
  if (!s) return;
  const pcma = m.codec === 'PCMA';
  s.enc = pcma ? ENC_A : ENC_MU;
  s.dec = pcma ? ALAW_DECODE : MULAW_DECODE;
  s.silence = pcma ? ALAW_SILENCE : MULAW_SILENCE;
  s.isPcma = pcma;
  s.pt = m.payloadType & 0x7f;
  s.tePt = m.telephoneEventPt >= 0 ? m.telephoneEventPt & 0x7f : -1;
  s.timeoutMs = m.rtpTimeoutMs;
  s.rtcpPort = m.rtcpPort;
  if (m.send && !s.sending) s.marker = true; // resuming after hold: a new talkspurt
  s.sending = m.send;
  if (s.tePt < 0) {
    if (!s.detector) s.detector = new DtmfDetector(8000);
    abortDtmf(s);
  } else {
    s.detector = undefined;
  }
  // a re-INVITE pointing elsewhere resets the latch: send there until packets come from somewhere else
  if (m.address !== s.remoteAddr || m.port !== s.remotePort || !s.configured) {
    s.remoteAddr = m.address;
    s.remotePort = m.port;
    s.latchedAddr = '';
    s.latchedPort = 0;
    s.rtcpAddr = '';
    s.rtcpLatchedPort = 0;
  }
  s.lastRx = performance.now();
  s.timedOut = false;
  if (!s.configured) {
    s.configured = true;
    s.marker = true;
    s.slot = active.length;
    active.push(s);
    s.deadline = performance.now();
    // the first report comes after half the interval (RFC 3550 6.2), randomised
    s.rtcpAt = s.deadline + (RTCP_INTERVAL_MS / 2) * (0.5 + Math.random());
    schedule(s.deadline);
  }
}

function stopPlayback(s: Session): void {
  const items = s.queue.splice(0, s.queue.length);
  s.pos = 0;
  for (const item of items) post({ t: 'playDone', sid: s.sid, playId: item.playId, reason: 'stopped' });
}

async function close(sid: number): Promise<void> {
  const s = sessions.get(sid);
  if (!s) { post({ t: 'closed', sid }); return; }
  if (s.closed) return;
  s.closed = true;
  // RTCP BYE (RFC 3550 6.6) with a last report, from a stream that took part in RTCP. A stream shorter than its
  // first report interval (1.25-3.75 s) sends none: at hundreds of short calls a second the BYE was a datagram per
  // call, 0.13 ms of media-thread CPU each on this VM (cps --rate 500)
  if (s.configured && s.rtcpReports > 0) sendRtcp(s, performance.now(), true);
  const q = qualityOf(s);
  if (s.slot >= 0) {
    const last = active.pop()!;
    if (last !== s) { active[s.slot] = last; last.slot = s.slot; }
    s.slot = -1;
  }
  s.configured = false;
  unbridge(s);
  stopPlayback(s);
  abortDtmf(s);
  s.rec = undefined;
  s.member = undefined;
  s.recorder = undefined;
  await Promise.all([closeSocket(s.rtp), closeSocket(s.rtcp)]);
  sessions.delete(sid);
  post({ t: 'closed', sid, q });
}

function handle(m: ToWorker): void {
  switch (m.t) {
    case 'batch':
      for (const one of m.msgs) {
        try {
          handle(one);
        } catch (err) {
          log.error({ err: (err as Error).message, t: one.t }, 'media worker command failed');
        }
      }
      break;
    case 'open': void open(m.sid, m.port); break;
    case 'configure': configure(m); break;
    case 'prompt': prompts.set(m.pid, new Int16Array(m.sab, m.byteOffset, m.length)); break;
    case 'unprompt': prompts.delete(m.pid); break;
    case 'play': {
      const s = sessions.get(m.sid);
      const pcm = prompts.get(m.pid);
      if (!s || s.closed || !pcm) { post({ t: 'playDone', sid: m.sid, playId: m.playId, reason: 'stopped' }); break; }
      if (pcm.length === 0) { post({ t: 'playDone', sid: m.sid, playId: m.playId, reason: 'finished' }); break; }
      if (s.queue.length >= MAX_QUEUED_PLAYS) { post({ t: 'playDone', sid: m.sid, playId: m.playId, reason: 'stopped' }); break; }
      s.queue.push({ playId: m.playId, pcm });
      break;
    }
    case 'stopPlayback': { const s = sessions.get(m.sid); if (s) stopPlayback(s); break; }
    case 'dtmf': {
      const s = sessions.get(m.sid);
      if (!s || s.closed) post({ t: 'dtmfDone', sid: m.sid, req: m.req });
      else enqueueDtmf(s, { req: m.req, events: m.events, durationMs: m.durationMs });
      break;
    }
    case 'recStart': {
      const s = sessions.get(m.sid);
      if (!s || s.closed) break;
      s.recMax = Math.max(1, Math.floor(m.maxSeconds * 8000));
      s.rec = new Int16Array(Math.min(s.recMax, REC_INITIAL_SAMPLES));
      s.recLen = 0;
      s.recHaveTs = false;
      break;
    }
    case 'recStop': {
      const s = sessions.get(m.sid);
      let pcm = new Int16Array(0);
      if (s && s.rec) { pcm = s.rec.slice(0, s.recLen); s.rec = undefined; s.recLen = 0; }
      post({ t: 'recording', sid: m.sid, req: m.req, pcm }, [pcm.buffer as ArrayBuffer]);
      break;
    }
    case 'recorderStart': {
      const s = sessions.get(m.sid);
      if (!s || s.closed) break;
      s.recorder = new CallRecorder({ mix: m.mix, maxSamples: m.maxSeconds * 8000, baseTs: s.ts, silenceSamples: m.silenceMs * 8 });
      break;
    }
    case 'recorderStop': {
      const s = sessions.get(m.sid);
      let pcm: Int16Array = new Int16Array(0);
      if (s && s.recorder) { pcm = s.recorder.take(); s.recorder = undefined; }
      post({ t: 'recorderData', sid: m.sid, req: m.req, pcm }, [pcm.buffer as ArrayBuffer]);
      break;
    }
    case 'close': void close(m.sid); break;
    case 'bridge': {
      const s = sessions.get(m.sid);
      const o = sessions.get(m.peer);
      if (s && o && !s.closed && !o.closed) bridge(s, o);
      break;
    }
    case 'unbridge': { const s = sessions.get(m.sid); if (s) unbridge(s); break; }
    case 'confJoin': {
      const at = mixer.join(m.rid, m.mid, m.buf, { muted: m.muted, deaf: m.deaf, moderator: m.moderator },
        { entryTone: m.entryTone, exitTone: m.exitTone, waitForModerator: m.waitForModerator }, performance.now());
      schedule(at);
      break;
    }
    case 'confLeave': mixer.leave(m.rid, m.mid); break;
    case 'confAttach': { const s = sessions.get(m.sid); if (s && !s.closed) s.member = new MemberPort(m.buf); break; }
    case 'confDetach': { const s = sessions.get(m.sid); if (s) s.member = undefined; break; }
    case 'stats': post({ t: 'stats', req: m.req, stats: snapshotStats(m.reset) }); break;
    case 'crash': setImmediate(() => { throw new Error('media worker crash requested (test hook)'); }); break;
    case 'hang': { const until = performance.now() + m.ms; while (performance.now() < until) { /* test hook: spin */ } break; }
    case 'ping': post({ t: 'pong' }); break;
  }
}

port.on('message', (m: ToWorker) => {
  try {
    handle(m);
  } catch (err) {
    log.error({ err: (err as Error).message, t: m.t }, 'media worker command failed');
  }
});
log.debug({ index: init.index }, 'media worker started');
