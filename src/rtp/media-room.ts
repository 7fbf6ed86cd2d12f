/**
 * Main-thread handle of a conference room in the media workers (the mixer is `mixer.ts`, in the worker).
 *
 * A room is homed on one worker (the worker of the session that opened it). Each member gets one
 * SharedArrayBuffer with its up/down rings; the home worker is told to mix it (`confJoin`), and the worker
 * that owns the member's RTP socket, which may be another one, is told to feed and drain the rings
 * (`confAttach`). Two messages per join and per leave; no message per packet.
 *
 * If the home worker crashes (seen as a member session on it closing with 'worker-crash'), the room is re-homed
 * on a surviving member's worker: the survivors are joined there again with their same rings.
 */
import type { CloseReason, MediaEngine, MediaSession } from './media-engine.js';
import { MEMBER_BYTES, type MemberFlags, type RoomOptions } from './mixer.js';

export type { MemberFlags, RoomOptions } from './mixer.js';

let nextRoomId = 1;
let nextMemberId = 1;

interface Entry {
  readonly session: MediaSession;
  readonly flags: MemberFlags;
  readonly buf: SharedArrayBuffer;
  readonly onClose: (reason: CloseReason) => void;
}

export class MediaRoom {
  readonly rid = nextRoomId++;
  /** Worker index that mixes this room (changes if that worker crashes). */
  homeWorker: number;
  /** Times the room moved to another worker after a crash. */
  rehomed = 0;
  private readonly members = new Map<number, Entry>();
  private closed = false;

  constructor(private readonly engine: MediaEngine, home: MediaSession, private readonly opts: RoomOptions) {
    this.homeWorker = home.slotIndex;
  }

  get size(): number { return this.members.size; }

  /** Add a session to the mix; returns the member id (for `remove`). */
  add(session: MediaSession, flags: MemberFlags): number {
    if (this.closed) throw new Error('room closed');
    const mid = nextMemberId++;
    const buf = new SharedArrayBuffer(MEMBER_BYTES);
    const onClose = (reason: CloseReason): void => { if (reason === 'worker-crash') this.workerCrashed(session.slotIndex); };
    session.on('close', onClose);
    this.members.set(mid, { session, flags, buf, onClose });
    this.mixHere(mid, buf, flags);
    this.engine.postTo(session.slotIndex, { t: 'confAttach', sid: session.sid, buf });
    return mid;
  }

  private mixHere(mid: number, buf: SharedArrayBuffer, flags: MemberFlags): void {
    this.engine.postTo(this.homeWorker, {
      t: 'confJoin', rid: this.rid, mid, buf, muted: flags.muted, deaf: flags.deaf, moderator: flags.moderator,
      entryTone: this.opts.entryTone, exitTone: this.opts.exitTone, waitForModerator: this.opts.waitForModerator,
    });
  }

  /** The mix died with the home worker: move it to a surviving member's worker, with the same rings. */
  private workerCrashed(index: number): void {
    if (this.closed || index !== this.homeWorker) return;
    const survivors = [...this.members.entries()].filter(([, e]) => e.session.slotIndex !== index && !e.session.closed);
    if (survivors.length === 0) return;
    this.homeWorker = survivors[0]![1].session.slotIndex;
    this.rehomed++;
    for (const [mid, e] of survivors) this.mixHere(mid, e.buf, e.flags);
  }

  /** Take a member out of the mix (idempotent). The worker drops the room with its last member. */
  remove(mid: number): void {
    const entry = this.members.get(mid);
    if (!entry) return;
    this.members.delete(mid);
    const session = entry.session;
    session.off('close', entry.onClose);
    if (!session.closed) this.engine.postTo(session.slotIndex, { t: 'confDetach', sid: session.sid });
    this.engine.postTo(this.homeWorker, { t: 'confLeave', rid: this.rid, mid });
  }

  /** Remove every member. */
  close(): void {
    for (const mid of [...this.members.keys()]) this.remove(mid);
    this.closed = true;
  }
}
