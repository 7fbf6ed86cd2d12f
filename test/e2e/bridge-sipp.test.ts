/**
 * Issue #3 acceptance, item 1, with a SIPp caller: the seed's `resources` reply bridges a SIPp UAC to
 * +14158867900 at a SIPp carrier that demands digest auth and echoes RTP. SIPp 3.6 cannot check the audio it
 * receives, so tcpdump captures the caller's media port: the RTP Hookline sends there must carry the caller's
 * own audio (sip-tester's g711a.pcap), which went A-law → μ-law to the carrier and back.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { startScriptServer, runSipp, freePort, freeEvenPort, hasSipp } from '../helpers/peers.js';
import { startTestSwitch, eventually } from '../helpers/switch.js';
import { captureLoopback, canCapture } from '../helpers/pcap.js';
import { ALAW_DECODE } from '../../src/media/g711.js';

const sippDir = join(fileURLToPath(new URL('.', import.meta.url)), '../../../test/e2e/sipp');
const NUMBER = '+14158867900';

function rtpPayload(b: Buffer): { pt: number; payload: Buffer } | undefined {
  if (b.length < 12 || (b[0]! >> 6) !== 2) return undefined;
  const cc = b[0]! & 0x0f;
  let off = 12 + cc * 4;
  if (b[0]! & 0x10) off += 4 + b.readUInt16BE(off + 2) * 4;
  return { pt: b[1]! & 0x7f, payload: b.subarray(off) };
}

function energy(payload: Buffer): number {
  let e = 0;
  for (const x of payload) { const s = ALAW_DECODE[x]!; e += s * s; }
  return Math.sqrt(e / Math.max(1, payload.length));
}

function sameAudio(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  let level = 0;
  for (let i = 0; i < a.length; i++) {
    const x = ALAW_DECODE[a[i]!]!;
    diff += Math.abs(x - ALAW_DECODE[b[i]!]!);
    level += Math.abs(x);
  }
  return diff < 0.05 * level;
}

const skip = !hasSipp ? 'sipp (sip-tester) not installed' : !canCapture ? 'tcpdump (run as root) needed to see what the SIPp caller receives' : false;

t.test('the seed reply bridges a SIPp caller to a SIPp carrier with digest auth; the caller gets its own audio back', { skip }, async (t) => {
  const carrierPort = await freePort();
  const carrier = runSipp(['-sf', join(sippDir, 'carrier-auth-echo.xml'), '-i', '127.0.0.1', '-p', String(carrierPort),
    '-mp', String(await freeEvenPort()), '-rtp_echo', '-m', '1', '-timeout', '40s', '-timeout_error'], 50000);
  const script = await startScriptServer(() => ({ body: { module: 'resources', data: { to_did: NUMBER, use_local_resources: false } } }));
  const { sw, port } = await startTestSwitch({
    accounts: [{ id: 'acct-seed-1' }],
    numbers: { '4999': { account: 'acct-seed-1', flow: { module: 'pivot', data: { voice_url: `${script.url}/ivr`, method: 'post' } } } },
    carriers: [{ id: 'trunk', gateways: [{ host: '127.0.0.1', port: carrierPort, username: 'trunkuser', password: 'trunkpass' }] }],
  });
  t.teardown(async () => { await sw.close(); await script.close(); });
  await new Promise((r) => setTimeout(r, 300));

  const mediaPort = await freeEvenPort();
  const cap = await captureLoopback(`udp port ${mediaPort}`);
  const caller = await runSipp(['-sf', join(sippDir, 'bridge-uac-pcap.xml'), '-s', '4999', `127.0.0.1:${port}`,
    '-i', '127.0.0.1', '-p', String(await freePort()), '-mp', String(mediaPort), '-m', '1', '-timeout', '30s', '-timeout_error'], 40000);
  const packets = await cap.stop();
  t.equal(caller.successful, 1, `the SIPp caller's call completed (${caller.errors.slice(-600)})`);
  const c = await carrier;
  t.equal(c.successful, 1, `the carrier got the INVITE for ${NUMBER} with valid digest credentials, then the BYE (${c.errors.slice(-600)})`);
  t.equal(c.failed, 0);

  const req = (await script.waitFor(1, 1000))[0]!;
  t.equal(req.params['Caller-ID-Number'], '99992');

  const sent = packets.filter((p) => p.srcPort === mediaPort).map((p) => rtpPayload(p.payload)).filter((p) => p !== undefined);
  const back = packets.filter((p) => p.dstPort === mediaPort).map((p) => rtpPayload(p.payload)).filter((p) => p !== undefined);
  t.ok(sent.length >= 200, `the caller sent its pcap audio (${sent.length} RTP packets)`);
  t.ok(back.length >= 150, `RTP came back to the caller's media port (${back.length} packets)`);
  t.ok(back.every((p) => p.pt === 8), 'in the caller\'s codec (PCMA)');
  // Own audio: each speech frame the caller sent comes back (A-law → μ-law at the carrier → A-law again, so
  // within G.711 rounding: a mean sample error under 5 % of the frame's own level).
  const loud = sent.filter((p) => energy(p.payload) > 500).map((p) => p.payload);
  const found = loud.filter((s) => back.some((b) => sameAudio(s, b.payload))).length;
  t.ok(loud.length > 100, `the pcap holds speech (${loud.length} loud frames)`);
  t.ok(found / loud.length >= 0.9, `${found} of ${loud.length} speech frames came back to the caller`);

  const clean = await eventually(() => { const s = sw.stats(); return s.calls === 0 && s.legs === 0 && s.dialogs === 0 && s.media.portsInUse === 0; }, 8000);
  t.ok(clean, `both legs ended: ${JSON.stringify(sw.stats())}`);
});
