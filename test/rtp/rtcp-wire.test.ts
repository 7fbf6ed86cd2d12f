// RTCP of a media session checked on the wire against raw UDP sockets: the reports it sends (SR, report block,
// LSR/DLSR echo, SDES, BYE), the peer's reports it reads (round-trip time, remote loss) and a=rtcp.
import t from 'tap';
import dgram from 'node:dgram';
import { MediaEngine } from '../../src/rtp/media-engine.js';
import { RtcpInfo, parseRtcp, buildReport, ntpMiddle, RxStats, RTCP_SR, RTCP_RR } from '../../src/rtp/rtcp.js';

// disjoint from media-engine.test.ts (< 24200) and media-wire.test.ts (24400-27500)
const base = 28000 + 2 * Math.floor(Math.random() * 1000);
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const PEER_SSRC = 0x11223344;

async function bind(port: number): Promise<dgram.Socket | undefined> {
  const sock = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => { sock.once('error', reject); sock.bind(port, '127.0.0.1', () => resolve()); });
    return sock;
  } catch {
    sock.close();
    return undefined;
  }
}

/** An RTP socket on an even port and its RTCP socket on the next one. */
async function pair(): Promise<{ rtp: dgram.Socket; rtcp: dgram.Socket; port: number }> {
  for (let i = 0; i < 50; i++) {
    const p = 40000 + 2 * Math.floor(Math.random() * 10000);
    const rtp = await bind(p);
    if (!rtp) continue;
    const rtcp = await bind(p + 1);
    if (rtcp) return { rtp, rtcp, port: p };
    rtp.close();
  }
  throw new Error('no free port pair');
}

function rtp(seq: number, ts: number): Buffer {
  const b = Buffer.alloc(12 + 160, 0xd5);
  b[0] = 0x80;
  b[1] = 8;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(PEER_SSRC, 8);
  return b;
}

function collect(sock: dgram.Socket): Buffer[] {
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  return got;
}

t.test('reports to port + 1: SR about our stream, a block about theirs, LSR/DLSR echo, BYE at close; their RR gives the RTT', async (t) => {
  const engine = await MediaEngine.start({ workers: 1, address: '127.0.0.1', portMin: base, portMax: base + 100 });
  t.teardown(() => engine.close());
  const p = await pair();
  t.teardown(() => { p.rtp.close(); p.rtcp.close(); });
  let ourSsrc = -1;
  p.rtp.on('message', (m) => { ourSsrc = m.readUInt32BE(8); });
  const reports = collect(p.rtcp);
  const s = await engine.createSession();
  s.configure({ address: '127.0.0.1', port: p.port, codec: 'PCMA', payloadType: 8 });
  // the peer's stream: 150 packets, 20 ms apart, seq 20 and 21 missing
  let sent = 0;
  const streaming = (async () => {
    for (let i = 0; i < 150; i++) {
      if (i !== 20 && i !== 21) { p.rtp.send(rtp(500 + i, i * 160), s.localPort, '127.0.0.1'); sent++; }
      await delay(20);
    }
  })();
  // the peer's SR, so that the session's report echoes it
  await delay(300);
  const peerRx = new RxStats();
  const srAt = Date.now();
  p.rtcp.send(buildReport({ ssrc: PEER_SSRC, sender: true, rtpTs: 0, packets: 15, octets: 2400, cname: 'peer' }, peerRx, srAt, 0, false), s.localPort + 1, '127.0.0.1');
  const deadline = Date.now() + 8000;
  while (reports.length === 0 && Date.now() < deadline) await delay(50);
  t.ok(reports.length > 0, 'a report came within the first interval (1.25-3.75 s)');
  const first = reports[0]!;
  t.equal(first[1], RTCP_SR, 'an SR: the session is sending');
  t.equal(first.readUInt32BE(4), ourSsrc, 'the SSRC of its RTP');
  t.ok(first.readUInt32BE(20) > 0, `its packet count (${first.readUInt32BE(20)})`);
  const info = new RtcpInfo();
  const peerView = new RtcpInfo();
  t.ok(parseRtcp(first, first.length, PEER_SSRC, info), 'reads as RTCP');
  t.ok(info.haveReport, 'with a report block about the peer\'s stream');
  t.equal(info.cumulativeLost, 2, 'the two missing packets');
  t.equal(info.lsr, ntpMiddle(srAt), 'LSR: the middle of our SR\'s NTP time');
  t.ok(info.dlsr > 0 && info.dlsr < 8 * 65536, `DLSR ${info.dlsr / 65536} s`);
  // the peer reports back about the session's stream: the LSR of the session's SR, and how long it held it
  const ntpMid = ((first.readUInt32BE(8) << 16) | (first.readUInt32BE(12) >>> 16)) >>> 0;
  const srWallMs = (first.readUInt32BE(8) - 2208988800) * 1000 + (first.readUInt32BE(12) / 0x100000000) * 1000;
  const heldMs = Math.max(0, Date.now() - srWallMs);
  const rr = Buffer.alloc(32);
  rr[0] = 0x81; rr[1] = RTCP_RR; rr.writeUInt16BE(7, 2); rr.writeUInt32BE(PEER_SSRC, 4);
  rr.writeUInt32BE(ourSsrc, 8); rr.writeUInt32BE((13 << 24) | 4, 12); rr.writeUInt32BE(600, 16); rr.writeUInt32BE(40, 20);
  rr.writeUInt32BE(ntpMid, 24); rr.writeUInt32BE(Math.round((heldMs / 1000) * 65536), 28);
  p.rtcp.send(rr, s.localPort + 1, '127.0.0.1');
  await streaming;
  await delay(100);
  await s.close();
  await delay(100);
  const last = reports[reports.length - 1]!;
  t.ok(parseRtcp(last, last.length, PEER_SSRC, peerView) && peerView.bye, 'BYE when the session closes');
  const q = s.quality;
  t.ok(q, 'quality reported at close');
  t.equal(q!.received, sent, 'every packet the peer sent was received');
  t.equal(q!.lost, 2);
  t.ok(q!.jitterMs >= 0 && q!.jitterMs < 10, `jitter ${q!.jitterMs} ms`);
  t.ok(q!.sent > 100, `${q!.sent} sent`);
  t.equal(q!.remoteLost, 4, 'the peer\'s cumulative loss of our stream');
  t.ok(Math.abs(q!.remoteFractionLost - 13 / 256) < 1e-9);
  t.equal(q!.remoteJitterMs, 40 / 8);
  t.ok(q!.rttMs >= 0 && q!.rttMs < 50, `rtt ${q!.rttMs} ms (loopback, the hold time taken out)`);
});

t.test('a=rtcp: reports go to the port the SDP named', async (t) => {
  const engine = await MediaEngine.start({ workers: 1, address: '127.0.0.1', portMin: base + 200, portMax: base + 300 });
  t.teardown(() => engine.close());
  const p = await pair();
  const other = (await bind(0))!;
  t.teardown(() => { p.rtp.close(); p.rtcp.close(); other.close(); });
  const atPortPlusOne = collect(p.rtcp);
  const atNamed = collect(other);
  const s = await engine.createSession();
  s.configure({ address: '127.0.0.1', port: p.port, codec: 'PCMU', payloadType: 0, direction: 'recvonly', rtcpPort: other.address().port });
  const deadline = Date.now() + 8000;
  while (atNamed.length === 0 && Date.now() < deadline) await delay(50);
  await s.close();
  await delay(100);
  t.ok(atNamed.length >= 2, `a report and the BYE at the a=rtcp port (${atNamed.length})`);
  t.equal(atPortPlusOne.length, 0, 'none at port + 1');
  t.equal(atNamed[0]![1], RTCP_RR, 'recvonly: nothing sent, so an RR');
  t.equal(atNamed[0]![0]! & 0x1f, 0, 'nothing received: no report block');
});
