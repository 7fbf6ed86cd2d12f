import t from 'tap';
import {
  parseSdp, serializeSdp, createAnswer, offerProblem, createOffer, acceptAnswer, rtpmapOf, directionOf, connectionOf,
  type SessionDescription,
} from '../../src/rtp/sdp.js';

const crlf = (lines: string[]): string => lines.join('\r\n') + '\r\n';

// Offers as real user agents send them (shapes taken from captures of each UA).
const SIPP = crlf([
  'v=0', 'o=user1 53655765 2353687637 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
  'm=audio 6000 RTP/AVP 8 101', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-11,16',
]);
const BARESIP = crlf([
  'v=0', 'o=- 1796853372 2416385045 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
  'a=tool:baresip 1.0.0', 'm=audio 30004 RTP/AVP 0 8 101', 'b=AS:64', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=rtcp-rsize', 'a=sendrecv', 'a=label:1', 'a=ssrc:2947583847 cname:4a1f2e7b-0c6f-4b52',
  'a=rtcp-mux',
]);
const LINPHONE = crlf([
  'v=0', 'o=alice 3260 2419 IN IP4 192.168.1.20', 's=Talk', 'c=IN IP4 192.168.1.20', 't=0 0',
  'a=ice-pwd:31ec21eb38b2ec6d36e8dc7b', 'a=ice-ufrag:ba5fb5b5', 'a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics',
  'a=record:off',
  'm=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100', 'a=rtpmap:96 opus/48000/2', 'a=fmtp:96 useinbandfec=1',
  'a=rtpmap:97 speex/16000', 'a=fmtp:97 vbr=on', 'a=rtpmap:98 speex/8000', 'a=fmtp:98 vbr=on', 'a=fmtp:18 annexb=yes',
  'a=rtpmap:101 telephone-event/48000', 'a=rtpmap:99 telephone-event/16000', 'a=rtpmap:100 telephone-event/8000',
  'a=rtcp:7079', 'a=candidate:1 1 UDP 2130706431 192.168.1.20 7078 typ host', 'a=rtcp-fb:* trr-int 1000', 'a=rtcp-fb:* ccm tmmbr',
  'm=video 9078 RTP/AVP 96', 'a=rtpmap:96 VP8/90000', 'a=rtcp-fb:* ccm fir',
]);
const ASTERISK = crlf([
  'v=0', 'o=- 1877323932 1877323932 IN IP4 10.0.0.5', 's=Asterisk', 'c=IN IP4 10.0.0.5', 't=0 0',
  'm=audio 12834 RTP/AVP 9 0 8 3 111 101', 'a=rtpmap:9 G722/8000', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:3 GSM/8000', 'a=rtpmap:111 G726-32/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16',
  'a=ptime:20', 'a=maxptime:150', 'a=sendrecv',
]);
const ZOIPER = crlf([
  'v=0', 'o=Z 0 42301718 IN IP4 192.168.0.33', 's=Z', 'c=IN IP4 192.168.0.33', 't=0 0',
  'm=audio 8000 RTP/AVP 106 9 98 101 0 8 3', 'a=rtpmap:106 opus/48000/2', 'a=fmtp:106 sprop-maxcapturerate=16000; minptime=20; useinbandfec=1',
  'a=rtpmap:98 telephone-event/48000', 'a=fmtp:98 0-16', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16', 'a=sendrecv',
]);

t.test('parse real offers and round-trip them', async (t) => {
  for (const [name, text] of Object.entries({ SIPP, BARESIP, LINPHONE, ASTERISK, ZOIPER })) {
    const p = parseSdp(text);
    t.ok(p.ok, `${name} parses`);
    if (!p.ok) continue;
    t.equal(serializeSdp(p.sdp), text, `${name} round-trips byte for byte`);
    const again = parseSdp(serializeSdp(p.sdp));
    t.same(again, p, `${name} reparses to the same structure`);
  }
});

t.test('answer table: most preferred common codec in the offer order, telephone-event echoed', async (t) => {
  const local = { address: '127.0.0.1', port: 20000 };
  const table: Array<[string, string, { codec: string; payloadType: number; telephoneEventPt?: number; address: string; port: number }]> = [
    ['SIPp', SIPP, { codec: 'PCMA', payloadType: 8, telephoneEventPt: 101, address: '127.0.0.1', port: 6000 }],
    ['baresip', BARESIP, { codec: 'PCMU', payloadType: 0, telephoneEventPt: 101, address: '127.0.0.1', port: 30004 }],
    ['Linphone', LINPHONE, { codec: 'PCMU', payloadType: 0, telephoneEventPt: 100, address: '192.168.1.20', port: 7078 }],
    ['Asterisk', ASTERISK, { codec: 'PCMU', payloadType: 0, telephoneEventPt: 101, address: '10.0.0.5', port: 12834 }],
    ['Zoiper', ZOIPER, { codec: 'PCMU', payloadType: 0, telephoneEventPt: 101, address: '192.168.0.33', port: 8000 }],
  ];
  for (const [name, offer, want] of table) {
    const r = createAnswer(offer, local);
    t.ok(r.ok, `${name} answered`);
    if (!r.ok) continue;
    t.match(r.media, want, `${name} negotiated`);
    t.equal(r.answer.media.length, parseSdp(offer).ok ? (parseSdp(offer) as { sdp: SessionDescription }).sdp.media.length : 0, `${name}: one m= per offered m=`);
    const m = r.answer.media[0]!;
    t.equal(m.port, 20000);
    t.same(m.formats, [String(want.payloadType), String(want.telephoneEventPt)]);
    t.match(r.sdp, /^v=0\r\no=hookline \d+ \d+ IN IP4 127\.0\.0\.1\r\ns=hookline\r\nc=IN IP4 127\.0\.0\.1\r\nt=0 0\r\nm=audio 20000 RTP\/AVP /);
    t.match(r.sdp, new RegExp(`a=rtpmap:${want.telephoneEventPt} telephone-event/8000\r\n`));
  }
  const lin = createAnswer(LINPHONE, local);
  t.ok(lin.ok && lin.answer.media[1]!.port === 0 && lin.answer.media[1]!.media === 'video', 'Linphone video rejected with port 0');
  const sipp = createAnswer(SIPP, local);
  t.ok(sipp.ok && sipp.sdp.includes('a=fmtp:101 0-11,16\r\n'), 'fmtp of the offer echoed');
});

t.test('answers: 488, 400, c= at media level, port 0, static PT without rtpmap, direction', async (t) => {
  const local = { address: '127.0.0.1', port: 20000 };
  const g729 = crlf(['v=0', 'o=- 1 1 IN IP4 1.2.3.4', 's=-', 'c=IN IP4 1.2.3.4', 't=0 0', 'm=audio 4000 RTP/AVP 18 101', 'a=rtpmap:18 G729/8000', 'a=rtpmap:101 telephone-event/8000']);
  t.match(createAnswer(g729, local), { ok: false, status: 488 });
  const srtp = crlf(['v=0', 'o=- 1 1 IN IP4 1.2.3.4', 's=-', 'c=IN IP4 1.2.3.4', 't=0 0', 'm=audio 4000 RTP/SAVP 0']);
  t.match(createAnswer(srtp, local), { ok: false, status: 488 });
  t.match(createAnswer('garbage', local), { ok: false, status: 400 });
  t.match(createAnswer(crlf(['v=0', 'o=- 1 1 IN IP4 1.2.3.4', 's=-', 't=0 0', 'm=audio 4000 RTP/AVP 0']), local), { ok: false, status: 400 });
  // no rtpmap for static PTs, c= at media level, first stream rejected (port 0)
  const media = crlf([
    'v=0', 'o=- 1 1 IN IP4 1.2.3.4', 's=-', 't=0 0',
    'm=audio 0 RTP/AVP 0', 'c=IN IP4 9.9.9.9',
    'm=audio 5000 RTP/AVP 8 0', 'c=IN IP4 5.6.7.8', 'a=sendonly',
  ]);
  const r = createAnswer(media, local);
  t.ok(r.ok);
  if (r.ok) {
    t.match(r.media, { codec: 'PCMA', payloadType: 8, address: '5.6.7.8', port: 5000, mediaIndex: 1, direction: 'recvonly' });
    t.equal(r.media.telephoneEventPt, undefined, 'no telephone-event offered → in-band');
    t.equal(r.answer.media[0]!.port, 0);
    t.same(r.answer.media[1]!.formats, ['8']);
    t.ok(r.sdp.includes('a=recvonly\r\n'));
  }
  // session-level direction applies
  const hold = crlf(['v=0', 'o=- 1 1 IN IP4 1.2.3.4', 's=-', 'c=IN IP4 1.2.3.4', 't=0 0', 'a=inactive', 'm=audio 5000 RTP/AVP 0']);
  const h = createAnswer(hold, local);
  t.ok(h.ok && h.media.direction === 'inactive');
  // we accept only PCMA
  const onlyA = createAnswer(BARESIP, { ...local, codecs: ['PCMA'] });
  t.ok(onlyA.ok && onlyA.media.codec === 'PCMA');
  // IPv6 connection
  const v6 = crlf(['v=0', 'o=- 1 1 IN IP6 ::1', 's=-', 'c=IN IP6 ::1', 't=0 0', 'm=audio 5000 RTP/AVP 0']);
  const r6 = createAnswer(v6, { address: '::1', port: 20000 });
  t.ok(r6.ok && r6.media.address === '::1' && r6.sdp.includes('c=IN IP6 ::1\r\n'));
});

t.test('session version increments for re-INVITE answers', async (t) => {
  const local = { address: '127.0.0.1', port: 20000 };
  const first = createAnswer(ASTERISK, local);
  t.ok(first.ok);
  if (!first.ok) return;
  const second = createAnswer(ASTERISK, local, first.answer);
  t.ok(second.ok);
  if (!second.ok) return;
  t.equal(second.answer.origin.sessionId, first.answer.origin.sessionId);
  t.equal(BigInt(second.answer.origin.sessionVersion), BigInt(first.answer.origin.sessionVersion) + 1n);
  const big = { ...first.answer, origin: { ...first.answer.origin, sessionVersion: '18446744073709551615' } };
  const third = createAnswer(ASTERISK, local, big);
  t.ok(third.ok && third.answer.origin.sessionVersion === '18446744073709551616', 'versions beyond 2^53 work');
});

t.test('our offer and reading the answer', async (t) => {
  const offer = createOffer({ address: '127.0.0.1', port: 30000 });
  const text = serializeSdp(offer);
  t.match(text, /m=audio 30000 RTP\/AVP 0 8 101\r\na=rtpmap:0 PCMU\/8000\r\na=rtpmap:8 PCMA\/8000\r\na=rtpmap:101 telephone-event\/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n$/);
  // answer from a peer that picks PCMA and echoes 101
  const peer = createAnswer(text, { address: '127.0.0.2', port: 40000, codecs: ['PCMA'] });
  t.ok(peer.ok);
  if (!peer.ok) return;
  const got = acceptAnswer(offer, peer.sdp);
  t.same(got, { ok: true, media: { codec: 'PCMA', payloadType: 8, address: '127.0.0.2', port: 40000, direction: 'sendrecv', mediaIndex: 0, telephoneEventPt: 101, remotePtime: 20 } });
  const rejected = crlf(['v=0', 'o=- 1 1 IN IP4 1.2.3.4', 's=-', 'c=IN IP4 1.2.3.4', 't=0 0', 'm=audio 0 RTP/AVP 0']);
  t.match(acceptAnswer(offer, rejected), { ok: false, status: 488 });
  const noTe = crlf(['v=0', 'o=- 1 1 IN IP4 1.2.3.4', 's=-', 'c=IN IP4 1.2.3.4', 't=0 0', 'm=audio 7000 RTP/AVP 0']);
  const n = acceptAnswer(offer, noTe);
  t.ok(n.ok && n.media.telephoneEventPt === undefined && n.media.codec === 'PCMU');
});

t.test('parser: malformed input is a result, not an exception; helpers', async (t) => {
  const bad = ['', 'x', 'v=0\r\nbogus line\r\n', 'o=- 1 1 IN IP4 1.1.1.1\r\n', 'v=0\r\no=too few\r\n', 'v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\nm=audio x RTP/AVP 0\r\n',
    'v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\nc=IN\r\n', 'v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\nm=audio 70000 RTP/AVP 0\r\n'];
  for (const b of bad) t.equal(parseSdp(b).ok, false, JSON.stringify(b));
  const lf = parseSdp('v=0\no=- 1 1 IN IP4 1.1.1.1\ns=-\nc=IN IP4 1.1.1.1/127\nt=0 0\nm=audio 5000/2 RTP/AVP 0\n');
  t.ok(lf.ok);
  if (!lf.ok) return;
  const m = lf.sdp.media[0]!;
  t.equal(m.numPorts, 2);
  t.equal(connectionOf(lf.sdp, m)?.address, '1.1.1.1');
  t.same(rtpmapOf(m, 0), { payloadType: 0, encoding: 'PCMU', clockRate: 8000 });
  t.equal(rtpmapOf(m, 96), undefined);
  t.equal(directionOf(lf.sdp, m), 'sendrecv');
});

t.test('fuzz: mutated SDP never throws', async (t) => {
  let seed = 777;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const sources = [SIPP, BARESIP, LINPHONE, ASTERISK, ZOIPER];
  const junk = ['', ' ', '=', 'a=', 'm=audio', 'c=IN IP4', ':', '/', '999999', '-1', '\u0000', 'a=rtpmap:', 'a=fmtp:101', 'm=audio 1 RTP/AVP', 'v=1'];
  let parsed = 0;
  let answered = 0;
  let badPorts = 0;
  for (let i = 0; i < 3000; i++) {
    const lines = sources[rnd(sources.length)]!.split('\r\n');
    const ops = 1 + rnd(4);
    for (let k = 0; k < ops; k++) {
      const at = rnd(lines.length);
      switch (rnd(4)) {
        case 0: lines.splice(at, 1); break;
        case 1: lines.splice(at, 0, junk[rnd(junk.length)]!); break;
        case 2: lines[at] = (lines[at] ?? '').slice(0, rnd(40)); break;
        default: lines[at] = (lines[at] ?? '') + junk[rnd(junk.length)]!; break;
      }
    }
    const text = lines.join('\r\n');
    const p = parseSdp(text);
    if (p.ok) { parsed++; serializeSdp(p.sdp); }
    const a = createAnswer(text, { address: '127.0.0.1', port: 20000 });
    if (a.ok) { answered++; if (!(a.media.port > 0 && a.media.port <= 65535)) badPorts++; }
  }
  t.ok(parsed > 100, `${parsed} of 3000 mutants still parse, ${answered} answered`);
  t.equal(badPorts, 0, 'every answer points at a usable port');
});

t.test('offerProblem agrees with createAnswer without building an answer', async (t) => {
  const local = { address: '127.0.0.1', port: 20000 };
  const offers: Array<[string, string, number | undefined]> = [
    ['SIPp', SIPP, undefined],
    ['baresip', BARESIP, undefined],
    ['G.729 only', crlf(['v=0', 'o=- 1 1 IN IP4 1.2.3.4', 's=-', 'c=IN IP4 1.2.3.4', 't=0 0', 'm=audio 4000 RTP/AVP 18', 'a=rtpmap:18 G729/8000']), 488],
    ['SRTP only', crlf(['v=0', 'o=- 1 1 IN IP4 1.2.3.4', 's=-', 'c=IN IP4 1.2.3.4', 't=0 0', 'm=audio 4000 RTP/SAVP 0']), 488],
    ['no c= line', crlf(['v=0', 'o=- 1 1 IN IP4 1.2.3.4', 's=-', 't=0 0', 'm=audio 4000 RTP/AVP 0']), 400],
  ];
  for (const [name, text, status] of offers) {
    const p = parseSdp(text);
    if (!p.ok) { t.fail(`${name}: unparsable`); continue; }
    const problem = offerProblem(p.sdp, {});
    const answer = createAnswer(p.sdp, local);
    t.equal(problem?.status, status, `${name}: ${status ?? 'answerable'}`);
    t.equal(answer.ok, status === undefined, `${name}: createAnswer agrees`);
    if (problem && !answer.ok) t.equal(problem.reason, answer.reason);
  }
  const pcmaOnly = parseSdp(SIPP);
  if (pcmaOnly.ok) t.equal(offerProblem(pcmaOnly.sdp, { codecs: ['PCMU'] })?.status, 488, 'our codec list is honoured');
});

t.test('a=rtcp (RFC 3605): the peer\'s RTCP port, in an offer and in an answer', async (t) => {
  const local = { address: '127.0.0.1', port: 20000 };
  const lin = createAnswer(LINPHONE, local);
  t.ok(lin.ok && lin.media.rtcpPort === 7079, 'linphone names port 7079');
  const sipp = createAnswer(SIPP, local);
  t.ok(sipp.ok && sipp.media.rtcpPort === undefined, 'none given: undefined (RTP port + 1)');
  const withAddr = crlf(['v=0', 'o=- 1 1 IN IP4 10.0.0.5', 's=-', 'c=IN IP4 10.0.0.5', 't=0 0', 'm=audio 49170 RTP/AVP 0', 'a=rtcp:53020 IN IP4 10.0.0.5']);
  const a = acceptAnswer(createOffer(local), withAddr);
  t.ok(a.ok && a.media.rtcpPort === 53020, 'with an address after the port');
  for (const bad of ['a=rtcp:0', 'a=rtcp:70000', 'a=rtcp:abc', 'a=rtcp:']) {
    const r = acceptAnswer(createOffer(local), crlf(['v=0', 'o=- 1 1 IN IP4 10.0.0.5', 's=-', 'c=IN IP4 10.0.0.5', 't=0 0', 'm=audio 49170 RTP/AVP 0', bad]));
    t.ok(r.ok && r.media.rtcpPort === undefined, `${bad}: ignored`);
  }
});
