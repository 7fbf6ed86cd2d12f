/**
 * SIPp's built-in `uac` scenario against Hookline: 500 calls at 50 calls/s, each a webhook round trip and a TTS
 * prompt, 0 failed. Afterwards nothing leaks: no calls, dialogs, transactions, RTP ports, prompts or timers.
 */
import t from 'tap';
import { startScriptServer, runSipp, freePort, freeEvenPort, hasSipp } from '../helpers/peers.js';
import { startTestSwitch, eventually } from '../helpers/switch.js';

t.test('SIPp uac: 500 calls at 50 calls/s, 0 failed, then no leaks', { skip: hasSipp ? false : 'sipp (sip-tester) not installed' }, async (t) => {
  const script = await startScriptServer(() => ({
    body: { module: 'tts', data: { text: 'Welcome to Hookline.' }, children: { _: { module: 'sleep', data: { duration: 30 } } } },
  }));
  // Short SIP timers (T1 = 50 ms) so completed transactions drain in seconds and the leak check can see zero.
  const { sw, port } = await startTestSwitch({
    numbers: { '*': { flow: { module: 'pivot', data: { voice_url: `${script.url}/load`, method: 'post' } } } },
    rtp: { timeoutSeconds: 30 },
    // The overload guard is off here: when another test file hogs the CPU the SIP receive queue can stand at
    // 250 ms even at 50 calls/s, and the guard then rightly refuses calls with 503 (seen once, with builds running
    // beside the tests). This test is about call handling and leaks; pbx/overload and e2e/signalling test the guard.
    calls: { overloadGuard: false },
  }, { sipTimers: { t1: 50, t2: 400, t4: 500, timerD: 2000 } });
  t.teardown(async () => { await sw.close(); await script.close(); });

  const res = await runSipp([
    `127.0.0.1:${port}`, '-sn', 'uac', '-s', '4999', '-r', '50', '-m', '500', '-l', '200', '-d', '1000',
    '-i', '127.0.0.1', '-p', String(await freePort()), '-mp', String(await freeEvenPort()),
    '-timeout', '120s', '-timeout_error', '-recv_timeout', '10000',
  ], 150000);
  t.equal(res.code, 0, `sipp exit code (${res.stderr.slice(-300)}) ${res.errors}`);
  t.equal(res.successful, 500, '500 successful calls');
  t.equal(res.failed, 0, '0 failed calls');
  t.equal(script.requests.length, 500, 'one webhook request per call');
  t.equal(sw.stats().callsTotal, 500);

  // Leak check: everything a call owned is released.
  const clean = await eventually(() => {
    const s = sw.stats();
    return s.calls === 0 && s.dialogs === 0 && s.media.sessions === 0 && s.media.portsInUse === 0 && s.prompts === 0
      && s.sip.serverTransactions === 0 && s.sip.clientTransactions === 0 && s.sip.pending2xx === 0 && s.timers === 0;
  }, 15000, 100);
  const s = sw.stats();
  t.ok(clean, `nothing left after 500 calls: ${JSON.stringify(s)}`);
  t.equal(s.calls, 0, 'calls');
  t.equal(s.dialogs, 0, 'dialogs');
  t.equal(s.sip.serverTransactions + s.sip.clientTransactions, 0, 'transactions');
  t.equal(s.media.sessions, 0, 'media sessions');
  t.equal(s.media.portsInUse, 0, 'RTP ports');
  t.equal(s.timers, 0, 'timers');
  t.equal(s.prompts, 0, 'prompt refs in use');
});
