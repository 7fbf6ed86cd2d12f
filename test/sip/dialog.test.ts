import t from 'tap';
import {
  Dialog, DialogIndex, SipRequest, createRequest, createResponse, formatUri, parseMessage, serialize,
  type SipResponse,
} from '../../src/sip/index.js';
import { ASTERISK_200 } from './messages.js';

const peer = { transport: 'udp' as const, address: '10.0.0.9', port: 5060 };

function reparse<T>(m: SipRequest | SipResponse): T {
  const r = parseMessage(serialize(m), { stream: false });
  if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
  return r.message as T;
}

t.test('UAS dialog: route set in order, remote target from Contact, CSeq, tags, BYE', (t) => {
  const inv = createRequest({
    method: 'INVITE', uri: 'sip:hook@10.0.0.1', from: 'sip:alice@a.example', to: 'sip:hook@10.0.0.1',
    contact: '<sip:alice@192.168.0.5:5062>', cseq: 10, headers: [['Record-Route', '<sip:p1.example;lr>, <sip:p2.example;lr>']],
  });
  inv.via.push({ transport: 'UDP', host: '10.0.0.9', port: 5060, branch: 'z9hG4bKx', params: '' });
  const req = reparse<SipRequest>(inv);
  const d = Dialog.fromUas(req, 'ourtag', { uri: { scheme: 'sip', user: 'hook', host: '10.0.0.1', port: 5060, params: {}, headers: {} }, params: '' }, peer);
  t.equal(d.state, 'early');
  t.same(d.routeSet, ['<sip:p1.example;lr>', '<sip:p2.example;lr>']);
  t.equal(formatUri(d.remoteTarget), 'sip:alice@192.168.0.5:5062');
  t.equal(d.remoteSeq, 10);
  const idx = new DialogIndex();
  idx.add(d);
  const bye = d.createRequest('BYE');
  t.equal(bye.from.tag, 'ourtag');
  t.equal(bye.to.tag, req.from.tag);
  t.equal(bye.cseq.seq, 1);
  t.equal(bye.cseq.method, 'BYE');
  t.same(bye.getAll('route'), ['<sip:p1.example;lr>', '<sip:p2.example;lr>']);
  t.equal(formatUri(bye.uri), 'sip:alice@192.168.0.5:5062');
  t.same(bye.contact, [], 'no Contact on BYE');
  t.equal(d.createRequest('INFO').cseq.seq, 2, 'CSeq increments');
  t.equal(d.createRequest('INVITE').contact.length, 1, 'Contact on re-INVITE');
  t.equal(d.createAck().cseq.seq, 3, 'ACK reuses the INVITE CSeq');
  // The peer's in-dialog request finds the dialog (To tag = ours, From tag = theirs).
  const theirBye = new SipRequest({ method: 'BYE', uri: bye.uri, from: req.from, to: { ...req.to, tag: 'ourtag' }, callId: req.callId, cseq: { seq: 11, method: 'BYE' } });
  t.equal(idx.findForRequest(theirBye), d);
  t.equal(d.receiveRequest(theirBye), true);
  theirBye.cseq.seq = 5;
  t.equal(d.receiveRequest(theirBye), false, 'lower CSeq rejected');
  idx.remove(d);
  t.equal(idx.size, 0);
  t.end();
});

t.test('UAC dialog from a 2xx with Record-Route: route set reversed; strict routing', (t) => {
  const res = parseMessage(Buffer.from(ASTERISK_200), { stream: false });
  if (res.kind !== 'ok') throw new Error('parse');
  const ok = res.message as SipResponse;
  const inv = createRequest({ method: 'INVITE', uri: 'sip:2000@10.0.0.9', from: 'sip:1000@10.0.0.5', to: 'sip:2000@10.0.0.9', callId: ok.callId, cseq: 12345, fromTag: '4d1b6c9a-4e1f' });
  const d = Dialog.fromUac(inv, ok, peer);
  t.equal(d.state, 'confirmed');
  t.same(d.routeSet, ['<sip:10.0.0.2;lr;ftag=abc>', '<sip:10.0.0.1;lr>']);
  t.equal(d.remoteTag, 'as1f3c5d7e');
  const ack = d.createAck({ body: 'v=0\r\n', contentType: 'application/sdp' });
  t.equal(ack.cseq.seq, 12345);
  t.equal(ack.cseq.method, 'ACK');
  t.equal(ack.bodyText(), 'v=0\r\n');
  t.equal(d.createRequest('BYE').cseq.seq, 12346);

  // strict router: first route without ;lr becomes the Request-URI, remote target goes last
  const strict = Dialog.fromUac(inv, createResponse(inv, 200, 'OK', { toTag: 'x', contact: ok.contact }), peer);
  (strict.routeSet as string[]).push('<sip:strict.example>');
  const bye = strict.createRequest('BYE');
  t.equal(formatUri(bye.uri), 'sip:strict.example');
  t.same(bye.getAll('route'), ['<sip:2000@10.0.0.9:5060>']);
  t.end();
});

t.test('createResponse copies Vias, tags, Record-Route only on dialog-creating responses; Content-Length in bytes', (t) => {
  const inv = createRequest({ method: 'INVITE', uri: 'sip:a@b', from: 'sip:x@y', to: 'sip:a@b', headers: [['Record-Route', '<sip:p;lr>']] });
  inv.via.push({ transport: 'UDP', host: 'h1', port: 5060, branch: 'z9hG4bK1', params: '' }, { transport: 'TCP', host: 'h2', branch: 'z9hG4bK2', params: ';x=1' });
  const r180 = createResponse(inv, 180, undefined, { toTag: 'tt' });
  t.equal(r180.reason, 'Ringing');
  t.equal(r180.via.length, 2);
  t.equal(r180.to.tag, 'tt');
  t.equal(r180.getAll('record-route').length, 1);
  const r100 = createResponse(inv, 100, undefined, { toTag: 'tt' });
  t.equal(r100.to.tag, undefined, 'no To tag on 100');
  t.equal(createResponse(inv, 486).getAll('record-route').length, 0);
  const body = 'héllo ☕';
  const r = createResponse(inv, 200, 'OK', { toTag: 'tt', body, contentType: 'text/plain' });
  const text = serialize(r).toString('utf8');
  t.match(text, new RegExp('Content-Length: ' + Buffer.byteLength(body) + '\r\n'));
  t.match(text, /Via: SIP\/2\.0\/TCP h2;branch=z9hG4bK2;x=1\r\n/);
  t.end();
});
