/**
 * A conference's settings, read from Kazoo's `conferences` schema fields: a stored conference (config
 * `conferences.<id>`) or the ad-hoc `config` of a `conference` node. One parser for both, naming the bad field.
 * See docs/decisions/020-conference-mixer.md for what each field does in Hookline.
 */

export interface ConferenceRole {
  /** Joins muted: heard by nobody. Default false (Kazoo's schema says true for members; its UI and docs use false). */
  readonly joinMuted: boolean;
  /** Joins deaf: hears nothing. Default false. */
  readonly joinDeaf: boolean;
}

export interface ConferenceSettings {
  /** Friendly name; for an ad-hoc conference the same name means the same room. */
  readonly name: string;
  /** Most participants (1-64); more hear `maxMembersMedia` (when set) and are hung up. */
  readonly maxParticipants: number;
  readonly maxMembersMedia?: string;
  /** Beep into the room when someone joins / leaves. Default true. */
  readonly entryTone: boolean;
  readonly exitTone: boolean;
  /** Members (not moderators) wait in silence until a moderator is in the room. */
  readonly waitForModerator: boolean;
  /** When the last moderator leaves, the conference ends for everyone. */
  readonly requireModerator: boolean;
  readonly member: ConferenceRole;
  readonly moderator: ConferenceRole;
}

/** Hard bound on a room's size (the mixer's per-tick work is O(members)). */
export const MAX_CONFERENCE_MEMBERS = 64;

export class ConferenceConfigError extends Error {
  readonly code = 'CONFERENCE_CONFIG_INVALID';
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'ConferenceConfigError';
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => JSON.stringify(v) ?? String(v);

/** Kazoo `conferences` fields accepted but without effect in Hookline (documented as such). */
const IGNORED = ['conference_numbers', 'owner_id', 'focus', 'language', 'profile', 'profile_name', 'moderator_controls', 'caller_controls', 'controls', 'domain', 'bridge_username', 'bridge_password', 'play_welcome', 'play_name', 'ui_metadata', 'id'];
const FIELDS = ['name', 'member', 'moderator', 'play_entry_tone', 'play_exit_tone', 'max_participants', 'max_members_media', 'wait_for_moderator', 'require_moderator', ...IGNORED];
const ROLE_FIELDS = ['join_muted', 'join_deaf', 'numbers', 'pins', 'play_entry_prompt'];

function bool(o: Obj, key: string, path: string, def: boolean): boolean {
  const v = o[key];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'boolean') throw new ConferenceConfigError(`${path}.${key}`, `expected true or false, got ${show(v)}`);
  return v;
}

/** `play_entry_tone` / `play_exit_tone`: a boolean, or a tone/media string (Kazoo), which plays the built-in beep. */
export function toneFlag(o: Obj, key: string, path: string, def: boolean): boolean {
  const v = o[key];
  if (v === undefined || v === null) return def;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && v.length > 0 && v.length <= 2048) return true;
  throw new ConferenceConfigError(`${path}.${key}`, `expected true, false or a tone/media string, got ${show(v)}`);
}

function role(o: Obj, key: string, path: string): ConferenceRole {
  const v = o[key];
  if (v === undefined || v === null) return { joinMuted: false, joinDeaf: false };
  const p = `${path}.${key}`;
  if (!isObj(v)) throw new ConferenceConfigError(p, `expected an object {join_muted, join_deaf}, got ${show(v)}`);
  for (const k of Object.keys(v)) {
    if (!ROLE_FIELDS.includes(k)) throw new ConferenceConfigError(`${p}.${k}`, `unknown field (expected one of: ${ROLE_FIELDS.join(', ')})`);
  }
  for (const k of ['pins', 'numbers']) {
    const list = v[k];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) throw new ConferenceConfigError(`${p}.${k}`, 'expected a list of strings');
    if (k === 'pins' && list.length > 0) throw new ConferenceConfigError(`${p}.pins`, 'PIN entry is not supported yet (leave pins empty)');
  }
  if (v.play_entry_prompt !== undefined) bool(v, 'play_entry_prompt', p, true);
  return { joinMuted: bool(v, 'join_muted', p, false), joinDeaf: bool(v, 'join_deaf', p, false) };
}

/**
 * Validate a conference object. `defaultName` names a stored conference without `name` (its id);
 * an ad-hoc `config` must carry a name (it is what identifies the room).
 */
export function parseConferenceConfig(v: unknown, path: string, defaultName?: string): ConferenceSettings {
  if (!isObj(v)) throw new ConferenceConfigError(path, `expected a conference object {name, ...}, got ${show(v)}`);
  for (const k of Object.keys(v)) {
    if (!FIELDS.includes(k)) throw new ConferenceConfigError(`${path}.${k}`, `unknown field (expected one of: ${FIELDS.join(', ')})`);
  }
  let name = defaultName;
  if (v.name !== undefined && v.name !== null) {
    if (typeof v.name !== 'string' || v.name.length < 1 || v.name.length > 128) throw new ConferenceConfigError(`${path}.name`, `expected a string of 1-128 characters, got ${show(v.name)}`);
    name = v.name;
  }
  if (name === undefined) throw new ConferenceConfigError(`${path}.name`, 'required (the same name means the same room)');
  let maxParticipants = MAX_CONFERENCE_MEMBERS;
  const mp = v.max_participants;
  if (mp !== undefined && mp !== null && mp !== 0) {
    if (typeof mp !== 'number' || !Number.isInteger(mp) || mp < 1 || mp > MAX_CONFERENCE_MEMBERS) {
      throw new ConferenceConfigError(`${path}.max_participants`, `expected an integer 1-${MAX_CONFERENCE_MEMBERS} (0 = the limit), got ${show(mp)}`);
    }
    maxParticipants = mp;
  }
  let maxMembersMedia: string | undefined;
  if (v.max_members_media !== undefined && v.max_members_media !== null) {
    if (typeof v.max_members_media !== 'string' || v.max_members_media.trim() === '' || v.max_members_media.length > 2048) {
      throw new ConferenceConfigError(`${path}.max_members_media`, `expected a media id, an http(s) URL or tts://text, got ${show(v.max_members_media)}`);
    }
    maxMembersMedia = v.max_members_media;
  }
  for (const k of ['play_welcome', 'play_name']) if (v[k] !== undefined && v[k] !== null) bool(v, k, path, false);
  if (v.conference_numbers !== undefined && v.conference_numbers !== null
    && (!Array.isArray(v.conference_numbers) || !v.conference_numbers.every((x) => typeof x === 'string'))) {
    throw new ConferenceConfigError(`${path}.conference_numbers`, 'expected a list of strings');
  }
  return {
    name,
    maxParticipants,
    ...(maxMembersMedia !== undefined ? { maxMembersMedia } : {}),
    entryTone: toneFlag(v, 'play_entry_tone', path, true),
    exitTone: toneFlag(v, 'play_exit_tone', path, true),
    waitForModerator: bool(v, 'wait_for_moderator', path, false),
    requireModerator: bool(v, 'require_moderator', path, false),
    member: role(v, 'member', path),
    moderator: role(v, 'moderator', path),
  };
}
