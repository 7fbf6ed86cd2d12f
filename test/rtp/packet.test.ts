import t from 'tap';
import {
  decodeRtp, encodeRtp, encodeRtpHeader, marshalRtp, rtpEncodedSize, looksLikeRtcp, RtpPacket, RtpDecodeResult,
} from '../../src/rtp/packet.js';
import {
  decodeTelephoneEvent, encodeTelephoneEvent, TelephoneEvent, dtmfToEvent, eventToDtmf,
} from '../../src/rtp/telephone-event.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

interface Row {
  name: string;
  bytes: string;
  result: RtpDecodeResult;
  want?: Partial<Pick<RtpPacket, 'marker' | 'payloadType' | 'sequenceNumber' | 'timestamp' | 'ssrc' | 'csrcCount' | 'extension' | 'extensionProfile' | 'padding' | 'paddingLength'>> & { payload?: string; csrc?: number[]; ext?: string };
}

const rows: Row[] = [
  {
    name: 'PCMU with marker',
    bytes: '80 80 1234 00000a00 deadbeef ffff7f',
    result: RtpDecodeResult.Ok,
    want: { marker: true, payloadType: 0, sequenceNumber: 0x1234, timestamp: 0xa00, ssrc: 0xdeadbeef, csrcCount: 0, payload: 'ffff7f', extension: false, padding: false },
  },
  {
    name: 'two CSRCs, PT 8, max timestamp',
    bytes: '82 08 ffff ffffffff 00000001 00000002 00000003 d5d5',
    result: RtpDecodeResult.Ok,
    want: { marker: false, payloadType: 8, sequenceNumber: 0xffff, timestamp: 0xffffffff, ssrc: 1, csrcCount: 2, csrc: [2, 3], payload: 'd5d5' },
  },
  {
    name: 'one-byte header extension (0xBEDE) of one word',
    bytes: '90 65 0001 00000000 00000001 bede 0001 10ff0000 aabb',
    result: RtpDecodeResult.Ok,
    want: { extension: true, extensionProfile: 0xbede, ext: '10ff0000', payloadType: 101, payload: 'aabb' },
  },
  {
    name: 'padding of 3 octets',
    bytes: 'a0 00 0001 00000000 00000001 0102 0000 03',
    result: RtpDecodeResult.Ok,
    want: { padding: true, paddingLength: 3, payload: '0102' },
  },
  { name: 'empty payload', bytes: '80 00 0001 00000000 00000001', result: RtpDecodeResult.Ok, want: { payload: '' } },
  { name: 'too short', bytes: '80 00 0001 00000000 000000', result: RtpDecodeResult.TooShort },
  { name: 'version 1', bytes: '40 00 0001 00000000 00000001 ff', result: RtpDecodeResult.BadVersion },
  { name: 'STUN binding request is not RTP', bytes: '0001 0000 2112a442 000000000000000000000000', result: RtpDecodeResult.BadVersion },
  { name: 'CSRC count beyond the packet', bytes: '8f 00 0001 00000000 00000001 00000002', result: RtpDecodeResult.CsrcOverrun },
  { name: 'extension header cut', bytes: '90 00 0001 00000000 00000001 bede', result: RtpDecodeResult.ExtensionOverrun },
  { name: 'extension length beyond the packet', bytes: '90 00 0001 00000000 00000001 bede 0002 00000000', result: RtpDecodeResult.ExtensionOverrun },
  { name: 'padding count zero', bytes: 'a0 00 0001 00000000 00000001 0100', result: RtpDecodeResult.BadPadding },
  { name: 'padding beyond the payload', bytes: 'a0 00 0001 00000000 00000001 0109', result: RtpDecodeResult.BadPadding },
];

t.test('RTP decode table (decoding twice into one object catches stale state)', async (t) => {
  const p = new RtpPacket();
  for (const row of rows) {
    // poison with a packet that sets everything, then decode the row
    decodeRtp(hex('b2 ff ffff ffffffff ffffffff 00000009 00000008 abcd 0001 01020304 00 00 02'), p);
    const buf = hex(row.bytes);
    const r = decodeRtp(buf, p);
    t.equal(r, row.result, `${row.name}: result`);
    if (!row.want) continue;
    const { payload, csrc, ext, ...fields } = row.want;
    t.match(p, fields, `${row.name}: fields`);
    if (payload !== undefined) t.equal(Buffer.from(p.payload).toString('hex'), payload, `${row.name}: payload`);
    if (csrc) t.same(p.csrc, csrc, `${row.name}: csrc`);
    if (ext !== undefined) t.equal(Buffer.from(p.extensionData).toString('hex'), ext, `${row.name}: extension data`);
    if (!row.want.extension) t.equal(p.extensionData.length, 0, `${row.name}: no stale extension`);
    if (payload) t.equal(p.payload.buffer, buf.buffer, `${row.name}: payload is a view, not a copy`);
  }
});

t.test('RTP decode respects len and views=false', async (t) => {
  const p = new RtpPacket();
  const buf = hex('80 00 0001 00000000 00000001 01020304 eeee');
  t.equal(decodeRtp(buf, p, 16, false), RtpDecodeResult.Ok);
  t.equal(p.payloadOffset, 12);
  t.equal(p.payloadLength, 4);
  t.equal(p.payload.length, 0);
  t.equal(decodeRtp(buf, p, 100), RtpDecodeResult.TooShort, 'len beyond the buffer is rejected');
});

t.test('RTP encode round trips', async (t) => {
  for (const row of rows.filter((r) => r.result === RtpDecodeResult.Ok)) {
    const p = new RtpPacket();
    const src = hex(row.bytes);
    decodeRtp(src, p);
    t.equal(rtpEncodedSize(p), src.length, `${row.name}: size`);
    const out = new Uint8Array(200);
    t.equal(encodeRtp(p, out, 3), src.length, `${row.name}: encode at an offset`);
    t.same(Buffer.from(out.subarray(3, 3 + src.length)).toString('hex'), Buffer.from(src).toString('hex'), `${row.name}: bytes`);
    t.same(Buffer.from(marshalRtp(p)), Buffer.from(src), `${row.name}: marshal`);
  }
  const p = new RtpPacket();
  p.payload = new Uint8Array(160);
  t.equal(encodeRtp(p, new Uint8Array(100)), -1, 'does not fit');
  t.equal(encodeRtpHeader(p, new Uint8Array(11)), -1, 'header does not fit');
  p.csrcCount = 3;
  t.equal(encodeRtpHeader(p, new Uint8Array(100)), -1, 'csrcCount beyond csrc array');
  const q = new RtpPacket();
  q.extension = true;
  q.extensionProfile = 0xbede;
  q.extensionData = hex('112233');
  const enc = marshalRtp(q);
  t.equal(Buffer.from(enc).toString('hex'), '900000000000000000000000bede000111223300', 'extension padded to a word');
});

t.test('RTCP demultiplexing check', async (t) => {
  t.equal(looksLikeRtcp(hex('80 c8 0006')), true, 'SR');
  t.equal(looksLikeRtcp(hex('81 c9 0007')), true, 'RR');
  t.equal(looksLikeRtcp(hex('80 00 0001')), false, 'PCMU');
  t.equal(looksLikeRtcp(hex('80 e5 0001')), false, 'PT 101 with marker');
  t.equal(looksLikeRtcp(hex('80')), false);
});

t.test('telephone-event table', async (t) => {
  const e = new TelephoneEvent();
  const table: Array<[string, boolean, Partial<TelephoneEvent>]> = [
    ['050a0140', true, { event: 5, end: false, volume: 10, duration: 320 }],
    ['0b8a0320', true, { event: 11, end: true, volume: 10, duration: 800 }],
    ['01ff ffff', true, { event: 1, end: true, volume: 63, duration: 0xffff }],
    ['0c40 00a0', true, { event: 12, end: false, volume: 0, duration: 160 }], // R bit ignored
    ['0500 01', false, {}],
  ];
  for (const [bytes, ok, want] of table) {
    e.event = 99; e.end = true; e.volume = 1; e.duration = 1;
    t.equal(decodeTelephoneEvent(hex(bytes), e), ok, bytes);
    if (ok) t.match(e, want, bytes);
  }
  const buf = hex('ffff 0b8a0320');
  t.equal(decodeTelephoneEvent(buf, e, 2, 4), true, 'at an offset');
  t.equal(e.event, 11);
  const out = new Uint8Array(4);
  t.equal(encodeTelephoneEvent({ event: 11, end: true, volume: 10, duration: 800 }, out), 4);
  t.equal(Buffer.from(out).toString('hex'), '0b8a0320');
  t.equal(encodeTelephoneEvent({ event: 1, end: false, volume: 64, duration: 0 }, out), -1, 'volume out of range');
  t.equal(encodeTelephoneEvent({ event: 1, end: false, volume: 1, duration: 0 }, new Uint8Array(3)), -1, 'does not fit');
  t.same([...'0123456789*#ABCDabcd'].map(dtmfToEvent), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 12, 13, 14, 15]);
  t.equal(dtmfToEvent('x'), -1);
  t.equal(dtmfToEvent('12'), -1);
  t.equal(eventToDtmf(11), '#');
  t.equal(eventToDtmf(16), undefined, 'flash is not a DTMF key');
});
