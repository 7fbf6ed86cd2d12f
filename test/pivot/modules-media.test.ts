/** play, menu, temporal_route, webhook, send_dtmf, response.media over a fake call on a FakeClock. */
import t, { type Test } from 'tap';
import { FakeClock } from '../../src/util/clock.js';
import { PivotSession, type PivotSessionOptions } from '../../src/pivot/session.js';
import type { CallflowNode } from '../../src/pivot/callflow.js';
import type { MediaSource, StoredMenu, StoredTemporalRule } from '../../src/pivot/stored.js';
import { MediaFetchError } from '../../src/media/fetch.js';
import { ruleMatches, localParts } from '../../src/pivot/temporal.js';
import { webhooksInFlight } from '../../src/pivot/modules/webhook.js';
import { FakeCall, drive, startServer, reply, realDelay, type FakeCallOptions } from './helpers.js';

/** A media source serving fixed buffers: `http://m/<n>ms` → n ms of audio; anything else fails. */
class FakeMedia implements MediaSource {
  readonly loads: string[] = [];
  private readonly bufs = new Map<string, Int16Array>();
  load(url: string): Promise<Int16Array> {
    this.loads.push(url);
    const m = /^http:\/\/m\/(\d+)ms/.exec(url);
    if (!m) return Promise.reject(new MediaFetchError('MEDIA_HTTP_STATUS', 'HTTP 404', 404));
    let b = this.bufs.get(url);
    if (!b) { b = new Int16Array(Number(m[1]) * 8).fill(1000); this.bufs.set(url, b); }
    return Promise.resolve(b);
  }
  loadFile(path: string): Promise<Int16Array> { return this.load(`http://m/${path}`); }
}

interface Env { clock: FakeClock; call: FakeCall; media: FakeMedia; session: PivotSession; run(root: CallflowNode): Promise<{ reason: string }> }

function setup(opts: Partial<PivotSessionOptions> = {}, callOpts: FakeCallOptions = {}): Env {
  const clock = new FakeClock();
  const call = new FakeCall(clock, callOpts);
  const media = new FakeMedia();
  const session = new PivotSession(call, { clock, media, ...opts });
  return { clock, call, media, session, run: (root) => drive(clock, () => session.requestsInFlight, session.run(root)) };
}

const audioMs = (env: Env): number[] => env.call.played.flatMap((p) => (p.prompt.kind === 'audio' ? [p.prompt.pcm.length / 8] : []));

function clean(tt: Test, env: Env): void {
  tt.equal(env.clock.pendingTimers, 0, 'no timers left');
  tt.equal(env.call.listenerCount, 0, 'no listeners left');
  tt.ok(env.call.ended, 'call ended');
}

t.test('6. chained media: tts, then a URL, then hangup', async (tt) => {
  const env = setup();
  const out = await env.run({ module: 'tts', data: { text: 'One' }, children: { _: { module: 'play', data: { id: 'http://m/700ms/two.mp3' }, children: { _: { module: 'hangup', data: {} } } } } });
  tt.equal(out.reason, 'hangup');
  tt.same(env.call.spoken, ['One']);
  tt.same(audioMs(env), [700]);
  tt.ok(env.call.played[1]!.at >= 2000, 'played after the speech');
  clean(tt, env);
});

t.test('8. loop_count 3 plays the media three times', async (tt) => {
  const env = setup();
  await env.run({ module: 'play', data: { id: 'http://m/300ms/beep.wav', loop_count: 3 } });
  tt.same(audioMs(env), [300, 300, 300]);
  tt.equal(env.media.loads.length, 1, 'fetched once');
  tt.equal(env.call.endedAt, 900);
  clean(tt, env);
});

t.test('9. no id / unknown id / fetch failure → skipped → _', async (tt) => {
  for (const data of [{}, { id: '' }, { id: 'no-such-media' }, { id: 'http://m/missing.wav' }, { id: 'ftp://x/y.wav' }]) {
    const env = setup();
    await env.run({ module: 'play', data, children: { _: { module: 'tts', data: { text: 'after' } } } });
    tt.same(env.call.spoken, ['after'], JSON.stringify(data));
    tt.same(audioMs(env), []);
    clean(tt, env);
  }
});

t.test('stored media ids (url, file, tts) and tts:// references', async (tt) => {
  const env = setup({ stored: { media: new Map([['greet', { url: 'http://m/400ms/g.wav' }], ['disk', { file: '250ms.wav' }], ['said', { tts: 'Stored words' }]]) } });
  await env.run({ module: 'play', data: { id: 'greet' }, children: { _: { module: 'play', data: { id: 'disk' }, children: { _: { module: 'play', data: { id: 'said' }, children: { _: { module: 'play', data: { id: 'tts://Inline words' } } } } } } } });
  tt.same(audioMs(env), [400, 250]);
  tt.same(env.call.spoken, ['Stored words', 'Inline words']);
  clean(tt, env);
});

t.test('terminators cut play (type-ahead into default); endless_playback loops until hang-up, uninterruptible', async (tt) => {
  const env = setup();
  env.call.at(150, () => env.call.press('5'));
  await env.run({ module: 'play', data: { id: 'http://m/1000ms', loop_count: 3, terminators: ['5'] }, children: { _: { module: 'collect_dtmf', data: { max_digits: 1, collection_name: 'x' } } } });
  tt.equal(env.call.played[0]!.outcome, 'stopped');
  tt.equal(env.call.played.length, 1, 'a terminator ends all loops');
  tt.same([...env.session.collections], [['x', '5']], 'the key is the first collected digit');
  clean(tt, env);

  const e2 = setup();
  e2.call.at(4500, () => e2.call.press('1'));
  e2.call.at(5100, () => e2.call.remoteHangup());
  const out = await e2.run({ module: 'play', data: { id: 'http://m/1000ms', endless_playback: true } });
  tt.equal(out.reason, 'caller_hangup');
  tt.equal(e2.call.played.length, 6, 'looped until the caller hung up');
  tt.equal(e2.call.played[4]!.outcome, 'finished', 'a key does not stop endless playback');
  clean(tt, e2);
});

t.test('answer: false plays early media without answering', async (tt) => {
  const env = setup();
  await env.run({ module: 'play', data: { id: 'http://m/500ms', answer: false }, children: { _: { module: 'response', data: { code: 486, message: 'Busy Here' } } } });
  tt.equal(env.call.played[0]!.earlyMedia, true);
  tt.notOk(env.call.answered, 'never answered');
  tt.same(env.call.hangups, [{ code: 486, reason: 'Busy Here' }]);
  clean(tt, env);
});

t.test('response.media plays before the final response (early media)', async (tt) => {
  const env = setup();
  await env.run({ module: 'response', data: { code: 503, media: 'http://m/300ms/sorry.wav' } });
  tt.equal(env.call.played[0]!.earlyMedia, true);
  tt.same(audioMs(env), [300]);
  tt.same(env.call.hangups, [{ code: 503 }]);
  tt.notOk(env.call.answered);
  clean(tt, env);
});

t.test('send_dtmf: duration clamped to 20-8000 ms, w/W pauses', async (tt) => {
  const env = setup();
  await env.run({ module: 'send_dtmf', data: { digits: '12w3W#', duration_ms: 20000 }, children: { _: { module: 'send_dtmf', data: { digits: '9' } } } });
  tt.same(env.call.sentDtmf, [{ digits: '12', durationMs: 8000 }, { digits: '3', durationMs: 8000 }, { digits: '#', durationMs: 8000 }, { digits: '9', durationMs: 2000 }]);
  clean(tt, env);
});

// ------------------------------------------------------------------------------------------ menu

const MENU: StoredMenu = { retries: 3, timeout: 3000, interdigitTimeout: 1000, maxExtensionLength: 2, greeting: 'tts://Press 1 for sales, 2 for support' };

function menuFlow(children: Record<string, CallflowNode>): CallflowNode {
  return { module: 'menu', data: { id: 'main' }, children };
}
const say = (text: string): CallflowNode => ({ module: 'tts', data: { text } });

t.test('menu: a key during the greeting cuts it and branches', async (tt) => {
  const env = setup({ stored: { menus: new Map([['main', MENU]]) } });
  env.call.at(500, () => env.call.press('2'));
  await env.run(menuFlow({ '1': say('sales'), '2': say('support'), _: say('default') }));
  tt.same(env.call.spoken, ['Press 1 for sales, 2 for support', 'support']);
  tt.equal(env.call.played[0]!.outcome, 'stopped');
  tt.equal(env.session.collections.size, 0, 'menu keys are not a Digits collection');
  clean(tt, env);
});

t.test('menu: multi-digit entry, # ends it early; typed-ahead keys skip the greeting', async (tt) => {
  const env = setup({ stored: { menus: new Map([['main', { ...MENU, maxExtensionLength: 4 }]]) } });
  env.call.at(2500, () => env.call.press('2'));
  env.call.at(2800, () => env.call.press('3'));
  env.call.at(3100, () => env.call.press('#'));
  await env.run(menuFlow({ '23': say('twenty-three'), _: say('default') }));
  tt.same(env.call.spoken, ['Press 1 for sales, 2 for support', 'twenty-three']);

  const e2 = setup({ stored: { menus: new Map([['main', MENU]]) } });
  e2.call.press('1');
  await e2.run({ module: 'noop', data: {}, children: { _: menuFlow({ '1': say('sales') }) } });
  tt.same(e2.call.spoken, ['sales'], 'greeting skipped');
});

t.test('menu: invalid entries replay with the invalid prompt; retries exhausted → exit prompt → _', async (tt) => {
  const env = setup({ stored: { menus: new Map([['main', { ...MENU, maxExtensionLength: 1 }]]) } });
  env.call.onPlay = (p): void => {
    if (p.prompt.kind === 'tts' && p.prompt.text.startsWith('Press')) env.call.at(100, () => env.call.press('9'));
  };
  await env.run(menuFlow({ '1': say('sales'), _: say('after menu') }));
  tt.same(env.call.spoken, [
    'Press 1 for sales, 2 for support', 'That is not a valid option.',
    'Press 1 for sales, 2 for support', 'That is not a valid option.',
    'Press 1 for sales, 2 for support', 'That is not a valid option.',
    'Goodbye.', 'after menu',
  ]);
  clean(tt, env);
});

t.test('menu: timeout and max_retries children; stored invalid/exit prompts; unknown menu → _', async (tt) => {
  const env = setup({ stored: { menus: new Map([['main', MENU]]) } });
  await env.run(menuFlow({ timeout: say('nothing entered'), _: say('default') }));
  tt.same(env.call.spoken, ['Press 1 for sales, 2 for support', 'nothing entered']);
  tt.equal(env.call.played[1]!.at, 2000 + 3000, 'timeout after the greeting');

  const e2 = setup({ stored: { menus: new Map([['main', { ...MENU, retries: 2, invalidMedia: 'http://m/200ms/invalid.wav', exitMedia: false }]]) } });
  e2.call.onPlay = (p): void => { if (p.prompt.kind === 'tts') e2.call.at(10, () => e2.call.press('77')); };
  await e2.run(menuFlow({ max_retries: say('too many tries'), _: say('default') }));
  tt.same(e2.call.spoken, ['Press 1 for sales, 2 for support', 'Press 1 for sales, 2 for support', 'too many tries']);
  tt.same(audioMs(e2), [200], 'invalid prompt only between attempts when max_retries follows');

  const e3 = setup({ stored: { menus: new Map([['main', { ...MENU, retries: 2 }]]) } });
  await e3.run(menuFlow({ _: say('no entry at all') }));
  tt.same(e3.call.spoken, ['Press 1 for sales, 2 for support', 'Press 1 for sales, 2 for support', 'Goodbye.', 'no entry at all'], 'silence: retries without the invalid prompt');

  const e4 = setup();
  await e4.run(menuFlow({ _: say('no such menu') }));
  tt.same(e4.call.spoken, ['no such menu']);
  clean(tt, e4);
});

// ------------------------------------------------------------------------------------------ temporal

const BH: StoredTemporalRule = { wdays: [1, 2, 3, 4, 5], timeWindowStart: 9 * 3600, timeWindowStop: 17 * 3600 };

t.test('temporal rules: time window, weekdays, dates, zones, spans midnight, sets', async (tt) => {
  // Wed 2026-11-25 15:00 UTC = 10:00 in New York (EST, UTC-5).
  const wed15utc = Date.UTC(2026, 10, 25, 15, 0, 0);
  tt.same(localParts(wed15utc, 'America/New_York'), { year: 2026, month: 11, day: 25, wday: 3, secs: 36000, date: '2026-11-25' });
  tt.ok(ruleMatches(BH, wed15utc, 'America/New_York'), '10:00 NY on a Wednesday: open');
  tt.notOk(ruleMatches(BH, wed15utc, 'Asia/Tokyo'), '00:00 Thursday in Tokyo: closed');
  tt.ok(ruleMatches({ ...BH, timezone: 'America/New_York' }, wed15utc), 'the rule\'s own zone');
  tt.ok(ruleMatches({ ...BH, timezone: 'Asia/Tokyo' }, wed15utc, 'America/New_York'), 'the node zone wins');
  tt.notOk(ruleMatches(BH, Date.UTC(2026, 10, 28, 15), 'America/New_York'), 'Saturday: closed');
  tt.notOk(ruleMatches(BH, Date.UTC(2026, 10, 25, 22, 0), 'America/New_York'), '17:00 NY: stop is exclusive');
  const night: StoredTemporalRule = { timeWindowStart: 22 * 3600, timeWindowStop: 6 * 3600 };
  tt.ok(ruleMatches(night, Date.UTC(2026, 0, 1, 23)), '23:00 in a 22-06 window');
  tt.ok(ruleMatches(night, Date.UTC(2026, 0, 1, 3)), '03:00 in a 22-06 window');
  tt.notOk(ruleMatches(night, Date.UTC(2026, 0, 1, 12)), 'noon outside');
  tt.ok(ruleMatches({ dates: ['12-25'] }, Date.UTC(2031, 11, 25, 10)), 'yearly date');
  tt.ok(ruleMatches({ dates: ['2026-12-24'] }, Date.UTC(2026, 11, 24, 10)), 'one date');
  tt.notOk(ruleMatches({ dates: ['2026-12-24'] }, Date.UTC(2027, 11, 24, 10)), 'not another year');
  tt.notOk(ruleMatches({ startDate: '2027-01-01' }, Date.UTC(2026, 11, 31, 23)), 'before start_date');
  tt.ok(ruleMatches({ endDate: '2026-12-31' }, Date.UTC(2026, 11, 31, 23)), 'end_date inclusive');
  tt.ok(ruleMatches({ ...BH, enabled: true }, Date.UTC(2026, 10, 28, 3)), 'forced on');
  tt.notOk(ruleMatches({ enabled: false }, wed15utc), 'forced off');
  const rules = new Map<string, StoredTemporalRule>([['xmas', { dates: ['12-25'] }], ['ny', { dates: ['01-01'] }]]);
  tt.ok(ruleMatches({ temporalRules: ['xmas', 'ny'] }, Date.UTC(2026, 0, 1, 12), undefined, (id) => rules.get(id)), 'rule set');
  tt.notOk(ruleMatches({ temporalRules: ['loop'] }, 0, undefined, () => ({ temporalRules: ['loop'] })), 'a cyclic set terminates');
});

t.test('39. temporal_route: open inside the rule, closed outside; first match wins; unknown → _', async (tt) => {
  const flow: CallflowNode = { module: 'temporal_route', data: { rules: ['RULE_BH'], timezone: 'America/New_York' }, children: { RULE_BH: say('open'), _: say('closed') } };
  const stored = { temporalRules: new Map([['RULE_BH', BH], ['ALWAYS', { enabled: true }]]) };
  const open = setup({ stored, now: () => Date.UTC(2026, 10, 25, 15) });
  await open.run(flow);
  tt.same(open.call.spoken, ['open']);
  clean(tt, open);
  const closed = setup({ stored, now: () => Date.UTC(2026, 10, 25, 23) });
  await closed.run(flow);
  tt.same(closed.call.spoken, ['closed']);
  const childKey = setup({ stored, now: () => Date.UTC(2026, 10, 25, 23) });
  await childKey.run({ module: 'temporal_route', data: {}, children: { NOPE: say('nope'), ALWAYS: say('always'), _: say('closed') } });
  tt.same(childKey.call.spoken, ['always'], 'child keys are rule ids too; unknown ids never match');
});

// ------------------------------------------------------------------------------------------ webhook

t.test('webhook: fire and forget with the call parameters and custom_data; retried on 5xx', async (tt) => {
  let n = 0;
  const server = await startServer((_r, res) => { n++; reply(res, 'x', { status: n === 1 ? 503 : 200, type: 'text/plain' }); });
  tt.teardown(() => server.close());
  const env = setup();
  const out = await env.run({ module: 'webhook', data: { uri: `${server.base}/hook`, custom_data: { ticket: '42' } }, children: { _: say('next') } });
  tt.equal(out.reason, 'completed');
  tt.same(env.call.spoken, ['next'], 'the flow did not wait');
  // The retry waits 1 s on the session clock.
  for (let i = 0; i < 50 && server.requests.length < 2; i++) { env.clock.tick(100); await realDelay(10); }
  tt.equal(server.requests.length, 2, 'retried after a 503');
  const body = new URLSearchParams(server.requests[1]!.body);
  tt.equal(server.requests[1]!.method, 'POST');
  tt.equal(body.get('ticket'), '42');
  tt.equal(body.get('Call-ID'), 'call-1@test');
  for (let i = 0; i < 100 && webhooksInFlight() > 0; i++) await realDelay(10);
  tt.equal(webhooksInFlight(), 0, 'nothing left in flight');

  const bad = setup();
  await bad.run({ module: 'webhook', data: { uri: 'http://' }, children: { _: say('still next') } });
  tt.same(bad.call.spoken, ['still next'], 'a bad uri is skipped');
});
