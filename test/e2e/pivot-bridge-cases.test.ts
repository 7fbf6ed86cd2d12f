/**
 * PIVOT.md section 6 cases 30 and 32 against real peers: baresip as the registered device DEV1 (ringing without
 * an answer, then answering), and a SIPp account carrier that checks the caller ID set by `set_cid`.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startScriptServer, runSipp, freePort, freeEvenPort, hasSipp, hasBaresip, Baresip, type ScriptServer } from '../helpers/peers.js';
import { startTestSwitch, eventually } from '../helpers/switch.js';
import { placeCall } from '../../src/pbx/caller.js';
import { writeWav } from '../../src/media/wav.js';
import { sine, toneShare } from '../media/media-server.js';

const sippDir = join(fileURLToPath(new URL('.', import.meta.url)), '../../../test/e2e/sipp');
const CALLER = { from: '99992', portMin: 51000, portMax: 51998 };
const ROOT = (url: string): Record<string, unknown> => ({
  module: 'pivot', data: { voice_url: `${url}/ivr`, method: 'post', req_body_format: 'json' },
  children: { _: { module: 'tts', data: { text: 'Service unavailable' } } },
});

t.test('case 30: device, no answer → _; an answer → the parties talk and the _ child never runs', { skip: hasBaresip ? false : 'baresip not installed' }, async (t) => {
  const script: ScriptServer = await startScriptServer(() => ({
    body: { module: 'device', data: { id: 'DEV1', timeout: 10 }, children: { _: { module: 'tts', data: { text: 'Nobody answered' } } } },
  }));
  const { sw, port, uri } = await startTestSwitch({
    accounts: [{ id: 'acct-1' }],
    numbers: { '4999': { account: 'acct-1', flow: ROOT(script.url) } },
    devices: [{ id: 'DEV1', username: '1001', password: 'dev1-pass' }],
  });
  const dir = mkdtempSync(join(tmpdir(), 'hookline-case30-'));
  const wav = join(dir, 'tone600.wav');
  writeFileSync(wav, writeWav(sine(600, 60000, 8000), 8000));
  let phone: Baresip | undefined;
  t.teardown(async () => { await phone?.stop(); await sw.close(); await script.close(); rmSync(dir, { recursive: true, force: true }); });
  phone = await Baresip.start({ sourceWav: wav, account: `<sip:1001@127.0.0.1:${port}>;auth_pass=dev1-pass;regint=300;answermode=manual` });
  t.ok(await eventually(() => sw.stats().registrations === 1, 10000), 'DEV1 (baresip) registered');

  // No answer: DEV1 rings for 10 s, then the caller hears "Nobody answered" and the call ends.
  const pending = placeCall({ uri: uri('4999'), ...CALLER, record: true, maxSeconds: 30 });
  const ringing = await phone.waitEvent('CALL_INCOMING', 8000);
  const ringStart = Date.now();
  await phone.waitEvent('CALL_CLOSED', 15000);
  const rang = (Date.now() - ringStart) / 1000;
  t.ok(rang > 9 && rang < 11.5, `DEV1 rang for ${rang.toFixed(1)} s (timeout 10)`);
  t.ok(ringing, 'the device was rung');
  const r = await pending;
  t.equal(r.outcome, 'answered', 'answered to speak the _ child');
  t.equal(r.endedBy, 'remote', 'then hung up by the switch');
  t.ok(r.heardSeconds > 0.5 && r.heardSeconds < 3, `"Nobody answered" heard (${r.heardSeconds.toFixed(2)} s of speech)`);
  t.equal(script.requests.length, 1, 'no further request');
  t.notOk(r.audio && toneShare(r.audio, 600) > 0.3, 'not the phone\'s audio');
  t.ok(await eventually(() => sw.stats().calls === 0 && sw.stats().legs === 0, 5000), 'nothing left');

  // Answer: the parties talk; the caller hangs up; "Nobody answered" is never played.
  phone.events.length = 0;
  const p2 = placeCall({ uri: uri('4999'), ...CALLER, record: true, tone: { frequencies: [1000], ms: 4000 }, maxSeconds: 4 });
  await phone.waitEvent('CALL_INCOMING', 8000);
  await new Promise((res) => setTimeout(res, 500));
  phone.command('accept');
  const r2 = await p2;
  t.equal(r2.outcome, 'answered');
  t.equal(r2.endedBy, 'local');
  const heard = r2.audio ?? new Int16Array(0);
  const share = toneShare(heard.subarray(Math.min(heard.length, 4000)), 600);
  t.ok(share > 0.5, `the caller heard DEV1's 600 Hz (share ${share.toFixed(2)}), not speech`);
  await phone.waitEvent('CALL_CLOSED', 5000);
  t.equal(script.requests.length, 2, 'one request per call: the _ child made none');
  t.ok(await eventually(() => sw.stats().calls === 0 && sw.stats().legs === 0 && sw.stats().dialogs === 0, 5000), `both legs ended: ${JSON.stringify(sw.stats())}`);
});

t.test('case 32: set_cid then resources through the account carrier; a later pivot still shows the original caller ID', { skip: hasSipp ? false : 'sipp (sip-tester) not installed' }, async (t) => {
  const carrierPort = await freePort();
  const carrier = runSipp(['-sf', join(sippDir, 'carrier-cid-busy.xml'), '-i', '127.0.0.1', '-p', String(carrierPort),
    '-mp', String(await freeEvenPort()), '-m', '1', '-timeout', '20s', '-timeout_error'], 30000);
  let base = '';
  const script = await startScriptServer((req) => (req.path === '/ivr'
    ? { body: { module: 'set_cid', data: { caller_id_number: '+15551230000', caller_id_name: 'ACME' }, children: { _: {
      module: 'resources', data: { to_did: '+14155550000', use_local_resources: true, timeout: 30 },
      children: { _: { module: 'pivot', data: { voice_url: `${base}/after`, method: 'post', req_body_format: 'json' } } } } } } }
    : { body: { module: 'hangup', data: {} } }));
  base = script.url;
  const { sw, uri } = await startTestSwitch({
    accounts: [{ id: 'acct-1' }],
    numbers: { '4999': { account: 'acct-1', flow: ROOT(script.url) } },
    // A global carrier that must not be used (use_local_resources: true picks the account's own).
    carriers: [
      { id: 'global', gateways: [{ host: '127.0.0.1', port: await freePort() }] },
      { id: 'acct-trunk', account: 'acct-1', gateways: [{ host: '127.0.0.1', port: carrierPort }] },
    ],
  });
  t.teardown(async () => { await sw.close(); await script.close(); });
  await new Promise((res) => setTimeout(res, 300));
  const r = await placeCall({ uri: uri('4999'), ...CALLER, maxSeconds: 10 });
  const c = await carrier;
  t.equal(c.successful, 1, `the account carrier got the INVITE for +14155550000 from "ACME" <+15551230000> with a matching P-Asserted-Identity (${c.errors.slice(-600)})`);
  const reqs = await script.waitFor(2, 5000);
  t.equal(reqs[1]!.path, '/after', 'busy went on to the _ child');
  t.equal(reqs[1]!.params['Caller-ID-Number'], '99992', 'the later pivot shows the original Caller-ID-Number');
  t.not(r.status, 200, 'the call was not bridged');
  t.ok(await eventually(() => sw.stats().calls === 0 && sw.stats().legs === 0, 5000), 'nothing left');
});

t.test('resources account options: hunt_account_id picks another account\'s carriers; format_from_uri and emit_account_id shape the INVITE', { skip: hasSipp ? false : 'sipp (sip-tester) not installed' }, async (t) => {
  const carrierPort = await freePort();
  const carrier = runSipp(['-sf', join(sippDir, 'carrier-account-busy.xml'), '-i', '127.0.0.1', '-p', String(carrierPort),
    '-mp', String(await freeEvenPort()), '-m', '1', '-timeout', '20s', '-timeout_error'], 30000);
  const script = await startScriptServer(() => ({ body: {
    module: 'resources', data: { to_did: '+14155550000', hunt_account_id: 'acct-2', format_from_uri: true, emit_account_id: true },
    children: { USER_BUSY: { module: 'hangup', data: {} } } } }));
  const { sw, uri } = await startTestSwitch({
    accounts: [{ id: 'acct-1', realm: 'acme.example' }, { id: 'acct-2' }],
    numbers: { '4999': { account: 'acct-1', flow: { module: 'pivot', data: { voice_url: `${script.url}/ivr` } } } },
    carriers: [
      { id: 'own', account: 'acct-1', gateways: [{ host: '127.0.0.1', port: await freePort() }] },
      { id: 'hunted', account: 'acct-2', gateways: [{ host: '127.0.0.1', port: carrierPort }] },
    ],
  });
  t.teardown(async () => { await sw.close(); await script.close(); });
  await new Promise((res) => setTimeout(res, 300));
  await placeCall({ uri: uri('4999'), ...CALLER, maxSeconds: 5 });
  const c = await carrier;
  t.equal(c.successful, 1, `acct-2's carrier got the INVITE From the account realm with X-Account-ID (${c.errors.slice(-600)})`);
  t.ok(await eventually(() => sw.stats().calls === 0 && sw.stats().legs === 0, 5000), 'nothing left');
});
