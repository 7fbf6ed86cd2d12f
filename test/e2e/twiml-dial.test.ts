/**
 * TwiML <Dial> against SIPp carriers: <Sip> dials a URI directly (with <Sip username password> answering a
 * SHA-256 proxy challenge); when the far end hangs up the caller stays and `action` gets DialCallStatus=completed
 * with DialCallDuration; busy gives DialCallStatus=busy; without `action` the next verb runs.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { startScriptServer, runSipp, freePort, freeEvenPort, hasSipp, type ScriptReply } from '../helpers/peers.js';
import { startTestSwitch, eventually } from '../helpers/switch.js';
import { placeCall } from '../../src/pbx/caller.js';

const sippDir = join(fileURLToPath(new URL('.', import.meta.url)), '../../../test/e2e/sipp');
const CALLER = { from: '99992', portMin: 56000, portMax: 56998 };
const xml = (body: string): ScriptReply => ({ body: `<?xml version="1.0"?><Response>${body}</Response>`, contentType: 'text/xml' });

async function carrier(scenario: string, echo: boolean): Promise<{ port: number; done: ReturnType<typeof runSipp> }> {
  const port = await freePort();
  const args = ['-sf', join(sippDir, scenario), '-i', '127.0.0.1', '-p', String(port), '-mp', String(await freeEvenPort()), '-m', '1', '-timeout', '30s', '-timeout_error'];
  if (echo) args.push('-rtp_echo');
  const done = runSipp(args, 40000);
  await new Promise((r) => setTimeout(r, 400));
  return { port, done };
}

t.test('TwiML <Dial><Sip>', { skip: hasSipp ? false : 'sipp (sip-tester) not installed' }, async (t) => {
  t.test('the far end hangs up: the caller stays, action gets DialCallStatus=completed, its verbs run', async (t) => {
    const c = await carrier('carrier-answer-bye.xml', true);
    const script = await startScriptServer((req) => (req.path === '/ivr'
      ? xml(`<Dial action="/after" timeout="10"><Sip>sip:4000@127.0.0.1:${c.port}</Sip></Dial><Say>never</Say>`)
      : xml('<Say>Thanks for calling. Goodbye.</Say><Hangup/>')));
    const { sw, uri } = await startTestSwitch({ numbers: { '4999': { flow: { module: 'pivot', data: { voice_url: `${script.url}/ivr` } } } } });
    t.teardown(async () => { await sw.close(); await script.close(); });
    const r = await placeCall({ uri: uri('4999'), ...CALLER, record: true, tone: { frequencies: [700], ms: 1200 }, maxSeconds: 15 });
    t.equal(r.outcome, 'answered');
    t.equal(r.endedBy, 'remote', 'the switch hung up after the action\'s verbs');
    const reqs = await script.waitFor(2, 5000);
    t.equal(reqs[1]!.path, '/after');
    t.equal(reqs[1]!.method, 'POST');
    t.equal(reqs[1]!.params.DialCallStatus, 'completed');
    t.ok(Number(reqs[1]!.params.DialCallDuration) >= 1, `DialCallDuration ${String(reqs[1]!.params.DialCallDuration)}`);
    t.ok(String(reqs[1]!.params.DialCallSid ?? '').length > 0, 'DialCallSid');
    t.ok(r.durationMs > 2500, `the caller stayed after the far end's BYE (${r.durationMs} ms)`);
    t.ok(r.heardSeconds > 1.5, `echo while bridged, then the goodbye (${r.heardSeconds.toFixed(2)} s of sound)`);
    t.equal((await c.done).successful, 1, 'the SIPp far end saw the INVITE at its URI and sent its BYE');
    t.ok(await eventually(() => sw.stats().calls === 0 && sw.stats().legs === 0, 5000), 'nothing left');
  });

  t.test('busy after a SHA-256 proxy challenge answered with <Sip username password>: DialCallStatus=busy', async (t) => {
    const c = await carrier('carrier-busy.xml', false);
    const script = await startScriptServer((req) => (req.path === '/ivr'
      ? xml(`<Dial action="/after"><Sip username="trunkuser" password="trunkpass">sip:+14155550000@127.0.0.1:${c.port}</Sip></Dial>`)
      : xml('<Hangup/>')));
    const { sw, uri } = await startTestSwitch({ numbers: { '4999': { flow: { module: 'pivot', data: { voice_url: `${script.url}/ivr` } } } } });
    t.teardown(async () => { await sw.close(); await script.close(); });
    await placeCall({ uri: uri('4999'), ...CALLER, maxSeconds: 5 });
    const reqs = await script.waitFor(2, 5000);
    t.equal(reqs[1]!.params.DialCallStatus, 'busy');
    t.equal((await c.done).successful, 1, `the far end verified the SHA-256 Proxy-Authorization (${(await c.done).errors.slice(-300)})`);
  });

  t.test('no action: after the far end hangs up the next verb runs', async (t) => {
    const c = await carrier('carrier-answer-bye.xml', true);
    const script = await startScriptServer(() => xml(`<Dial><Sip>sip:4000@127.0.0.1:${c.port}</Sip></Dial><Say>The other party hung up. Goodbye.</Say>`));
    const { sw, uri } = await startTestSwitch({ numbers: { '4999': { flow: { module: 'pivot', data: { voice_url: `${script.url}/ivr` } } } } });
    t.teardown(async () => { await sw.close(); await script.close(); });
    const r = await placeCall({ uri: uri('4999'), ...CALLER, record: true, maxSeconds: 15 });
    t.equal(r.endedBy, 'remote');
    t.ok(r.durationMs > 2500, `the caller heard the next verb after the bridge (${r.durationMs} ms)`);
    t.ok(r.heardSeconds > 1, `speech after the bridge (${r.heardSeconds.toFixed(2)} s)`);
    t.equal(script.requests.length, 1, 'no further request');
    t.equal((await c.done).successful, 1);
  });
});
