import t from 'tap';
import { startDemoScript, spokenDigits, demoReply } from '../../src/cli/demo.js';

t.test('spoken digits', async (t) => {
  t.equal(spokenDigits('12#'), '1 2 pound');
  t.equal(spokenDigits('*9'), 'star 9');
});

t.test('demo script over real HTTP: greeting with the caller number, then digits read back', async (t) => {
  const demo = await startDemoScript();
  t.teardown(() => demo.close());
  const first = await fetch(demo.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'Caller-ID-Number=99992&Call-ID=abc',
  });
  t.equal(first.status, 200);
  t.match(first.headers.get('content-type'), /application\/json/);
  const flow = (await first.json()) as { module: string; data: { text: string }; children: { _: { module: string; children: { _: { module: string; data: { voice_url: string } } } } } };
  t.equal(flow.module, 'tts');
  t.match(flow.data.text, /9 9 9 9 2/);
  t.equal(flow.children._.module, 'collect_dtmf');
  const next = flow.children._.children._;
  t.equal(next.module, 'pivot');
  const second = await fetch(next.data.voice_url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'Digits%5Bdemo%5D=123',
  });
  const reply = (await second.json()) as { module: string; data: { text: string }; children: { _: { module: string } } };
  t.match(reply.data.text, /You entered 1 2 3/);
  t.equal(reply.children._.module, 'hangup');
});

t.test('no digits gets its own answer', async (t) => {
  const r = demoReply('/demo/digits', { Digits: { demo: '' } }, 'http://x') as { data: { text: string } };
  t.match(r.data.text, /did not get any digits/);
});
