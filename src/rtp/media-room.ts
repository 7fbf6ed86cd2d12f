/**
 * Main-thread handle of a conference room in the media workers (the mixer is `mixer.ts`, in the worker).
 *
 * A room is homed on one worker (the worker of the session that opened it). Each member gets one
 * SharedArrayBuffer with its up/down rings; the home worker is told to mix it (`confJoin`), and the worker
 * that owns the member's RTP socket, which may be another one, is told to feed and drain the rings
 * (`confAttach`). Two messages per join and per leave; no message per packet.
 */
import type { MediaEngine, MediaSession } from './media-engine.js';
import { MEMBER_BYTES, type MemberFlags, type RoomOptions } from './mixer.js';

export type { MemberFlags, RoomOptions } from './mixer.js';

let nextRoomId = 1;
let nextMemberId = 1;

export class MediaRoom {
  readonly rid = nextRoomId++;
  /** Worker index that mixes this room. */
  readonly homeWorker: number;
  private readonly members = new Map<number, MediaSession>();
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
    this.members.set(mid, session);
    this.engine.postTo(this.homeWorker, {
      t: 'confJoin', rid: this.rid, mid, buf, muted: flags.muted, deaf: flags.deaf, moderator: flags.moderator,
      entryTone: this.opts.entryTone, exitTone: this.opts.exitTone, waitForModerator: this.opts.waitForModerator,
    });
    this.engine.postTo(session.slotIndex, { t: 'confAttach', sid: session.sid, buf });
    return mid;
  }

  /** Take a member out of the mix (idempotent). The worker drops the room with its last member. */
  remove(mid: number): void {
    const session = this.members.get(mid);
    if (!session) return;
    this.members.delete(mid);
    if (!session.closed) this.engine.postTo(session.slotIndex, { t: 'confDetach', sid: session.sid });
    this.engine.postTo(this.homeWorker, { t: 'confLeave', rid: this.rid, mid });
  }

  /** Remove every member. */
  close(): void {
    for (const mid of [...this.members.keys()]) this.remove(mid);
    this.closed = true;
  }
}
