/**
 * PIVOT.md case 36 and the conference acceptance test end to end: a real switch with two media workers, a real
 * web-script server, and Hookline's built-in callers each playing its own tone and recording what it hears.
 * Goertzel over the conference part of each recording: the others' tones present, the caller's own absent.
 */
import t, { type Test } from 'tap';
import { startScriptServer, type ScriptServer } from '../helpers/peers.js';
import { startTestSwitch, eventually } from '../helpers/switch.js';
import { placeCall, type CallResult } from '../../src/pbx/caller.js';
import type { Switch } from '../../src/pbx/switch.js';
import { toneShare, rmsOf } from '../media/media-server.js';

const RATE = 8000;
const FRAME = 160;

/** Amplitude of the `freq` component of pcm[from, to) (Goertzel; a sine of amplitude A gives ≈ A). */
function amplitudeAt(pcm: Int16Array, freq: number, from: number, to: number): number {
  const n = to - from;
  const k = 2 * Math.cos((2 * Math.PI * freq) / RATE);
  let s1 = 0;
  let s2 = 0;
  for (let i = from; i < to; i++) {
    const s0 = pcm[i]! + k * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - k * s1 * s2;
  return (2 * Math.sqrt(Math.max(0, power))) / n;
}

/** Frames in [0, untilS) that are loud and not one of `tones`: speech. */
function speechFrames(pcm: Int16Array, tones: number[], untilS: number): number {
  let n = 0;
  for (let i = 0; i + FRAME <= Math.min(pcm.length, untilS * RATE); i += FRAME) {
    const f = pcm.subarray(i, i + FRAME);
    if (rmsOf(f) > 300 && tones.every((hz) => toneShare(f, hz) < 0.5)) n++;
  }
  return n;
}

const FLOW = {
  module: 'tts', data: { text: 'Joining' },
  children: {
    _: {
      module: 'conference', data: { config: { name: 'Room 415' } },
      // never runs: the callflow ends in the conference
      children: { _: { module: 'pivot', data: { voice_url: 'CHILD_URL' } } },
    },
  },
};

let portBase = 41000 + ((process.pid * 17) % 30) * 200;

async function conferenceCalls(uri: string, tones: number[], maxSeconds: number, digits?: string): Promise<CallResult[]> {
  return Promise.all(tones.map((hz, i) => {
    portBase += 20;
    // the first caller presses keys (RFC 4733) once in the room, before the analysed window: the mixer must not mind
    const keys = i === 0 && digits ? { digits, waitMs: 1800, digitGapMs: 100, digitDurationMs: 80 } : {};
    // stagger the callers a little so each hears the others join
    return new Promise<CallResult>((resolve, reject) => setTimeout(() => {
      placeCall({
        uri, from: `9990${i}`, record: true, maxSeconds, portMin: portBase, portMax: portBase + 18,
        tone: { frequencies: [hz], ms: maxSeconds * 1000 + 2000 }, ...keys,
      }).then(resolve, reject);
    }, i * 150));
  }));
}

async function env(t: Test): Promise<{ sw: Switch; uri: string; script: ScriptServer }> {
  let script: ScriptServer | undefined;
  script = await startScriptServer((req) => {
    if (req.path === '/ivr') return { body: JSON.stringify(FLOW).replace('CHILD_URL', `${script!.url}/child`), contentType: 'application/json' };
    return { body: { module: 'tts', data: { text: 'child ran' } } };
  });
  const { sw, uri } = await startTestSwitch({
    rtp: { workers: 2 },
    numbers: { '5000': { flow: { module: 'pivot', data: { voice_url: `${script.url}/ivr` } } } },
  }, { sipTimers: { t1: 50, t2: 400, t4: 500, timerD: 1000 } }); // short SIP timers: the leak check sees transactions end
  t.teardown(async () => { await sw.close(); await script!.close(); });
  return { sw, uri: uri('5000'), script };
}

/** Worker index of every call's media session, polled while the calls are up. */
function watchWorkers(sw: Switch): { workers: Set<number>; maxMembers: number; stop(): void } {
  const out = { workers: new Set<number>(), maxMembers: 0, stop: () => clearInterval(h) };
  const h = setInterval(() => {
    for (const c of sw.calls.values()) if (c.mediaSession) out.workers.add(c.mediaSession.slotIndex);
    out.maxMembers = Math.max(out.maxMembers, sw.stats().conferences.members);
  }, 100);
  return out;
}

async function leakCheck(t: Test, sw: Switch): Promise<void> {
  const clean = await eventually(() => {
    const s = sw.stats();
    return s.calls === 0 && s.dialogs === 0 && s.media.sessions === 0 && s.media.portsInUse === 0 && s.prompts === 0
      && s.timers === 0 && s.sip.serverTransactions === 0 && s.sip.clientTransactions === 0 && s.conferences.rooms === 0 && s.conferences.members === 0;
  }, 10000, 100);
  t.ok(clean, `nothing left: ${JSON.stringify({ ...sw.stats(), sip: undefined })}`);
}

t.test('36. ad-hoc conference: both callers hear "Joining", then each other; children never run', async (t) => {
  const { sw, uri, script } = await env(t);
  const watch = watchWorkers(sw);
  const [a, b] = await conferenceCalls(uri, [600, 1000], 6, '12#');
  watch.stop();
  for (const [r, own, other] of [[a!, 600, 1000], [b!, 1000, 600]] as const) {
    t.equal(r.outcome, 'answered');
    t.equal(r.endedBy, 'local', 'the caller hung up: Hookline kept it in the room');
    const pcm = r.audio!;
    t.ok(speechFrames(pcm, [600, 1000], 1.8) >= 10, `caller ${own} Hz heard speech first`);
    const from = 3 * RATE;
    const to = 5.5 * RATE;
    const heard = amplitudeAt(pcm, other, from, to);
    const self = amplitudeAt(pcm, own, from, to);
    t.ok(heard > 2000, `caller ${own} Hz hears the other's ${other} Hz tone (amplitude ${heard.toFixed(0)})`);
    t.ok(self < heard / 30, `caller ${own} Hz does not hear itself (amplitude ${self.toFixed(0)})`);
  }
  t.equal(a!.digitsSent, '12#', 'the first caller sent DTMF while in the room (and still heard the other after it)');
  t.equal(watch.maxMembers, 2, 'two members in the room');
  t.equal(watch.workers.size, 2, 'the two calls were on different media workers');
  t.same(script.requests.map((r) => r.path), ['/ivr', '/ivr'], 'one request per call; the conference child never ran');
  await leakCheck(t, sw);
});

t.test('A conference of 3 callers: each hears the other two and not itself (distinct tones, members on 2 workers)', async (t) => {
  const { sw, uri } = await env(t);
  const watch = watchWorkers(sw);
  const tones = [600, 1000, 1400];
  const results = await conferenceCalls(uri, tones, 6);
  watch.stop();
  t.equal(watch.maxMembers, 3, 'three members in the room');
  t.equal(watch.workers.size, 2, 'members on both media workers (one room, cross-worker rings)');
  for (const [i, r] of results.entries()) {
    const own = tones[i]!;
    t.equal(r.outcome, 'answered');
    const pcm = r.audio!;
    const from = 3 * RATE;
    const to = 5.5 * RATE;
    const amps = tones.map((hz) => amplitudeAt(pcm, hz, from, to));
    const others = amps.filter((_, j) => j !== i);
    t.ok(others.every((x) => x > 2000), `caller ${own} Hz hears the other two: ${amps.map((x) => x.toFixed(0)).join(' / ')}`);
    t.ok(amps[i]! < Math.min(...others) / 30, `caller ${own} Hz does not hear itself (${amps[i]!.toFixed(0)})`);
  }
  await leakCheck(t, sw);
});
