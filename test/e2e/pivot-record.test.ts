/**
 * Recording end to end (PIVOT.md 2.8, 3.2; conformance cases 37 and 38): a real switch, a real web script
 * server that also receives the uploads, the built-in test caller (placeCall) and, for record_call around a
 * bridge, baresip registered as device DEV1 playing its own tone.
 */
import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasBaresip, Baresip } from '../helpers/peers.js';
import { startTestSwitch, eventually } from '../helpers/switch.js';
import { toneSeconds } from '../helpers/audio-check.js';
import { placeCall } from '../../src/pbx/caller.js';
import { tone } from '../../src/media/tone.js';
import { readWav } from '../../src/media/wav.js';
import { decodeMp3 } from '../../src/media/mp3.js';

interface Req { method: string; path: string; query: URLSearchParams; type: string | undefined; body: Buffer; at: number }

/** A web script server that keeps request bodies as bytes (the uploads are binary). */
async function scriptServer(reply: (r: Req) => { status?: number; body?: unknown; xml?: string }): Promise<{ url: string; reqs: Req[]; close: () => Promise<void> }> {
  const reqs: Req[] = [];
  const s = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const r: Req = { method: req.method ?? '', path: u.pathname, query: u.searchParams, type: req.headers['content-type'], body: Buffer.concat(chunks), at: Date.now() };
      reqs.push(r);
      const out = reply(r);
      if (out.xml !== undefined) { res.writeHead(out.status ?? 200, { 'content-type': 'text/xml' }); res.end(out.xml); return; }
      res.writeHead(out.status ?? 200, out.body === undefined ? {} : { 'content-type': 'application/json' });
      res.end(out.body === undefined ? '' : JSON.stringify(out.body));
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, reqs, close: () => new Promise((r) => { s.closeAllConnections(); s.close(() => r()); }) };
}

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

t.test('case 37: record_caller uploads the caller (a WAV named from the Call-ID), then a GET /afterrec without Recording-Url', async (t) => {
  let base = '';
  const srv = await scriptServer((r) => {
    if (r.path === '/ivr') return { body: { module: 'record_caller', data: { url: `${base}/rec`, format: 'wav', time_limit: 30 }, children: { _: { module: 'pivot', data: { voice_url: `${base}/afterrec` } } } } };
    if (r.method === 'PUT') return { status: 201 };
    return { body: { module: 'hangup', data: {} } };
  });
  base = srv.url;
  const { sw, uri } = await startTestSwitch({ numbers: { '4999': { flow: { module: 'pivot', data: { voice_url: `${srv.url}/ivr` } } } } });
  t.teardown(async () => { await sw.close(); await srv.close(); });

  // the caller "speaks" (a 1 kHz tone) and presses # 2.5 s after the answer
  const r = await placeCall({ uri: uri('4999'), from: '99992', portMin: 51000, portMax: 51998, tone: { frequencies: [1000], ms: 5000 }, digits: '#', waitMs: 2500, maxSeconds: 15 });
  t.equal(r.outcome, 'answered');
  t.equal(r.endedBy, 'remote', 'the script hung up after /afterrec');
  t.ok(await eventually(() => srv.reqs.some((q) => q.path === '/afterrec'), 5000), 'GET /afterrec arrived');
  const ivr = srv.reqs.find((q) => q.path === '/ivr')!;
  const callId = ivr.query.get('Call-ID')!;
  t.ok(callId, `the Call-ID (${callId})`);
  const puts = srv.reqs.filter((q) => q.method === 'PUT');
  t.equal(puts.length, 1, 'one upload');
  const put = puts[0]!;
  t.equal(put.path, `/rec/${encodeURIComponent(callId)}.wav`, 'PUT under /rec/ named <Call-ID>.wav');
  t.equal(decodeURIComponent(put.path.slice('/rec/'.length)), `${callId}.wav`);
  t.equal(put.type, 'audio/wav');
  const wav = readWav(put.body);
  t.equal(wav.sampleRate, 8000);
  t.equal(wav.channels, 1);
  t.equal(wav.format, 'pcm16');
  const secs = wav.pcm.length / 8000;
  t.ok(secs > 1.5 && secs < 3.2, `plausible length: answer + beep → # at 2.5 s (${secs.toFixed(2)} s)`);
  const heard = toneSeconds(wav.pcm, 1000, [440, 700, 1400]);
  t.ok(heard > secs - 0.6, `the caller's 1 kHz tone fills the recording (${heard.toFixed(1)} of ${secs.toFixed(2)} s)`);
  t.ok(toneSeconds(wav.pcm, 440, [1000, 700]) < 0.2, 'the beep (what the caller heard) is not in a caller-only recording');
  const after = srv.reqs.find((q) => q.path === '/afterrec')!;
  t.equal(after.method, 'GET');
  t.ok(after.at >= put.at, 'the next request came after the upload');
  t.equal(after.query.get('Call-ID'), callId);
  for (const k of ['Recording-Url', 'RecordingUrl', 'Recording-Duration', 'Recording-ID']) t.notOk(after.query.has(k), `no ${k}`);
  t.ok(await eventually(() => sw.stats().calls === 0, 5000), 'the call ended');
});

t.test('case 38: record_call around a bridge: a WAV (and an MP3) of both sides, as long as the call', { skip: hasBaresip ? false : 'baresip not installed' }, async (t) => {
  let base = '';
  let format = 'wav';
  const srv = await scriptServer((r) => {
    if (r.path === '/ivr') return { body: { module: 'record_call', data: { action: 'start', format, url: `${base}/calls`, time_limit: 600 }, children: { _: { module: 'device', data: { id: 'DEV1', timeout: 10 } } } } };
    return { status: 200 };
  });
  base = srv.url;
  const { sw, port, uri } = await startTestSwitch({
    numbers: { '4999': { flow: { module: 'pivot', data: { voice_url: `${srv.url}/ivr` } } } },
    devices: [{ id: 'DEV1', username: '1001', password: 's3cret-dev1' }],
  });
  const dir = mkdtempSync(join(tmpdir(), 'hookline-rec-'));
  const wavB = join(dir, 'tone600.wav');
  toneWav(wavB, 600, 60);
  let phone: Baresip | undefined;
  t.teardown(async () => { await phone?.stop(); await sw.close(); await srv.close(); rmSync(dir, { recursive: true, force: true }); });
  phone = await Baresip.start({ sourceWav: wavB, account: `<sip:1001@127.0.0.1:${port}>;auth_pass=s3cret-dev1;regint=300;answermode=auto` });
  t.ok(await eventually(() => sw.stats().registrations === 1, 10000), 'DEV1 registered');

  for (const f of ['wav', 'mp3'] as const) {
    format = f;
    const before = srv.reqs.length;
    // tone A (1 kHz) from the caller for 2 s, then silence; the caller hangs up after 4 s; DEV1 plays tone B (600 Hz)
    const r = await placeCall({ uri: uri('4999'), from: '99992', portMin: 51000, portMax: 51998, tone: { frequencies: [1000], ms: 2000 }, maxSeconds: 4 });
    t.equal(r.outcome, 'answered', `${f}: answered by DEV1`);
    t.equal(r.endedBy, 'local');
    t.ok(await eventually(() => srv.reqs.slice(before).some((q) => q.method === 'PUT'), 15000), `${f}: the upload arrived after the call`);
    const ivr = srv.reqs.slice(before).find((q) => q.path === '/ivr')!;
    const callId = ivr.query.get('Call-ID')!;
    const put = srv.reqs.slice(before).find((q) => q.method === 'PUT')!;
    t.equal(put.path, `/calls/call_recording_${encodeURIComponent(callId)}.${f}`, `${f}: PUT /calls/call_recording_<CALL_ID>.${f}`);
    // The call's CDR waits for the upload and names it.
    t.ok(await eventually(() => sw.cdrs.query({ callId }).length === 1, 10000), `${f}: the CDR was written after the upload`);
    const cdrRec = sw.cdrs.query({ callId })[0]?.recordings ?? [];
    t.equal(cdrRec.length, 1, `${f}: one recording in the CDR`);
    t.equal(cdrRec[0]?.status, 'uploaded');
    t.match(cdrRec[0]?.url ?? '', new RegExp(`/calls/call_recording_.*\\.${f}$`), `${f}: with its URL`);
    let pcm: Int16Array;
    if (f === 'wav') {
      t.equal(put.type, 'audio/wav');
      const w = readWav(put.body);
      t.equal(w.sampleRate, 8000);
      t.equal(w.format, 'pcm16');
      t.equal(put.body.readUInt32LE(40), w.pcm.length * 2, 'data chunk size matches');
      pcm = w.pcm;
    } else {
      t.equal(put.type, 'audio/mpeg');
      const d = await decodeMp3(put.body);
      t.equal(d.sampleRate, 8000);
      pcm = d.pcm;
    }
    const secs = pcm.length / 8000;
    const answered = r.durationMs / 1000;
    t.ok(Math.abs(secs - answered) < (f === 'mp3' ? 0.6 : 0.5), `${f}: recording ${secs.toFixed(2)} s vs answered call ${answered.toFixed(2)} s`);
    // each tone against frequencies neither tone has (the two sound together for the first 2 s)
    const a = toneSeconds(pcm, 1000, [300, 1400]);
    const b = toneSeconds(pcm, 600, [300, 1400]);
    t.ok(a >= 1.4 && a <= 2.4, `${f}: the caller's tone A (1 kHz, 2 s) is recorded (${a.toFixed(1)} s)`);
    t.ok(b >= answered - 1, `${f}: DEV1's tone B (600 Hz), what the caller heard, is recorded throughout (${b.toFixed(1)} s)`);
    const both = (x: number, y: number): boolean => x > 0 && y > 0;
    let mixed = 0;
    for (let i = 0; i + 800 <= 16000 && i + 800 <= pcm.length; i += 800) {
      const w = pcm.subarray(i, i + 800);
      if (both(toneSeconds(w, 1000, [1400], 8000, 5), toneSeconds(w, 600, [1400], 8000, 5))) mixed++;
    }
    t.ok(mixed >= 5, `${f}: both tones at once in the first 2 s (mixed, ${mixed} of 20 windows)`);
    t.ok(await eventually(() => sw.stats().calls === 0 && sw.stats().legs === 0, 5000), `${f}: both legs ended`);
  }
});

t.test('TwiML <Record>: stored under pivot.recordingUrl, then action gets RecordingUrl/RecordingDuration/RecordingSid; silence timeout; empty → next verb', async (t) => {
  const srv = await scriptServer((r) => {
    if (r.path === '/ivr') return { xml: '<Response><Record action="/recorded" finishOnKey="#" timeout="2" maxLength="20"/><Say>nothing recorded</Say></Response>' };
    if (r.method === 'PUT') return { status: 201 };
    return { xml: '<Response><Hangup/></Response>' };
  });
  const { sw, uri } = await startTestSwitch({
    numbers: { '4999': { flow: { module: 'pivot', data: { voice_url: `${srv.url}/ivr`, req_format: 'twiml' } } } },
    pivot: { recordingUrl: `${srv.url}/store` },
  });
  t.teardown(async () => { await sw.close(); await srv.close(); });

  // 1: a 1 kHz tone, then # at 2.5 s
  const r1 = await placeCall({ uri: uri('4999'), from: '99992', portMin: 51000, portMax: 51998, tone: { frequencies: [1000], ms: 5000 }, digits: '#', waitMs: 2500, maxSeconds: 15 });
  t.equal(r1.endedBy, 'remote');
  t.ok(await eventually(() => srv.reqs.some((q) => q.path === '/recorded'), 5000), 'POST /recorded');
  const ivr = srv.reqs.find((q) => q.path === '/ivr')!;
  const sid = ivr.query.get('CallSid')!;
  const put = srv.reqs.find((q) => q.method === 'PUT')!;
  t.equal(put.path, `/store/${encodeURIComponent(sid)}-1.wav`, 'stored as <CallSid>-1.wav');
  const wav = readWav(put.body);
  const secs = wav.pcm.length / 8000;
  t.ok(secs > 1.5 && secs < 3.2, `recorded until # (${secs.toFixed(2)} s)`);
  t.ok(toneSeconds(wav.pcm, 1000, [700, 1400]) > secs - 0.6, 'holds the caller\'s tone');
  const rec = srv.reqs.find((q) => q.path === '/recorded')!;
  t.equal(rec.method, 'POST');
  const form = new URLSearchParams(rec.body.toString('utf8'));
  t.equal(form.get('RecordingUrl'), `${srv.url}/store/${encodeURIComponent(sid)}-1.wav`);
  t.equal(form.get('RecordingDuration'), String(Math.round(secs)));
  t.equal(form.get('RecordingSid'), `${sid}-1`);
  t.equal(form.get('Digits'), '#', 'the key that ended it');

  // 2: a 1 s tone, then silence: the 2 s silence timeout ends it
  const before = srv.reqs.length;
  const r2 = await placeCall({ uri: uri('4999'), from: '99992', portMin: 51000, portMax: 51998, tone: { frequencies: [1000], ms: 1000 }, maxSeconds: 15 });
  t.equal(r2.endedBy, 'remote');
  t.ok(r2.durationMs < 8000, `ended by the silence timeout, not maxSeconds (${r2.durationMs} ms)`);
  const put2 = srv.reqs.slice(before).find((q) => q.method === 'PUT');
  t.ok(put2, 'stored');
  if (put2) {
    const s2 = readWav(put2.body).pcm.length / 8000;
    t.ok(s2 > 2 && s2 < 4, `1 s of tone (minus the beep) + 2 s of silence (${s2.toFixed(2)} s)`);
  }
  t.ok(srv.reqs.slice(before).some((q) => q.path === '/recorded'), 'then the action');

  // 3: the caller says nothing: nothing stored, no action request, the next verb runs (then the call ends)
  const before3 = srv.reqs.length;
  const r3 = await placeCall({ uri: uri('4999'), from: '99992', portMin: 51000, portMax: 51998, record: true, maxSeconds: 15 });
  t.equal(r3.endedBy, 'remote');
  t.notOk(srv.reqs.slice(before3).some((q) => q.method === 'PUT' || q.path === '/recorded'), 'no upload, no action request');
  t.ok(r3.heardSeconds > 0.7, `the caller heard the next verb's <Say> (${r3.heardSeconds.toFixed(1)} s of audio)`);
  t.ok(await eventually(() => sw.stats().calls === 0, 5000));
});

t.test('record_call: a failed upload is retried after the call; switch.close() waits for it (bounded)', async (t) => {
  let base = '';
  let puts = 0;
  const srv = await scriptServer((r) => {
    if (r.path === '/ivr') return { body: { module: 'record_call', data: { action: 'start', format: 'wav', url: `${base}/calls` }, children: { _: { module: 'tts', data: { text: 'Hello there.' } } } } };
    if (r.method === 'PUT') return { status: ++puts === 1 ? 503 : 204 };
    return { status: 404 };
  });
  base = srv.url;
  const { sw, uri } = await startTestSwitch({ numbers: { '4999': { flow: { module: 'pivot', data: { voice_url: `${srv.url}/ivr` } } } } });
  t.teardown(async () => { await sw.close(); await srv.close(); });
  const r = await placeCall({ uri: uri('4999'), from: '99992', portMin: 51000, portMax: 51998, tone: { frequencies: [1000], ms: 800 }, maxSeconds: 15 });
  t.equal(r.endedBy, 'remote', 'the flow ended after the tts');
  const t0 = Date.now();
  await sw.close();
  const took = Date.now() - t0;
  const got = srv.reqs.filter((q) => q.method === 'PUT');
  t.equal(got.length, 2, `503 then a retry that succeeded, before close() resolved (${took} ms)`);
  t.same(got[0]!.body, got[1]!.body, 'the same file both times');
  const w = readWav(got[1]!.body);
  t.ok(Math.abs(w.pcm.length / 8000 - r.durationMs / 1000) < 0.5, `the whole call: ${(w.pcm.length / 8000).toFixed(2)} s vs ${(r.durationMs / 1000).toFixed(2)} s`);
  t.ok(toneSeconds(w.pcm, 1000, [300, 1400]) >= 0.5, 'the caller\'s tone is in it');
});
