/**
 * Registrar and `device` bridging against a real phone: baresip registers with digest auth, a `device` reply
 * rings it, it answers by itself (answermode=auto), audio flows both ways, and either side's BYE ends both legs.
 */
import t from 'tap';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startScriptServer, hasBaresip, Baresip, wavStats } from '../helpers/peers.js';
import { startTestSwitch, eventually } from '../helpers/switch.js';
import { placeCall } from '../../src/pbx/caller.js';
import { tone } from '../../src/media/tone.js';

function toneWav(file: string, hz: number, seconds: number): void {
  const pcm = tone([hz], { durationMs: seconds * 1000 });
  const b = Buffer.alloc(44 + pcm.length * 2);
  b.write('RIFF', 0); b.writeUInt32LE(36 + pcm.length * 2, 4); b.write('WAVE', 8);
  b.write('fmt ', 12); b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(8000, 24); b.writeUInt32LE(16000, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34);
  b.write('data', 36); b.writeUInt32LE(pcm.length * 2, 40);
  for (let i = 0; i < pcm.length; i++) b.writeInt16LE(pcm[i]!, 44 + i * 2);
  writeFileSync(file, b);
}

t.test('baresip registers as a device with digest auth; a device reply rings it; audio both ways; BYE either way; device to device by extension', { skip: hasBaresip ? false : 'baresip not installed' }, async (t) => {
  const script = await startScriptServer(() => ({ body: { module: 'device', data: { id: 'desk', timeout: 10 }, children: { _: { module: 'hangup', data: {} } } } }));
  const { sw, port, uri } = await startTestSwitch({
    numbers: { '4999': { flow: { module: 'pivot', data: { voice_url: `${script.url}/ivr` } } } },
    devices: [{ id: 'desk', username: '1001', password: 's3cret-desk', extension: '201' }, { id: 'lobby', username: '1002', password: 's3cret-lobby' }],
  });
  const dir = mkdtempSync(join(tmpdir(), 'hookline-bridge-dev-'));
  const wav = join(dir, 'tone600.wav');
  toneWav(wav, 600, 60);
  let phone: Baresip | undefined;
  t.teardown(async () => { await phone?.stop(); await sw.close(); await script.close(); rmSync(dir, { recursive: true, force: true }); });
  phone = await Baresip.start({ sourceWav: wav, account: `<sip:1001@127.0.0.1:${port}>;auth_pass=s3cret-desk;regint=300;answermode=auto` });

  t.ok(await eventually(() => sw.stats().registrations === 1, 10000), `baresip registered (log: ${phone.log.slice(-300)})`);
  t.equal(sw.registrar?.contacts('1001')[0]?.source.port !== undefined, true, 'binding keeps the source address and port');

  // 1: the caller hangs up; baresip sees its call closed.
  const r1 = await placeCall({ uri: uri('4999'), from: '99992', portMin: 50000, portMax: 50998, record: true, tone: { frequencies: [1000], ms: 3000 }, maxSeconds: 3 });
  t.equal(r1.outcome, 'answered', `answered by the phone (${r1.status} ${r1.reason})`);
  t.equal(r1.endedBy, 'local');
  t.ok(r1.heardSeconds > 1, `the caller heard the phone's tone (${r1.heardSeconds.toFixed(2)} s, rms ${r1.rms.toFixed(0)})`);
  await phone.waitEvent('CALL_CLOSED', 5000);
  await new Promise((r) => setTimeout(r, 300));
  const rec = phone.receivedWav();
  t.ok(rec, 'baresip recorded what it received');
  if (rec) {
    const s = wavStats(rec);
    t.ok(s.activeSeconds > 1, `the phone heard the caller's tone (${s.activeSeconds.toFixed(2)} s, rms ${s.rms.toFixed(0)})`);
  }
  t.ok(await eventually(() => sw.stats().calls === 0 && sw.stats().legs === 0 && sw.stats().dialogs === 0, 5000), `both legs ended: ${JSON.stringify(sw.stats())}`);

  // 2: the phone hangs up; the caller gets the BYE.
  phone.events.length = 0;
  const p2 = placeCall({ uri: uri('4999'), from: '99992', portMin: 50000, portMax: 50998, maxSeconds: 10 });
  await phone.waitEvent('CALL_ESTABLISHED', 8000);
  await new Promise((r) => setTimeout(r, 1000));
  phone.hangup();
  const r2 = await p2;
  t.equal(r2.outcome, 'answered');
  t.equal(r2.endedBy, 'remote', 'the phone BYE reached the caller');
  t.ok(r2.durationMs < 4000, `ended with the phone (${r2.durationMs} ms)`);
  t.ok(await eventually(() => sw.stats().calls === 0 && sw.stats().legs === 0 && sw.stats().dialogs === 0, 5000), `both legs ended: ${JSON.stringify(sw.stats())}`);

  // 3: a second registered phone dials the first one's extension (its INVITE is challenged with 407 first).
  const lobby = await Baresip.start({ account: `<sip:1002@127.0.0.1:${port}>;auth_pass=s3cret-lobby;regint=300;answermode=auto` });
  t.teardown(() => lobby.stop());
  t.ok(await eventually(() => sw.stats().registrations === 2, 10000), 'the second phone registered');
  phone.events.length = 0;
  lobby.dial(uri('201'));
  await lobby.waitEvent('CALL_ESTABLISHED', 10000);
  await phone.waitEvent('CALL_ESTABLISHED', 5000);
  t.pass('extension 201 from device lobby reached device desk');
  lobby.hangup();
  await phone.waitEvent('CALL_CLOSED', 5000);
  t.ok(await eventually(() => sw.stats().calls === 0 && sw.stats().legs === 0 && sw.stats().dialogs === 0, 5000), `both legs ended: ${JSON.stringify(sw.stats())}`);
  // a CDR is stored once the call's media sessions have closed (their RTP/RTCP figures are in it)
  t.ok(await eventually(() => sw.cdrs.size === 3, 5000), 'the third call\'s record is stored');
  const cdr = sw.cdrs.query({ limit: 1 })[0];
  t.equal(cdr?.legs[0]?.from, '1002', 'the call came from the lobby device');
  t.equal(cdr?.legs[1]?.target, 'device desk', 'and went to the desk device');
  t.equal(sw.cdrs.size, 3, 'one record per call');
});
