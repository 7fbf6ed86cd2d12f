/** PIVOT.md case 40 end to end: a TwiML web script, a real switch, the built-in caller sending RFC 4733 digits. */
import t from 'tap';
import { startScriptServer } from '../helpers/peers.js';
import { startTestSwitch } from '../helpers/switch.js';
import { placeCall } from '../../src/pbx/caller.js';

let portBase = 41000 + ((process.pid * 17) % 40) * 200;
const nextPorts = (): { portMin: number; portMax: number } => { portBase += 20; return { portMin: portBase, portMax: portBase + 18 }; };

t.test('40. TwiML Gather over a real call', async (t) => {
  let typed = true;
  const script = await startScriptServer((req) => {
    if (req.path === '/ivr') {
      return { contentType: 'text/xml', body: `<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="/g2" method="POST" numDigits="3" timeout="2"><Say>Enter code</Say></Gather></Response>` };
    }
    if (req.path === '/busy') return { contentType: 'text/xml', body: '<Response><Reject reason="busy"/></Response>' };
    return { contentType: 'text/xml', body: '<Response><Say>Thank you</Say><Hangup/></Response>' };
  });
  const { sw, uri } = await startTestSwitch({
    numbers: {
      '6000': { flow: { module: 'pivot', data: { voice_url: `${script.url}/ivr`, req_format: 'twiml' } } },
      '6001': { flow: { module: 'pivot', data: { voice_url: `${script.url}/busy`, req_format: 'twiml' } } },
    },
  });
  t.teardown(async () => { await sw.close(); await script.close(); });

  await t.test('the caller types 123 during the prompt: POST /g2 with Digits=123, then Thank you and BYE', async (t) => {
    const r = await placeCall({ uri: uri('6000'), from: '99992', digits: '123', waitMs: 300, digitGapMs: 150, record: true, maxSeconds: 15, ...nextPorts() });
    t.equal(r.outcome, 'answered');
    t.equal(r.endedBy, 'remote');
    const reqs = script.requests.filter((q) => q.path !== '/busy');
    t.same(reqs.map((q) => `${q.method} ${q.path}`), ['GET /ivr', 'POST /g2']);
    const p = reqs[1]!.params;
    t.equal(p.Digits, '123', 'Digits as a plain string');
    t.equal(p.CallSid, reqs[0]!.params.CallSid, 'same CallSid, Twilio names');
    t.equal(p.ApiVersion, '2010-04-01');
    t.ok(r.heardSeconds > 0.3, `speech heard (${r.heardSeconds.toFixed(2)} s)`);
  });

  await t.test('nothing typed: no further request, the call ends after the timeout', async (t) => {
    const before = script.requests.length;
    const r = await placeCall({ uri: uri('6000'), from: '99992', maxSeconds: 15, ...nextPorts() });
    t.equal(r.endedBy, 'remote');
    t.ok(r.durationMs < 8000, `ended by Hookline (${r.durationMs} ms)`);
    t.equal(script.requests.length - before, 1, 'only the first request');
  });

  await t.test('<Reject reason="busy"/> before answer: 486', async (t) => {
    const r = await placeCall({ uri: uri('6001'), from: '99992', maxSeconds: 5, ...nextPorts() });
    t.equal(r.outcome, 'rejected');
    t.equal(r.status, 486);
  });
});
