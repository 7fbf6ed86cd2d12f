/**
 * Conference mixing inside a media worker (docs/decisions/020-conference-mixer.md).
 *
 * A room lives in one media worker (its "home"). Every member, whichever worker owns its RTP socket, talks to
 * the room through two single-producer/single-consumer rings of PCM16 samples in one SharedArrayBuffer:
 * - `up`:   written by the member's worker as RTP arrives (decoded G.711), read by the room's mixer;
 * - `down`: written by the mixer (the member's N-1 mix), read by the member's worker when it paces a frame.
 * Members on the home worker use the same rings (both ends in one thread), so there is one code path and
 * packets never cross threads by postMessage.
 *
 * Every 20 ms (on the worker's deadline loop) the mixer reads one frame per member, sums them in 32 bits,
 * and gives each member the sum minus its own frame, clipped to 16 bits; entry/exit beeps are added for all.
 * Nothing here allocates per frame: rings, scratch frames and the sum are preallocated per room and member.
 */
import { tone } from '../media/tone.js';

export const FRAME_SAMPLES = 160;
const FRAME_MS = 20;
const EARLY_MS = 1;
const RESYNC_MS = 100;
/** Samples per ring (a power of two): 256 ms. */
export const RING_SAMPLES = 2048;
/** More than this many samples buffered → the reader drops the oldest, down to RING_KEEP (bounded delay). */
export const RING_MAX_LAG = 6 * FRAME_SAMPLES;
export const RING_KEEP = 2 * FRAME_SAMPLES;
const HEADER_BYTES = 8; // Int32 write counter, Int32 read counter
export const RING_BYTES = HEADER_BYTES + RING_SAMPLES * 2;
/** One member's shared buffer: the `up` ring, then the `down` ring. */
export const MEMBER_BYTES = 2 * RING_BYTES;
/** Most members one room mixes (the per-tick cost is O(members)). */
export const MAX_ROOM_MEMBERS = 64;

/**
 * A single-producer/single-consumer ring of PCM16 samples over shared memory. The counters only grow
 * (wrapping at 2^31 through `| 0`); the writer owns `w`, the reader owns `r`; Atomics order the data
 * writes before the counter that publishes them.
 */
export class PcmRing {
  private readonly idx: Int32Array;
  private readonly data: Int16Array;
  private readonly mask: number;
  readonly capacity: number;
  /** Samples the reader skipped to keep the delay bounded, and samples the writer dropped because the ring was full. */
  skipped = 0;
  dropped = 0;

  constructor(buf: SharedArrayBuffer | ArrayBuffer, byteOffset: number, capacity = RING_SAMPLES) {
    if (capacity <= 0 || (capacity & (capacity - 1)) !== 0) throw new RangeError(`ring capacity must be a power of two, got ${capacity}`);
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.idx = new Int32Array(buf, byteOffset, 2);
    this.data = new Int16Array(buf, byteOffset + HEADER_BYTES, capacity);
  }

  static bytes(capacity = RING_SAMPLES): number { return HEADER_BYTES + capacity * 2; }

  /** Samples buffered. */
  available(): number {
    return (Atomics.load(this.idx, 0) - Atomics.load(this.idx, 1)) | 0;
  }

  /** Writer: append `n` samples of `src`; what does not fit is dropped. Returns the samples written. */
  write(src: Int16Array, n: number): number {
    const w = Atomics.load(this.idx, 0);
    const used = (w - Atomics.load(this.idx, 1)) | 0;
    const free = this.capacity - used;
    const m = n < free ? n : free;
    const data = this.data;
    const mask = this.mask;
    for (let i = 0; i < m; i++) data[(w + i) & mask] = src[i]!;
    Atomics.store(this.idx, 0, (w + m) | 0);
    if (m < n) this.dropped += n - m;
    return m;
  }

  /**
   * Reader: copy exactly `n` samples into `dst` if that many are buffered (true), else take nothing (false).
   * When more than `maxLag` are buffered the oldest are skipped first, leaving `keep`.
   */
  readFrame(dst: Int16Array, n: number, maxLag = RING_MAX_LAG, keep = RING_KEEP): boolean {
    const w = Atomics.load(this.idx, 0);
    let r = Atomics.load(this.idx, 1);
    let avail = (w - r) | 0;
    if (avail > maxLag) {
      this.skipped += avail - keep;
      r = (w - keep) | 0;
      avail = keep;
      Atomics.store(this.idx, 1, r);
    }
    if (avail < n) return false;
    const data = this.data;
    const mask = this.mask;
    for (let i = 0; i < n; i++) dst[i] = data[(r + i) & mask]!;
    Atomics.store(this.idx, 1, (r + n) | 0);
    return true;
  }
}

/** The two rings of one member over its shared buffer. */
export function memberRings(buf: SharedArrayBuffer | ArrayBuffer, byteOffset = 0): { up: PcmRing; down: PcmRing } {
  return { up: new PcmRing(buf, byteOffset), down: new PcmRing(buf, byteOffset + RING_BYTES) };
}

/**
 * The member's end, in the worker that owns its RTP socket: received audio goes `up`, paced frames come `down`.
 */
export class MemberPort {
  readonly up: PcmRing;
  readonly down: PcmRing;
  private readonly frame = new Int16Array(FRAME_SAMPLES);

  constructor(buf: SharedArrayBuffer) {
    const r = memberRings(buf);
    this.up = r.up;
    this.down = r.down;
  }

  /** Fill `buf[from, from+160)` with the next mixed frame, G.711-encoded by `enc` (indexed by sample & 0xffff); silence when none is ready. */
  fill(buf: Uint8Array, from: number, enc: Uint8Array, silence: number): void {
    const f = this.frame;
    if (this.down.readFrame(f, FRAME_SAMPLES)) {
      for (let k = 0; k < FRAME_SAMPLES; k++) buf[from + k] = enc[f[k]! & 0xffff]!;
    } else {
      buf.fill(silence, from, from + FRAME_SAMPLES);
    }
  }
}

export interface MemberFlags {
  /** Heard by nobody. */
  readonly muted: boolean;
  /** Hears nothing. */
  readonly deaf: boolean;
  readonly moderator: boolean;
}

export interface RoomOptions {
  readonly entryTone: boolean;
  readonly exitTone: boolean;
  /** Members (not moderators) are held in silence, neither heard nor hearing, until a moderator is in the room. */
  readonly waitForModerator: boolean;
}

/** Entry: a rising two-note beep; exit: a falling one (frequencies away from DTMF and the tests' tones). */
const BEEP_AMPLITUDE = 6000;
export const ENTRY_TONE: Int16Array = concat(tone(880, { durationMs: 100, amplitude: BEEP_AMPLITUDE }), tone(1320, { durationMs: 100, amplitude: BEEP_AMPLITUDE }));
export const EXIT_TONE: Int16Array = concat(tone(1320, { durationMs: 100, amplitude: BEEP_AMPLITUDE }), tone(880, { durationMs: 100, amplitude: BEEP_AMPLITUDE }));

function concat(a: Int16Array, b: Int16Array): Int16Array {
  const out = new Int16Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

class Member {
  readonly up: PcmRing;
  readonly down: PcmRing;
  readonly input = new Int16Array(FRAME_SAMPLES);
  readonly output = new Int16Array(FRAME_SAMPLES);
  /** This tick: the member's frame is part of the sum. */
  inMix = false;
  constructor(readonly mid: number, buf: SharedArrayBuffer | ArrayBuffer, public flags: MemberFlags) {
    const r = memberRings(buf);
    this.up = r.up;
    this.down = r.down;
  }
}

class Room {
  readonly members: Member[] = [];
  readonly sum = new Int32Array(FRAME_SAMPLES);
  deadline = 0;
  moderators = 0;
  tone: Int16Array | undefined;
  tonePos = 0;
  constructor(readonly rid: number, readonly opts: RoomOptions) {}
}

/** Sum minus own frame, clipped: what one member hears. */
export function mixMinusOwn(sum: Int32Array, own: Int16Array | undefined, out: Int16Array, n = FRAME_SAMPLES): void {
  for (let i = 0; i < n; i++) {
    const v = own !== undefined ? sum[i]! - own[i]! : sum[i]!;
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
}

/** Every room of one worker. */
export class Mixer {
  private readonly rooms = new Map<number, Room>();
  private readonly list: Room[] = [];
  private members = 0;
  /** Frames mixed (per room per tick), for stats and tests. */
  frames = 0;

  get roomCount(): number { return this.list.length; }
  get memberCount(): number { return this.members; }

  /** Add a member (creating the room on first use, with `opts`); returns the room's next deadline. */
  join(rid: number, mid: number, buf: SharedArrayBuffer | ArrayBuffer, flags: MemberFlags, opts: RoomOptions, now: number): number {
    let room = this.rooms.get(rid);
    if (!room) {
      room = new Room(rid, opts);
      room.deadline = now;
      this.rooms.set(rid, room);
      this.list.push(room);
    }
    if (room.members.length >= MAX_ROOM_MEMBERS || room.members.some((m) => m.mid === mid)) return room.deadline;
    room.members.push(new Member(mid, buf, flags));
    this.members++;
    if (flags.moderator) room.moderators++;
    if (room.opts.entryTone) { room.tone = ENTRY_TONE; room.tonePos = 0; }
    return room.deadline;
  }

  /** Remove a member; an empty room is removed. */
  leave(rid: number, mid: number): void {
    const room = this.rooms.get(rid);
    if (!room) return;
    const i = room.members.findIndex((m) => m.mid === mid);
    if (i < 0) return;
    const [m] = room.members.splice(i, 1);
    this.members--;
    if (m!.flags.moderator) room.moderators--;
    if (room.members.length === 0) {
      this.rooms.delete(rid);
      const j = this.list.indexOf(room);
      if (j >= 0) this.list.splice(j, 1);
      return;
    }
    if (room.opts.exitTone) { room.tone = EXIT_TONE; room.tonePos = 0; }
  }

  /** Mix every due room; returns the earliest next deadline (Infinity without rooms). */
  tick(now: number): number {
    let next = Infinity;
    const list = this.list;
    for (let i = 0; i < list.length; i++) {
      const room = list[i]!;
      let d = room.deadline;
      if (d - now <= EARLY_MS) {
        if (now - d > RESYNC_MS) d += Math.floor((now - d) / FRAME_MS) * FRAME_MS;
        this.mix(room);
        d += FRAME_MS;
        room.deadline = d;
      }
      if (d < next) next = d;
    }
    return next;
  }

  /** One 20 ms frame for every member of `room`. */
  mix(room: Room): void {
    this.frames++;
    const sum = room.sum;
    sum.fill(0);
    const held = room.opts.waitForModerator && room.moderators === 0;
    const members = room.members;
    for (let j = 0; j < members.length; j++) {
      const m = members[j]!;
      // always drain the up ring (a held or muted member's audio is read and dropped, keeping its delay bounded)
      const got = m.up.readFrame(m.input, FRAME_SAMPLES);
      m.inMix = got && !m.flags.muted && !(held && !m.flags.moderator);
      if (m.inMix) {
        const x = m.input;
        for (let k = 0; k < FRAME_SAMPLES; k++) sum[k] += x[k]!;
      }
    }
    const t = room.tone;
    if (t !== undefined) {
      let p = room.tonePos;
      for (let k = 0; k < FRAME_SAMPLES && p < t.length; k++, p++) sum[k] += t[p]!;
      if (p >= t.length) room.tone = undefined;
      room.tonePos = p;
    }
    for (let j = 0; j < members.length; j++) {
      const m = members[j]!;
      if (m.flags.deaf || (held && !m.flags.moderator)) m.output.fill(0);
      else mixMinusOwn(sum, m.inMix ? m.input : undefined, m.output);
      m.down.write(m.output, FRAME_SAMPLES);
    }
  }
}
