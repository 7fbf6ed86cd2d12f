import t from 'tap';
import {
  SipRequest, SipResponse, formatNameAddr, formatUri, parseMessage, parseNameAddr, parseUri, serialize,
} from '../../src/sip/index.js';
import {
  ASTERISK_200, BARESIP_INVITE, COMPACT_BYE, LINPHONE_REGISTER, SDP, SIPP_INVITE, TRYING_100, crlf, options,
} from './messages.js';

const dgram = { stream: false };

function ok(text: string | Buffer, stream = false): SipRequest | SipResponse {
  const r = parseMessage(typeof text === 'string' ? Buffer.from(text) : text, { stream });
  if (r.kind !== 'ok') throw new Error('expected ok, got ' + JSON.stringify(r));
  return r.message;
}

t.test('SIPp INVITE: eager headers', (t) => {
  const m = ok(SIPP_INVITE) as SipRequest;
  t.equal(m.method, 'INVITE');
  t.equal(m.uri.user, 'service');
  t.equal(m.uri.host, '127.0.0.1');
  t.equal(m.uri.port, 5060);
  t.equal(m.via.length, 1);
  t.equal(m.via[0]!.branch, 'z9hG4bK-12345-1-0');
  t.equal(m.via[0]!.transport, 'UDP');
  t.equal(m.via[0]!.port, 5061);
  t.equal(m.from.displayName, 'sipp');
  t.equal(m.from.tag, '12345SIPpTag001');
  t.equal(m.to.tag, undefined);
  t.equal(m.callId, '1-12345@127.0.0.1');
  t.same(m.cseq, { seq: 1, method: 'INVITE' });
  t.equal(m.maxForwards, 70);
  t.equal(m.contact[0]!.uri.user, 'sipp');
  t.equal(m.contentType, 'application/sdp');
  t.equal(m.body.toString(), SDP);
  t.equal(m.get('subject'), 'Performance Test');
  t.equal(m.get('s'), 'Performance Test', 'compact name lookup');
  t.end();
});

t.test('baresip INVITE: UTF-8 body and display name, Content-Length in bytes', (t) => {
  const m = ok(BARESIP_INVITE) as SipRequest;
  t.equal(m.from.displayName, 'Bob Ü');
  t.equal(m.via[0]!.rport, true);
  const body = m.bodyText();
  t.match(body, /Café ☕ call/);
  t.ok(Buffer.byteLength(body) > body.length, 'bytes differ from string length');
  t.equal(m.body.length, Buffer.byteLength(SDP.replace('s=-', 's=Café ☕ call')));
  t.same(m.getAll('allow').length, 11);
  t.same(m.getAll('supported'), ['replaces', 'norefersub', '100rel']);
  t.end();
});

t.test('Linphone REGISTER: comma-joined Contacts with quoted comma and <> params', (t) => {
  const m = ok(LINPHONE_REGISTER) as SipRequest;
  t.equal(m.contact.length, 2);
  t.equal(m.contact[0]!.uri.params.transport, 'udp');
  t.match(m.contact[0]!.params, /expires=600/);
  t.match(m.contact[0]!.params, /\+sip\.instance="<urn:uuid:1c5b3f7e-0001>"/);
  t.equal(m.contact[1]!.displayName, 'Alice, mobile');
  t.equal(m.contact[1]!.uri.port, 5062);
  t.equal(m.to.uri.user, 'alice', 'addr-spec To');
  t.same(m.getAll('accept'), ['application/sdp', 'text/plain'], 'repeated headers');
  t.equal(m.getInt('expires'), 600, 'lazy integer header');
  t.equal(m.body.length, 0);
  t.end();
});

t.test('compact forms, folding, multi-Via, IPv6, LWS in Via', (t) => {
  const m = ok(COMPACT_BYE) as SipRequest;
  t.equal(m.method, 'BYE');
  t.equal(m.via.length, 3);
  t.equal(m.via[0]!.host, 'proxy.example.com');
  t.equal(m.via[1]!.transport, 'TCP');
  t.equal(m.via[1]!.host, 'client.example.com');
  t.equal(m.via[1]!.port, undefined);
  t.equal(m.via[1]!.received, '192.0.2.7');
  t.equal(m.via[2]!.host, '[2001:db8::9]');
  t.equal(m.via[2]!.port, 5070);
  t.equal(m.via[2]!.rport, 5071);
  t.equal(m.from.tag, 'a6c85cf');
  t.equal(m.to.displayName, 'Alice', 'folded To');
  t.equal(m.to.tag, '1928301774');
  t.equal(m.callId, 'a84b4c76e66710');
  t.same(m.cseq, { seq: 231, method: 'BYE' });
  t.equal(m.maxForwards, 69);
  t.equal(m.get('x-custom-header'), 'some value continued');
  t.end();
});

t.test('responses', (t) => {
  const r = ok(ASTERISK_200) as SipResponse;
  t.equal(r.status, 200);
  t.equal(r.reason, 'OK');
  t.equal(r.via[0]!.rport, 5060);
  t.same(r.getAll('record-route'), ['<sip:10.0.0.1;lr>', '<sip:10.0.0.2;lr;ftag=abc>']);
  t.same(r.getNameAddrs('record-route').map((n) => n.uri.host), ['10.0.0.1', '10.0.0.2'], 'lazy name-addr decode');
  t.equal(r.to.tag, 'as1f3c5d7e');
  const tr = ok(TRYING_100) as SipResponse;
  t.equal(tr.status, 100);
  t.equal(tr.reason, 'Trying');
  t.end();
});

t.test('decode twice into fresh objects: no shared state', (t) => {
  const a = ok(SIPP_INVITE) as SipRequest;
  a.via[0]!.received = 'x';
  const b = ok(SIPP_INVITE) as SipRequest;
  t.equal(b.via[0]!.received, undefined);
  t.end();
});

t.test('round trip: serialize(parse(x)) parses to the same fields', (t) => {
  for (const text of [SIPP_INVITE, BARESIP_INVITE, LINPHONE_REGISTER, COMPACT_BYE, ASTERISK_200]) {
    const m1 = ok(text);
    const bytes = serialize(m1);
    const m2 = ok(bytes);
    t.same(m2.via, m1.via);
    t.same(m2.from, m1.from);
    t.same(m2.to, m1.to);
    t.equal(m2.callId, m1.callId);
    t.same(m2.cseq, m1.cseq);
    t.same(m2.contact, m1.contact);
    t.same(m2.headers.map((h) => [h.lname, h.value]), m1.headers.map((h) => [h.lname, h.value]));
    t.equal(Buffer.compare(m2.body, m1.body), 0);
    const cl = /Content-Length: (\d+)/.exec(bytes.toString('latin1'));
    t.equal(Number(cl![1]), m1.body.length, 'Content-Length counts bytes');
  }
  t.end();
});

t.test('stream framing: incomplete, two messages in one buffer, body split', (t) => {
  const a = Buffer.from(SIPP_INVITE);
  const b = Buffer.from(TRYING_100);
  const both = Buffer.concat([a, b]);
  const r1 = parseMessage(both, { stream: true });
  t.equal(r1.kind, 'ok');
  if (r1.kind !== 'ok') return t.end();
  t.equal(r1.length, a.length);
  const r2 = parseMessage(both, { stream: true }, r1.length);
  t.equal(r2.kind, 'ok');
  for (const cut of [5, a.indexOf('\r\n\r\n'), a.length - 1]) {
    t.equal(parseMessage(a.subarray(0, cut), { stream: true }).kind, 'incomplete', 'cut at ' + cut);
  }
  t.equal(parseMessage(Buffer.from('\r\n\r\n'), { stream: true }).kind, 'keepalive');
  t.equal(parseMessage(Buffer.from('\r\n\r\n'), dgram).kind, 'keepalive');
  // Huge unterminated header section on a stream: malformed, not incomplete forever.
  const big = Buffer.alloc(70000, 0x61);
  t.equal(parseMessage(big, { stream: true }).kind, 'malformed');
  t.end();
});

t.test('UDP: body longer than Content-Length is cut; missing Content-Length takes the rest', (t) => {
  const text = options({ body: 'hello', add: ['Content-Type: text/plain'] }) + 'EXTRA';
  const m = ok(text);
  t.equal(m.bodyText(), 'hello');
  const noCl = crlf([
    'MESSAGE sip:a@b SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'From: <sip:x@y>;tag=1', 'To: <sip:a@b>',
    'Call-ID: c', 'CSeq: 1 MESSAGE', '', 'héllo',
  ]);
  t.equal(ok(noCl).bodyText(), 'héllo');
  t.end();
});

interface Bad { name: string; text: string | Buffer; answerable: boolean; reason?: RegExp }
const BAD: Bad[] = [
  { name: 'bad start line', text: 'HELLO WORLD\r\n\r\n', answerable: false },
  { name: 'HTTP request', text: 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', answerable: false },
  { name: 'bad status line', text: 'SIP/2.0 2x0 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n', answerable: false },
  { name: 'missing Call-ID', text: options({ drop: 'Call-ID' }), answerable: true, reason: /Call-ID/ },
  { name: 'missing CSeq', text: options({ drop: 'CSeq' }), answerable: true, reason: /CSeq/ },
  { name: 'missing Via', text: options({ drop: 'Via' }), answerable: false },
  { name: 'missing From', text: options({ drop: 'From' }), answerable: true, reason: /From/ },
  { name: 'missing To', text: options({ drop: 'To' }), answerable: true, reason: /To/ },
  { name: 'bad CSeq number', text: options({ replace: ['CSeq', 'CSeq: abc OPTIONS'] }), answerable: true, reason: /CSeq/ },
  { name: 'CSeq method mismatch', text: options({ replace: ['CSeq', 'CSeq: 7 INVITE'] }), answerable: true, reason: /CSeq/ },
  { name: 'negative Content-Length', text: options({ add: ['Content-Length: -5'] }), answerable: true, reason: /Content-Length/ },
  { name: 'non-numeric Content-Length', text: options({ add: ['Content-Length: ten'] }), answerable: true, reason: /Content-Length/ },
  { name: 'body shorter than Content-Length (UDP)', text: options({ add: ['Content-Length: 500'], body: 'short' }), answerable: true, reason: /Content-Length/ },
  { name: 'NUL byte in headers', text: options({ add: ['X-Evil: a\u0000b'] }), answerable: true, reason: /NUL/ },
  { name: 'header without colon', text: options({ add: ['ThisHasNoColon'] }), answerable: true, reason: /colon/ },
  { name: 'bad Via', text: options({ replace: ['Via', 'Via: garbage'] }), answerable: false },
  { name: 'bad Max-Forwards', text: options({ replace: ['Max-Forwards', 'Max-Forwards: many'] }), answerable: true, reason: /Max-Forwards/ },
  { name: 'bad From', text: options({ replace: ['From', 'From: <sip:unterminated'] }), answerable: true, reason: /From/ },
  { name: 'too many headers', text: options({ add: Array.from({ length: 300 }, (_, i) => 'X-H' + i + ': v') }), answerable: true, reason: /headers/ },
  { name: 'oversized datagram', text: options({ add: ['X-Big: ' + 'a'.repeat(70000)] }), answerable: false },
  { name: 'binary garbage', text: Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]), answerable: false },
  { name: 'no blank line', text: options().replace(/\r\n\r\n$/, '\r\n'), answerable: true },
  { name: 'empty method token', text: ' sip:a@b SIP/2.0\r\n\r\n', answerable: false },
];

t.test('malformed messages: answerable (with a reason naming the problem) or not, never throws', (t) => {
  for (const b of BAD) {
    const buf = typeof b.text === 'string' ? Buffer.from(b.text, 'utf8') : b.text;
    const r = parseMessage(buf, dgram);
    t.equal(r.kind, 'malformed', b.name);
    if (r.kind !== 'malformed') continue;
    t.equal(r.partial !== null, b.answerable, b.name + ': answerable=' + b.answerable + ' (' + r.reason + ')');
    if (b.reason) t.match(r.reason, b.reason, b.name);
    // stream mode must not throw either
    t.doesNotThrow(() => parseMessage(buf, { stream: true }), b.name + ' (stream)');
  }
  t.end();
});

t.test('fuzz: random mutations never throw', (t) => {
  let seed = 42;
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
  const base = Buffer.from(BARESIP_INVITE);
  let threw = 0;
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.from(base);
    const n = 1 + Math.floor(rnd() * 8);
    for (let k = 0; k < n; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    const cut = rnd() < 0.3 ? b.subarray(0, Math.floor(rnd() * b.length)) : b;
    try { parseMessage(cut, dgram); parseMessage(cut, { stream: true }); } catch { threw++; }
  }
  t.equal(threw, 0);
  t.end();
});

t.test('URI parser', (t) => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['sip:alice@atlanta.com', { scheme: 'sip', user: 'alice', host: 'atlanta.com' }],
    ['sip:alice:secretword@atlanta.com;transport=tcp', { user: 'alice', password: 'secretword', params: { transport: 'tcp' } }],
    ['sips:alice@atlanta.com?subject=project%20x&priority=urgent', { scheme: 'sips', headers: { subject: 'project%20x', priority: 'urgent' } }],
    ['sip:+1-212-555-1212:1234@gateway.com;user=phone', { user: '+1-212-555-1212', password: '1234', params: { user: 'phone' } }],
    ['sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com', { host: 'atlanta.com', user: undefined, params: { method: 'REGISTER' } }],
    ['sip:alice;day=tuesday@atlanta.com', { user: 'alice;day=tuesday', host: 'atlanta.com' }],
    ['sip:[2001:db8::10]:5070;lr', { host: '[2001:db8::10]', port: 5070, params: { lr: null } }],
    ['SIP:Bob@Biloxi.com:5061', { scheme: 'sip', user: 'Bob', host: 'Biloxi.com', port: 5061 }],
    ['tel:+358-555-1234567;postd=pp22', { scheme: 'tel', user: '+358-555-1234567', params: { postd: 'pp22' } }],
  ];
  for (const [s, exp] of cases) {
    const u = parseUri(s);
    t.ok(u, s);
    if (!u) continue;
    t.match(u, exp, s);
    t.same(parseUri(formatUri(u)), u, 'round trip ' + s);
  }
  for (const bad of ['', 'alice@atlanta.com', 'sip:', 'sip:alice@', 'sip:host:99999', 'sip:host:abc', 'sip:a b@host', 'sip:[::1']) {
    t.equal(parseUri(bad), null, 'bad: ' + JSON.stringify(bad));
  }
  const na = parseNameAddr('"A \\"quoted\\" name" <sip:a@b;lr>;tag=xyz;expires=60');
  t.equal(na?.displayName, 'A "quoted" name');
  t.equal(na?.tag, 'xyz');
  t.equal(na?.params, ';expires=60');
  t.same(parseNameAddr(formatNameAddr(na!)), na);
  t.end();
});
