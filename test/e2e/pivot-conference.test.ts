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

/**
 * The conference part of one recording, found from the audio itself (callers start at slightly different times
 * on a loaded machine): 0.5 s windows (0.1 s apart) in which every other caller's tone is clearly present.
 * Returns how many such windows there are, and in them the weakest other tone, the strongest own tone and the
 * largest ratio own / weakest other (G.711 companding of the others' sum leaves a trace at -40 dB; an echo of
 * one's own voice would be about as loud as the others).
 */
function conferencePart(pcm: Int16Array, own: number, others: number[]): { windows: number; weakestOther: number; ownMax: number; ownRatio: number } {
  const win = RATE / 2;
  let windows = 0;
  let weakestOther = Infinity;
  let ownMax = 0;
  let ownRatio = 0;
  for (let from = RATE; from + win <= pcm.length - RATE / 4; from += RATE / 10) {
    const o = Math.min(...others.map((hz) => amplitudeAt(pcm, hz, from, from + win)));
    if (o < 2000) continue;
    windows++;
    weakestOther = Math.min(weakestOther, o);
    const self = amplitudeAt(pcm, own, from, from + win);
    ownMax = Math.max(ownMax, self);
    ownRatio = Math.max(ownRatio, self / o);
  }
  return { windows, weakestOther, ownMax, ownRatio };
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

async function conferenceCalls(uri: string, tones: number[], maxSeconds: number, digits?: string, pcmaCaller = -1): Promise<CallResult[]> {
  return Promise.all(tones.map((hz, i) => {
    portBase += 20;
    // the first caller presses keys (RFC 4733) once in the room, before the analysed window: the mixer must not mind
    const keys = i === 0 && digits ? { digits, waitMs: 1800, digitGapMs: 100, digitDurationMs: 80 } : {};
    // stagger the callers a little so each hears the others join
    return new Promise<CallResult>((resolve, reject) => setTimeout(() => {
      placeCall({
        uri, from: `9990${i}`, record: true, maxSeconds, portMin: portBase, portMax: portBase + 18,
        tone: { frequencies: [hz], ms: maxSeconds * 1000 + 2000 }, ...keys, ...(i === pcmaCaller ? { codecs: ['PCMA' as const] } : {}),
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
  const [a, b] = await conferenceCalls(uri, [600, 1000], 9, '12#');
  watch.stop();
  for (const [r, own, other] of [[a!, 600, 1000], [b!, 1000, 600]] as const) {
    t.equal(r.outcome, 'answered');
    t.equal(r.endedBy, 'local', 'the caller hung up: Hookline kept it in the room');
    const pcm = r.audio!;
    t.ok(speechFrames(pcm, [600, 1000], 1.8) >= 10, `caller ${own} Hz heard speech first`);
    const part = conferencePart(pcm, own, [other]);
    t.ok(part.windows >= 15, `caller ${own} Hz hears the other's ${other} Hz tone for ${(part.windows / 10 + 0.4).toFixed(1)} s (amplitude >= ${part.weakestOther.toFixed(0)})`);
    t.ok(part.ownRatio < 1 / 30, `caller ${own} Hz does not hear itself meanwhile (amplitude <= ${part.ownMax.toFixed(0)}, ${Math.max(-99, 20 * Math.log10(part.ownRatio)).toFixed(0)} dB vs the others)`);
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
  const results = await conferenceCalls(uri, tones, 9, undefined, 1);
  t.same(results.map((r) => r.codec), ['PCMU', 'PCMA', 'PCMU'], 'one member speaks A-law, the others μ-law');
  watch.stop();
  t.equal(watch.maxMembers, 3, 'three members in the room');
  t.equal(watch.workers.size, 2, 'members on both media workers (one room, cross-worker rings)');
  for (const [i, r] of results.entries()) {
    const own = tones[i]!;
    t.equal(r.outcome, 'answered');
    const pcm = r.audio!;
    const part = conferencePart(pcm, own, tones.filter((hz) => hz !== own));
    t.ok(part.windows >= 15, `caller ${own} Hz hears both others together for ${(part.windows / 10 + 0.4).toFixed(1)} s (each amplitude >= ${part.weakestOther.toFixed(0)})`);
    t.ok(part.ownRatio < 1 / 30, `caller ${own} Hz does not hear itself meanwhile (amplitude <= ${part.ownMax.toFixed(0)}, ${Math.max(-99, 20 * Math.log10(part.ownRatio)).toFixed(0)} dB vs the others)`);
  }
  await leakCheck(t, sw);
});

t.test('stored conference: members wait in silence for the moderator (wait_for_moderator); the moderator leaving ends it (require_moderator)', async (t) => {
  const { sw, uri } = await startTestSwitch({
    rtp: { workers: 2 },
    conferences: { board: { name: 'Board', wait_for_moderator: true, require_moderator: true } },
    numbers: {
      '6000': { flow: { module: 'conference', data: { id: 'board' }, children: { _: { module: 'tts', data: { text: 'never' } } } } },
      '6001': { flow: { module: 'conference', data: { id: 'board', moderator: true } } },
    },
  }, { sipTimers: { t1: 50, t2: 400, t4: 500, timerD: 1000 } });
  t.teardown(() => sw.close());
  const call = (n: string, hz: number, maxSeconds: number, delayMs: number): Promise<CallResult> => {
    portBase += 20;
    const base = portBase;
    return new Promise((resolve, reject) => setTimeout(() => {
      placeCall({ uri: uri(n), from: `7${hz}`, record: true, maxSeconds, portMin: base, portMax: base + 18, tone: { frequencies: [hz], ms: maxSeconds * 1000 + 2000 } })
        .then(resolve, reject);
    }, delayMs));
  };
  const members = [call('6000', 600, 25, 0), call('6000', 1000, 25, 0)];
  // the moderator calls once both members have been waiting in the room for 2 s
  // (each test caller starts a media worker of its own: seconds on a loaded box)
  t.ok(await eventually(() => sw.stats().conferences.members === 2, 20000), 'both members in the room');
  await new Promise((r) => setTimeout(r, 2000));
  const [a, b, m] = await Promise.all([...members, call('6001', 1400, 4, 0)]);
  for (const [r, own, other] of [[a!, 600, 1000], [b!, 1000, 600]] as const) {
    const pcm = r.audio!;
    // when the moderator's tone first shows up in this recording
    let modAt = -1;
    for (let i = 0; i + RATE / 2 <= pcm.length; i += RATE / 10) if (amplitudeAt(pcm, 1400, i, i + RATE / 2) > 2000) { modAt = i; break; }
    t.ok(modAt > 1.5 * RATE, `caller ${own} Hz hears the moderator from ${(modAt / RATE).toFixed(1)} s`);
    const waiting = amplitudeAt(pcm, other, RATE / 2, Math.max(RATE, modAt - RATE / 2));
    t.ok(waiting < 100, `while waiting for the moderator, caller ${own} Hz does not hear the other member (amplitude ${waiting.toFixed(0)})`);
    const part = conferencePart(pcm, own, [other, 1400]);
    t.ok(part.windows >= 10, `with the moderator in, caller ${own} Hz hears the other member and the moderator for ${(part.windows / 10 + 0.4).toFixed(1)} s`);
    t.ok(part.ownRatio < 1 / 30, `and not itself (${part.ownMax.toFixed(0)})`);
    t.equal(r.endedBy, 'remote', `caller ${own} Hz was hung up by Hookline when the moderator left, before its own 25 s limit (after ${r.durationMs} ms)`);
  }
  t.equal(m!.endedBy, 'local', 'the moderator hung up itself');
  await leakCheck(t, sw);
});

t.test('the media worker mixing the room crashes: the room moves to the survivors\' worker and they keep hearing each other', async (t) => {
  const { sw, uri } = await env(t);
  const tones = [600, 1000, 1400, 1800];
  const calls = conferenceCalls(uri, tones, 30);
  // (the first TTS synthesis warms the engine up: seconds on a loaded box)
  t.ok(await eventually(() => sw.stats().conferences.members === 4, 25000), 'four members in the room');
  const home = sw.conferences.list()[0]!.homeWorker;
  const slotOf = new Map<number, number>(); // tone → worker
  for (const c of sw.calls.values()) slotOf.set(tones[Number(c.info.from.slice(-1))]!, c.mediaSession!.slotIndex);
  const dead = tones.filter((hz) => slotOf.get(hz) === home);
  const alive = tones.filter((hz) => slotOf.get(hz) !== home);
  t.equal(alive.length, 2, `two callers on the other worker (workers: ${JSON.stringify([...slotOf])})`);
  await new Promise((r) => setTimeout(r, 1500));
  sw.engine.crashWorkerForTest(home);
  t.ok(await eventually(() => sw.conferences.list()[0]?.rehomed === 1, 5000), 'the room was re-homed once');
  t.equal(sw.conferences.list()[0]?.homeWorker, 1 - home, 'on the survivors\' worker');
  const results = await calls;
  for (const hz of dead) t.equal(results[tones.indexOf(hz)]!.endedBy, 'remote', `caller ${hz} Hz (on the crashed worker) was hung up`);
  for (const hz of alive) {
    const pcm = results[tones.indexOf(hz)]!.audio!;
    const other = alive.find((x) => x !== hz)!;
    // the last moment a caller from the crashed worker was heard
    let lastDead = 0;
    for (let i = 0; i + RATE / 2 <= pcm.length; i += RATE / 10) if (dead.some((d) => amplitudeAt(pcm, d, i, i + RATE / 2) > 2000)) lastDead = i + RATE / 2;
    t.ok(lastDead > 0, `caller ${hz} Hz heard the others before the crash (until ${(lastDead / RATE).toFixed(1)} s)`);
    const after = conferencePart(pcm.subarray(Math.max(0, lastDead - RATE)), hz, [other]);
    t.ok(after.windows >= 10, `after the crash caller ${hz} Hz still hears ${other} Hz for ${(after.windows / 10 + 0.4).toFixed(1)} s`);
    t.ok(after.ownRatio < 1 / 30, `and not itself (${after.ownMax.toFixed(0)})`);
  }
  await leakCheck(t, sw);
});
