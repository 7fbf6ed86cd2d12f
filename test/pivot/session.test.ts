/** PivotSession end to end over a fake call and a real HTTP server (PIVOT.md section 6). */
import t, { type Test } from 'tap';
import { FakeClock } from '../../src/util/clock.js';
import { PivotSession, type PivotSessionOptions } from '../../src/pivot/session.js';
import type { CallflowNode } from '../../src/pivot/callflow.js';
import { PivotDebugStore } from '../../src/pivot/debug-store.js';
import type { PivotModule } from '../../src/pivot/context.js';
import { FakeCall, closedPort, drive, reply, startServer, type FakeCallOptions, type Handler, type TestServer } from './helpers.js';

interface Env {
  server: TestServer;
  clock: FakeClock;
  call: FakeCall;
  session: PivotSession;
  run(root: CallflowNode): Promise<{ reason: string }>;
}

async function setup(tt: Test, handler: Handler, opts: Partial<PivotSessionOptions> = {}, callOpts: FakeCallOptions = {}): Promise<Env> {
  const server = await startServer(handler);
  tt.teardown(() => server.close());
  const clock = new FakeClock();
  const call = new FakeCall(clock, callOpts);
  const session = new PivotSession(call, { clock, ...opts });
  return {
    server, clock, call, session,
    run: (root) => drive(clock, () => session.requestsInFlight, session.run(root)),
  };
}

function rootFlow(base: string, path = '/ivr'): CallflowNode {
  return {
    module: 'pivot',
    data: { voice_url: `${base}${path}`, method: 'post', req_body_format: 'json' },
    children: { _: { module: 'tts', data: { text: 'Service unavailable' } } },
  };
}

function clean(tt: Test, env: Env): void {
  tt.equal(env.clock.pendingTimers, 0, 'no timers left');
  tt.equal(env.call.listenerCount, 0, 'no listeners left');
  tt.ok(env.call.ended, 'call ended');
}

t.test('1. GET with default parameters keeps the existing query', async (tt) => {
  const env = await setup(tt, (_r, res) => reply(res, { module: 'hangup', data: {} }), {}, { info: { callerIdName: undefined } });
  const out = await env.run({ module: 'pivot', data: { voice_url: `${env.server.base}/ivr?tenant=42` } });
  tt.equal(out.reason, 'hangup');
  tt.equal(env.server.requests.length, 1);
  const r = env.server.requests[0]!;
  tt.equal(r.method, 'GET');
  tt.match(r.url, /^\/ivr\?tenant=42&/);
  tt.equal(r.query.get('tenant'), '42');
  tt.equal(r.query.get('Call-ID'), 'call-1@test');
  tt.equal(r.query.get('Account-ID'), 'acct42');
  tt.equal(r.query.get('Api-Version'), '2015-03-01');
  tt.equal(r.query.get('Direction'), 'inbound');
  tt.equal(r.query.get('From'), '15551234567');
  tt.equal(r.query.get('From-Realm'), 'caller.test');
  tt.equal(r.query.get('To'), '2000');
  tt.equal(r.query.get('To-Realm'), 'pbx.test');
  tt.equal(r.query.get('Request'), '2000');
  tt.equal(r.query.get('Request-Realm'), 'pbx.test');
  tt.equal(r.query.get('Caller-ID-Number'), '+15551234567');
  tt.notOk(r.query.has('Caller-ID-Name'), 'unknown name left out');
  tt.notOk([...r.query.keys()].some((k) => k.startsWith('Digits')), 'no Digits');
  for (const [k, v] of r.query) tt.not(v, '', `${k} has a value`);
  tt.equal(r.headers['content-type'], undefined);
  tt.equal(r.body, '');
  tt.equal(env.call.hangups.length, 1);
  clean(tt, env);
});

t.test('2. POST form encodes spaces as +', async (tt) => {
  const env = await setup(tt, (_r, res) => reply(res, { module: 'hangup', data: {} }));
  await env.run({ module: 'pivot', data: { voice_url: `${env.server.base}/ivr`, method: 'POST', req_body_format: 'form' } });
  const r = env.server.requests[0]!;
  tt.equal(r.method, 'POST');
  tt.equal(r.headers['content-type'], 'application/x-www-form-urlencoded');
  tt.match(r.body, /(^|&)Caller-ID-Name=John\+Smith(&|$)/);
  tt.equal(new URLSearchParams(r.body).get('Call-ID'), 'call-1@test');
  clean(tt, env);
});

t.test('3. POST json', async (tt) => {
  const env = await setup(tt, (_r, res) => reply(res, { module: 'hangup', data: {} }), { apiVersion: '4.x' });
  await env.run(rootFlow(env.server.base));
  const r = env.server.requests[0]!;
  tt.equal(r.headers['content-type'], 'application/json');
  const body = JSON.parse(r.body) as Record<string, unknown>;
  tt.equal(body['Call-ID'], 'call-1@test');
  tt.equal(body['Api-Version'], '4.x', 'configurable Api-Version');
  tt.equal(body.Direction, 'inbound');
  tt.equal(body['Caller-ID-Name'], 'John Smith');
  clean(tt, env);
});

t.test('4. twiml parameter names', async (tt) => {
  const env = await setup(tt, (_r, res) => reply(res, { module: 'hangup', data: {} }));
  await env.run({ module: 'pivot', data: { voice_url: `${env.server.base}/x`, req_format: 'twiml' } });
  const q = env.server.requests[0]!.query;
  tt.equal(q.get('CallSid'), 'call-1@test');
  tt.equal(q.get('AccountSid'), 'acct42');
  tt.equal(q.get('ApiVersion'), '2010-04-01');
  tt.equal(q.get('CallerName'), 'John Smith');
  tt.equal(q.get('CallerNumber'), '+15551234567');
  tt.equal(q.get('FromRealm'), 'caller.test');
  tt.equal(q.get('ToRealm'), 'pbx.test');
  tt.equal(q.get('Direction'), 'inbound');
  tt.notOk(q.has('Call-ID'));
  clean(tt, env);
});

t.test('5. TTS then implicit hang-up; the fallback is not played', async (tt) => {
  const env = await setup(tt, (_r, res) => reply(res, { module: 'tts', data: { text: 'Hello from pivot' } }));
  const out = await env.run(rootFlow(env.server.base));
  tt.equal(out.reason, 'completed');
  tt.same(env.call.spoken, ['Hello from pivot']);
  tt.ok(env.call.answered);
  tt.equal(env.server.requests.length, 1);
  tt.equal(env.call.hangups.length, 1);
  tt.equal(env.call.endedAt, 2000, 'hung up when the speech ended');
  clean(tt, env);
});

t.test('lenient say alias; strict rejects say', async (tt) => {
  const body = { module: 'say', data: { text: 'Hi' } };
  const env = await setup(tt, (_r, res) => reply(res, body));
  await env.run(rootFlow(env.server.base));
  tt.same(env.call.spoken, ['Hi']);
  const s = await setup(tt, (_r, res) => reply(res, body), { compat: 'strict' });
  const out = await s.run(rootFlow(s.server.base));
  tt.same(s.call.spoken, [], 'strict: schema error hangs up, no fallback');
  tt.equal(out.reason, 'pivot_schema');
  clean(tt, s);
});

t.test('9. play without id is skipped; play of an unreachable URL → _', async (tt) => {
  const env = await setup(tt, (_r, res) => reply(res, { module: 'play', data: {}, children: { _: { module: 'play', data: { id: 'http://127.0.0.1:1/x.wav' }, children: { _: { module: 'tts', data: { text: 'after' } } } } } }));
  await env.run(rootFlow(env.server.base));
  tt.same(env.call.spoken, ['after']);
  clean(tt, env);
});

t.test('13. named collection, JSON body', async (tt) => {
  const env = await setup(tt, (r, res) => {
    if (r.path === '/ivr') {
      reply(res, { module: 'tts', data: { text: 'Enter your four digit PIN' }, children: { _: { module: 'collect_dtmf', data: { max_digits: 4, collection_name: 'pin' }, children: { _: { module: 'pivot', data: { voice_url: `${env.server.base}/pin`, method: 'post', req_body_format: 'json' } } } } } });
    } else reply(res, { module: 'hangup', data: {} });
  });
  env.call.at(2500, () => env.call.press('1'));
  env.call.at(3000, () => env.call.press('2'));
  env.call.at(3500, () => env.call.press('3'));
  env.call.at(4000, () => env.call.press('4'));
  await env.run(rootFlow(env.server.base));
  tt.equal(env.server.requests.length, 2);
  const r = env.server.requests[1]!;
  tt.equal(r.path, '/pin');
  tt.equal(r.method, 'POST');
  tt.same((JSON.parse(r.body) as { Digits: unknown }).Digits, { pin: '1234' });
  clean(tt, env);
});

t.test('14. default collection, form encoding on GET', async (tt) => {
  const env = await setup(tt, (r, res) => {
    if (r.path === '/ivr') reply(res, { module: 'collect_dtmf', data: {}, children: { _: { module: 'pivot', data: { voice_url: `${env.server.base}/d` } } } });
    else reply(res, { module: 'hangup', data: {} });
  });
  env.call.at(700, () => env.call.press('7'));
  await env.run(rootFlow(env.server.base));
  const r = env.server.requests[1]!;
  tt.equal(r.method, 'GET');
  tt.match(r.url, /Digits\[default\]=7/);
  tt.equal(r.query.get('Digits[default]'), '7');
  clean(tt, env);
});

for (const v of [{ data: {}, keys: '42#', want: '42' }, { data: { terminator: '*' }, keys: '99*', want: '99' }, { data: { terminators: ['*', '0'] }, keys: '123' + '0', want: '123' }]) {
  t.test(`15. terminators: ${v.keys} → ${v.want}`, async (tt) => {
    let at = -1;
    const env = await setup(tt, (r, res) => {
      if (r.path === '/ivr') reply(res, { module: 'collect_dtmf', data: { max_digits: 10, timeout: 5000, ...v.data }, children: { _: { module: 'pivot', data: { voice_url: `${env.server.base}/t`, method: 'post', req_body_format: 'json' } } } });
      else { at = env.clock.now(); reply(res, { module: 'hangup', data: {} }); }
    });
    [...v.keys].forEach((k, i) => env.call.at(1000 + i * 500, () => env.call.press(k)));
    await env.run(rootFlow(env.server.base));
    tt.same((JSON.parse(env.server.requests[1]!.body) as { Digits: unknown }).Digits, { default: v.want });
    tt.equal(at, 1000 + (v.keys.length - 1) * 500, 'request sent straight after the terminator');
    clean(tt, env);
  });
}

t.test('16. no input: after the timeout Digits.default is ""', async (tt) => {
  let at = -1;
  const env = await setup(tt, (r, res) => {
    if (r.path === '/ivr') reply(res, { module: 'collect_dtmf', data: { max_digits: 10, timeout: 5000 }, children: { _: { module: 'pivot', data: { voice_url: `${env.server.base}/t`, method: 'post', req_body_format: 'json' } } } });
    else { at = env.clock.now(); reply(res, { module: 'hangup', data: {} }); }
  });
  await env.run(rootFlow(env.server.base));
  tt.same((JSON.parse(env.server.requests[1]!.body) as { Digits: unknown }).Digits, { default: '' });
  tt.equal(at, 5000);
  clean(tt, env);
});

t.test('interdigit timeout ends a partial collection', async (tt) => {
  let at = -1;
  const env = await setup(tt, (r, res) => {
    if (r.path === '/ivr') reply(res, { module: 'collect_dtmf', data: { max_digits: 4, interdigit_timeout: 3000 }, children: { _: { module: 'pivot', data: { voice_url: `${env.server.base}/t` } } } });
    else { at = env.clock.now(); reply(res, { module: 'hangup', data: {} }); }
  });
  env.call.at(1000, () => env.call.press('5'));
  env.call.at(2000, () => env.call.press('6'));
  await env.run(rootFlow(env.server.base));
  tt.equal(env.server.requests[1]!.query.get('Digits[default]'), '56');
  tt.equal(at, 5000);
  clean(tt, env);
});

for (const status of [500, 404, 503, 201, 204]) {
  t.test(`21. HTTP ${status} → FALLBACK`, async (tt) => {
    const env = await setup(tt, (_r, res) => reply(res, status === 204 ? '' : { module: 'tts', data: { text: 'nope' } }, { status }));
    const out = await env.run(rootFlow(env.server.base));
    tt.same(env.call.spoken, ['Service unavailable']);
    tt.equal(out.reason, 'completed');
    tt.equal(env.call.hangups.length, 1);
    clean(tt, env);
  });
}

t.test('22. connection refused → FALLBACK at once', async (tt) => {
  const port = await closedPort();
  const clock = new FakeClock();
  const call = new FakeCall(clock);
  const session = new PivotSession(call, { clock });
  await drive(clock, () => session.requestsInFlight, session.run(rootFlow(`http://127.0.0.1:${port}`)));
  tt.same(call.spoken, ['Service unavailable']);
  tt.equal(call.played[0]!.at, 0, 'fallback started without waiting');
  tt.equal(clock.pendingTimers, 0);
});

t.test('24. root without _ and a 503 → hang-up', async (tt) => {
  const env = await setup(tt, (_r, res) => reply(res, 'down', { status: 503, type: 'text/plain' }));
  const out = await env.run({ module: 'pivot', data: { voice_url: `${env.server.base}/down` } });
  tt.same(env.call.played, []);
  tt.equal(out.reason, 'completed');
  tt.equal(env.call.hangups.length, 1);
  clean(tt, env);
});

t.test('26. invalid JSON → FALLBACK (lenient), json_errors in the debug record; strict hangs up', async (tt) => {
  const store = new PivotDebugStore();
  const body = '{"module":"tts","data":{"text":"x"}';
  const env = await setup(tt, (_r, res) => reply(res, body), { debugStore: store });
  const root = rootFlow(env.server.base);
  root.data.debug = true;
  await env.run(root);
  tt.same(env.call.spoken, ['Service unavailable']);
  const recs = store.forCall('call-1@test');
  tt.equal(recs.length, 1);
  tt.ok(recs[0]!.jsonErrors, 'json_errors recorded');
  tt.equal(recs[0]!.respStatusCode, 200);
  tt.equal(recs[0]!.respBody, body);
  tt.equal(recs[0]!.method, 'POST');
  tt.match(recs[0]!.reqBody ?? '', /"Call-ID"/);
  tt.equal(recs[0]!.failure?.reason, 'json_syntax');
  clean(tt, env);

  const s = await setup(tt, (_r, res) => reply(res, body), { compat: 'strict' });
  const out = await s.run(rootFlow(s.server.base));
  tt.same(s.call.played, []);
  tt.equal(out.reason, 'pivot_json_syntax');
  clean(tt, s);
});

for (const [name, body] of [
  ['pivot without voice_url', { module: 'pivot', data: {} }],
  ['tts without text', { module: 'tts', data: {} }],
  ['wrapped in flow', { flow: { module: 'tts', data: { text: 'x' } } }],
  ['array root', []],
  ['unknown module', { module: 'frobnicate', data: {} }],
  ['bad child', { module: 'tts', data: { text: 'x' }, children: { _: { module: 'tts', data: { text: 5 } } } }],
] as const) {
  t.test(`28. schema: ${name} → FALLBACK, no further request`, async (tt) => {
    const store = new PivotDebugStore();
    const env = await setup(tt, (_r, res) => reply(res, body), { debugStore: store });
    const root = rootFlow(env.server.base);
    root.data.debug = true;
    await env.run(root);
    tt.same(env.call.spoken, ['Service unavailable']);
    tt.equal(env.server.requests.length, 1);
    tt.ok((store.forCall('call-1@test')[0]?.schemaErrors?.length ?? 0) > 0, 'schema_errors recorded');
    clean(tt, env);
  });
}

t.test('35. language carries over to Language and to tts', async (tt) => {
  const env = await setup(tt, (r, res) => {
    if (r.path === '/ivr') reply(res, { module: 'language', data: { language: 'fr-ca' }, children: { _: { module: 'pivot', data: { voice_url: `${env.server.base}/lang` } } } });
    else reply(res, { module: 'tts', data: { text: 'Bonjour' } });
  });
  await env.run(rootFlow(env.server.base));
  tt.notOk(JSON.parse(env.server.requests[0]!.body)['Language'], 'no Language before it is set');
  tt.equal(env.server.requests[1]!.query.get('Language'), 'fr-ca');
  const p = env.call.played[0]!.prompt;
  tt.equal(p.kind === 'tts' ? p.language : undefined, 'fr-ca');
  tt.equal(env.session.language, 'fr-ca');
  clean(tt, env);
});

t.test('seed flow: tts → collect_dtmf → pivot, then tts → hangup; second request carries Digits', async (tt) => {
  const env = await setup(tt, (r, res) => {
    if (r.path === '/ivr') {
      reply(res, { module: 'tts', data: { text: 'Press a key' }, children: { _: { module: 'collect_dtmf', data: { max_digits: 1 }, children: { _: { module: 'pivot', data: { voice_url: `${env.server.base}/next`, method: 'post' } } } } } });
    } else {
      const d = new URLSearchParams(r.body).get('Digits[default]');
      reply(res, { module: 'tts', data: { text: `You pressed ${d}` }, children: { _: { module: 'hangup', data: {} } } });
    }
  });
  env.call.at(2300, () => env.call.press('3'));
  const out = await env.run(rootFlow(env.server.base));
  tt.equal(out.reason, 'hangup');
  tt.same(env.call.spoken, ['Press a key', 'You pressed 3']);
  tt.equal(env.server.requests.length, 2);
  tt.match(env.server.requests[1]!.body, /(^|&)Digits\[default\]=3(&|$)/);
  clean(tt, env);
});

t.test('a key during tts cuts it and becomes the first collected digit (type-ahead)', async (tt) => {
  const env = await setup(tt, (r, res) => {
    if (r.path === '/ivr') {
      reply(res, { module: 'tts', data: { text: 'Enter your PIN' }, children: { _: { module: 'collect_dtmf', data: { max_digits: 3, collection_name: 'pin' }, children: { _: { module: 'pivot', data: { voice_url: `${env.server.base}/pin`, method: 'post', req_body_format: 'json' } } } } } });
    } else reply(res, { module: 'hangup', data: {} });
  });
  env.call.at(500, () => env.call.press('9'));
  env.call.at(1000, () => env.call.press('8'));
  env.call.at(1500, () => env.call.press('7'));
  await env.run(rootFlow(env.server.base));
  tt.equal(env.call.played[0]!.outcome, 'stopped');
  tt.equal(env.call.played[0]!.endedAt, 500, 'cut by the key');
  tt.same((JSON.parse(env.server.requests[1]!.body) as { Digits: unknown }).Digits, { pin: '987' }, 'default cleared, pin collected');
  clean(tt, env);
});

t.test('terminators [] make tts uninterruptible; keys stay for the next collect', async (tt) => {
  const env = await setup(tt, (r, res) => {
    if (r.path === '/ivr') {
      reply(res, { module: 'tts', data: { text: 'Listen', terminators: [] }, children: { _: { module: 'collect_dtmf', data: { max_digits: 2 }, children: { _: { module: 'pivot', data: { voice_url: `${env.server.base}/n` } } } } } });
    } else reply(res, { module: 'hangup', data: {} });
  });
  env.call.at(500, () => env.call.press('1'));
  env.call.at(2500, () => env.call.press('2'));
  await env.run(rootFlow(env.server.base));
  tt.equal(env.call.played[0]!.outcome, 'finished');
  tt.equal(env.server.requests[1]!.query.get('Digits[default]'), '12');
  clean(tt, env);
});

t.test('tts cut by a key then pivot: Digits carries the type-ahead', async (tt) => {
  const env = await setup(tt, (r, res) => {
    if (r.path === '/ivr') reply(res, { module: 'tts', data: { text: 'Menu' }, children: { _: { module: 'pivot', data: { voice_url: `${env.server.base}/n` } } } });
    else reply(res, { module: 'hangup', data: {} });
  });
  env.call.at(100, () => env.call.press('#'));
  await env.run(rootFlow(env.server.base));
  tt.equal(env.server.requests[1]!.query.get('Digits[default]'), '#');
  clean(tt, env);
});

t.test('digits typed while a pivot request is in flight are kept', async (tt) => {
  const env = await setup(tt, (r, res) => {
    if (r.path === '/ivr') {
      env.call.press('4');
      env.call.press('5');
      reply(res, { module: 'collect_dtmf', data: { max_digits: 2, collection_name: 'acct' }, children: { _: { module: 'pivot', data: { voice_url: `${env.server.base}/n` } } } });
    } else reply(res, { module: 'hangup', data: {} });
  });
  await env.run(rootFlow(env.server.base));
  tt.equal(env.server.requests[1]!.query.get('Digits[acct]'), '45');
  clean(tt, env);
});

t.test('digits typed during a request cut the next prompt (barge-in) and are collected', async (tt) => {
  const env = await setup(tt, (r, res) => {
    if (r.path === '/ivr') {
      env.call.press('6');
      reply(res, { module: 'tts', data: { text: 'Long menu' }, children: { _: { module: 'collect_dtmf', data: { max_digits: 2 }, children: { _: { module: 'pivot', data: { voice_url: `${env.server.base}/n` } } } } } });
    } else reply(res, { module: 'hangup', data: {} });
  });
  env.call.at(200, () => env.call.press('1'));
  await env.run(rootFlow(env.server.base));
  tt.equal(env.call.played.length, 0, 'prompt skipped');
  tt.equal(env.server.requests[1]!.query.get('Digits[default]'), '61');
  clean(tt, env);
});

t.test('collections persist across rounds; flush_dtmf clears one', async (tt) => {
  let n = 0;
  const env = await setup(tt, (r, res) => {
    n++;
    if (n === 1) reply(res, { module: 'collect_dtmf', data: { collection_name: 'a' }, children: { _: { module: 'pivot', data: { voice_url: `${env.server.base}/2` } } } });
    else if (n === 2) reply(res, { module: 'collect_dtmf', data: { collection_name: 'b' }, children: { _: { module: 'pivot', data: { voice_url: `${env.server.base}/3` } } } });
    else if (n === 3) reply(res, { module: 'flush_dtmf', data: { collection_name: 'a' }, children: { _: { module: 'pivot', data: { voice_url: `${env.server.base}/4` } } } });
    else reply(res, { module: 'hangup', data: {} });
  });
  env.call.at(100, () => env.call.press('1'));
  env.call.at(200, () => env.call.press('2'));
  await env.run(rootFlow(env.server.base));
  const q = env.server.requests.map((r) => r.query);
  tt.equal(q[1]!.get('Digits[a]'), '1');
  tt.equal(q[2]!.get('Digits[a]'), '1');
  tt.equal(q[2]!.get('Digits[b]'), '2');
  tt.notOk(q[3]!.has('Digits[a]'));
  tt.equal(q[3]!.get('Digits[b]'), '2');
  clean(tt, env);
});

t.test('response before answer: final SIP response; after answer: hang-up cause', async (tt) => {
  const env = await setup(tt, (_r, res) => reply(res, { module: 'response', data: { code: '486', message: 'User Busy' } }));
  const out = await env.run({ module: 'pivot', data: { voice_url: `${env.server.base}/r` } });
  tt.equal(out.reason, 'response');
  tt.same(env.call.hangups, [{ code: 486, reason: 'User Busy' }]);
  tt.notOk(env.call.answered);
  clean(tt, env);
  const env2 = await setup(tt, (_r, res) => reply(res, { module: 'answer', data: {}, children: { _: { module: 'response', data: { code: 503 } } } }));
  await env2.run({ module: 'pivot', data: { voice_url: `${env2.server.base}/r` } });
  tt.ok(env2.call.answered);
  tt.same(env2.call.hangups, [{ code: 503 }]);
  clean(tt, env2);
});

t.test('sleep waits in virtual time, capped at 24 h; skip_module jumps to _', async (tt) => {
  const env = await setup(tt, (_r, res) => reply(res, { module: 'sleep', data: { duration: 2, unit: 's' }, children: { _: { module: 'tts', data: { text: 'x', skip_module: true }, children: { _: { module: 'tts', data: { text: 'woke' } } } } } }));
  await env.run(rootFlow(env.server.base));
  tt.same(env.call.spoken, ['woke']);
  tt.equal(env.call.played[0]!.at, 2000);
  clean(tt, env);
});

t.test('set_cid / prepend_cid change the outbound caller ID only', async (tt) => {
  const env = await setup(tt, (r, res) => {
    if (r.path === '/ivr') reply(res, { module: 'set_cid', data: { caller_id_number: '+15551230000', caller_id_name: 'ACME' }, children: { _: { module: 'prepend_cid', data: { caller_id_name_prefix: 'VIP ' }, children: { _: { module: 'pivot', data: { voice_url: `${env.server.base}/n` } } } } } });
    else reply(res, { module: 'hangup', data: {} });
  });
  await env.run(rootFlow(env.server.base));
  tt.same(env.session.outboundCallerId, { name: 'VIP ACME', number: '+15551230000' });
  tt.equal(env.server.requests[1]!.query.get('Caller-ID-Number'), '+15551234567', 'original in the request');
  clean(tt, env);
});

t.test('unavailable modules: resources without a failure child hangs up; device goes to _', async (tt) => {
  const env = await setup(tt, (_r, res) => reply(res, { module: 'resources', data: { to_did: '+14155550000' }, children: { _: { module: 'tts', data: { text: 'not me' } } } }));
  await env.run(rootFlow(env.server.base));
  tt.same(env.call.spoken, []);
  clean(tt, env);
  const env2 = await setup(tt, (_r, res) => reply(res, { module: 'device', data: { id: 'DEV1', timeout: 10 }, children: { _: { module: 'tts', data: { text: 'Nobody answered' } } } }));
  await env2.run(rootFlow(env2.server.base));
  tt.same(env2.call.spoken, ['Nobody answered']);
  clean(tt, env2);
  const env3 = await setup(tt, (_r, res) => reply(res, { module: 'resources', data: {}, children: { UNSPECIFIED: { module: 'tts', data: { text: 'failed' } } } }));
  await env3.run(rootFlow(env3.server.base));
  tt.same(env3.call.spoken, ['failed']);
  clean(tt, env3);
});

t.test('a script that pivots forever without media hits the node limit', async (tt) => {
  const env = await setup(tt, (_r, res) => reply(res, { module: 'noop', data: {}, children: { _: { module: 'pivot', data: { voice_url: `${env.server.base}/loop` } } } }), { maxNodes: 21 });
  const out = await env.run(rootFlow(env.server.base));
  tt.equal(out.reason, 'node_limit');
  tt.equal(env.server.requests.length, 11);
  tt.ok(env.call.ended);
  clean(tt, env);
});

t.test('caller hangs up during tts / collect / sleep / endless playback: no timers left', async (tt) => {
  const flows: CallflowNode[] = [
    { module: 'tts', data: { text: 'long' } },
    { module: 'collect_dtmf', data: { timeout: 60000 } },
    { module: 'sleep', data: { duration: 1, unit: 'h' } },
    { module: 'tts', data: { text: 'hold', endless_playback: true, terminators: [] } },
    { module: 'wait_for_hangup', data: {} },
  ];
  for (const f of flows) {
    const env = await setup(tt, (_r, res) => reply(res, f));
    env.call.at(1000, () => env.call.remoteHangup());
    const out = await env.run(rootFlow(env.server.base));
    tt.equal(out.reason, 'caller_hangup', f.module);
    tt.equal(env.call.hangups.length, 0, 'no hangup sent after the caller left');
    tt.equal(env.call.endedAt, 1000);
    clean(tt, env);
  }
});

t.test('caller hangs up while the request is in flight: the request is aborted', async (tt) => {
  let release: (() => void) | undefined;
  const env = await setup(tt, (_r, res) => new Promise<void>((resolve) => { release = () => { reply(res, { module: 'tts', data: { text: 'late' } }); resolve(); }; env.call.remoteHangup(); }));
  const out = await env.run(rootFlow(env.server.base));
  tt.equal(out.reason, 'caller_hangup');
  tt.same(env.call.played, []);
  release?.();
  clean(tt, env);
});

t.test('stop() resolves run with stopped and leaves the call up', async (tt) => {
  const env = await setup(tt, (_r, res) => reply(res, { module: 'sleep', data: { duration: 10 } }));
  env.call.at(1000, () => env.session.stop());
  const out = await env.run(rootFlow(env.server.base));
  tt.equal(out.reason, 'stopped');
  tt.notOk(env.call.ended);
  tt.equal(env.call.listenerCount, 0);
  tt.equal(env.clock.pendingTimers, 0);
});

t.test('an invalid stored callflow hangs up', async (tt) => {
  const clock = new FakeClock();
  const call = new FakeCall(clock);
  const session = new PivotSession(call, { clock });
  const out = await session.run({ module: 'pivot', data: { voice_url: 'ftp://x' } });
  tt.equal(out.reason, 'invalid_callflow');
  tt.ok(call.ended);
  tt.equal(call.listenerCount, 0);
});

t.test('bad options throw PIVOT_BAD_OPTIONS', async (tt) => {
  const clock = new FakeClock();
  tt.throws(() => new PivotSession(new FakeCall(clock), { clock, compat: 'loose' as 'strict' }), { code: 'PIVOT_BAD_OPTIONS' });
});

t.test('endless_playback loops until a terminator, then → _', async (tt) => {
  const env = await setup(tt, (_r, res) => reply(res, { module: 'tts', data: { text: 'hold', endless_playback: true }, children: { _: { module: 'tts', data: { text: 'thanks' } } } }));
  env.call.at(5500, () => env.call.press('5'));
  await env.run(rootFlow(env.server.base));
  tt.same(env.call.spoken, ['hold', 'hold', 'hold', 'thanks']);
  tt.equal(env.call.played[2]!.outcome, 'stopped');
  tt.equal(env.call.played[3]!.at, 5500);
  tt.equal(env.session.collections.get('default'), '5', 'the key is kept as type-ahead');
  clean(tt, env);
});

t.test('sleep is capped at 24 h', async (tt) => {
  const env = await setup(tt, (_r, res) => reply(res, { module: 'sleep', data: { duration: 48, unit: 'h' }, children: { _: { module: 'tts', data: { text: 'morning' } } } }));
  await drive(env.clock, () => env.session.requestsInFlight, env.session.run(rootFlow(env.server.base)), { step: 600_000, maxVirtualMs: 100 * 3_600_000 });
  tt.equal(env.call.played[0]!.at, 24 * 3_600_000);
  clean(tt, env);
});

t.test('modules plug in through options; a module that throws ends the call', async (tt) => {
  const seen: string[] = [];
  const modules = new Map<string, PivotModule>([
    ['device', { name: 'device', run: (node) => { seen.push(String(node.data.id)); return Promise.resolve({ kind: 'next', keys: ['NO_ANSWER', 'sip:480'] }); } }],
    ['noop', { name: 'noop', run: () => Promise.reject(new Error('boom')) }],
  ]);
  const env = await setup(tt, (_r, res) => reply(res, { module: 'device', data: { id: 'DEV1' }, children: { 'sip:480': { module: 'noop', data: {} }, _: { module: 'tts', data: { text: 'no' } } } }), { modules });
  const out = await env.run(rootFlow(env.server.base));
  tt.same(seen, ['DEV1']);
  tt.equal(out.reason, 'module_error');
  tt.same(env.call.spoken, []);
  clean(tt, env);
});

t.test('digits before run() are kept; the digit buffer is bounded', async (tt) => {
  const clock = new FakeClock();
  const call = new FakeCall(clock);
  const session = new PivotSession(call, { clock });
  call.press('12');
  tt.equal(session.pendingDigits, '12');
  call.press('3'.repeat(300));
  tt.equal(session.pendingDigits.length, 256);
  tt.equal(session.pendingDigits.slice(0, 1), '3', 'oldest dropped');
  session.stop();
  tt.equal(call.listenerCount, 0);
  tt.same(await session.run({ module: 'noop', data: {} }), { reason: 'stopped' });
});

t.test('a call that already ended: run resolves at once without hanging up', async (tt) => {
  const clock = new FakeClock();
  const call = new FakeCall(clock);
  call.remoteHangup();
  const session = new PivotSession(call, { clock });
  const out = await session.run({ module: 'tts', data: { text: 'x' } });
  tt.equal(out.reason, 'caller_hangup');
  tt.same(call.hangups, []);
  tt.equal(call.listenerCount, 0);
  tt.equal(clock.pendingTimers, 0);
});

t.test('cdr_url: a form POST at call end (Kazoo JSON flows too)', async (tt) => {
  const env = await setup(tt, (r, res) => (r.path === '/cdr' ? reply(res, '', { status: 204 }) : reply(res, { module: 'tts', data: { text: 'bye' } })));
  const root = rootFlow(env.server.base);
  root.data.cdr_url = `${env.server.base}/cdr`;
  const out = await env.run(root);
  tt.equal(out.reason, 'completed');
  const cdr = env.server.requests.find((r) => r.path === '/cdr');
  tt.ok(cdr, 'CDR posted');
  tt.equal(cdr!.method, 'POST');
  tt.equal(cdr!.headers['content-type'], 'application/x-www-form-urlencoded');
  const f = new URLSearchParams(cdr!.body);
  tt.equal(f.get('Call-ID'), 'call-1@test');
  tt.equal(f.get('Duration-Seconds'), '2');
  tt.equal(f.get('Answered'), 'true');
  tt.equal(f.get('Hookline-End-Reason'), 'completed');
  clean(tt, env);

  const port = await closedPort();
  const env2 = await setup(tt, (_r, res) => reply(res, { module: 'hangup', data: {} }));
  const root2 = rootFlow(env2.server.base);
  root2.data.cdr_url = `http://127.0.0.1:${port}/cdr`;
  tt.equal((await env2.run(root2)).reason, 'hangup', 'an unreachable cdr_url does not matter');
  clean(tt, env2);
});

t.test('a returned pivot node has its own _ failover for the next round', async (tt) => {
  const env = await setup(tt, (r, res) => {
    if (r.path === '/ivr') reply(res, { module: 'pivot', data: { voice_url: `${env.server.base}/down` }, children: { _: { module: 'tts', data: { text: 'second fallback' } } } });
    else reply(res, 'x', { status: 500, type: 'text/plain' });
  });
  await env.run(rootFlow(env.server.base));
  tt.same(env.call.spoken, ['second fallback'], 'not the root fallback');
  clean(tt, env);
});

t.test('answer, noop, send_dtmf, then hang-up', async (tt) => {
  const env = await setup(tt, (_r, res) => reply(res, { module: 'answer', data: {}, children: { _: { module: 'noop', data: {}, children: { _: { module: 'send_dtmf', data: { digits: '123ABC#' } } } } } }));
  const out = await env.run(rootFlow(env.server.base));
  tt.equal(out.reason, 'completed');
  tt.ok(env.call.answered);
  tt.same(env.call.sentDtmf, [{ digits: '123ABC#', durationMs: 2000 }]);
  clean(tt, env);
});

t.test('collect_dtmf answers the call; tts early media is not used', async (tt) => {
  const env = await setup(tt, (_r, res) => reply(res, { module: 'collect_dtmf', data: { timeout: 100 } }));
  await env.run({ module: 'pivot', data: { voice_url: `${env.server.base}/c` } });
  tt.equal(env.call.answeredAt, 0);
  tt.equal(env.session.collections.get('default'), '');
  clean(tt, env);
});

t.test('type-ahead into default is bounded', async (tt) => {
  const env = await setup(tt, (_r, res) => reply(res, { module: 'tts', data: { text: 'hold', endless_playback: true, terminators: ['#'] } }));
  for (let i = 0; i < 40; i++) env.call.at(100 + i * 100, () => env.call.press('1234567890'));
  env.call.at(5000, () => env.call.press('#'));
  await env.run(rootFlow(env.server.base));
  tt.equal(env.session.collections.get('default')?.length, 256);
  clean(tt, env);
});

t.test('stop() after the call ended (call layer cleanup) still reports caller_hangup and posts the CDR', async (tt) => {
  const env = await setup(tt, (r, res) => (r.path === '/cdr' ? reply(res, '', { status: 204 }) : reply(res, { module: 'sleep', data: { duration: 10 } })));
  const root = rootFlow(env.server.base);
  root.data.cdr_url = `${env.server.base}/cdr`;
  env.call.at(1000, () => { env.call.remoteHangup(); env.session.stop(); });
  const out = await env.run(root);
  tt.equal(out.reason, 'caller_hangup');
  tt.ok(env.server.requests.some((r) => r.path === '/cdr'));
  clean(tt, env);
});
