/**
 * The seed call, end to end, against real peers on 127.0.0.1: SIPp (and baresip) call 4999 from 99992; a real HTTP
 * server plays the web script: tts → collect_dtmf → pivot, then tts → hangup; Hookline ends the call with its BYE.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { startScriptServer, runSipp, freePort, freeEvenPort, hasSipp, hasBaresip, Baresip, wavStats, type ScriptServer } from '../helpers/peers.js';
import { startTestSwitch, eventually } from '../helpers/switch.js';

const scenario = join(fileURLToPath(new URL('.', import.meta.url)), '../../../test/e2e/sipp/seed-uac.xml');
const lateOfferScenario = join(fileURLToPath(new URL('.', import.meta.url)), '../../../test/e2e/sipp/seed-late-offer-uac.xml');

function seedScript(): Promise<ScriptServer> {
  let base = '';
  const server = startScriptServer((req) => {
    if (req.path === '/ivr') {
      return {
        body: {
          module: 'tts',
          data: { text: 'Hello Sally. Your current account balance is 5 dollars and 72 cents. Please enter your PIN, then press pound.' },
          children: {
            _: {
              module: 'collect_dtmf',
              data: { max_digits: 6, timeout: 8000, interdigit_timeout: 3000, terminator: '#' },
              children: { _: { module: 'pivot', data: { voice_url: `${base}/digits`, method: 'post', req_body_format: 'form' } } },
            },
          },
        },
      };
    }
    return {
      body: { module: 'tts', data: { text: 'Thank you. Goodbye.' }, children: { _: { module: 'hangup', data: {} } } },
    };
  });
  return server.then((s) => { base = s.url; return s; });
}

/** One SIPp call to 4999 with `sf`. */
async function seedCall(port: number, sf: string): Promise<Awaited<ReturnType<typeof runSipp>>> {
  return runSipp([
    `127.0.0.1:${port}`, '-sf', sf, '-s', '4999', '-m', '1', '-i', '127.0.0.1', '-p', String(await freePort()),
    '-mp', String(await freeEvenPort()), '-timeout', '60s', '-timeout_error',
  ], 90000);
}

function seedNumbers(url: string): Record<string, unknown> {
  return {
    accounts: [{ id: 'acct-seed-1' }],
    numbers: { '4999': { account: 'acct-seed-1', flow: { module: 'pivot', data: { voice_url: `${url}/ivr`, method: 'post' } } } },
  };
}

t.test('seed scenario with SIPp: POST with the Kazoo parameters, RFC 2833 digits in the next request, Hookline BYE', { skip: hasSipp ? false : 'sipp (sip-tester) not installed' }, async (t) => {
  const script = await seedScript();
  const { sw, port } = await startTestSwitch(seedNumbers(script.url));
  t.teardown(async () => { await sw.close(); await script.close(); });

  const res = await seedCall(port, scenario);
  t.equal(res.code, 0, `sipp exit code (stderr: ${res.stderr.slice(-500)})`);
  t.equal(res.successful, 1, 'one successful call');
  t.equal(res.failed, 0, 'no failed call');

  const reqs = script.requests;
  t.equal(reqs.length, 2, 'two webhook requests');
  const first = reqs[0]!;
  t.equal(first.method, 'POST');
  t.equal(first.path, '/ivr');
  t.match(first.headers['content-type'], /application\/x-www-form-urlencoded/);
  const p = first.params;
  t.equal(p['Caller-ID-Number'], '99992');
  t.equal(p['Caller-ID-Name'], 'Seed Caller');
  t.equal(p.To, '4999');
  t.equal(p.Request, '4999');
  t.equal(p.Direction, 'inbound');
  t.equal(p['Api-Version'], '2015-03-01');
  t.equal(p['Account-ID'], 'acct-seed-1');
  t.equal(p['To-Realm'], '127.0.0.1');
  t.equal(p['From-Realm'], '127.0.0.1');
  t.equal(p.From, '99992');
  t.type(p['Call-ID'], 'string');
  t.ok((p['Call-ID'] as string).length > 0, 'Call-ID present');
  t.notOk('Digits' in p, 'no Digits on the first request');
  t.notOk('Language' in p, 'no Language until a language module sets one');

  const second = reqs[1]!;
  t.equal(second.path, '/digits');
  t.same(second.params.Digits, { default: '123' }, 'the digits SIPp sent, without the # terminator');
  t.equal(second.params['Call-ID'], p['Call-ID']);
  t.equal(sw.stats().calls, 0, 'no call left');
});

t.test('seed scenario with SIPp and a delayed offer: our offer in the 200 OK, SIPp\'s answer in its ACK, its digits reach the web script', { skip: hasSipp ? false : 'sipp (sip-tester) not installed' }, async (t) => {
  const script = await seedScript();
  const { sw, port } = await startTestSwitch(seedNumbers(script.url));
  t.teardown(async () => { await sw.close(); await script.close(); });
  const res = await seedCall(port, lateOfferScenario);
  t.equal(res.code, 0, `sipp exit code (stderr: ${res.stderr.slice(-500)})`);
  t.equal(res.successful, 1, 'one successful call: the 200 OK carried our offer');
  t.equal(res.failed, 0);
  const reqs = script.requests;
  t.equal(reqs.length, 2, 'two webhook requests');
  t.same(reqs[1]?.params.Digits, { default: '123' }, 'the RFC 2833 digits SIPp sent to the address in our offer');
  t.equal(sw.stats().calls, 0, 'no call left');
});

t.test('seed scenario with baresip: it hears speech, sends digits, and Hookline hangs up', { skip: hasBaresip ? false : 'baresip not installed' }, async (t) => {
  const script = await seedScript();
  const { sw, uri } = await startTestSwitch(seedNumbers(script.url));
  let phone: Baresip | undefined;
  t.teardown(async () => { await phone?.stop(); await sw.close(); await script.close(); });
  phone = await Baresip.start();

  phone.dial(uri('4999'));
  await phone.waitEvent('CALL_ESTABLISHED', 15000);
  // Listen to the greeting (about 7 s), then type the PIN.
  await new Promise((r) => setTimeout(r, 8000));
  for (const d of ['4', '2', '#']) {
    phone.sendDigit(d);
    await new Promise((r) => setTimeout(r, 300));
  }
  const closed = await phone.waitEvent('CALL_CLOSED', 30000);
  t.ok(closed, 'call closed by Hookline');
  const reqs = await script.waitFor(2);
  t.same(reqs[1]!.params.Digits, { default: '42' });
  t.equal(reqs[0]!.params['Caller-ID-Number'], 'bob');
  await new Promise((r) => setTimeout(r, 500));
  const wav = phone.receivedWav();
  t.ok(wav, 'baresip wrote what it heard');
  const s = wavStats(wav!);
  t.ok(s.seconds > 8, `recording lasts the call (${s.seconds.toFixed(1)} s)`);
  t.ok(s.rms > 1000, `RMS well above silence (${s.rms.toFixed(0)})`);
  t.ok(s.activeSeconds > 5, `speech for most of the greeting and the goodbye (${s.activeSeconds.toFixed(1)} s of sound)`);
  // RTCP both ways with a real peer (decision 045): the CDR's leg has our counts and what baresip reported about us
  t.ok(await eventually(() => sw.cdrs.size === 1, 5000), 'the call\'s record is stored once its media closed');
  const media = sw.cdrs.query()[0]?.legs[0]?.media;
  t.ok(media && media.sent > 400 && media.received > 400, `RTP both ways over the call (${JSON.stringify(media)})`);
  t.equal(media?.lost, 0, 'nothing lost on loopback');
  t.ok(media?.remoteLost !== undefined && media.remoteJitterMs !== undefined, 'baresip sent RTCP with a report block about our stream');
  t.ok(media?.rttMs !== undefined && media.rttMs >= 0 && media.rttMs < 100, `and echoed our SR: round trip ${media?.rttMs} ms`);
});
