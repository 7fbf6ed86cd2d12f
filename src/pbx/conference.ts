/**
 * Conference rooms on the main thread: which calls are in which room, participant limits, moderators.
 * The audio is mixed in a media worker (`src/rtp/mixer.ts` via `MediaRoom`); see docs/decisions/020-conference-mixer.md.
 *
 * Ownership: Switch → ConferenceManager → rooms → members (one per call in a room). A room is created by
 * its first member (whose settings it keeps) and removed with its last one, so an empty room never lingers.
 */
import type { Logger } from '../util/logger.js';
import type { MediaEngine, MediaSession } from '../rtp/media-engine.js';
import { MediaRoom } from '../rtp/media-room.js';
import type { ConferenceSettings } from '../pivot/conference-config.js';

export interface ConferenceStats {
  rooms: number;
  members: number;
}

/** One call in a room. `onEnded` fires when the room ends for it (not when it leaves by itself). */
export class ConferenceMember {
  private left = false;
  private endedBy: (() => void) | undefined;
  constructor(private readonly room: Room, readonly mid: number, readonly moderator: boolean) {}

  /** Called once if the room ends while this member is in it. */
  onRoomEnded(fn: () => void): void { this.endedBy = fn; }

  /** Leave the room (idempotent). */
  leave(): void {
    if (this.left) return;
    this.left = true;
    this.room.removeMember(this);
  }

  /** @internal */
  kick(): void {
    if (this.left) return;
    const fn = this.endedBy;
    this.leave();
    try { fn?.(); } catch { /* a listener error must not break the room's teardown */ }
  }
}

class Room {
  readonly members = new Set<ConferenceMember>();
  moderators = 0;
  constructor(
    private readonly manager: ConferenceManager,
    readonly key: string,
    readonly settings: ConferenceSettings,
    readonly media: MediaRoom,
  ) {}

  removeMember(m: ConferenceMember): void {
    if (!this.members.delete(m)) return;
    this.manager.memberLeft();
    this.media.remove(m.mid);
    if (m.moderator) this.moderators--;
    if (this.members.size === 0) { this.manager.roomEmpty(this); return; }
    if (m.moderator && this.moderators === 0 && this.settings.requireModerator) {
      this.manager.log.info({ room: this.settings.name, members: this.members.size }, 'last moderator left: the conference ends');
      for (const other of [...this.members]) other.kick();
    }
  }
}

export type JoinResult = { readonly kind: 'joined'; readonly member: ConferenceMember } | { readonly kind: 'full' };

export class ConferenceManager {
  private readonly rooms = new Map<string, Room>();
  private memberCount = 0;

  constructor(private readonly engine: MediaEngine, readonly log: Logger) {}

  stats(): ConferenceStats {
    return { rooms: this.rooms.size, members: this.memberCount };
  }

  /** Open rooms: name, members, the media worker mixing it and how often it moved after a worker crash. */
  list(): Array<{ name: string; members: number; homeWorker: number; rehomed: number }> {
    return [...this.rooms.values()].map((r) => ({ name: r.settings.name, members: r.members.size, homeWorker: r.media.homeWorker, rehomed: r.media.rehomed }));
  }

  /**
   * Put `session` in the room `key` (created with `settings` if new; an existing room keeps its own settings
   * for room-wide behaviour, while the joiner's role options come from `settings`).
   */
  join(key: string, settings: ConferenceSettings, session: MediaSession, moderator: boolean): JoinResult {
    let room = this.rooms.get(key);
    if (!room) {
      const media = new MediaRoom(this.engine, session, {
        entryTone: settings.entryTone, exitTone: settings.exitTone, waitForModerator: settings.waitForModerator,
      });
      room = new Room(this, key, settings, media);
      this.rooms.set(key, room);
      this.log.info({ room: settings.name, worker: media.homeWorker }, 'conference room opened');
    }
    if (room.members.size >= room.settings.maxParticipants) return { kind: 'full' };
    const role = moderator ? settings.moderator : settings.member;
    const mid = room.media.add(session, { muted: role.joinMuted, deaf: role.joinDeaf, moderator });
    const member = new ConferenceMember(room, mid, moderator);
    room.members.add(member);
    if (moderator) room.moderators++;
    this.memberCount++;
    this.log.info({ room: room.settings.name, members: room.members.size, moderator, worker: session.slotIndex, home: room.media.homeWorker }, 'joined conference');
    return { kind: 'joined', member };
  }

  /** @internal the last member left: the room goes. */
  roomEmpty(room: Room): void {
    if (this.rooms.get(room.key) === room) this.rooms.delete(room.key);
    room.media.close();
    this.log.info({ room: room.settings.name }, 'conference room closed');
  }

  /** @internal a member left (counted here so stats stay exact). */
  memberLeft(): void { this.memberCount--; }

  /** End every room (switch shutdown). */
  close(): void {
    for (const room of [...this.rooms.values()]) for (const m of [...room.members]) m.kick();
  }
}
