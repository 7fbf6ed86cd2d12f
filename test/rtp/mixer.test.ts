/** The conference mixer (src/rtp/mixer.ts): SPSC PCM rings over shared memory and the N-1 mix, on one thread. */
import t from 'tap';
import { Mixer, MemberPort, PcmRing, memberRings, mixMinusOwn, FRAME_SAMPLES, MEMBER_BYTES, RING_SAMPLES, RING_MAX_LAG, RING_KEEP, ENTRY_TONE, EXIT_TONE } from '../../src/rtp/mixer.js';
import { MULAW_DECODE } from '../../src/media/g711.js';
import { linearToMulaw } from '../../src/media/g711.js';

const frame = (fn: (i: number) => number): Int16Array => Int16Array.from({ length: FRAME_SAMPLES }, (_, i) => fn(i));
const NO_FLAGS = { muted: false, deaf: false, moderator: false };
const NO_TONES = { entryTone: false, exitTone: false, waitForModerator: false };

t.test('ring: FIFO order, whole frames only, full ring drops the newest', async (t) => {
  const buf = new SharedArrayBuffer(PcmRing.bytes(512));
  const w = new PcmRing(buf, 0, 512);
  const r = new PcmRing(buf, 0, 512); // the reader's own view of the same memory
  const out = new Int16Array(160);
  t.equal(r.readFrame(out, 160), false, 'empty: nothing');
  t.equal(w.write(frame((i) => i), 100), 100);
  t.equal(r.readFrame(out, 160), false, '100 < 160: nothing taken');
  t.equal(r.available(), 100);
  t.equal(w.write(frame((i) => 100 + i), 60), 60);
  t.equal(r.readFrame(out, 160, 10000), true);
  t.same(Array.from(out.subarray(0, 5)), [0, 1, 2, 3, 4]);
  t.equal(out[100], 100, 'second write follows the first');
  t.equal(r.available(), 0);
  // fill to capacity: 512 fit, the rest is dropped
  const big = new Int16Array(600).map((_, i) => i);
  t.equal(w.write(big, 600), 512);
  t.equal(w.dropped, 88);
  t.throws(() => new PcmRing(new SharedArrayBuffer(4096), 0, 1000), RangeError, 'capacity must be a power of two');
});

t.test('ring: counters wrap past 2^31 and the data index wraps the capacity', async (t) => {
  const buf = new SharedArrayBuffer(PcmRing.bytes());
  const idx = new Int32Array(buf, 0, 2);
  const start = 0x7fffffff - 300; // the counters cross 2^31 (→ negative) within the first frames
  idx[0] = start; idx[1] = start;
  const ring = new PcmRing(buf, 0);
  const out = new Int16Array(FRAME_SAMPLES);
  let next = 0;
  let expect = 0;
  let ok = true;
  for (let n = 0; n < 40; n++) { // 40 frames = 6400 samples: the 2048-sample ring wraps three times
    const f = frame(() => { const v = next; next = (next + 1) & 0x7fff; return v; });
    t.equal(ring.write(f, FRAME_SAMPLES), FRAME_SAMPLES);
    if (!ring.readFrame(out, FRAME_SAMPLES)) { ok = false; break; }
    for (let i = 0; i < FRAME_SAMPLES; i++) { if (out[i] !== expect) ok = false; expect = (expect + 1) & 0x7fff; }
  }
  t.ok(ok, 'every sample came out in order across both wraps');
  t.ok(idx[0]! < 0, `write counter wrapped to ${idx[0]}`);
  t.equal(ring.available(), 0);
  t.equal(RING_SAMPLES & (RING_SAMPLES - 1), 0);
});

t.test('ring: a reader that fell behind skips the oldest samples (bounded delay)', async (t) => {
  const buf = new SharedArrayBuffer(PcmRing.bytes());
  const ring = new PcmRing(buf, 0);
  for (let n = 0; n < 8; n++) ring.write(frame(() => n), FRAME_SAMPLES); // 8 frames > RING_MAX_LAG
  t.ok(8 * FRAME_SAMPLES > RING_MAX_LAG);
  const out = new Int16Array(FRAME_SAMPLES);
  t.ok(ring.readFrame(out, FRAME_SAMPLES));
  t.equal(out[0], 8 - RING_KEEP / FRAME_SAMPLES, 'resumed RING_KEEP samples before the newest');
  t.equal(ring.skipped, 8 * FRAME_SAMPLES - RING_KEEP);
});

/** A member as the worker sees it: `say` puts a frame up, `heard` takes the mixed frame down. */
function member(): { buf: SharedArrayBuffer; say(f: Int16Array): void; heard(): Int16Array | undefined } {
  const buf = new SharedArrayBuffer(MEMBER_BYTES);
  const { up, down } = memberRings(buf);
  return {
    buf,
    say: (f) => { up.write(f, f.length); },
    heard: () => { const o = new Int16Array(FRAME_SAMPLES); return down.readFrame(o, FRAME_SAMPLES) ? o : undefined; },
  };
}

t.test('N-1 mix: with 3 members each hears the sum of the other two, not itself; sums clip', async (t) => {
  const mixer = new Mixer();
  const [a, b, c] = [member(), member(), member()];
  let now = 1000;
  mixer.join(7, 1, a.buf, NO_FLAGS, NO_TONES, now);
  mixer.join(7, 2, b.buf, NO_FLAGS, NO_TONES, now);
  mixer.join(7, 3, c.buf, NO_FLAGS, NO_TONES, now);
  t.equal(mixer.roomCount, 1);
  t.equal(mixer.memberCount, 3);
  const fa = frame((i) => 100 + i);
  const fb = frame((i) => -3 * i);
  const fc = frame((i) => 7);
  a.say(fa); b.say(fb); c.say(fc);
  const next = mixer.tick(now);
  t.equal(next, now + 20, 'next frame in 20 ms');
  const ha = a.heard()!; const hb = b.heard()!; const hc = c.heard()!;
  let ok = true;
  for (let i = 0; i < FRAME_SAMPLES; i++) {
    if (ha[i] !== fb[i]! + fc[i]!) ok = false;
    if (hb[i] !== fa[i]! + fc[i]!) ok = false;
    if (hc[i] !== fa[i]! + fb[i]!) ok = false;
  }
  t.ok(ok, 'a hears b+c, b hears a+c, c hears a+b, sample by sample');

  // clipping: two loud members add beyond 16 bits
  now += 20;
  a.say(frame(() => 30000)); b.say(frame(() => 20000)); c.say(frame(() => -30000));
  mixer.tick(now);
  t.equal(c.heard()![0], 32767, 'c hears 30000 + 20000 clipped to 32767');
  t.equal(a.heard()![0], -10000, 'a hears 20000 - 30000');
  t.equal(b.heard()![0], 0, 'b hears 30000 - 30000');
  now += 20;
  a.say(frame(() => -30000)); b.say(frame(() => -20000)); c.say(frame(() => 0));
  mixer.tick(now);
  t.equal(c.heard()![0], -32768, 'negative sums clip to -32768');
  a.heard(); b.heard();

  // a member with no frame this tick (late packets) contributes nothing and still hears the others
  now += 20;
  b.say(fb);
  mixer.tick(now);
  t.same(Array.from(a.heard()!.subarray(0, 3)), Array.from(fb.subarray(0, 3)));
  t.same(Array.from(b.heard()!.subarray(0, 3)), [0, 0, 0], 'b alone hears silence, not itself');

  mixer.leave(7, 2);
  mixer.leave(7, 2);
  t.equal(mixer.memberCount, 2, 'leave is idempotent');
  mixer.leave(7, 1);
  mixer.leave(7, 3);
  t.equal(mixer.roomCount, 0, 'the empty room is removed');
  t.equal(mixer.tick(now + 20), Infinity, 'no rooms: nothing scheduled');
});

t.test('mixMinusOwn is the same math without rings', async (t) => {
  const sum = Int32Array.from({ length: 4 }, (_, i) => [40000, -40000, 5, 0][i]!);
  const out = new Int16Array(4);
  mixMinusOwn(sum, Int16Array.from([1, 2, 3, 4]), out, 4);
  t.same(Array.from(out), [32767, -32768, 2, -4]);
  mixMinusOwn(sum, undefined, out, 4);
  t.same(Array.from(out), [32767, -32768, 5, 0]);
});

t.test('muted, deaf, wait_for_moderator, entry and exit tones', async (t) => {
  const mixer = new Mixer();
  const [a, b, m] = [member(), member(), member()];
  let now = 0;
  const opts = { entryTone: true, exitTone: true, waitForModerator: true };
  mixer.join(1, 1, a.buf, NO_FLAGS, opts, now);
  mixer.join(1, 2, b.buf, { muted: true, deaf: false, moderator: false }, opts, now);
  const talk = (): void => { a.say(frame(() => 1000)); b.say(frame(() => 2000)); m.say(frame(() => 4000)); };
  talk();
  mixer.tick(now);
  t.same(Array.from(a.heard()!.subarray(0, 2)), [0, 0], 'no moderator yet: members are held in silence (no entry beep either)');
  t.same(Array.from(b.heard()!.subarray(0, 2)), [0, 0]);
  now += 20;
  mixer.join(1, 3, m.buf, { muted: false, deaf: true, moderator: true }, opts, now);
  talk();
  mixer.tick(now);
  const ha = a.heard()!;
  const entry = ENTRY_TONE.subarray(0, FRAME_SAMPLES);
  t.equal(ha[5], 4000 + entry[5]!, 'a hears the moderator (4000) plus the entry beep, not muted b');
  t.same(Array.from(m.heard()!.subarray(0, 3)), [0, 0, 0], 'the deaf moderator hears nothing');
  t.equal(b.heard()![5], 1000 + 4000 + entry[5]!, 'muted b still hears a and the moderator');
  // let the entry tone finish, then b leaves: the exit beep
  for (let k = 0; k < ENTRY_TONE.length / FRAME_SAMPLES; k++) { now += 20; mixer.tick(now); a.heard(); b.heard(); m.heard(); }
  mixer.leave(1, 2);
  now += 20;
  mixer.tick(now);
  t.equal(a.heard()![9], EXIT_TONE[9], 'a hears the exit beep');
});

t.test('MemberPort encodes the mix as G.711, silence when nothing is ready', async (t) => {
  const buf = new SharedArrayBuffer(MEMBER_BYTES);
  const port = new MemberPort(buf);
  const enc = new Uint8Array(65536);
  for (let i = 0; i < 65536; i++) enc[i] = linearToMulaw((i << 16) >> 16);
  const out = new Uint8Array(12 + FRAME_SAMPLES);
  port.fill(out, 12, enc, 0xff);
  t.equal(out[12], 0xff, 'underrun → silence');
  const { down } = memberRings(buf);
  down.write(frame(() => 5000), FRAME_SAMPLES);
  port.fill(out, 12, enc, 0xff);
  t.ok(Math.abs(MULAW_DECODE[out[12]!]! - 5000) < 200, 'the mixed sample, μ-law encoded');
  // DTMF or odd packet sizes never reach the mixer as audio frames, but odd-sized audio is fine
  port.up.write(new Int16Array(1000), 1000);
  t.equal(port.up.available(), 1000);
});
