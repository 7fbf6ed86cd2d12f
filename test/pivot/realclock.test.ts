/** The seed flow on a RealClock with short prompts: nothing depends on virtual time; no timers left. */
import t from 'tap';
import { RealClock } from '../../src/util/clock.js';
import { PivotSession } from '../../src/pivot/session.js';
import { FakeCall, reply, startServer } from './helpers.js';

t.test('seed flow on real time, including a request timeout', async (tt) => {
  const server = await startServer((r, res) => {
    if (r.path === '/ivr') reply(res, { module: 'tts', data: { text: 'Press a key' }, children: { _: { module: 'collect_dtmf', data: { max_digits: 2, timeout: 300, interdigit_timeout: 100 }, children: { _: { module: 'pivot', data: { voice_url: `${server.base}/slow`, req_timeout_ms: 150 }, children: { _: { module: 'pivot', data: { voice_url: `${server.base}/next` } } } } } } } });
    else if (r.path === '/slow') { /* never answers: times out */ }
    else reply(res, { module: 'tts', data: { text: `You pressed ${r.query.get('Digits[default]')}` }, children: { _: { module: 'hangup', data: {} } } });
  });
  tt.teardown(() => server.close());
  const clock = new RealClock();
  const call = new FakeCall(clock, { promptMs: () => 40 });
  const session = new PivotSession(call, { clock });
  call.onPlay = (p) => {
    if (p.prompt.kind === 'tts' && p.prompt.text === 'Press a key') {
      setTimeout(() => call.press('4'), 60);
      setTimeout(() => call.press('2'), 90);
    }
  };
  const t0 = Date.now();
  const out = await session.run({ module: 'pivot', data: { voice_url: `${server.base}/ivr` } });
  tt.equal(out.reason, 'hangup');
  tt.same(call.spoken, ['Press a key', 'You pressed 42']);
  tt.ok(Date.now() - t0 < 10_000, "bounded by the short timeouts");
  tt.equal(clock.pendingTimers, 0);
  tt.equal(call.listenerCount, 0);
});
