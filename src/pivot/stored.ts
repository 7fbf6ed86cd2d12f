/**
 * Stored objects that callflow modules refer to by id (PIVOT.md "Stored objects"): media, menus and
 * temporal rules, as read from the configuration (`media`, `menus`, `temporalRules` sections), and the
 * media source `play`/`menu` fetch audio through.
 *
 * A "prompt reference" (a `play` id, a menu's greeting…) is one of:
 * - an http(s) URL (fetched, decoded, cached: `src/media/fetch.ts`);
 * - `tts://<text>`: spoken with the call's TTS defaults (as Kazoo accepts in media ids);
 * - the id of a stored media (`media: { <id>: { url | file | tts } }`).
 */

import type { ConferenceSettings } from './conference-config.js';

/** A stored media: exactly one of `url`, `file` (a local WAV/MP3 path) or `tts` (text to speak). */
export interface StoredMedia {
  readonly url?: string;
  readonly file?: string;
  readonly tts?: string;
}

/** A stored menu (Kazoo `menus` doc fields, ms for timeouts). */
export interface StoredMenu {
  readonly name?: string;
  /** Attempts before giving up (Kazoo default 3). */
  readonly retries: number;
  /** Wait for the first key after the greeting, ms (default 10000). */
  readonly timeout: number;
  /** Wait between keys, ms (default 2000). */
  readonly interdigitTimeout: number;
  /** Most keys in one entry (default 4); `#` ends an entry early. */
  readonly maxExtensionLength: number;
  /** Prompt reference played at each attempt. */
  readonly greeting?: string;
  /** Played after an entry that matches no child; `false` = nothing; default a short TTS sentence. */
  readonly invalidMedia?: string | false;
  /** Played when the retries run out (and there is no `max_retries` child); `false` = nothing. */
  readonly exitMedia?: string | false;
}

/**
 * A stored temporal rule. Every condition given must hold (wall-clock time in the rule's time zone):
 * - `wdays`: days of the week, 0 = Sunday … 6 = Saturday;
 * - `timeWindowStart`/`timeWindowStop`: seconds since local midnight, stop exclusive; a window whose stop
 *   is before its start spans midnight;
 * - `dates`: `YYYY-MM-DD` (that day) or `MM-DD` (that day every year);
 * - `startDate`/`endDate`: `YYYY-MM-DD`, inclusive.
 * `enabled: true`/`false` forces the rule on/off (Kazoo's override); `temporalRules` makes it a rule set that
 * matches when any of the listed rules does.
 */
export interface StoredTemporalRule {
  readonly name?: string;
  readonly timezone?: string;
  readonly wdays?: readonly number[];
  readonly timeWindowStart?: number;
  readonly timeWindowStop?: number;
  readonly dates?: readonly string[];
  readonly startDate?: string;
  readonly endDate?: string;
  readonly enabled?: boolean;
  readonly temporalRules?: readonly string[];
}

export interface PivotStored {
  readonly media: ReadonlyMap<string, StoredMedia>;
  readonly menus: ReadonlyMap<string, StoredMenu>;
  readonly temporalRules: ReadonlyMap<string, StoredTemporalRule>;
  /** Stored conferences by id (`conference` module's `id`); optional for stores built before conferences. */
  readonly conferences?: ReadonlyMap<string, ConferenceSettings>;
}

export const EMPTY_STORED: PivotStored = { media: new Map(), menus: new Map(), temporalRules: new Map(), conferences: new Map() };

/** Where audio comes from (implemented by `MediaLoader` in `src/media/fetch.ts`): 8 kHz mono PCM16. */
export interface MediaSource {
  load(url: string, signal?: AbortSignal): Promise<Int16Array>;
  loadFile(path: string): Promise<Int16Array>;
}

/** The configuration's plain-object form of the stored sections (`HooklineConfig` has this shape). */
export interface StoredRecords {
  readonly media?: Readonly<Record<string, StoredMedia>>;
  readonly menus?: Readonly<Record<string, StoredMenu>>;
  readonly temporalRules?: Readonly<Record<string, StoredTemporalRule>>;
  readonly conferences?: Readonly<Record<string, ConferenceSettings>>;
}

const converted = new WeakMap<object, PivotStored>();

/** Maps over a config's stored sections, built once per config object. */
export function storedFromRecords(r: StoredRecords): PivotStored {
  let s = converted.get(r);
  if (!s) {
    s = {
      media: new Map(Object.entries(r.media ?? {})),
      menus: new Map(Object.entries(r.menus ?? {})),
      temporalRules: new Map(Object.entries(r.temporalRules ?? {})),
      conferences: new Map(Object.entries(r.conferences ?? {})),
    };
    converted.set(r, s);
  }
  return s;
}
