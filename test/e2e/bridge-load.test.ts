/**
 * 200 bridged calls at a modest rate: SIPp's `uac` calls in, the web script replies `resources`, SIPp's `uas`
 * plays the carrier; every call is bridged and ended by the caller's BYE (carried to the carrier). Afterwards
 * nothing leaks: no calls, legs, dialogs, transactions, media sessions, RTP ports or timers.
 */
import t from 'tap';
import { startScriptServer, runSipp, freePort, freeEvenPort, hasSipp } from '../helpers/peers.js';
import { startTestSwitch, eventually } from '../helpers/switch.js';

t.test('200 bridged calls through a SIPp carrier, 0 failed, then no leaks', { skip: hasSipp ? false : 'sipp (sip-tester) not installed' }, async (t) => {
  const script = await startScriptServer(() => ({ body: { module: 'resources', data: { to_did: '+14158867900', use_local_resources: false } } }));
  const carrierPort = await freePort();
  const { sw, port } = await startTestSwitch({
    numbers: { '*': { flow: { module: 'pivot', data: { voice_url: `${script.url}/bridge`, method: 'post' } } } },
    carriers: [{ id: 'trunk', gateways: [{ host: '127.0.0.1', port: carrierPort }] }],
    rtp: { timeoutSeconds: 30 },
  }, { sipTimers: { t1: 150, t2: 1200, t4: 1500, timerD: 2000 } });
  t.teardown(async () => { await sw.close(); await script.close(); });

  const carrier = runSipp([
    '-sn', 'uas', '-i', '127.0.0.1', '-p', String(carrierPort), '-mp', String(await freeEvenPort()), '-m', '200',
    '-timeout', '90s', '-timeout_error',
  ], 100000);
  await new Promise((r) => setTimeout(r, 400));
  const callers = await runSipp([
    `127.0.0.1:${port}`, '-sn', 'uac', '-s', '4999', '-r', '20', '-m', '200', '-l', '60', '-d', '1000',
    '-i', '127.0.0.1', '-p', String(await freePort()), '-mp', String(await freeEvenPort()),
    '-timeout', '90s', '-timeout_error', '-recv_timeout', '10000',
  ], 100000);
  const c = await carrier;
  t.equal(callers.successful, 200, `200 callers bridged and hung up (${callers.errors.slice(-300)})`);
  t.equal(callers.failed, 0);
  t.equal(c.successful, 200, `the carrier answered 200 calls and got 200 BYEs (${c.errors.slice(0, 1500)})`);
  t.equal(c.failed, 0);
  t.equal(sw.stats().legsTotal, 200, 'one outbound leg per call');

  const clean = await eventually(() => {
    const s = sw.stats();
    return s.calls === 0 && s.legs === 0 && s.dialogs === 0 && s.media.sessions === 0 && s.media.portsInUse === 0 && s.prompts === 0
      && s.sip.serverTransactions === 0 && s.sip.clientTransactions === 0 && s.sip.pending2xx === 0 && s.timers === 0;
  }, 20000, 100);
  const s = sw.stats();
  t.ok(clean, `nothing left after 200 bridged calls: ${JSON.stringify(s)}`);
  t.equal(s.calls + s.legs, 0, 'calls and legs');
  t.equal(s.dialogs, 0, 'dialogs');
  t.equal(s.sip.serverTransactions + s.sip.clientTransactions, 0, 'transactions');
  t.equal(s.media.portsInUse, 0, 'RTP ports');
  t.equal(s.timers, 0, 'timers');
});
