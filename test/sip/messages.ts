/** Realistic SIP messages for parser tests and the bench (as SIPp, baresip, Linphone, Asterisk send them). */

export function crlf(lines: string[]): string {
  return lines.join('\r\n');
}

export const SDP = crlf([
  'v=0',
  'o=user1 53655765 2353687637 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 6000 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  '',
]);

function withBody(head: string[], body: string): string {
  return crlf([...head, 'Content-Length: ' + Buffer.byteLength(body, 'utf8'), '', body]);
}

/** SIPp `uac` scenario INVITE. */
export const SIPP_INVITE = withBody([
  'INVITE sip:service@127.0.0.1:5060 SIP/2.0',
  'Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-12345-1-0',
  'From: sipp <sip:sipp@127.0.0.1:5061>;tag=12345SIPpTag001',
  'To: service <sip:service@127.0.0.1:5060>',
  'Call-ID: 1-12345@127.0.0.1',
  'CSeq: 1 INVITE',
  'Contact: sip:sipp@127.0.0.1:5061',
  'Max-Forwards: 70',
  'Subject: Performance Test',
  'Content-Type: application/sdp',
], SDP);

/** baresip INVITE: rport, Allow/Supported lists, display name quoted, UTF-8 in the SDP session name. */
export const BARESIP_INVITE = withBody([
  'INVITE sip:4999@127.0.0.1:5060 SIP/2.0',
  'Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK9c3f6a1e0b7d2a4c;rport',
  'Contact: <sip:bob-0x55d1@127.0.0.1:5090>',
  'Max-Forwards: 70',
  'To: <sip:4999@127.0.0.1:5060>',
  'From: "Bob Ü" <sip:bob@127.0.0.1>;tag=4a5b6c7d8e9f0a1b',
  'Call-ID: 7e1c3f59aa60ce7b',
  'CSeq: 23512 INVITE',
  'Allow: INVITE,ACK,BYE,CANCEL,OPTIONS,NOTIFY,SUBSCRIBE,INFO,MESSAGE,UPDATE,REFER',
  'Supported: replaces,norefersub,100rel',
  'User-Agent: baresip v1.0.0 (x86_64/linux)',
  'Content-Type: application/sdp',
], SDP.replace('s=-', 's=Café ☕ call'));

/** Linphone REGISTER: multi Contact with params, Expires, compact-free. */
export const LINPHONE_REGISTER = withBody([
  'REGISTER sip:example.org SIP/2.0',
  'Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK.hQ9xJ1mf1;rport',
  'From: <sip:alice@example.org>;tag=S4mNk~Zd0',
  'To: sip:alice@example.org',
  'CSeq: 20 REGISTER',
  'Call-ID: 3Ykm7nFDy2',
  'Max-Forwards: 70',
  'Supported: replaces, outbound, gruu',
  'Accept: application/sdp',
  'Accept: text/plain',
  'Contact: <sip:alice@192.168.1.20;transport=udp>;+sip.instance="<urn:uuid:1c5b3f7e-0001>";expires=600, "Alice, mobile" <sip:alice@10.0.0.2:5062>;q=0.5',
  'Expires: 600',
  'User-Agent: Linphone Desktop/5.2.0 (Ubuntu 22.04) LinphoneCore/5.3.0',
], '');

/** Compact forms, folded line, multiple Vias (one comma-joined), received/rport on the lower one. */
export const COMPACT_BYE = withBody([
  'BYE sip:alice@192.0.2.4 SIP/2.0',
  'v: SIP/2.0/UDP proxy.example.com:5060;branch=z9hG4bK77ef4c2312983.1, SIP / 2.0 / TCP client.example.com;branch=z9hG4bKnashds8;received=192.0.2.7',
  'v: SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bKv6;rport=5071',
  'f: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf',
  't: "Alice"',
  '  <sip:alice@atlanta.example.com>;tag=1928301774',
  'i: a84b4c76e66710',
  'Cseq: 231 BYE',
  'max-forwards:   69',
  'X-Custom-Header: some value',
  '\tcontinued',
], '');

/** Asterisk 200 OK response with Record-Route and a Contact. */
export const ASTERISK_200 = withBody([
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/UDP 10.0.0.5:5060;rport=5060;received=10.0.0.5;branch=z9hG4bKPj9d5b6a1c',
  'Record-Route: <sip:10.0.0.1;lr>,<sip:10.0.0.2;lr;ftag=abc>',
  'Call-ID: 8e58c4f1-a6e3-4a5e-b1f0-5c2b3a1f2e44',
  'From: <sip:1000@10.0.0.5>;tag=4d1b6c9a-4e1f',
  'To: <sip:2000@10.0.0.9>;tag=as1f3c5d7e',
  'CSeq: 12345 INVITE',
  'Server: Asterisk PBX 20.5.0',
  'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH, MESSAGE',
  'Contact: <sip:2000@10.0.0.9:5060>',
  'Content-Type: application/sdp',
], SDP);

export const TRYING_100 = withBody([
  'SIP/2.0 100 Trying',
  'Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-12345-1-0',
  'From: sipp <sip:sipp@127.0.0.1:5061>;tag=12345SIPpTag001',
  'To: service <sip:service@127.0.0.1:5060>',
  'Call-ID: 1-12345@127.0.0.1',
  'CSeq: 1 INVITE',
], '');

/** Base for malformed variants: a minimal valid OPTIONS. */
export function options(lines?: { drop?: string; replace?: [string, string]; add?: string[]; body?: string }): string {
  let head = [
    'OPTIONS sip:hookline@127.0.0.1 SIP/2.0',
    'Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKopt1;rport',
    'From: <sip:probe@127.0.0.1>;tag=p1',
    'To: <sip:hookline@127.0.0.1>',
    'Call-ID: opt-1@127.0.0.1',
    'CSeq: 7 OPTIONS',
    'Max-Forwards: 70',
  ];
  if (lines?.drop) head = head.filter((l) => !l.startsWith(lines.drop!));
  if (lines?.replace) head = head.map((l) => (l.startsWith(lines.replace![0]) ? lines.replace![1] : l));
  if (lines?.add) head.push(...lines.add);
  const body = lines?.body ?? '';
  if (!head.some((l) => l.toLowerCase().startsWith('content-length'))) head.push('Content-Length: ' + Buffer.byteLength(body));
  return crlf([...head, '', body]);
}
