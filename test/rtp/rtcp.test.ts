/** RTCP (src/rtp/rtcp.ts): receiver statistics, report building and reading, round-trip time. */
import t from 'tap';
import { RxStats, RtcpInfo, parseRtcp, buildReport, ntpMiddle, ntpOf, rttFromReport, RTCP_SR, RTCP_RR, RTCP_SDES, RTCP_BYE } from '../../src/rtp/rtcp.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

t.test('RxStats: sequence accounting (RFC 3550 A.1)', async (t) => {
  const cases: Array<{ name: string; seqs: number[]; expected: number; received: number; lost: number; cycles: number }> = [
    { name: 'in order', seqs: [10, 11, 12, 13], expected: 4, received: 4, lost: 0, cycles: 0 },
    { name: 'two lost', seqs: [10, 11, 14, 15], expected: 6, received: 4, lost: 2, cycles: 0 },
    { name: 'wrap', seqs: [65534, 65535, 0, 1], expected: 4, received: 4, lost: 0, cycles: 65536 },
    { name: 'reordered', seqs: [10, 12, 11, 13], expected: 4, received: 4, lost: 0, cycles: 0 },
    { name: 'duplicate counts (lost goes negative)', seqs: [10, 11, 11, 12], expected: 3, received: 4, lost: -1, cycles: 0 },
    { name: 'one large jump is ignored', seqs: [10, 11, 30000, 12], expected: 3, received: 3, lost: 0, cycles: 0 },
    { name: 'a large jump followed by its successor restarts the count', seqs: [10, 11, 30000, 30001, 30002], expected: 2, received: 2, lost: 0, cycles: 0 },
  ];
  for (const c of cases) {
    const rx = new RxStats();
    for (const [i, seq] of c.seqs.entries()) rx.onPacket(0x1234, seq, i * 160, i * 160, true);
    t.same({ expected: rx.expected, received: rx.received, lost: rx.lost, cycles: rx.cycles }, { expected: c.expected, received: c.received, lost: c.lost, cycles: c.cycles }, c.name);
  }
  const rx = new RxStats();
  rx.onPacket(1, 100, 0, 0, true);
  rx.onPacket(1, 102, 320, 320, true);
  rx.onPacket(2, 7, 0, 480, true);
  t.same([rx.ssrc, rx.expected, rx.received], [2, 1, 1], 'a new SSRC starts the accounting again');
});

t.test('RxStats: interarrival jitter (RFC 3550 A.8)', async (t) => {
  const steady = new RxStats();
  for (let i = 0; i < 50; i++) steady.onPacket(1, i, 1000 + i * 160, 5000 + i * 160, true);
  t.equal(steady.jitter, 0, 'packets arriving exactly 20 ms apart: no jitter');
  const shaky = new RxStats();
  // every other packet 2 ms (16 timestamp units) late: |D| = 16 each step, so J converges to 16
  for (let i = 0; i < 400; i++) shaky.onPacket(1, i, i * 160, i * 160 + (i % 2 === 1 ? 16 : 0), true);
  t.ok(Math.abs(shaky.jitter - 16) < 0.01, `J → 16 units (2 ms), got ${shaky.jitter}`);
  const events = new RxStats();
  for (let i = 0; i < 10; i++) events.onPacket(1, i, 8000, i * 160, false);
  t.equal(events.jitter, 0, 'telephone-event packets (one timestamp per event) do not count as jitter');
  t.equal(events.received, 10, 'but they are counted');
});

t.test('NTP time and the round trip from LSR/DLSR (RFC 3550 6.4.1)', async (t) => {
  t.same(ntpOf(0), [2208988800, 0], '1970 in NTP seconds');
  t.same(ntpOf(1500), [2208988801, 0x80000000], 'half a second is 2^31');
  const sentAt = Date.UTC(2026, 10, 26, 12, 0, 0);
  const lsr = ntpMiddle(sentAt);
  // the peer held our SR for 250 ms; its report arrives 330 ms after we sent the SR: RTT 80 ms
  const rtt = rttFromReport(lsr, Math.round(0.25 * 65536), sentAt + 330);
  t.ok(Math.abs(rtt - 80) < 0.1, `rtt ${rtt} ms`);
  t.equal(rttFromReport(0, 0, sentAt), -1, 'LSR 0: the peer has not seen our SR');
});

t.test('reading real compound packets', async (t) => {
  // SR (SSRC 0x11223344, NTP 0xe9f1c8a0.80000000, RTP ts 0x00001f40, 50 packets, 8000 octets) with one report
  // block about SSRC 0xaabbccdd (fraction 64/256, cumulative 3, highest 0x0001000a, jitter 24, LSR, DLSR),
  // then SDES CNAME "peer@host" and BYE.
  const sr = hex(`
    81c8000c 11223344 e9f1c8a0 80000000 00001f40 00000032 00001f40
    aabbccdd 40000003 0001000a 00000018 c8a08000 00008000
    81ca0004 11223344 01097065 65724068 6f737400
    81cb0001 11223344`);
  const info = new RtcpInfo();
  t.ok(parseRtcp(sr, sr.length, 0xaabbccdd, info));
  t.same({ ...info }, {
    senderSsrc: 0x11223344, haveSr: true, srNtpMiddle: 0xc8a08000, haveReport: true, fractionLost: 64, cumulativeLost: 3,
    jitter: 24, lsr: 0xc8a08000, dlsr: 0x8000, bye: true,
  });
  t.ok(parseRtcp(sr, sr.length, 0x01020304, info), 'a block about someone else');
  t.equal(info.haveReport, false, 'is not ours');
  // RR without blocks, as a receive-only phone sends it, with a negative cumulative loss in a block
  const rr = hex('81c90007 55667788 aabbccdd 00fffffe 00000064 00000000 00000000 00000000');
  t.ok(parseRtcp(rr, rr.length, 0xaabbccdd, info));
  t.same([info.haveSr, info.senderSsrc, info.cumulativeLost], [false, 0x55667788, -2]);
  const bad: Array<[string, Buffer]> = [
    ['version 1', hex('41c90001 55667788')],
    ['length past the datagram', hex('81c90004 55667788')],
    ['starts with SDES', hex('81ca0002 11223344 01000000')],
    ['empty', Buffer.alloc(0)],
  ];
  for (const [name, b] of bad) t.notOk(parseRtcp(b, b.length, 0, info), name);
});

t.test('building reports: SR when we sent, RR when not, report block, SDES padded, BYE', async (t) => {
  const rx = new RxStats();
  for (let i = 0; i < 100; i++) if (i !== 40 && i !== 41) rx.onPacket(0xaabbccdd, 1000 + i, i * 160, i * 160, true);
  rx.lsr = 0x12345678;
  rx.lsrAt = 1000;
  const now = Date.UTC(2026, 10, 26, 12, 0, 0);
  const me = { ssrc: 0x01020304, sender: true, rtpTs: 0xdeadbeef, packets: 250, octets: 40000, cname: 'abcdefghijklmnop' };
  const b = buildReport(me, rx, now, 1500, true);
  t.equal(b.length % 4, 0, 'a whole number of 32-bit words');
  t.equal(b[1], RTCP_SR);
  t.equal(b.readUInt32BE(4), 0x01020304);
  t.same([b.readUInt32BE(8), b.readUInt32BE(12)], ntpOf(now));
  t.same([b.readUInt32BE(16), b.readUInt32BE(20), b.readUInt32BE(24)], [0xdeadbeef, 250, 40000]);
  t.equal(b.readUInt32BE(28), 0xaabbccdd, 'block about the stream we receive');
  t.equal(b[32], Math.floor((2 * 256) / 100), 'fraction lost: 2 of 100');
  t.equal(b.readUIntBE(33, 3), 2, 'cumulative lost');
  t.equal(b.readUInt32BE(36), 1099, 'extended highest sequence number');
  t.equal(b.readUInt32BE(44), 0x12345678, 'LSR echoed');
  t.equal(b.readUInt32BE(48), Math.round(0.5 * 65536), 'DLSR: 500 ms since that SR');
  const sdes = 52;
  t.same([b[sdes + 1], b[sdes + 8], b[sdes + 9], b.toString('utf8', sdes + 10, sdes + 26)], [RTCP_SDES, 1, 16, 'abcdefghijklmnop']);
  const bye = b.length - 8;
  t.same([b[bye + 1], b.readUInt32BE(bye + 4)], [RTCP_BYE, 0x01020304]);
  // what we built reads back; the peer's view of it
  const info = new RtcpInfo();
  t.ok(parseRtcp(b, b.length, 0xaabbccdd, info));
  t.same([info.haveSr, info.fractionLost, info.cumulativeLost, info.lsr, info.bye], [true, 5, 2, 0x12345678, true]);
  // the next interval: nothing new lost → fraction 0, cumulative stays
  for (let i = 100; i < 150; i++) rx.onPacket(0xaabbccdd, 1000 + i, i * 160, i * 160, true);
  const b2 = buildReport({ ...me, sender: false }, rx, now + 5000, 6500, false);
  t.equal(b2[1], RTCP_RR, 'no RTP sent since the last report: RR');
  t.equal(b2[8 + 4], 0, 'fraction lost over this interval: 0');
  t.equal(b2.readUIntBE(8 + 5, 3), 2, 'cumulative lost: 2');
  const none = buildReport({ ...me, sender: false }, new RxStats(), now, 0, false);
  t.equal(none[0]! & 0x1f, 0, 'nothing received yet: no report block');
  t.equal(none[1], RTCP_RR);
});
