/**
 * PIVOT.md cases 6, 8, 9 and the media modules end to end: a real switch, a real web-script server, a real
 * HTTP media server (WAV and MP3), and Hookline's built-in caller recording what it heard.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startScriptServer, runSipp, freePort, freeEvenPort, hasSipp, type ScriptReply, type ScriptRequest } from '../helpers/peers.js';
import { startTestSwitch } from '../helpers/switch.js';
import { placeCall, type CallResult } from '../../src/pbx/caller.js';
import { writeWav } from '../../src/media/wav.js';
import { concatPcm, silence } from '../../src/media/tone.js';
import { startMediaServer, sine, mp3Bytes, toneShare, rmsOf, type MediaServer } from '../media/media-server.js';

const FRAME = 160; // 20 ms at 8 kHz
const earlyScenario = join(fileURLToPath(new URL('.', import.meta.url)), '../../../test/e2e/sipp/pivot-early-media-uac.xml');

/** Per 20 ms frame: is it loud, and is it mostly `freq`? */
function frames(pcm: Int16Array, freq: number): Array<{ loud: boolean; tone: boolean }> {
  const out: Array<{ loud: boolean; tone: boolean }> = [];
  for (let i = 0; i + FRAME <= pcm.length; i += FRAME) {
    const f = pcm.subarray(i, i + FRAME);
    const loud = rmsOf(f) > 500;
    out.push({ loud, tone: loud && toneShare(f, freq) > 0.8 });
  }
  return out;
}

/** Runs of consecutive tone frames (bursts), as frame counts. */
function bursts(fs: Array<{ tone: boolean }>): number[] {
  const out: number[] = [];
  let run = 0;
  for (const f of fs) {
    if (f.tone) run++;
    else if (run > 0) { if (run >= 3) out.push(run); run = 0; }
  }
  if (run >= 3) out.push(run);
  return out;
}

let portBase = 40000 + ((process.pid * 13) % 40) * 200;
async function call(uri: string, opts: { digits?: string; waitMs?: number; maxSeconds?: number } = {}): Promise<CallResult> {
  portBase += 20;
  return placeCall({ uri, from: '99992', record: true, maxSeconds: opts.maxSeconds ?? 20, portMin: portBase, portMax: portBase + 18, ...opts });
}

async function env(t: Test, handler: (req: ScriptRequest, i: number) => ScriptReply, extra: Record<string, unknown> = {}, media: MediaServer): Promise<{ uri: string; script: Awaited<ReturnType<typeof startScriptServer>> }> {
  const script = await startScriptServer(handler);
  const { sw, uri } = await startTestSwitch({
    numbers: { '5000': { flow: { module: 'pivot', data: { voice_url: `${script.url}/ivr` }, children: { _: { module: 'tts', data: { text: 'Service unavailable' } } } } } },
    ...extra,
  });
  t.teardown(async () => { await sw.close(); await script.close(); });
  void media;
  return { uri: uri('5000'), script };
}

t.test('pivot media end to end', async (t) => {
  // beep.wav: 250 ms of 1 kHz then 250 ms of silence, 44.1 kHz PCM; two.mp3: 1.5 s of 600 Hz, 16 kHz MP3.
  const beep = writeWav(concatPcm([sine(1000, 250, 44100), silence(250, 44100)]), 44100);
  const media = await startMediaServer({
    '/beep.wav': { body: Buffer.from(beep), contentType: 'audio/wav', etag: '"b1"' },
    '/two.mp3': { body: mp3Bytes(600, 1500, 16000), contentType: 'audio/mpeg' },
    '/short.wav': { body: Buffer.from(writeWav(sine(1000, 1000, 16000), 16000)), contentType: 'audio/wav' },
  });
  t.teardown(() => media.close());
  const dir = mkdtempSync(join(tmpdir(), 'hookline-e2e-media-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  await t.test('6. tts "One", then two.mp3, then hangup: the caller hears speech then the MP3 tone', async (t) => {
    const { uri, script } = await env(t, () => ({
      body: { module: 'tts', data: { text: 'One' }, children: { _: { module: 'play', data: { id: `${media.url}/two.mp3` }, children: { _: { module: 'hangup', data: {} } } } } },
    }), {}, media);
    const r = await call(uri);
    t.equal(r.outcome, 'answered');
    t.equal(r.endedBy, 'remote', 'Hookline hung up');
    const fs = frames(r.audio!, 600);
    const firstTone = fs.findIndex((f) => f.tone);
    t.ok(firstTone > 0, 'the MP3 tone was heard');
    const speech = fs.slice(0, firstTone).filter((f) => f.loud).length * 0.02;
    t.ok(speech >= 0.2, `speech before the tone (${speech.toFixed(2)} s)`);
    const toneSecs = fs.filter((f) => f.tone).length * 0.02;
    t.ok(toneSecs > 1.2 && toneSecs < 1.8, `about 1.5 s of 600 Hz (${toneSecs.toFixed(2)} s)`);
    t.equal(script.requests.length, 1, 'no further request');
  });

  await t.test('8. loop_count 3: the beep is heard three times, then the call hangs up', async (t) => {
    const { uri } = await env(t, () => ({ body: { module: 'play', data: { id: `${media.url}/beep.wav`, loop_count: 3 } } }), {}, media);
    const before = media.log.length;
    const r = await call(uri);
    t.equal(r.endedBy, 'remote');
    const b = bursts(frames(r.audio!, 1000));
    t.equal(b.length, 3, `three beeps (${JSON.stringify(b)})`);
    for (const n of b) t.ok(n >= 10 && n <= 15, `each about 250 ms (${n * 20} ms)`);
    t.ok(media.log.length - before <= 1, 'fetched at most once (cached)');
  });

  await t.test('9. play without id, and a missing URL, are skipped: only "after" is heard', async (t) => {
    const { uri, script } = await env(t, () => ({
      body: { module: 'play', data: {}, children: { _: { module: 'play', data: { id: `${media.url}/missing.wav` }, children: { _: { module: 'tts', data: { text: 'after' } } } } } },
    }), {}, media);
    const r = await call(uri);
    t.equal(r.endedBy, 'remote');
    const fs = frames(r.audio!, 1000);
    const loud = fs.filter((f) => f.loud).length * 0.02;
    t.ok(loud > 0.15 && loud < 2, `a short word was heard (${loud.toFixed(2)} s)`);
    t.equal(fs.filter((f) => f.tone).length, 0, 'no beep');
    t.equal(script.requests.length, 1);
    t.equal(media.log.filter((l) => l.path === '/missing.wav').length, 1, 'the missing URL was tried');
  });

  await t.test('answer: false plays early media, then response 486 rejects the unanswered call', async (t) => {
    const { uri } = await env(t, () => ({
      body: { module: 'play', data: { id: `${media.url}/short.wav`, answer: false }, children: { _: { module: 'response', data: { code: 486, message: 'Busy Here' } } } },
    }), {}, media);
    const r = await call(uri);
    t.equal(r.outcome, 'rejected');
    t.equal(r.status, 486);
    t.ok(r.setupMs >= 900, `the 486 came after the 1 s of early media (${r.setupMs} ms)`);
  });

  await t.test('menu from config (greeting from a media file): the caller presses 2 and the branch pivots', async (t) => {
    const greet = join(dir, 'greet.wav');
    writeFileSync(greet, writeWav(sine(700, 3000, 16000), 16000));
    const { uri, script } = await env(t, (req) => {
      if (req.path === '/ivr') {
        return { body: { module: 'menu', data: { id: 'main' }, children: {
          '1': { module: 'pivot', data: { voice_url: `${script.url}/sales` } },
          '2': { module: 'pivot', data: { voice_url: `${script.url}/support` } },
        } } };
      }
      return { body: { module: 'hangup', data: {} } };
    }, {
      media: { greet: { file: greet } },
      menus: { main: { retries: 2, timeout: 3000, max_extension_length: 1, media: { greeting: 'greet' } } },
    }, media);
    const r = await call(uri, { digits: '2', waitMs: 800 });
    t.equal(r.endedBy, 'remote');
    t.same(script.requests.map((q) => q.path), ['/ivr', '/support']);
    const toneSecs = frames(r.audio!, 700).filter((f) => f.tone).length * 0.02;
    t.ok(toneSecs > 0.3 && toneSecs < 2, `the greeting was cut by the key (${toneSecs.toFixed(2)} s of 3 s heard)`);
  });

  await t.test('39. temporal_route from config: the first matching rule\'s child runs', async (t) => {
    const { uri, script } = await env(t, (req) => {
      if (req.path === '/ivr') {
        return { body: { module: 'temporal_route', data: { rules: ['NEVER', 'ALLDAY'], timezone: 'America/New_York' }, children: {
          NEVER: { module: 'pivot', data: { voice_url: `${script.url}/never` } },
          ALLDAY: { module: 'pivot', data: { voice_url: `${script.url}/open` } },
          _: { module: 'pivot', data: { voice_url: `${script.url}/closed` } },
        } } };
      }
      return { body: { module: 'hangup', data: {} } };
    }, {
      temporalRules: {
        NEVER: { dates: ['2001-01-01'] },
        ALLDAY: { wdays: ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'], time_window_start: '00:00', time_window_stop: '24:00' },
      },
    }, media);
    const r = await call(uri, { maxSeconds: 10 });
    t.equal(r.outcome, 'rejected', 'nothing answered the call: the flow ended with a final response');
    t.same(script.requests.map((q) => q.path), ['/ivr', '/open']);
  });
});

t.test('answer: false with SIPp: 183 Session Progress with SDP, then 486, never a 200', { skip: hasSipp ? false : 'sipp (sip-tester) not installed' }, async (t) => {
  const media = await startMediaServer({ '/short.wav': { body: Buffer.from(writeWav(sine(1000, 800, 16000), 16000)), contentType: 'audio/wav' } });
  const script = await startScriptServer(() => ({
    body: { module: 'play', data: { id: `${media.url}/short.wav`, answer: false }, children: { _: { module: 'response', data: { code: 486, message: 'Busy Here' } } } },
  }));
  const { sw, port } = await startTestSwitch({ numbers: { '5001': { flow: { module: 'pivot', data: { voice_url: `${script.url}/ivr` } } } } });
  t.teardown(async () => { await sw.close(); await script.close(); await media.close(); });
  const res = await runSipp([
    `127.0.0.1:${port}`, '-sf', earlyScenario, '-s', '5001', '-m', '1', '-i', '127.0.0.1', '-p', String(await freePort()),
    '-mp', String(await freeEvenPort()), '-timeout', '20s', '-timeout_error',
  ], 30000);
  t.equal(res.code, 0, `sipp exit code (stderr: ${res.stderr.slice(-400)})`);
  t.equal(res.successful, 1, '183 with SDP, then 486');
  t.equal(script.requests.length, 1);
});
