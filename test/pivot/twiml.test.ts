/** TwiML: the safe XML parser, the translation to callflow nodes, and PIVOT.md case 40 over a fake call. */
import t from 'tap';
import { parseXml } from '../../src/pivot/twiml/xml.js';
import { translateTwiml } from '../../src/pivot/twiml/translate.js';
import { FakeClock } from '../../src/util/clock.js';
import { PivotSession } from '../../src/pivot/session.js';
import type { CallflowNode } from '../../src/pivot/callflow.js';
import { FakeCall, drive, reply, startServer } from './helpers.js';

t.test('XML parser: elements, attributes, entities, CDATA, comments; refuses DTDs and broken input', async (tt) => {
  const r = parseXml('<?xml version="1.0" encoding="UTF-8"?>\n<!-- c --><Response a="1 &amp; 2" b=\'&#x41;&#66;\'><Say>Tom &amp; Jerry &lt;3</Say><![CDATA[<raw>]]><Hangup/></Response>\n');
  tt.ok(r.ok);
  if (!r.ok) return;
  tt.equal(r.root.name, 'Response');
  tt.same({ ...r.root.attrs }, { a: '1 & 2', b: 'AB' });
  tt.same(r.root.children.map((c) => (typeof c === 'string' ? c : c.name)), ['Say', '<raw>', 'Hangup']);
  const say = r.root.children[0];
  tt.same(typeof say === 'string' ? undefined : say!.children, ['Tom & Jerry <3']);
  const bad = [
    '<!DOCTYPE x [<!ENTITY e "x">]><Response>&e;</Response>',
    '<Response>&e;</Response>',
    '<Response>a & b</Response>',
    '<Response><Say>x</Response>',
    '<Response>',
    '<Response a="1" a="2"/>',
    '<Response a=1/>',
    '<A/><B/>',
    'text<Response/>',
    '',
    '<Response>&#0;</Response>',
    '<Response>&#xD800;</Response>',
    '<' + 'a>'.repeat(40) + '</a>'.repeat(40),
  ];
  for (const b of bad) tt.notOk(parseXml(b).ok, `refused: ${b.slice(0, 40)}`);
  // Bounded: a flood of elements is refused, not expanded.
  tt.notOk(parseXml('<R>' + '<x/>'.repeat(3000) + '</R>').ok, 'element count bounded');
  // Random garbage never throws.
  for (let i = 0; i < 500; i++) {
    let s = '';
    for (let j = 0; j < 40; j++) s += '<>/="\'&;!?[]- aRx'.charAt(Math.floor(Math.random() * 18));
    parseXml(s);
  }
});

t.test('Say voice: Twilio names mapped or dropped, other names (flite/Piper voices) passed on as written', async (tt) => {
  const cases: Array<[string, string | undefined]> = [
    ['man', 'male'], ['WOMAN', 'female'], ['alice', undefined], ['Polly.Joanna', undefined], ['Google.en-US-Standard-A', undefined],
    ['en_US-lessac-medium', 'en_US-lessac-medium'], ['kal16', 'kal16'], ['', undefined],
  ];
  for (const [voice, want] of cases) {
    const r = translateTwiml(`<Response><Say voice="${voice}">Hi</Say></Response>`, 'http://a.test/');
    tt.ok(r.ok);
    if (!r.ok) continue;
    tt.equal((r.flow.data as { voice?: string }).voice, want, `voice="${voice}"`);
  }
});

t.test('translation: verbs to nodes, URLs resolved against the document, chain ends at Redirect/Hangup', async (tt) => {
  const r = translateTwiml(`<Response>
      <Say voice="man" language="en-GB" loop="2">Hello</Say>
      <Play loop="3">/media/beep.wav</Play>
      <Pause length="2"/>
      <Gather action="next" numDigits="3" timeout="7" finishOnKey="*"><Say>Enter code</Say><Play>beep.mp3</Play><Pause/></Gather>
      <Record/>
      <Redirect method="GET">https://other.test/again</Redirect>
      <Say>never</Say>
    </Response>`, 'http://ivr.test/app/start?x=1');
  tt.ok(r.ok);
  if (!r.ok) return;
  tt.same(r.skipped, []);
  const chain: CallflowNode[] = [];
  for (let n: CallflowNode | undefined = r.flow; n; n = n.children?._ as CallflowNode | undefined) chain.push(n);
  tt.same(chain.map((n) => n.module), ['tts', 'tts', 'play', 'sleep', 'twiml_gather', 'twiml_record', 'pivot']);
  tt.same(chain[5]!.data, { timeout_s: 5, max_length_s: 3600, finish_on_key: '1234567890*#', play_beep: true }, '<Record/> with Twilio defaults');
  tt.same((chain[5]!.children!.recorded as CallflowNode).data, { voice_url: 'http://ivr.test/app/start?x=1', method: 'post', req_format: 'twiml', req_body_format: 'form' }, 'no action: this document');
  tt.same(chain[0]!.data, { text: 'Hello', terminators: [], voice: 'male', language: 'en-gb' });
  tt.same(chain[2]!.data, { id: 'http://ivr.test/media/beep.wav', terminators: [], loop_count: 3 });
  tt.same(chain[3]!.data, { duration: 2, unit: 's' });
  const g = chain[4]!;
  tt.same(g.data, { prompts: [{ say: 'Enter code' }, { play: 'http://ivr.test/app/beep.mp3' }, { pause: 1 }], num_digits: 3, timeout_ms: 7000, finish_on_key: '*' });
  tt.same((g.children!.digits as CallflowNode).data, { voice_url: 'http://ivr.test/app/next', method: 'post', req_format: 'twiml', req_body_format: 'form' });
  tt.same(chain[6]!.data, { voice_url: 'https://other.test/again', method: 'get', req_format: 'twiml', req_body_format: 'form' });

  const dial = translateTwiml('<Response><Dial timeout="20" callerId="+15551230000"><Number>+14155550000</Number><Sip>sip:a@b</Sip><Client>x</Client></Dial><Say>Nobody answered</Say></Response>', 'http://a.test/');
  tt.ok(dial.ok);
  if (dial.ok) {
    tt.same(dial.skipped, ['Dial/Client'], 'the first target is dialled; Client is not supported');
    tt.same(dial.flow.data, { caller_id_number: '+15551230000', caller_id_name: '' });
    const res = dial.flow.children!._ as CallflowNode;
    tt.equal(res.module, 'twiml_dial');
    tt.same(res.data, { number: '+14155550000', timeout: 20 });
    tt.equal((res.children!._ as CallflowNode).module, 'tts', 'afterwards the next verb');
  }
  const dialAction = translateTwiml('<Response><Dial action="/after">12345</Dial><Say>never</Say></Response>', 'http://a.test/x');
  tt.same(dialAction.ok && (dialAction.flow.children!.action as CallflowNode).data.voice_url, 'http://a.test/after');
  const dialSip = translateTwiml('<Response><Dial timeout="9"><Sip username="u" password="p">sip:4000@127.0.0.1:5099;transport=tcp</Sip></Dial></Response>', 'http://a.test/x');
  tt.same(dialSip.ok && dialSip.flow.data, { sip: 'sip:4000@127.0.0.1:5099;transport=tcp', username: 'u', password: 'p', timeout: 9 });
  const badSip = translateTwiml('<Response><Dial><Sip>http://x</Sip></Dial></Response>', 'http://a.test/x');
  tt.same(badSip.ok && badSip.skipped, ['Dial/Sip (not a SIP URI)']);
  const rej = translateTwiml('<Response><Reject reason="busy"/><Say>x</Say></Response>', 'http://a.test/');
  tt.same(rej.ok && rej.flow, { module: 'response', data: { code: 486 } });
  const rej2 = translateTwiml('<Response><Reject/></Response>', 'http://a.test/');
  tt.same(rej2.ok && rej2.flow.data, { code: 603 });
  const empty = translateTwiml('<Response/>', 'http://a.test/');
  tt.same(empty.ok && empty.flow, { module: 'hangup', data: {} });
  tt.notOk(translateTwiml('<Foo/>', 'http://a.test/').ok);
  const noAction = translateTwiml('<Response><Gather/></Response>', 'http://a.test/x');
  tt.same(noAction.ok && (noAction.flow.children!.digits as CallflowNode).data.voice_url, 'http://a.test/x', 'Gather without action posts to the current URL');
});

t.test('40. TwiML Gather: 123 typed during the prompt cuts it; POST /g2 carries Digits=123 as a plain string', async (tt) => {
  const server = await startServer((r, res) => {
    if (r.path === '/ivr') reply(res, '<Response><Gather action="/g2" method="POST" numDigits="3"><Say>Enter code</Say></Gather></Response>', { type: 'text/xml' });
    else if (r.path === '/g2') reply(res, '<?xml version="1.0"?><Response><Say>Thanks</Say><Redirect method="GET">/end</Redirect></Response>', { type: 'text/xml; charset=utf-8' });
    else reply(res, '<Response><Hangup/></Response>', { type: 'text/xml' });
  });
  tt.teardown(() => server.close());
  const clock = new FakeClock();
  const call = new FakeCall(clock);
  const session = new PivotSession(call, { clock });
  call.at(500, () => call.press('1'));
  call.at(800, () => call.press('2'));
  call.at(1100, () => call.press('3'));
  const out = await drive(clock, () => session.requestsInFlight, session.run({ module: 'pivot', data: { voice_url: `${server.base}/ivr`, req_format: 'twiml' } }));
  tt.equal(out.reason, 'hangup');
  tt.same(server.requests.map((q) => `${q.method} ${q.path}`), ['GET /ivr', 'POST /g2', 'GET /end']);
  tt.equal(server.requests[2]!.query.get('Digits'), null, 'the digits went with one request only');
  const body = new URLSearchParams(server.requests[1]!.body);
  tt.equal(body.get('Digits'), '123');
  tt.ok(body.get('CallSid'), 'Twilio parameter names');
  tt.equal(call.played[0]!.outcome, 'stopped', 'the prompt stopped at the first key');
  tt.equal(call.played[0]!.endedAt, 500);
  tt.same(call.spoken, ['Enter code', 'Thanks']);
  tt.equal(clock.pendingTimers, 0);
});

t.test('40 (no input): nothing typed → no request, the call ends', async (tt) => {
  const server = await startServer((_r, res) => reply(res, '<Response><Gather action="/g2" numDigits="3" timeout="3"><Say>Enter code</Say></Gather></Response>', { type: 'text/xml' }));
  tt.teardown(() => server.close());
  const clock = new FakeClock();
  const call = new FakeCall(clock);
  const session = new PivotSession(call, { clock });
  const out = await drive(clock, () => session.requestsInFlight, session.run({ module: 'pivot', data: { voice_url: `${server.base}/ivr` } }));
  tt.equal(out.reason, 'completed');
  tt.equal(server.requests.length, 1);
  tt.ok(call.ended);
  tt.equal(call.endedAt, 2000 + 3000, 'after the prompt and the 3 s timeout');
});

t.test('Redirect, Pause, Play, Reject before answer', async (tt) => {
  const server = await startServer((r, res) => {
    if (r.path === '/a') reply(res, '<Response><Pause length="1"/><Redirect>/b</Redirect></Response>', { type: 'application/xml' });
    else reply(res, '<Response><Reject reason="busy"/></Response>', { type: 'text/xml' });
  });
  tt.teardown(() => server.close());
  const clock = new FakeClock();
  const call = new FakeCall(clock);
  const session = new PivotSession(call, { clock });
  const out = await drive(clock, () => session.requestsInFlight, session.run({ module: 'pivot', data: { voice_url: `${server.base}/a` } }));
  tt.equal(out.reason, 'response');
  tt.same(server.requests.map((q) => `${q.method} ${q.path}`), ['GET /a', 'POST /b'], 'Redirect defaults to POST');
  tt.same(call.hangups, [{ code: 486 }]);
});

t.test('fuzz: random TwiML-like documents never throw; every result is a flow or an error', async (tt) => {
  const verbs = ['Say', 'Play', 'Pause', 'Gather', 'Redirect', 'Hangup', 'Reject', 'Record', 'Dial', 'Sms', 'x'];
  const attrs = ['loop="0"', 'loop="99999999999"', 'numDigits="-1"', 'timeout="abc"', 'finishOnKey="##"', 'action="javascript:alert(1)"', 'action="//evil/x"', 'method="DELETE"', 'voice="man"', 'language="zz-ZZZ"', 'length="1e9"', 'digits="12w#"', 'reason="busy"'];
  const texts = ['', 'hi', 'http://x/y.wav', '/rel', 'ftp://a/b', '&amp;', '<![CDATA[a<b]]>', 'tts://hey'];
  const pick = <T,>(a: readonly T[]): T => a[Math.floor(Math.random() * a.length)]!;
  let flows = 0;
  let bad = 0;
  for (let i = 0; i < 1000; i++) {
    let doc = '<Response>';
    const n = Math.floor(Math.random() * 6);
    for (let j = 0; j < n; j++) {
      const v = pick(verbs);
      const inner = Math.random() < 0.3 ? `<${pick(verbs)} ${pick(attrs)}>${pick(texts)}</${v === 'x' ? 'y' : pick(verbs)}>` : pick(texts);
      doc += `<${v} ${pick(attrs)}>${inner}</${v}>`;
    }
    doc += '</Response>';
    const r = translateTwiml(doc, 'http://base.test/a/b');
    if (r.ok && typeof r.flow.module === 'string') flows++;
    else if (r.ok) bad++;
  }
  tt.equal(bad, 0, 'every translated document is a callflow node');
  tt.ok(flows > 0, `${flows} of 1000 translated`);
});
