import t from 'tap';
import dgram from 'node:dgram';
import os from 'node:os';
import { MediaEngine, MediaError, PortAllocator, SPAWN_AT_SESSIONS, type MediaSession } from '../../src/rtp/media-engine.js';
import { tone, dtmfTone, concatPcm, silence } from '../../src/media/tone.js';

// below the Linux ephemeral range (32768+) so OS-assigned ports of other tests cannot collide
const base = 16384 + 2 * Math.floor(Math.random() * 3000);

function rms(pcm: Int16Array, from = 0, to = pcm.length): number {
  let acc = 0;
  for (let i = from; i < to; i++) acc += pcm[i]! * pcm[i]!;
  return to > from ? Math.sqrt(acc / (to - from)) : 0;
}

function waitFor<T>(fn: (resolve: (v: T) => void) => void, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    fn((v) => { clearTimeout(timer); resolve(v); });
  });
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function pair(engine: MediaEngine, te: number | undefined, codec: 'PCMU' | 'PCMA' = 'PCMU'): Promise<[MediaSession, MediaSession]> {
  const a = await engine.createSession();
  const b = await engine.createSession();
  const pt = codec === 'PCMU' ? 0 : 8;
  a.configure({ address: '127.0.0.1', port: b.localPort, codec, payloadType: pt, telephoneEventPt: te });
  b.configure({ address: '127.0.0.1', port: a.localPort, codec, payloadType: pt, telephoneEventPt: te });
  return [a, b];
}

t.test('port allocator: even ports, round robin, never a port in use', async (t) => {
  const p = new PortAllocator(5001, 5008);
  t.equal(p.capacity, 4);
  const got = [p.take(), p.take(), p.take(), p.take()];
  t.same(got, [5002, 5004, 5006, 5008]);
  t.equal(p.take(), undefined);
  p.release(5004);
  t.equal(p.take(), 5004);
  t.equal(p.size, 4);
  t.throws(() => new PortAllocator(10, 5), MediaError);
});

t.test('engine: audio, DTMF, recording, leak check', async (t) => {
  const engine = await MediaEngine.start({ workers: 2, address: '127.0.0.1', portMin: base, portMax: base + 200 });
  t.teardown(() => engine.close());
  const [a, b] = await pair(engine, 101, 'PCMA');
  t.equal(a.localPort % 2, 0);
  t.equal(a.localAddress, '127.0.0.1');
  t.not(a.slotIndex, b.slotIndex, 'sessions spread over the workers');
  t.same(engine.stats(), { sessions: 2, portsInUse: 2, workers: 2 });

  // prompt on a → recorded on b
  const prompt = tone(1000, { durationMs: 400, amplitude: 8000 });
  const ref = engine.registerPrompt(prompt);
  await delay(60);
  b.startRecording(5);
  const done = waitFor<[number, string]>((r) => a.on('playDone', (id, reason) => r([id, reason])), 3000, 'playDone');
  const playId = a.play(ref);
  t.same(await done, [playId, 'finished']);
  await delay(80);
  const rec = await b.stopRecording();
  t.ok(rec.length >= 3200 && rec.length <= 8000 * 2, `recorded ${rec.length} samples`);
  t.ok(rms(rec) > 2000, `prompt heard, rms ${rms(rec).toFixed(0)}`);

  // DTMF a → b, each digit once
  const digits: string[] = [];
  b.on('dtmf', (d, source) => { t.equal(source, 'rfc4733'); digits.push(d); });
  const t0 = performance.now();
  await a.sendDtmf('12#A', 60);
  const took = performance.now() - t0;
  await delay(80);
  t.same(digits, ['1', '2', '#', 'A']);
  t.ok(took >= 4 * 100, `sendDtmf took ${took.toFixed(0)} ms`);
  await t.rejects(a.sendDtmf('1x'), { code: 'INVALID_ARGUMENT' });

  // stopPlayback reports every queued item
  const reasons: string[] = [];
  a.on('playDone', (_id, reason) => reasons.push(reason));
  a.play(ref); a.play(ref); a.play(ref);
  await delay(50);
  a.stopPlayback();
  await delay(50);
  t.same(reasons, ['stopped', 'stopped', 'stopped']);

  // close: idempotent, pending plays stopped, ports freed
  a.play(ref);
  const closeReasons: string[] = [];
  a.on('playDone', (_id, reason) => closeReasons.push(reason));
  await Promise.all([a.close(), a.close(), b.close()]);
  t.same(closeReasons, ['stopped']);
  t.equal(a.closed, true);
  t.same(engine.stats(), { sessions: 0, portsInUse: 0, workers: 2 });
  await a.sendDtmf('1'); // no-op after close
  t.same(await a.stopRecording(), new Int16Array(0));
  engine.releasePrompt(ref);
  const st = await engine.pacerStats();
  t.ok(st.sent > 0 && st.received > 0, `pacer sent ${st.sent}, p99 lateness ${st.lateP99.toFixed(1)} ms`);
  // Two workers' V8 heaps, summed: each uses some and reserves at least what it uses.
  t.ok(st.heapUsedMB > 0.5 && st.heapTotalMB >= st.heapUsedMB, `worker heaps ${st.heapUsedMB.toFixed(1)} of ${st.heapTotalMB.toFixed(1)} MB`);
});

t.test('in-band DTMF when telephone-event is not negotiated', async (t) => {
  const engine = await MediaEngine.start({ workers: 1, address: '127.0.0.1', portMin: base + 300, portMax: base + 400 });
  t.teardown(() => engine.close());
  const [a, b] = await pair(engine, undefined);
  const got: string[] = [];
  b.on('dtmf', (d, source) => { got.push(`${d}:${source}`); });
  const pcm = concatPcm([dtmfTone('5', { durationMs: 120 }), silence(100), dtmfTone('9', { durationMs: 120 }), silence(100)]);
  const ref = engine.registerPrompt(pcm);
  const done = waitFor<string>((r) => a.on('playDone', (_i, reason) => r(reason)), 3000, 'playDone');
  a.play(ref);
  await done;
  await delay(100);
  t.same(got, ['5:inband', '9:inband']);
  // sendDtmf without telephone-event falls back to in-band tones, not reported as playDone
  const plays: number[] = [];
  a.on('playDone', (id) => plays.push(id));
  await a.sendDtmf('1#', 80);
  await delay(100);
  t.same(got, ['5:inband', '9:inband', '1:inband', '#:inband']);
  t.same(plays, [], 'internal plays are not reported');
  await engine.close();
  t.same(engine.stats().sessions, 0);
});

t.test('strict source: another sender cannot take the stream while the latched one talks; it can after 1 s of quiet', async (t) => {
  const engine = await MediaEngine.start({ workers: 1, address: '127.0.0.1', portMin: base + 2500, portMax: base + 2600, rtpTimeoutMs: 60_000 });
  t.teardown(() => engine.close());
  const a = await engine.createSession();
  const sock = async (): Promise<{ s: dgram.Socket; port: number; got: number }> => {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const o = { s, port: s.address().port, got: 0 };
    s.on('message', () => { o.got++; });
    t.teardown(() => s.close());
    return o;
  };
  const peer = await sock();
  const intruder = await sock();
  a.configure({ address: '127.0.0.1', port: peer.port, codec: 'PCMU', payloadType: 0, telephoneEventPt: 101 });
  const remotes: number[] = [];
  a.on('remote', (_addr, p) => { remotes.push(p); });
  // a PCMU packet (12-byte header, 160 bytes of payload) with the given sequence number
  const rtp = (seq: number): Buffer => {
    const b = Buffer.alloc(172, 0xff);
    b[0] = 0x80; b[1] = 0; b.writeUInt16BE(seq, 2); b.writeUInt32BE(seq * 160, 4); b.writeUInt32BE(0x1234, 8);
    return b;
  };
  let seq = 0;
  const talk = setInterval(() => { peer.s.send(rtp(seq++), a.localPort, '127.0.0.1'); }, 20);
  await delay(200);
  t.same(remotes, [peer.port], 'latched onto the peer');
  for (let i = 0; i < 20; i++) { intruder.s.send(rtp(1000 + i), a.localPort, '127.0.0.1'); await delay(10); }
  await delay(100);
  t.same(remotes, [peer.port], 'the intruder did not take over');
  t.same(a.remote, { address: '127.0.0.1', port: peer.port });
  const before = intruder.got;
  await delay(100);
  t.equal(intruder.got, before, 'and receives none of the call\'s audio');
  t.ok((await engine.pacerStats()).foreign >= 20, 'its packets are counted as foreign');
  // the peer goes quiet (e.g. its NAT binding changed): after 1 s another source is learnt
  clearInterval(talk);
  await delay(1100);
  for (let i = 0; i < 5; i++) { intruder.s.send(rtp(2000 + i), a.localPort, '127.0.0.1'); await delay(20); }
  await delay(100);
  t.same(remotes, [peer.port, intruder.port], 're-latched after the quiet second');
  await a.close();
});

t.test('symmetric RTP: latch onto the real source, RTP timeout', async (t) => {
  const engine = await MediaEngine.start({ workers: 1, address: '127.0.0.1', portMin: base + 500, portMax: base + 600, rtpTimeoutMs: 300 });
  t.teardown(() => engine.close());
  const a = await engine.createSession();
  const b = await engine.createSession();
  // a believes the peer is on a dead port; b sends to a from its real port
  const dead = dgram.createSocket('udp4');
  await new Promise<void>((r) => dead.bind(0, '127.0.0.1', () => r()));
  const deadPort = dead.address().port;
  let deadGot = 0;
  dead.on('message', () => { deadGot++; });
  t.teardown(() => dead.close());
  a.configure({ address: '127.0.0.1', port: deadPort, codec: 'PCMU', payloadType: 0, telephoneEventPt: 101 });
  await delay(60);
  t.ok(deadGot > 0, 'sent to the SDP address before latching');
  const latched = waitFor<[string, number]>((r) => a.on('remote', (addr, p) => r([addr, p])), 2000, 'remote');
  b.configure({ address: '127.0.0.1', port: a.localPort, codec: 'PCMU', payloadType: 0, telephoneEventPt: 101 });
  t.same(await latched, ['127.0.0.1', b.localPort]);
  t.same(a.remote, { address: '127.0.0.1', port: b.localPort });
  b.startRecording(2);
  await delay(100);
  const rec = await b.stopRecording();
  t.ok(rec.length >= 320, `b receives from a after latching (${rec.length} samples)`);

  // timeout: b stops sending (closed) → a times out
  const timedOut = waitFor<number>((r) => a.on('timeout', () => r(performance.now())), 2000, 'timeout');
  const t0 = performance.now();
  await b.close();
  const at = await timedOut;
  t.ok(at - t0 >= 250, `timeout after ${(at - t0).toFixed(0)} ms`);
  await a.close();
  t.same(engine.stats(), { sessions: 0, portsInUse: 0, workers: 1 });
});

t.test('skips ports the OS refuses', async (t) => {
  const p0 = base + 700;
  const blocker = dgram.createSocket('udp4');
  await new Promise<void>((r) => blocker.bind(p0, '127.0.0.1', () => r()));
  t.teardown(() => blocker.close());
  const engine = await MediaEngine.start({ workers: 1, address: '127.0.0.1', portMin: p0, portMax: p0 + 4 });
  t.teardown(() => engine.close());
  const s = await engine.createSession();
  t.equal(s.localPort, p0 + 2);
  const s2 = await engine.createSession();
  t.equal(s2.localPort, p0 + 4);
  await t.rejects(engine.createSession(), { code: 'BIND_FAILED' });
  await s.close();
  await s2.close();
  t.same(engine.stats(), { sessions: 0, portsInUse: 0, workers: 1 });
});

t.test('a worker crash closes its sessions and the worker is replaced', async (t) => {
  const engine = await MediaEngine.start({ workers: 2, address: '127.0.0.1', portMin: base + 800, portMax: base + 900 });
  t.teardown(() => engine.close());
  const [a, b] = await pair(engine, 101);
  const victim = a.slotIndex === 0 ? a : b;
  const events: string[] = [];
  victim.on('timeout', () => events.push('timeout'));
  const closed = waitFor<string>((r) => victim.on('close', (reason) => r(reason)), 3000, 'close');
  engine.crashWorkerForTest(0);
  t.equal(await closed, 'worker-crash');
  t.same(events, ['timeout']);
  t.equal(engine.stats().sessions, 1);
  for (let i = 0; i < 50 && engine.stats().workers < 2; i++) await delay(20);
  t.equal(engine.stats().workers, 2, 'worker replaced');
  const c = await engine.createSession();
  t.ok(c.localPort > 0);
  await engine.close();
  t.same(engine.stats(), { sessions: 0, portsInUse: 0, workers: 0 });
});

t.test('bridge: audio and telephone-events relayed between legs, PCMU ↔ PCMA', async (t) => {
  const engine = await MediaEngine.start({ workers: 2, address: '127.0.0.1', portMin: base + 1000, portMax: base + 1100 });
  t.teardown(() => engine.close());
  // phone A (PCMU) ⇄ leg X … leg Y ⇄ phone B (PCMA); X and Y bridged in one worker
  const x = await engine.createSession();
  const y = await engine.createSession({ sameWorkerAs: x });
  t.equal(y.slotIndex, x.slotIndex);
  const a = await engine.createSession();
  const b = await engine.createSession();
  a.configure({ address: '127.0.0.1', port: x.localPort, codec: 'PCMU', payloadType: 0, telephoneEventPt: 101 });
  x.configure({ address: '127.0.0.1', port: a.localPort, codec: 'PCMU', payloadType: 0, telephoneEventPt: 101 });
  y.configure({ address: '127.0.0.1', port: b.localPort, codec: 'PCMA', payloadType: 8, telephoneEventPt: 96 });
  b.configure({ address: '127.0.0.1', port: y.localPort, codec: 'PCMA', payloadType: 8, telephoneEventPt: 96 });
  const other = await engine.createSession();
  if (other.slotIndex !== x.slotIndex) t.throws(() => x.bridge(other), { code: 'INVALID_ARGUMENT' });
  x.bridge(y);
  await delay(60);
  b.startRecording(3);
  const ref = engine.registerPrompt(tone(440, { durationMs: 300, amplitude: 10000 }));
  const done = waitFor<string>((r) => a.on('playDone', (_i, reason) => r(reason)), 3000, 'playDone');
  a.play(ref);
  await done;
  const bDigits: string[] = [];
  const xDigits: string[] = [];
  b.on('dtmf', (d, src) => bDigits.push(`${d}:${src}`));
  x.on('dtmf', (d) => xDigits.push(d));
  await a.sendDtmf('59', 60);
  await delay(100);
  const rec = await b.stopRecording();
  t.ok(rms(rec) > 2000, `A's prompt heard at B through the bridge (rms ${rms(rec).toFixed(0)})`);
  t.same(bDigits, ['5:rfc4733', '9:rfc4733'], 'digits relayed with the PT rewritten');
  t.same(xDigits, ['5', '9'], 'the bridged leg still reports digits');
  // unbridge: B hears silence again
  x.unbridge();
  await delay(60);
  b.startRecording(1);
  a.play(ref);
  await delay(200);
  const after = await b.stopRecording();
  t.ok(after.length > 0 && rms(after) < 50, `after unbridge B gets silence (rms ${rms(after).toFixed(0)})`);
  await engine.close();
  t.same(engine.stats(), { sessions: 0, portsInUse: 0, workers: 0 });
});

t.test('offer/answer drives configure; churn leaves no sessions or ports behind', async (t) => {
  const { createOffer, createAnswer, acceptAnswer, serializeSdp } = await import('../../src/rtp/sdp.js');
  const engine = await MediaEngine.start({ workers: 2, address: '127.0.0.1', portMin: base + 1200, portMax: base + 1800 });
  t.teardown(() => engine.close());
  const caller = await engine.createSession();
  const callee = await engine.createSession();
  const offer = createOffer({ address: caller.localAddress, port: caller.localPort });
  const ans = createAnswer(serializeSdp(offer), { address: callee.localAddress, port: callee.localPort, codecs: ['PCMA', 'PCMU'] });
  t.ok(ans.ok);
  if (!ans.ok) return;
  const got = acceptAnswer(offer, ans.sdp);
  t.ok(got.ok);
  if (!got.ok) return;
  callee.configure(ans.media);
  caller.configure(got.media);
  t.equal(ans.media.codec, 'PCMU', "the offerer's preference wins");
  const digits: string[] = [];
  callee.on('dtmf', (d) => digits.push(d));
  await caller.sendDtmf('*0', 40);
  await delay(60);
  t.same(digits, ['*', '0']);
  await Promise.all([caller.close(), callee.close()]);

  // churn: 100 sessions opened, configured, closed concurrently
  const many = await Promise.all(Array.from({ length: 100 }, () => engine.createSession()));
  t.equal(new Set(many.map((s) => s.localPort)).size, 100, 'distinct ports');
  for (const s of many) s.configure({ address: '127.0.0.1', port: 9, codec: 'PCMU', payloadType: 0 });
  await delay(50);
  await Promise.all(many.map((s) => s.close()));
  t.same(engine.stats(), { sessions: 0, portsInUse: 0, workers: 2 });
  // the OS really released them
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => { probe.once('error', reject); probe.bind(many[0]!.localPort, '127.0.0.1', () => resolve()); });
  probe.close();
  t.pass('port bindable again after close');
});

t.test('watchdog: an unresponsive worker is terminated and replaced', async (t) => {
  const engine = await MediaEngine.start({ workers: 1, address: '127.0.0.1', portMin: base + 1900, portMax: base + 1950, watchdogMs: 300 });
  t.teardown(() => engine.close());
  const s = await engine.createSession();
  s.configure({ address: '127.0.0.1', port: 9, codec: 'PCMU', payloadType: 0 });
  const closed = waitFor<string>((r) => s.on('close', (reason) => r(reason)), 4000, 'close');
  const t0 = performance.now();
  engine.hangWorkerForTest(0, 5000);
  t.equal(await closed, 'worker-crash');
  t.ok(performance.now() - t0 < 3000, `detected after ${(performance.now() - t0).toFixed(0)} ms`);
  for (let i = 0; i < 100 && engine.stats().workers < 1; i++) await delay(20);
  const s2 = await engine.createSession();
  t.ok(s2.localPort > 0, 'replacement worker serves new sessions');
  await engine.close();
  t.same(engine.stats(), { sessions: 0, portsInUse: 0, workers: 0 });
});

t.test('default worker count: one at start, the next when the running ones hold SPAWN_AT_SESSIONS sessions each', { skip: os.availableParallelism() < 2 && 'needs 2 cores' }, async (t) => {
  const lo = base + 2000;
  const engine = await MediaEngine.start({ address: '127.0.0.1', portMin: lo, portMax: lo + 200 });
  t.teardown(() => engine.close());
  t.equal(engine.stats().workers, 1, 'an idle engine runs one worker');
  const sessions: MediaSession[] = [];
  for (let i = 0; i < SPAWN_AT_SESSIONS; i++) sessions.push(await engine.createSession());
  t.equal(engine.stats().workers, 1, `${SPAWN_AT_SESSIONS} sessions still on one`);
  const next = await engine.createSession();
  t.equal(engine.stats().workers, 2, 'the next session started a second worker');
  t.equal(next.slotIndex, 1, 'and went to it');
  // the new worker carries media: a tone from it reaches a session on the first worker
  const a = sessions[0]!;
  a.configure({ address: '127.0.0.1', port: next.localPort, codec: 'PCMU', payloadType: 0, telephoneEventPt: 101 });
  next.configure({ address: '127.0.0.1', port: a.localPort, codec: 'PCMU', payloadType: 0, telephoneEventPt: 101 });
  const got = waitFor<string>((resolve) => a.on('dtmf', (d: string) => resolve(d)), 5000, 'a digit from the new worker');
  void next.sendDtmf('7');
  t.equal(await got, '7');
  for (const s of [...sessions, next]) await s.close();
});
