/** The `conference` module over a fake call (FakeClock), and the conferences config section (field-naming errors). */
import t from 'tap';
import { FakeClock } from '../../src/util/clock.js';
import { PivotSession } from '../../src/pivot/session.js';
import type { CallflowNode } from '../../src/pivot/callflow.js';
import { parseConferenceConfig, ConferenceConfigError } from '../../src/pivot/conference-config.js';
import { validateConfig, ConfigError } from '../../src/cli/config.js';
import { validateCallflow } from '../../src/pivot/callflow.js';
import { FakeCall, drive } from './helpers.js';

function field(fn: () => unknown): string {
  try { fn(); return 'no error'; } catch (e) {
    if (e instanceof ConfigError || e instanceof ConferenceConfigError) return e.field;
    return `unexpected ${String(e)}`;
  }
}

t.test('conference config: defaults and bad fields named', async (t) => {
  const s = parseConferenceConfig({ name: 'Room 415' }, 'config');
  t.same(s, {
    name: 'Room 415', maxParticipants: 64, entryTone: true, exitTone: true, waitForModerator: false, requireModerator: false,
    member: { joinMuted: false, joinDeaf: false }, moderator: { joinMuted: false, joinDeaf: false },
  });
  t.equal(parseConferenceConfig({ play_entry_tone: 'tone_stream://%(200,0,500,600)' }, 'c', 'fallback').entryTone, true, 'a tone string plays the beep');
  t.equal(parseConferenceConfig({}, 'c', 'stored-id').name, 'stored-id');
  t.equal(field(() => parseConferenceConfig({}, 'config')), 'config.name', 'ad-hoc needs a name');
  t.equal(field(() => parseConferenceConfig({ name: '' }, 'config')), 'config.name');
  t.equal(field(() => parseConferenceConfig({ name: 'x', colour: 'red' }, 'config')), 'config.colour');
  t.equal(field(() => parseConferenceConfig({ name: 'x', max_participants: 1000 }, 'config')), 'config.max_participants');
  t.equal(field(() => parseConferenceConfig({ name: 'x', member: { join_muted: 'yes' } }, 'config')), 'config.member.join_muted');
  t.equal(field(() => parseConferenceConfig({ name: 'x', moderator: { pins: ['1234'] } }, 'config')), 'config.moderator.pins', 'PINs are refused, not ignored');
  t.equal(field(() => parseConferenceConfig({ name: 'x', member: { volume: 3 } }, 'config')), 'config.member.volume');
  t.equal(field(() => parseConferenceConfig({ name: 'x', play_exit_tone: 3 }, 'config')), 'config.play_exit_tone');
  t.equal(field(() => parseConferenceConfig('Room', 'config')), 'config');

  const c = validateConfig({ conferences: { sales: { name: 'Sales', max_participants: 3, wait_for_moderator: true, moderator: { join_muted: false } } } });
  t.equal(c.conferences.sales!.maxParticipants, 3);
  t.equal(c.conferences.sales!.waitForModerator, true);
  t.same(validateConfig({}).conferences, {});
  t.equal(field(() => validateConfig({ conferences: { sales: { require_moderator: 'no' } } })), 'conferences.sales.require_moderator');
  t.equal(field(() => validateConfig({ conferences: { 'bad id!': {} } })), 'conferences.bad id!');
  t.equal(field(() => validateConfig({ conferences: [] })), 'conferences');
});

function setup(stored?: Record<string, unknown>): { clock: FakeClock; call: FakeCall; run(root: CallflowNode): Promise<{ reason: string }>; session: PivotSession } {
  const clock = new FakeClock();
  const call = new FakeCall(clock);
  const session = new PivotSession(call, { clock, ...(stored ? { storedConfig: { conferences: stored as never } } : {}) });
  return { clock, call, session, run: (root) => drive(clock, () => session.requestsInFlight, session.run(root)) };
}

t.test('36 (module): tts then conference; the caller stays until it hangs up; children never run', async (t) => {
  const env = setup();
  env.call.at(60_000, () => env.call.remoteHangup());
  const out = await env.run({
    module: 'tts', data: { text: 'Joining' },
    children: { _: { module: 'conference', data: { config: { name: 'Room 415' } }, children: { _: { module: 'tts', data: { text: 'child' } } } } },
  });
  t.same(env.call.spoken, ['Joining'], 'the child tts never played');
  t.equal(env.call.conferences.length, 1);
  t.equal(env.call.conferences[0]!.room, 'name:Room 415');
  t.equal(env.call.conferences[0]!.moderator, false);
  t.equal(env.call.endedAt, 60_000, 'in the room until the caller hung up');
  t.match(out.reason, /conference_left|hangup/);
  t.equal(env.clock.pendingTimers, 0);
});

t.test('stored id, moderator flag and node tone overrides; unknown id and bad config end the flow without joining', async (t) => {
  const env = setup({ board: { ...parseConferenceConfig({ name: 'Board', require_moderator: true }, 'c') } });
  env.call.at(1000, () => env.call.remoteHangup());
  await env.run({ module: 'conference', data: { id: 'board', moderator: true, play_entry_tone: false } });
  const req = env.call.conferences[0]!;
  t.equal(req.room, 'id:board');
  t.equal(req.moderator, true);
  t.equal(req.settings.entryTone, false, 'node play_entry_tone overrides');
  t.equal(req.settings.exitTone, true);
  t.equal(req.settings.requireModerator, true);

  const e2 = setup();
  const o2 = await e2.run({ module: 'conference', data: { id: 'nope' }, children: { _: { module: 'tts', data: { text: 'child' } } } });
  t.equal(o2.reason, 'conference_invalid');
  t.equal(e2.call.conferences.length, 0);
  t.same(e2.call.spoken, [], 'children never run, even on failure');
  t.ok(e2.call.ended, 'the flow ended: the call is hung up');

  const e3 = setup();
  const o3 = await e3.run({ module: 'conference', data: { config: { name: 'x', member: { pins: ['1'] } } } });
  t.equal(o3.reason, 'invalid_callflow', 'a bad ad-hoc config is a schema error (a pivot reply would fail over)');
  t.equal(e3.call.conferences.length, 0);

  const e4 = setup();
  e4.call.conferenceOutcome = { kind: 'full' };
  const o4 = await e4.run({ module: 'conference', data: { config: { name: 'x', max_members_media: 'tts://The conference is full' } } });
  t.equal(o4.reason, 'conference_full');
  t.same(e4.call.spoken, ['The conference is full'], 'max_members_media played to a caller turned away');
});

t.test('a reply with a bad ad-hoc conference config fails validation, naming the field', async (t) => {
  const bad = validateCallflow({ module: 'conference', data: { config: { name: 'x', member: { join_muted: 'yes' } } } }, { compat: 'lenient' });
  t.equal(bad.ok, false);
  if (!bad.ok) t.match(bad.errors[0]!.path, /\/data\/config\/member\/join_muted$/);
  const noName = validateCallflow({ module: 'conference', data: { config: {} } }, { compat: 'strict' });
  t.equal(noName.ok, false, 'ad-hoc config without a name');
  const good = validateCallflow({ module: 'conference', data: { config: { name: 'Room 415' } } }, { compat: 'strict' });
  t.equal(good.ok, true);
  if (good.ok) t.equal(good.flow.data.moderator, false, 'moderator defaults to false');
});
