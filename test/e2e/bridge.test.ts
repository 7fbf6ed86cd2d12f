/**
 * Bridging to outbound trunks against real peers on 127.0.0.1: SIPp plays the carrier (digest auth, RTP echo,
 * busy, ringing until cancelled, 503 then failover), Hookline's own test caller dials in (SIPp for a delayed offer),
 * a real HTTP server is the web script that replies with `resources`.
 */
import t, { type Test } from 'tap';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { startScriptServer, runSipp, freePort, freeEvenPort, hasSipp, type ScriptServer, type SippResult, type ScriptReply } from '../helpers/peers.js';
import { startTestSwitch, eventually } from '../helpers/switch.js';
import { placeCall } from '../../src/pbx/caller.js';
import type { Switch } from '../../src/pbx/switch.js';
import { startMediaServer, wavBytes, toneShare } from '../media/media-server.js';
import { startDnsServer } from '../helpers/dns.js';

const sippDir = join(fileURLToPath(new URL('.', import.meta.url)), '../../../test/e2e/sipp');
const NUMBER = '+14158867900';

interface Carrier { port: number; done: Promise<SippResult> }

/** Start a SIPp carrier (UAS, one call) and give it time to bind. */
async function startCarrier(scenario: string, keys: Record<string, string>, echo = false): Promise<Carrier> {
  const port = await freePort();
  const args = [
    '-sf', join(sippDir, scenario), '-i', '127.0.0.1', '-p', String(port), '-mp', String(await freeEvenPort()),
    '-m', '1', '-timeout', '30s', '-timeout_error',
  ];
  for (const [k, v] of Object.entries(keys)) args.push('-key', k, v);
  if (echo) args.push('-rtp_echo');
  const done = runSipp(args, 40000);
  await new Promise((r) => setTimeout(r, 400));
  return { port, done };
}

async function setup(t: Test, reply: (path: string) => ScriptReply, carriers: unknown[], extra: Record<string, unknown> = {}): Promise<{ sw: Switch; script: ScriptServer; uri: string }> {
  const script = await startScriptServer((req) => reply(req.path));
  const { sw, uri } = await startTestSwitch({
    accounts: [{ id: 'acct-seed-1' }],
    numbers: { '4999': { account: 'acct-seed-1', flow: { module: 'pivot', data: { voice_url: `${script.url}/ivr`, method: 'post' } } } },
    carriers,
    ...extra,
  }, { sipTimers: { t1: 50, t2: 400, t4: 500, timerD: 1000 } });
  t.teardown(async () => { await sw.close(); await script.close(); });
  return { sw, script, uri: uri('4999') };
}

async function noLeaks(t: Test, sw: Switch): Promise<void> {
  const clean = await eventually(() => {
    const s = sw.stats();
    // Transactions drain on their RFC timers (Timer J = 64*T1): bridge-load.test checks them after 200 calls.
    return s.calls === 0 && s.legs === 0 && s.dialogs === 0 && s.media.sessions === 0 && s.media.portsInUse === 0;
  }, 8000, 50);
  t.ok(clean, `nothing left: ${JSON.stringify(sw.stats())}`);
}

const gateway = (port: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ host: '127.0.0.1', port, ...extra });
const resources = (data: Record<string, unknown>, children?: Record<string, unknown>): ScriptReply => ({
  body: { module: 'resources', data: { to_did: NUMBER, use_local_resources: false, ...data }, ...(children ? { children } : {}) },
});
const CALLER = { from: '99992', portMin: 50000, portMax: 50998 };

t.test('bridging to SIP trunks', { skip: hasSipp ? false : 'sipp (sip-tester) not installed' }, async (t) => {
  t.test('the seed reply: digest auth at the carrier, the caller hears its own audio back, caller BYE ends both legs', async (t) => {
    const carrier = await startCarrier('carrier-auth-echo.xml', { number: NUMBER, numre: '\\+14158867900', user: 'trunkuser', pass: 'trunkpass' }, true);
    const cdrSink = await startScriptServer(() => ({ body: 'ok', contentType: 'text/plain' }));
    t.teardown(() => cdrSink.close());
    const { sw, uri } = await setup(t, () => resources({}), [{ id: 'trunk', gateways: [gateway(carrier.port, { username: 'trunkuser', password: 'trunkpass' })] }],
      { cdr: { url: `${cdrSink.url}/cdr` } });
    const r = await placeCall({ uri, ...CALLER, record: true, tone: { frequencies: [1000], ms: 2500 }, maxSeconds: 3 });
    t.equal(r.outcome, 'answered', `answered (${r.status} ${r.reason})`);
    t.equal(r.endedBy, 'local', 'the caller hung up');
    t.ok(r.heardSeconds > 1.5, `the caller heard its tone echoed back for ${r.heardSeconds.toFixed(2)} s (rms ${r.rms.toFixed(0)})`);
    const c = await carrier.done;
    t.equal(c.successful, 1, `carrier saw the number, valid credentials, and the BYE (${c.errors.slice(-600)})`);
    t.equal(c.failed, 0);
    await noLeaks(t, sw);
    // One CDR for the call with both legs, in the local store and POSTed form-encoded.
    const cdrs = sw.cdrs.query();
    t.equal(cdrs.length, 1, 'one record per call');
    const rec = cdrs[0]!;
    t.equal(rec.legs.length, 2, 'both legs');
    t.equal(rec.legs[0]!.direction, 'inbound');
    t.equal(rec.legs[1]!.direction, 'outbound');
    t.equal(rec.legs[1]!.to, NUMBER);
    t.equal(rec.legs[1]!.sipCode, 200);
    t.equal(rec.legs[1]!.codec, 'PCMU');
    t.equal(rec.hangupCause, 'NORMAL_CLEARING');
    t.ok(rec.billableSeconds >= 2, `billable ${rec.billableSeconds} s`);
    const posted = await cdrSink.waitFor(1, 5000);
    t.equal(posted[0]!.params['Call-ID'], rec.callId);
    t.equal(posted[0]!.params['Legs[1][Hangup-Code]'], 'sip:200', 'legs nested as Legs[i][field]');
    t.equal(posted[0]!.params['Hangup-Cause'], 'NORMAL_CLEARING');
  });

  t.test('busy (486, after a SHA-256 proxy challenge) takes the USER_BUSY child', async (t) => {
    const carrier = await startCarrier('carrier-busy.xml', {});
    const { sw, script, uri } = await setup(t, (path) => (path === '/ivr'
      ? resources({}, { USER_BUSY: { module: 'pivot', data: { voice_url: `${scriptUrl()}/busy` } }, 'sip:486': { module: 'pivot', data: { voice_url: `${scriptUrl()}/code` } } })
      : { body: { module: 'hangup', data: {} } }), [{ id: 'trunk', gateways: [gateway(carrier.port, { username: 'trunkuser', password: 'trunkpass' })] }]);
    const scriptUrl = (): string => script.url;
    const r = await placeCall({ uri, ...CALLER, maxSeconds: 3 });
    t.not(r.outcome, 'answered');
    const reqs = await script.waitFor(2, 5000);
    t.equal(reqs[1]!.path, '/busy', 'the cause child wins over sip:486');
    const c = await carrier.done;
    t.equal(c.successful, 1, `carrier saw SHA-256 Proxy-Authorization (${c.errors.slice(-400)})`);
    await noLeaks(t, sw);
  });

  t.test('no answer within the timeout: CANCEL to the carrier (487), NO_ANSWER child', async (t) => {
    const carrier = await startCarrier('carrier-ring-cancel.xml', {});
    let base = '';
    const { sw, script, uri } = await setup(t, (path) => (path === '/ivr'
      ? resources({ timeout: 2 }, { NO_ANSWER: { module: 'pivot', data: { voice_url: `${base}/noanswer` } } })
      : { body: { module: 'hangup', data: {} } }), [{ id: 'trunk', gateways: [gateway(carrier.port)] }]);
    base = script.url;
    const r = await placeCall({ uri, ...CALLER, maxSeconds: 3 });
    t.not(r.outcome, 'answered');
    const reqs = await script.waitFor(2, 8000);
    t.equal(reqs[1]!.path, '/noanswer');
    const c = await carrier.done;
    t.equal(c.successful, 1, `carrier got the CANCEL and the ACK of its 487 (${c.errors.slice(-400)})`);
    await noLeaks(t, sw);
  });

  t.test('first gateway 503 → the second answers; the carrier BYE ends the caller leg', async (t) => {
    const bad = await startCarrier('carrier-unavailable.xml', {});
    const good = await startCarrier('carrier-answer-bye.xml', {}, true);
    const { sw, script, uri } = await setup(t, () => resources({}, { _: { module: 'hangup', data: {} } }),
      [{ id: 'trunk', gateways: [gateway(bad.port), gateway(good.port)] }]);
    const r = await placeCall({ uri, ...CALLER, record: true, tone: { frequencies: [800], ms: 3000 }, maxSeconds: 8 });
    t.equal(r.outcome, 'answered');
    t.equal(r.endedBy, 'remote', 'the carrier BYE reached the caller');
    t.ok(r.durationMs < 5000, `ended with the carrier (${r.durationMs} ms)`);
    t.ok(r.heardSeconds > 0.5, `echo through the second gateway (${r.heardSeconds.toFixed(2)} s)`);
    t.equal((await bad.done).successful, 1);
    t.equal((await good.done).successful, 1);
    t.equal(script.requests.length, 1, 'no failure branch taken');
    await noLeaks(t, sw);
  });

  t.test('the caller hangs up while the carrier rings: CANCEL and 487 at the carrier', async (t) => {
    const carrier = await startCarrier('carrier-ring-cancel.xml', {});
    const { sw, uri } = await setup(t, () => resources({ timeout: 30 }), [{ id: 'trunk', gateways: [gateway(carrier.port)] }]);
    const r = await placeCall({ uri, ...CALLER, cancelAfterMs: 1500, maxSeconds: 3 });
    t.equal(r.status, 487, 'the caller got 487 for its CANCEL');
    const c = await carrier.done;
    t.equal(c.successful, 1, `carrier got CANCEL and the ACK of its 487 (${c.errors.slice(-400)})`);
    await noLeaks(t, sw);
  });
  t.test('early media: the carrier 183 with SDP reaches the caller as 183; ignore_early_media gives 180 instead', async (t) => {
    for (const ignore of [false, true]) {
      const carrier = await startCarrier('carrier-early-media.xml', {}, true);
      const { sw, uri } = await setup(t, () => resources({ ignore_early_media: ignore }), [{ id: 'trunk', gateways: [gateway(carrier.port)] }]);
      const r = await placeCall({ uri, ...CALLER, record: true, tone: { frequencies: [700], ms: 1500 }, maxSeconds: 2 });
      t.equal(r.outcome, 'answered');
      t.same(r.progress, [ignore ? 180 : 183], ignore ? 'ringing only' : 'early media relayed');
      t.ok(r.heardSeconds > 0.8, `echo after the answer (${r.heardSeconds.toFixed(2)} s)`);
      t.equal((await carrier.done).successful, 1);
      await noLeaks(t, sw);
      await sw.close();
    }
  });

  t.test('a caller with a delayed offer gets 180 (not 183) while the carrier plays early media, then our offer in the 200', async (t) => {
    const carrier = await startCarrier('carrier-early-media.xml', {}, true);
    const { sw } = await setup(t, () => resources({}), [{ id: 'trunk', gateways: [gateway(carrier.port)] }]);
    const res = await runSipp([
      `127.0.0.1:${sw.addresses().sip[0]!.port}`, '-sf', join(sippDir, 'late-offer-uac.xml'), '-s', '4999', '-m', '1', '-i', '127.0.0.1',
      '-p', String(await freePort()), '-mp', String(await freeEvenPort()), '-timeout', '30s', '-timeout_error',
    ], 40000);
    t.equal(res.successful, 1, `the caller got 180, then a 200 with an offer, and hung up (stderr: ${res.stderr.slice(-300)})`);
    t.equal((await carrier.done).successful, 1, 'the carrier leg answered and got the BYE');
    await noLeaks(t, sw);
    await sw.close();
  });

  t.test('a caller already hearing early media gets a local ringback tone while the carrier rings (180 without SDP)', async (t) => {
    const carrier = await startCarrier('carrier-ring-cancel.xml', {});
    const media = await startMediaServer({ '/short.wav': { body: wavBytes(1000, 500, 8000), contentType: 'audio/wav' } });
    t.teardown(() => media.close());
    let base = '';
    const { sw, script, uri } = await setup(t, (path) => (path === '/ivr'
      ? { body: { module: 'play', data: { id: `${media.url}/short.wav`, answer: false }, children: { _: {
        module: 'resources', data: { to_did: NUMBER, use_local_resources: false, timeout: 4 },
        children: { NO_ANSWER: { module: 'pivot', data: { voice_url: `${base}/noanswer` } } } } } } }
      : { body: { module: 'response', data: { code: 480, message: 'Temporarily Unavailable' } } }), [{ id: 'trunk', gateways: [gateway(carrier.port)] }]);
    base = script.url;
    const r = await placeCall({ uri, ...CALLER, record: true, maxSeconds: 10 });
    t.equal(r.outcome, 'rejected', `never answered (${r.status})`);
    t.equal(r.status, 480);
    t.same(r.progress, [183], 'early media only: no 180 once the caller hears in-band audio');
    const audio = r.audio ?? new Int16Array(0);
    // After the 0.5 s of 1 kHz: ringback (440 + 480 Hz, 2 s on) while the carrier rings.
    const ring = audio.subarray(Math.min(audio.length, 8000), Math.min(audio.length, 8000 + 12000));
    const share = toneShare(ring, 440) + toneShare(ring, 480);
    t.ok(ring.length >= 8000, `early audio recorded (${(audio.length / 8000).toFixed(2)} s)`);
    t.ok(share > 0.6, `the caller heard 440+480 Hz ringback (share of energy ${share.toFixed(2)})`);
    t.ok(toneShare(ring, 1000) < 0.05, 'not the earlier prompt');
    t.equal((await carrier.done).successful, 1, 'the carrier was cancelled');
    await noLeaks(t, sw);
  });

  t.test('a gateway that never replies: the next one is tried after replyTimeout, not Timer B', async (t) => {
    // A UDP socket that swallows everything (no ICMP, no reply): a gateway that is down.
    const { createSocket } = await import('node:dgram');
    const dead = createSocket('udp4');
    await new Promise<void>((r) => dead.bind(0, '127.0.0.1', () => r()));
    let seen = 0;
    dead.on('message', () => { seen++; });
    t.teardown(() => dead.close());
    const good = await startCarrier('carrier-answer-bye.xml', {}, true);
    const script = await startScriptServer(() => resources({}, { _: { module: 'hangup', data: {} } }));
    // RFC 3261 default timers here (Timer B = 32 s), so only the reply timeout can explain a quick failover.
    const { sw, uri } = await startTestSwitch({
      accounts: [{ id: 'acct-seed-1' }],
      numbers: { '4999': { account: 'acct-seed-1', flow: { module: 'pivot', data: { voice_url: `${script.url}/ivr`, method: 'post' } } } },
      carriers: [{ id: 'trunk', gateways: [gateway(dead.address().port, { replyTimeout: 1 }), gateway(good.port)] }],
    });
    t.teardown(async () => { await sw.close(); await script.close(); });
    const r = await placeCall({ uri: uri('4999'), ...CALLER, maxSeconds: 8 });
    t.equal(r.outcome, 'answered', `answered by the second gateway (${r.status})`);
    t.ok(r.setupMs > 900 && r.setupMs < 10000, `after about the 1 s reply timeout plus the carrier's own ringing (${r.setupMs} ms), not Timer B's 32 s`);
    t.ok(seen >= 1, `the dead gateway got the INVITE (${seen} datagrams with retransmissions)`);
    t.equal((await good.done).successful, 1);
    await noLeaks(t, sw);
  });

  t.test('a gateway host name without a port is located by DNS SRV: the first target 503, the second answers', async (t) => {
    const bad = await startCarrier('carrier-unavailable.xml', {});
    const good = await startCarrier('carrier-answer-bye.xml', {}, true);
    const dns = await startDnsServer({
      srv: { '_sip._udp.carrier.test': [{ priority: 10, weight: 0, port: bad.port, target: 'edge1.carrier.test' }, { priority: 20, weight: 0, port: good.port, target: 'edge2.carrier.test' }] },
      a: { 'edge1.carrier.test': ['127.0.0.1'], 'edge2.carrier.test': ['127.0.0.1'] },
    });
    t.teardown(() => dns.close());
    const { sw, uri } = await setup(t, () => resources({}, { _: { module: 'hangup', data: {} } }),
      [{ id: 'trunk', gateways: [{ host: 'carrier.test' }] }], { sip: { dnsServers: [dns.address] } });
    const r = await placeCall({ uri, ...CALLER, maxSeconds: 8 });
    t.equal(r.outcome, 'answered', `answered through the second SRV target (${r.status})`);
    t.equal((await bad.done).successful, 1, 'the priority-10 target was tried first');
    t.equal((await good.done).successful, 1);
    t.ok(dns.queries.includes('SRV _sip._udp.carrier.test'), `SRV asked (${dns.queries.join(', ')})`);
    await noLeaks(t, sw);
  });
});
