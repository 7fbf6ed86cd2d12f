/**
 * RTCP (RFC 3550 §6, appendix A): the receiver statistics of one stream, the compound reports we send (SR or RR,
 * then SDES CNAME, and BYE when the session ends) and the reading of the peer's reports (its SR for our LSR/DLSR
 * echo, and its report block about our stream: loss, jitter, round-trip time).
 *
 * Per received packet `RxStats.onPacket()` is a few integer operations on fields (no allocation); reports are
 * built once per interval (about 5 s) per stream, so they allocate their buffer.
 */

export const RTCP_SR = 200;
export const RTCP_RR = 201;
export const RTCP_SDES = 202;
export const RTCP_BYE = 203;

/** RFC 3550 §6.2: the minimum interval between reports; each is drawn from [0.5, 1.5] × this. */
export const RTCP_INTERVAL_MS = 5000;
/** Seconds from 1900 (NTP era 0) to 1970. */
const NTP_UNIX_OFFSET_S = 2208988800;
/** RFC 3550 A.1. */
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
const SEQ_MOD = 0x10000;

/** Receiver statistics of the stream we receive (RFC 3550 A.1 sequence accounting, A.8 jitter). */
export class RxStats {
  /** No packet counted yet (or the source changed): the next one starts the accounting. */
  fresh = true;
  ssrc = 0;
  baseSeq = 0;
  maxSeq = 0;
  /** Sequence wraps × 65536. */
  cycles = 0;
  /** A sequence number after a large jump; the same again means the source restarted (A.1). */
  badSeq = SEQ_MOD + 1;
  received = 0;
  expectedPrior = 0;
  receivedPrior = 0;
  /** Interarrival jitter in timestamp units (A.8), and the previous relative transit time. */
  jitter = 0;
  transit = 0;
  haveTransit = false;
  /** The middle 32 bits of the NTP time of the peer's last SR, and when it came (ms, local clock); 0 = none. */
  lsr = 0;
  lsrAt = 0;

  private restart(ssrc: number, seq: number): void {
    this.fresh = false;
    this.ssrc = ssrc;
    this.baseSeq = seq;
    this.maxSeq = seq;
    this.cycles = 0;
    this.badSeq = SEQ_MOD + 1;
    this.received = 0;
    this.expectedPrior = 0;
    this.receivedPrior = 0;
    this.jitter = 0;
    this.haveTransit = false;
  }

  /**
   * Count one received packet. `arrival` is the arrival time in the stream's timestamp units (ms × 8 at 8 kHz);
   * `audio` false for telephone-event packets, whose timestamps stay on an event's start and would read as jitter.
   */
  onPacket(ssrc: number, seq: number, timestamp: number, arrival: number, audio: boolean): void {
    if (this.fresh || ssrc !== this.ssrc) this.restart(ssrc, seq);
    else {
      const delta = (seq - this.maxSeq) & 0xffff;
      if (delta < MAX_DROPOUT) {
        if (seq < this.maxSeq) this.cycles += SEQ_MOD;
        this.maxSeq = seq;
      } else if (delta <= SEQ_MOD - MAX_MISORDER) {
        // a large jump: believe it when the next packet follows it, else ignore this one
        if (seq !== this.badSeq) { this.badSeq = (seq + 1) & 0xffff; return; }
        this.restart(ssrc, seq);
      }
      // else: a duplicate or a reordered packet, counted
    }
    this.received++;
    if (!audio) return;
    const transit = arrival - timestamp;
    if (this.haveTransit) {
      let d = transit - this.transit;
      if (d < 0) d = -d;
      // a timestamp wrap (every ~6 days at 8 kHz) or a jump in the sender's clock is not jitter
      if (d < 0x10000000) this.jitter += (d - this.jitter) / 16;
    }
    this.transit = transit;
    this.haveTransit = true;
  }

  /** Packets expected from the first to the highest sequence number seen. */
  get expected(): number { return this.fresh ? 0 : this.cycles + this.maxSeq - this.baseSeq + 1; }

  /** Cumulative packets lost (negative with duplicates), RFC 3550 A.3. */
  get lost(): number { return this.expected - this.received; }
}

/** What `parseRtcp` found in one compound packet. */
export class RtcpInfo {
  /** SSRC of the sender of the first packet (SR or RR). */
  senderSsrc = 0;
  /** An SR was in it: the middle 32 bits of its NTP timestamp. */
  haveSr = false;
  srNtpMiddle = 0;
  /** A report block about `ourSsrc` was in it. */
  haveReport = false;
  fractionLost = 0;
  cumulativeLost = 0;
  jitter = 0;
  lsr = 0;
  dlsr = 0;
  bye = false;

  reset(): void {
    this.senderSsrc = 0;
    this.haveSr = false;
    this.srNtpMiddle = 0;
    this.haveReport = false;
    this.fractionLost = this.cumulativeLost = this.jitter = this.lsr = this.dlsr = 0;
    this.bye = false;
  }
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/**
 * Read a compound RTCP packet into `out` (reset first). Returns false when it is not RTCP version 2 or a length
 * runs past the datagram; what was read before such a fault is kept. Report blocks about other SSRCs are skipped.
 */
export function parseRtcp(b: Uint8Array, len: number, ourSsrc: number, out: RtcpInfo): boolean {
  out.reset();
  let o = 0;
  let first = true;
  while (o + 4 <= len) {
    if ((b[o]! >> 6) !== 2) return false;
    const count = b[o]! & 0x1f;
    const pt = b[o + 1]!;
    const end = o + 4 + ((b[o + 2]! << 8) | b[o + 3]!) * 4;
    if (end > len) return false;
    if (pt === RTCP_SR || pt === RTCP_RR) {
      const head = pt === RTCP_SR ? 28 : 8;
      if (o + head > end) return false;
      const ssrc = u32(b, o + 4);
      if (first) out.senderSsrc = ssrc;
      if (pt === RTCP_SR) { out.haveSr = true; out.srNtpMiddle = ((u32(b, o + 8) << 16) | (u32(b, o + 12) >>> 16)) >>> 0; }
      for (let i = 0, r = o + head; i < count && r + 24 <= end; i++, r += 24) {
        if (u32(b, r) !== ourSsrc) continue;
        out.haveReport = true;
        out.fractionLost = b[r + 4]!;
        const cl = (b[r + 5]! << 16) | (b[r + 6]! << 8) | b[r + 7]!;
        out.cumulativeLost = cl & 0x800000 ? cl - 0x1000000 : cl;
        out.jitter = u32(b, r + 12);
        out.lsr = u32(b, r + 16);
        out.dlsr = u32(b, r + 20);
      }
    } else if (pt === RTCP_BYE) {
      out.bye = true;
    } else if (first) {
      return false; // RFC 3550 §6.1: a compound packet starts with SR or RR
    }
    first = false;
    o = end;
  }
  return !first;
}

/** NTP timestamp (RFC 3550 §4) of a wall-clock time in ms since 1970: [seconds, fraction]. */
export function ntpOf(unixMs: number): [number, number] {
  const s = Math.floor(unixMs / 1000);
  const frac = Math.floor(((unixMs - s * 1000) / 1000) * 0x100000000);
  return [(s + NTP_UNIX_OFFSET_S) >>> 0, frac >>> 0];
}

/** The middle 32 bits of the NTP timestamp of `unixMs` (the unit of LSR and DLSR: 1/65536 s). */
export function ntpMiddle(unixMs: number): number {
  const [s, f] = ntpOf(unixMs);
  return ((s << 16) | (f >>> 16)) >>> 0;
}

/** Round-trip time (ms) from a report block's LSR and DLSR received at `nowUnixMs` (RFC 3550 §6.4.1); -1 unknown. */
export function rttFromReport(lsr: number, dlsr: number, nowUnixMs: number): number {
  if (lsr === 0) return -1;
  const rtt = (ntpMiddle(nowUnixMs) - lsr - dlsr) | 0;
  return rtt < 0 ? 0 : (rtt * 1000) / 65536;
}

/** What we send about ourselves. */
export interface SenderState {
  ssrc: number;
  /** True when we sent RTP since the previous report (RFC 3550 §6.4: then SR, else RR). */
  sender: boolean;
  /** RTP timestamp that corresponds to `unixMs`. */
  rtpTs: number;
  packets: number;
  octets: number;
  cname: string;
}

/**
 * A compound report: SR (or RR) with one report block when `rx` has counted a packet, SDES CNAME, then BYE when
 * `bye`. Updates `rx`'s interval counters (fraction lost is per report). `nowMs` is the local clock of `rx.lsrAt`.
 */
export function buildReport(me: SenderState, rx: RxStats, unixMs: number, nowMs: number, bye: boolean): Buffer {
  const blocks = rx.fresh ? 0 : 1;
  const head = (me.sender ? 28 : 8) + blocks * 24;
  const cname = Buffer.from(me.cname, 'utf8').subarray(0, 255);
  // SDES chunk: SSRC, CNAME item (type, length, text), then at least one zero octet, padded to 32 bits
  const sdesLen = 4 + ((4 + 2 + cname.length + 1 + 3) & ~3);
  const byeLen = bye ? 8 : 0;
  const buf = Buffer.alloc(head + sdesLen + byeLen);
  buf[0] = 0x80 | blocks;
  buf[1] = me.sender ? RTCP_SR : RTCP_RR;
  buf[2] = 0;
  buf[3] = head / 4 - 1;
  put32(buf, 4, me.ssrc);
  let o = 8;
  if (me.sender) {
    const [s, f] = ntpOf(unixMs);
    put32(buf, 8, s);
    put32(buf, 12, f);
    put32(buf, 16, me.rtpTs >>> 0);
    put32(buf, 20, me.packets >>> 0);
    put32(buf, 24, me.octets >>> 0);
    o = 28;
  }
  if (blocks === 1) {
    const expected = rx.expected;
    let lost = expected - rx.received;
    if (lost > 0x7fffff) lost = 0x7fffff;
    else if (lost < -0x800000) lost = -0x800000;
    const expectedInterval = expected - rx.expectedPrior;
    const lostInterval = expectedInterval - (rx.received - rx.receivedPrior);
    rx.expectedPrior = expected;
    rx.receivedPrior = rx.received;
    const fraction = expectedInterval === 0 || lostInterval <= 0 ? 0 : Math.min(255, Math.floor((lostInterval * 256) / expectedInterval));
    put32(buf, o, rx.ssrc);
    put32(buf, o + 4, ((fraction << 24) | (lost & 0xffffff)) >>> 0);
    put32(buf, o + 8, (rx.cycles + rx.maxSeq) >>> 0);
    put32(buf, o + 12, Math.floor(rx.jitter) >>> 0);
    put32(buf, o + 16, rx.lsr);
    put32(buf, o + 20, rx.lsr === 0 ? 0 : Math.max(0, Math.round(((nowMs - rx.lsrAt) * 65536) / 1000)) >>> 0);
    o += 24;
  }
  buf[o] = 0x81;
  buf[o + 1] = RTCP_SDES;
  buf[o + 2] = 0;
  buf[o + 3] = sdesLen / 4 - 1;
  put32(buf, o + 4, me.ssrc);
  buf[o + 8] = 1; // CNAME
  buf[o + 9] = cname.length;
  cname.copy(buf, o + 10);
  o += sdesLen; // the rest of the chunk is already zero (END and padding)
  if (bye) {
    buf[o] = 0x81;
    buf[o + 1] = RTCP_BYE;
    buf[o + 2] = 0;
    buf[o + 3] = 1;
    put32(buf, o + 4, me.ssrc);
  }
  return buf;
}
