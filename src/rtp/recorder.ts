/**
 * Call recorder of one media session, run inside the media worker (PIVOT.md 2.8: `record_call`, `record_caller`).
 *
 * Timeline: the session's own send clock. Sample 0 is the RTP timestamp of the next frame we send when
 * recording starts; everything is placed by timestamp on that axis, so the recording lasts as long as the
 * call did, even while the caller sends nothing (gaps stay silent).
 * - Tx (what the caller hears): our paced frames (prompts, silence) and the frames relayed from a bridged
 *   peer, both already in our send timestamps. In `mix` mode they are decoded (G.711 table) and added.
 * - Rx (the caller): the caller's timestamps, mapped onto ours by an offset fixed at the first packet of
 *   each SSRC (re-anchored when a packet lands more than half a second from "now": a timestamp jump).
 * Mixing = sum with clipping, into one zero-initialised buffer; a track never writes a sample twice
 * (duplicates and late packets overlapping what that track already wrote are dropped).
 *
 * Bounds and allocation: one Int16Array, grown by doubling up to `maxSamples` (the time limit). The
 * per-packet calls (`rx`, `tx`) allocate nothing except on such a growth. They return an event code
 * (`REC_FULL` once the time limit is reached, `REC_SILENCE` once the caller was quiet for `silenceSamples`)
 * so the worker posts one message per event, not per packet.
 */

export const REC_NONE = 0;
export const REC_FULL = 1;
export const REC_SILENCE = 2;

/** Mean absolute amplitude of a packet above which the caller counts as speaking (about -50 dBFS). */
export const SILENCE_LEVEL = 100;
/** A caller packet further than this from "now" re-anchors the caller's timestamp mapping (samples). */
const REANCHOR_SAMPLES = 4000;
const INITIAL_SAMPLES = 8000 * 10;

export interface RecorderOptions {
  /** true: caller and what the caller hears, mixed (record_call); false: the caller only (record_caller). */
  readonly mix: boolean;
  /** Time limit in samples (8 kHz). */
  readonly maxSamples: number;
  /** Our send timestamp of the first recorded sample. */
  readonly baseTs: number;
  /** Caller quiet this long (samples) → REC_SILENCE; 0 = never. */
  readonly silenceSamples: number;
}

export class CallRecorder {
  readonly mix: boolean;
  readonly maxSamples: number;
  readonly baseTs: number;
  readonly silenceSamples: number;
  buf: Int16Array;
  /** Samples recorded so far (the furthest position either track reached). */
  len = 0;
  private rxHave = false;
  private rxSsrc = 0;
  private rxOff = 0;
  private rxNext = 0;
  private txNext = 0;
  private lastLoud = 0;
  private full = false;
  private silent = false;

  constructor(o: RecorderOptions) {
    this.mix = o.mix;
    this.maxSamples = Math.max(1, Math.floor(o.maxSamples));
    this.baseTs = o.baseTs >>> 0;
    this.silenceSamples = Math.max(0, Math.floor(o.silenceSamples));
    this.buf = new Int16Array(Math.min(this.maxSamples, INITIAL_SAMPLES));
  }

  /**
   * Caller audio (decoded), RTP timestamp `ts`, SSRC `ssrc`; `nowTs` is our send timestamp of the next frame.
   * Returns REC_NONE, REC_FULL or REC_SILENCE.
   */
  rx(pcm: Int16Array, n: number, ts: number, ssrc: number, nowTs: number): number {
    const nowPos = ((nowTs - this.baseTs) | 0);
    let pos = (((ts + this.rxOff) >>> 0) - this.baseTs) | 0;
    if (!this.rxHave || ssrc !== this.rxSsrc || pos - nowPos > REANCHOR_SAMPLES || nowPos - pos > REANCHOR_SAMPLES) {
      // this packet ends "now" (or right after what this track already wrote)
      let want = nowPos - n;
      if (want < this.rxNext) want = this.rxNext;
      this.rxOff = (want + this.baseTs - ts) >>> 0;
      this.rxHave = true;
      this.rxSsrc = ssrc;
      pos = want;
    }
    let k0 = 0;
    if (pos < this.rxNext) k0 = this.rxNext - pos;
    if (pos < 0 && -pos > k0) k0 = -pos;
    if (k0 >= n) return REC_NONE;
    // silence tracking on what the caller said (mean absolute amplitude of the packet)
    if (this.silenceSamples > 0) {
      let sum = 0;
      for (let i = 0; i < n; i++) { const v = pcm[i]!; sum += v < 0 ? -v : v; }
      if (sum > SILENCE_LEVEL * n) this.lastLoud = pos + n;
    }
    const ev = this.addPcm(pcm, k0, n, pos);
    this.rxNext = pos + n;
    return ev;
  }

  /**
   * What the caller hears: `n` G.711 bytes at `bytes[off]` decoded with `dec`, at our send timestamp `ts`.
   * In caller-only mode it only moves the end of the recording on (the caller's silence is recorded too).
   */
  tx(bytes: Uint8Array, off: number, n: number, dec: Int16Array, ts: number): number {
    const pos = ((ts - this.baseTs) | 0);
    let k0 = 0;
    if (pos < this.txNext) k0 = this.txNext - pos;
    if (pos < 0 && -pos > k0) k0 = -pos;
    if (k0 >= n) return REC_NONE;
    this.txNext = pos + n;
    let ev: number;
    if (this.mix) {
      ev = this.addCoded(bytes, off, dec, k0, n, pos);
    } else {
      ev = this.extend(pos + n);
    }
    if (ev === REC_NONE && this.silenceSamples > 0 && !this.silent && this.len - this.lastLoud >= this.silenceSamples) {
      this.silent = true;
      return REC_SILENCE;
    }
    return ev;
  }

  /** The recording so far (a view; the buffer is handed over when the recorder is dropped). */
  take(): Int16Array { return this.buf.subarray(0, this.len); }

  /** Make room for samples up to `end` (exclusive); returns the usable end (≤ maxSamples). */
  private room(end: number): number {
    if (end > this.maxSamples) end = this.maxSamples;
    const buf = this.buf;
    if (end > buf.length) {
      let size = buf.length * 2;
      if (size < end) size = end;
      if (size > this.maxSamples) size = this.maxSamples;
      const grown = new Int16Array(size);
      grown.set(buf.subarray(0, this.len));
      this.buf = grown;
    }
    return end;
  }

  private extend(end: number): number {
    const e = this.room(end);
    if (e > this.len) this.len = e;
    return this.checkFull(end);
  }

  private checkFull(end: number): number {
    if (end >= this.maxSamples && !this.full) { this.full = true; return REC_FULL; }
    return REC_NONE;
  }

  private addPcm(pcm: Int16Array, k0: number, n: number, pos: number): number {
    const end = this.room(pos + n);
    const buf = this.buf;
    for (let k = k0; k < n; k++) {
      const i = pos + k;
      if (i >= end) break;
      const v = buf[i]! + pcm[k]!;
      buf[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
    if (end > this.len) this.len = end;
    return this.checkFull(pos + n);
  }

  private addCoded(bytes: Uint8Array, off: number, dec: Int16Array, k0: number, n: number, pos: number): number {
    const end = this.room(pos + n);
    const buf = this.buf;
    for (let k = k0; k < n; k++) {
      const i = pos + k;
      if (i >= end) break;
      const v = buf[i]! + dec[bytes[off + k]!]!;
      buf[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
    if (end > this.len) this.len = end;
    return this.checkFull(pos + n);
  }
}
