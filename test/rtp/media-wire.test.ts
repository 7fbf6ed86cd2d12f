// The media worker's packets checked on the wire against a raw UDP peer.
import t from 'tap';
import dgram from 'node:dgram';
import { MediaEngine } from '../../src/rtp/media-engine.js';
import { decodeRtp, RtpPacket, RtpDecodeResult } from '../../src/rtp/packet.js';
import { decodeTelephoneEvent, TelephoneEvent } from '../../src/rtp/telephone-event.js';

// below the Linux ephemeral range (32768+), disjoint from media-engine.test.ts (which ends below 24200)
const base = 24400 + 2 * Math.floor(Math.random() * 1500);
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Rx { at: number; pkt: RtpPacket; ev?: TelephoneEvent }

async function peer(): Promise<{ sock: dgram.Socket; port: number; rx: Rx[] }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const rx: Rx[] = [];
  sock.on('message', (msg) => {
    const pkt = new RtpPacket();
    if (decodeRtp(new Uint8Array(msg), pkt) !== RtpDecodeResult.Ok) return;
    const entry: Rx = { at: performance.now(), pkt };
    if (pkt.payloadType === 101) {
      const ev = new TelephoneEvent();
      decodeTelephoneEvent(pkt.payload, ev);
      entry.ev = ev;
    }
    rx.push(entry);
  });
  return { sock, port: sock.address().port, rx };
}

function rtp(pt: number, seq: number, ts: number, payload: number[], marker = false): Buffer {
  const b = Buffer.alloc(12 + payload.length);
  b[0] = 0x80;
  b[1] = (marker ? 0x80 : 0) | pt;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(0x11223344, 8);
  Buffer.from(payload).copy(b, 12);
  return b;
}

t.test('outgoing stream: marker, continuous seq/ts, 20 ms pacing, silence byte, RFC 4733 out', async (t) => {
  const engine = await MediaEngine.start({ workers: 1, address: '127.0.0.1', portMin: base, portMax: base + 100 });
  t.teardown(() => engine.close());
  const p = await peer();
  t.teardown(() => p.sock.close());
  const s = await engine.createSession();
  s.configure({ address: '127.0.0.1', port: p.port, codec: 'PCMA', payloadType: 8, telephoneEventPt: 101 });
  await delay(400);
  const audio = p.rx.slice();
  t.ok(audio.length >= 15 && audio.length <= 22, `${audio.length} packets in 400 ms`);
  t.equal(audio[0]!.pkt.marker, true, 'marker on the first packet');
  t.ok(audio.slice(1).every((r) => !r.pkt.marker), 'no marker afterwards');
  for (let i = 1; i < audio.length; i++) {
    const a = audio[i - 1]!.pkt;
    const b = audio[i]!.pkt;
    if (b.sequenceNumber !== ((a.sequenceNumber + 1) & 0xffff) || b.timestamp !== ((a.timestamp + 160) >>> 0) || b.ssrc !== a.ssrc) {
      t.fail(`discontinuity at ${i}`);
    }
  }
  t.ok(audio.every((r) => r.pkt.payloadType === 8 && r.pkt.payload.length === 160 && r.pkt.payload.every((x) => x === 0xd5)), 'A-law silence');
  const span = audio[audio.length - 1]!.at - audio[0]!.at;
  t.ok(Math.abs(span / (audio.length - 1) - 20) < 2, `mean interval ${(span / (audio.length - 1)).toFixed(2)} ms`);

  p.rx.length = 0;
  await s.sendDtmf('7', 100);
  const evs = p.rx.filter((r) => r.ev);
  t.equal(evs.length, 5 + 3, '5 tone packets + 3 end packets for 100 ms');
  t.equal(evs[0]!.pkt.marker, true, 'marker on the first event packet');
  t.ok(evs.every((r) => r.pkt.timestamp === evs[0]!.pkt.timestamp), 'one timestamp for the event');
  t.same(evs.map((r) => r.ev!.duration), [160, 320, 480, 640, 800, 800, 800, 800]);
  t.same(evs.map((r) => r.ev!.end), [false, false, false, false, false, true, true, true]);
  t.ok(evs.every((r) => r.ev!.event === 7 && r.ev!.volume === 10));
  const all = p.rx.map((r) => r.pkt.sequenceNumber);
  t.ok(all.every((x, i) => i === 0 || x === ((all[i - 1]! + 1) & 0xffff)), 'sequence continuous across events');
  const after = p.rx.filter((r) => !r.ev);
  t.ok(after.length >= 2, 'audio resumes after the event (gap)');
  await s.close();
});

t.test('incoming RFC 4733: one digit per event, lost start, retransmitted ends; junk ignored', async (t) => {
  const engine = await MediaEngine.start({ workers: 1, address: '127.0.0.1', portMin: base + 200, portMax: base + 300 });
  t.teardown(() => engine.close());
  const p = await peer();
  t.teardown(() => p.sock.close());
  const s = await engine.createSession();
  s.configure({ address: '127.0.0.1', port: p.port, codec: 'PCMU', payloadType: 0, telephoneEventPt: 96 });
  const digits: string[] = [];
  s.on('dtmf', (d) => digits.push(d));
  const send = (b: Buffer): Promise<void> => new Promise((r) => p.sock.send(b, s.localPort, '127.0.0.1', () => r()));
  let seq = 1;
  // digit 1: full event with retransmitted end
  await send(rtp(96, seq++, 1000, [1, 10, 0, 160], true));
  await send(rtp(96, seq++, 1000, [1, 10, 1, 64]));
  for (let i = 0; i < 3; i++) await send(rtp(96, seq++, 1000, [1, 0x80 | 10, 1, 64]));
  // digit 2: only end packets arrive (start lost)
  for (let i = 0; i < 3; i++) await send(rtp(96, seq++, 2000, [2, 0x80 | 10, 3, 32]));
  // same digit again = a new event (new timestamp)
  await send(rtp(96, seq++, 3000, [2, 10, 0, 160], true));
  // junk: short, wrong version, unknown PT, short event payload, STUN-looking, RTCP on the RTP port
  await send(Buffer.from([1, 2, 3]));
  await send(Buffer.from('00010000' + '2112a442' + '00'.repeat(12), 'hex'));
  await send(rtp(13, seq++, 4000, [1]));
  await send(rtp(96, seq++, 5000, [4, 10]));
  await send(Buffer.from('80c80006' + '00'.repeat(24), 'hex'));
  // flash (event 16) is not a DTMF key
  await send(rtp(96, seq++, 6000, [16, 10, 0, 160], true));
  // a long '3' split in two segments (second at ts + 0xffff) is one digit; the next '3' is a new press
  await send(rtp(96, seq++, 100000, [3, 10, 0xff, 0xff], true));
  await send(rtp(96, seq++, 100000 + 0xffff, [3, 10, 0, 160]));
  await send(rtp(96, seq++, 100000 + 0xffff, [3, 0x80 | 10, 1, 64]));
  await send(rtp(96, seq++, 200000, [3, 10, 0, 160], true));
  await delay(100);
  t.same(digits, ['1', '2', '2', '3', '3']);
  const st = await engine.pacerStats();
  t.ok(st.rejected >= 4, `rejected ${st.rejected}`);
  t.ok(st.rtcp >= 1, `rtcp ${st.rtcp}`);
  await s.close();
  t.same(engine.stats(), { sessions: 0, portsInUse: 0, workers: 1 });
});

t.test('recording inserts silence for timestamp gaps and is bounded by maxSeconds', async (t) => {
  const engine = await MediaEngine.start({ workers: 1, address: '127.0.0.1', portMin: base + 400, portMax: base + 500 });
  t.teardown(() => engine.close());
  const p = await peer();
  t.teardown(() => p.sock.close());
  const s = await engine.createSession();
  s.configure({ address: '127.0.0.1', port: p.port, codec: 'PCMU', payloadType: 0 });
  s.startRecording(0.1); // 800 samples max
  const send = (b: Buffer): Promise<void> => new Promise((r) => p.sock.send(b, s.localPort, '127.0.0.1', () => r()));
  const loud = new Array<number>(160).fill(0x80); // μ-law 0x80 = +32124
  await send(rtp(0, 1, 0, loud));
  await send(rtp(0, 2, 320, loud)); // one frame lost → 160 samples of silence
  await send(rtp(0, 3, 160, loud)); // late: dropped
  await delay(50);
  const rec = await s.stopRecording();
  t.equal(rec.length, 480);
  t.equal(rec[0], 32124);
  t.equal(rec[200], 0, 'gap filled with silence');
  t.equal(rec[400], 32124);
  s.startRecording(0.1);
  for (let i = 0; i < 10; i++) await send(rtp(0, 10 + i, 1000 + i * 160, loud));
  await delay(50);
  t.equal((await s.stopRecording()).length, 800, 'bounded by maxSeconds');
  await s.close();
});

t.test('direction: recvonly sends nothing, inactive never times out', async (t) => {
  const engine = await MediaEngine.start({ workers: 1, address: '127.0.0.1', portMin: base + 600, portMax: base + 700, rtpTimeoutMs: 150 });
  t.teardown(() => engine.close());
  const p = await peer();
  t.teardown(() => p.sock.close());
  const s = await engine.createSession();
  let timeouts = 0;
  s.on('timeout', () => timeouts++);
  s.configure({ address: '127.0.0.1', port: p.port, codec: 'PCMU', payloadType: 0, telephoneEventPt: 101, direction: 'inactive' });
  const done = new Promise<string>((r) => s.on('playDone', (_i, reason) => r(reason)));
  s.play(engine.registerPrompt(new Int16Array(800)));
  t.equal(await done, 'finished', 'prompts still progress');
  await delay(300);
  t.equal(p.rx.length, 0, 'nothing sent');
  t.equal(timeouts, 0, 'no timeout while inactive');
  s.configure({ address: '127.0.0.1', port: p.port, codec: 'PCMU', payloadType: 0, telephoneEventPt: 101 });
  await delay(300);
  t.ok(p.rx.length >= 5, 'sending after re-configure to sendrecv');
  t.equal(p.rx[0]!.pkt.marker, true, 'marker when sending resumes');
  t.equal(p.rx[1]!.pkt.marker, false);
  t.equal(timeouts, 1, 'timeout once back to sendrecv with nothing received');
  await s.close();
});

t.test('fuzz: random datagrams never break a session', async (t) => {
  const engine = await MediaEngine.start({ workers: 1, address: '127.0.0.1', portMin: base + 800, portMax: base + 900 });
  t.teardown(() => engine.close());
  const p = await peer();
  t.teardown(() => p.sock.close());
  const s = await engine.createSession();
  s.configure({ address: '127.0.0.1', port: p.port, codec: 'PCMU', payloadType: 0, telephoneEventPt: 101 });
  s.startRecording(5);
  const digits: string[] = [];
  s.on('dtmf', (d) => digits.push(d));
  let seed = 12345;
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
  for (let i = 0; i < 1500; i++) {
    const len = Math.floor(rnd() * 300);
    const b = Buffer.alloc(len);
    for (let k = 0; k < len; k++) b[k] = Math.floor(rnd() * 256);
    if (len > 1 && rnd() < 0.5) { b[0] = (b[0]! & 0x3f) | 0x80; b[1] = rnd() < 0.5 ? 0 : 101; } // plausible RTP headers
    p.sock.send(b, s.localPort, '127.0.0.1');
    if ((i & 63) === 63) await delay(1);
  }
  await delay(50);
  digits.length = 0;
  // still alive: a clean event is reported once
  const ev = Buffer.from('80e5000100ffff0011223344070a00a0', 'hex');
  p.sock.send(ev, s.localPort, '127.0.0.1');
  await delay(80);
  t.same(digits, ['7']);
  const rec = await s.stopRecording();
  t.ok(rec.length <= 5 * 8000, 'recording stays bounded');
  t.same(engine.stats(), { sessions: 1, portsInUse: 1, workers: 1 });
  await s.close();
});
