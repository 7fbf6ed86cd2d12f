/**
 * `conference` (PIVOT.md 3.x): put the caller in a conference room. The callflow ends here: children never
 * run, the caller stays in the room until they hang up (or the room ends), then the call is hung up.
 *
 * - `id`: a stored conference (config `conferences.<id>`); `config`: an ad-hoc one (Kazoo `conferences`
 *   fields, `name` required; the same name in the same account means the same room).
 * - `moderator`: join as moderator (see `wait_for_moderator` / `require_moderator`).
 * - `play_entry_tone` / `play_exit_tone` on the node override the conference's own (booleans; a tone
 *   string plays the built-in beep).
 * - `welcome_prompt.media_id` is played before joining unless `welcome_prompt.play` is false (Kazoo's
 *   default system prompt does not exist here: without a media id nothing is played).
 * - Full room (`max_participants`): `max_members_media` is played, then the call hangs up.
 */
import type { ModuleContext, PivotModule, Step } from '../context.js';
import { canConference } from '../call-control.js';
import { ConferenceConfigError, parseConferenceConfig, toneFlag, type ConferenceSettings } from '../conference-config.js';
import { resolvePrompt } from '../media-prompt.js';
import { bool, errText, str } from './data.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The room and its settings for a node, or why there is none. */
export function conferenceFor(data: Obj, ctx: Pick<ModuleContext, 'stored'>): { room: string; settings: ConferenceSettings } | { error: string } {
  let room: string;
  let settings: ConferenceSettings;
  const id = str(data, 'id');
  try {
    if (id !== undefined) {
      const stored = ctx.stored.conferences?.get(id);
      if (!stored) return { error: `unknown conference id ${JSON.stringify(id.slice(0, 64))} (define it under conferences)` };
      room = `id:${id}`;
      settings = stored;
    } else if (data.config !== undefined) {
      settings = parseConferenceConfig(data.config, 'config');
      room = `name:${settings.name}`;
    } else {
      return { error: 'neither id nor config given' };
    }
    const entryTone = toneFlag(data, 'play_entry_tone', 'data', settings.entryTone);
    const exitTone = toneFlag(data, 'play_exit_tone', 'data', settings.exitTone);
    if (entryTone !== settings.entryTone || exitTone !== settings.exitTone) settings = { ...settings, entryTone, exitTone };
  } catch (err) {
    if (err instanceof ConferenceConfigError) return { error: err.message };
    throw err;
  }
  return { room, settings };
}

export const conferenceModule: PivotModule = {
  name: 'conference',
  async run(node, ctx: ModuleContext): Promise<Step> {
    const d = node.data;
    const found = conferenceFor(d, ctx);
    if ('error' in found) {
      ctx.log.warn({ module: 'conference', why: found.error }, 'conference not joined');
      return { kind: 'end', reason: 'conference_invalid' };
    }
    if (!canConference(ctx.call)) {
      ctx.log.warn({ module: 'conference' }, 'this call layer has no conferences');
      return { kind: 'end', reason: 'conference_unavailable' };
    }
    const welcome = isObj(d.welcome_prompt) ? d.welcome_prompt : {};
    const welcomeId = str(welcome, 'media_id');
    if (bool(welcome, 'play') !== false && welcomeId !== undefined) {
      const p = await resolvePrompt(ctx, welcomeId);
      if (p.ok) await ctx.call.play(p.prompt, { signal: ctx.signal });
    }
    if (ctx.signal.aborted || ctx.call.ended) return { kind: 'end', reason: 'caller_hangup' };
    let outcome;
    try {
      outcome = await ctx.call.joinConference({ room: found.room, settings: found.settings, moderator: bool(d, 'moderator') === true }, { signal: ctx.signal });
    } catch (err) {
      ctx.log.error({ module: 'conference', err: errText(err) }, 'joining the conference failed');
      return { kind: 'end', reason: 'conference_failed' };
    }
    ctx.log.info({ module: 'conference', room: found.settings.name, outcome: outcome.kind }, 'conference finished');
    if (outcome.kind === 'full' && found.settings.maxMembersMedia !== undefined && !ctx.call.ended) {
      const p = await resolvePrompt(ctx, found.settings.maxMembersMedia);
      if (p.ok) await ctx.call.play(p.prompt, { signal: ctx.signal });
    }
    return { kind: 'end', reason: `conference_${outcome.kind}` };
  },
};
