/**
 * The switch's SIP behaviour over real sockets on 127.0.0.1, with Hookline's own stack as the phone:
 * OPTIONS, unknown and unsupported methods, unknown numbers, no common codec, CANCEL while the webhook is
 * slow, SIP INFO DTMF, re-INVITE, RTP timeout, malformed datagrams, TCP calls, delayed offers (SDP in the ACK).
 */
import t from 'tap';
import dgram from 'node:dgram';
import net from 'node:net';
import { RealClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { Dialog, SipStack, createRequest, type InviteClientTransaction, type SipResponse, type TransportName } from '../../src/sip/index.js';
import { startScriptServer, type ScriptReply } from '../helpers/peers.js';
import { startTestSwitch, eventually } from '../helpers/switch.js';

const offer = (port: number, pts = '0 8 101'): string => [
  'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP ${pts}`,
  'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:18 G729/8000', 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv', '',
].join('\r\n');

interface Phone { stack: SipStack; byes: number; requests: string[] }

async function phone(t: { teardown(fn: () => unknown): void }): Promise<Phone> {
  const stack = await SipStack.create({ udp: { address: '127.0.0.1', port: 0 }, tcp: { address: '127.0.0.1', port: 0 }, clock: new RealClock(), logger: silentLogger });
  const p: Phone = { stack, byes: 0, requests: [] };
  stack.onRequest = (req) => {
    p.requests.push(req.message.method);
    if (req.message.method === 'BYE') { p.byes++; req.respond(200, 'OK'); }
    else if (req.message.method !== 'ACK') req.respond(200, 'OK');
  };
  t.teardown(() => stack.close());
  return p;
}

function request(p: Phone, method: string, target: { transport: TransportName; address: string; port: number }, user = '4999', body?: string): Promise<SipResponse> {
  const req = createRequest({
    method, uri: `sip:${user}@127.0.0.1:${target.port}`, from: 'sip:99992@127.0.0.1', to: `sip:${user}@127.0.0.1`,
    contact: [p.stack.contact('99992', target.transport)], ...(body ? { body, contentType: 'application/sdp' } : {}),
  });
  return new Promise((resolve) => {
    p.stack.sendRequest(req, target, (res) => { if (res.status >= 200) resolve(res); });
  });
}

/** INVITE; resolves with the final response and (for 2xx) the dialog, ACKed. */
function invite(p: Phone, target: { transport: TransportName; address: string; port: number }, body: string, user = '4999', onProvisional?: (tx: InviteClientTransaction, res: SipResponse) => void): Promise<{ res: SipResponse; dialog?: Dialog; tx: InviteClientTransaction }> {
  const req = createRequest({
    method: 'INVITE', uri: `sip:${user}@127.0.0.1:${target.port}`, from: 'sip:99992@127.0.0.1', to: `sip:${user}@127.0.0.1`,
    contact: [p.stack.contact('99992', target.transport)], body, contentType: 'application/sdp',
  });
  return new Promise((resolve) => {
    const tx = p.stack.invite(req, target, (res) => {
      if (res.status < 200) { onProvisional?.(tx, res); return; }
      if (res.status < 300) {
        const dialog = Dialog.fromUac(req, res, tx.peer);
        tx.sendAck(dialog.createAck());
        resolve({ res, dialog, tx });
      } else resolve({ res, tx });
    });
  });
}

/** BYE in `d`; resolves with the final response. */
function sendBye(p: Phone, d: Dialog): Promise<SipResponse> {
  return new Promise((resolve) => {
    p.stack.sendRequest(d.createRequest('BYE'), d.peer, (r) => { if (r.status >= 200) resolve(r); });
  });
}

t.test('signalling', async (t) => {
  let reply: (path: string) => ScriptReply = () => ({ body: { module: 'tts', data: { text: 'Hello.' }, children: { _: { module: 'sleep', data: { duration: 20 } } } } });
  const script = await startScriptServer((req) => reply(req.path));
  const { sw, port } = await startTestSwitch({
    numbers: { '4999': { flow: { module: 'pivot', data: { voice_url: `${script.url}/ivr` } } } },
    rtp: { timeoutSeconds: 2, codecs: ['PCMU', 'PCMA'] },
  });
  t.teardown(async () => { await sw.close(); await script.close(); });
  const udp = { transport: 'udp' as const, address: '127.0.0.1', port };
  const tcp = { transport: 'tcp' as const, address: '127.0.0.1', port: sw.addresses().sip[1]!.port };
  const p = await phone(t);

  t.test('OPTIONS gets 200 with Allow', async (t) => {
    const res = await request(p, 'OPTIONS', udp);
    t.equal(res.status, 200);
    t.match(res.get('allow') ?? '', /INVITE/);
  });

  t.test('known but unsupported methods get 405 with Allow; unknown methods 501', async (t) => {
    const r1 = await request(p, 'REGISTER', udp);
    t.equal(r1.status, 405);
    t.match(r1.get('allow') ?? '', /BYE/);
    const r2 = await request(p, 'FROBNICATE', udp);
    t.equal(r2.status, 501);
  });

  t.test('BYE outside a dialog gets 481', async (t) => {
    const r = await request(p, 'BYE', udp);
    t.equal(r.status, 481);
  });

  t.test('unknown number gets 404', async (t) => {
    const { res } = await invite(p, udp, offer(40000), '1234');
    t.equal(res.status, 404);
  });

  t.test('no common codec gets 488', async (t) => {
    const { res } = await invite(p, udp, offer(40000, '18'));
    t.equal(res.status, 488);
    t.equal(sw.stats().media.sessions, 0, 'no media port spent on it');
  });

  t.test('malformed datagrams get 400 or are dropped; the switch keeps working', async (t) => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const got: string[] = [];
    sock.on('message', (m) => got.push(m.toString('utf8').split('\r\n')[0]!));
    const bad = [
      'INVITE sip:4999@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:4999@127.0.0.1>\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n',
      'INVITE sip:4999@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx2\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:4999@127.0.0.1>\r\nCall-ID: x2\r\nCSeq: abc INVITE\r\nContent-Length: 0\r\n\r\n',
      'INVITE sip:4999@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx3\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:4999@127.0.0.1>\r\nCall-ID: x3\r\nCSeq: 1 INVITE\r\nContent-Length: 500\r\n\r\nv=0\r\n',
      '\u0000\u0001garbage\r\n\r\n',
      'NOT SIP AT ALL',
    ];
    for (const b of bad) sock.send(Buffer.from(b.replace(/127\.0\.0\.1:9/g, `127.0.0.1:${(sock.address()).port}`)), port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 300));
    sock.close();
    t.ok(got.length >= 2, `answered the answerable ones: ${got.join(' | ')}`);
    for (const line of got) t.match(line, /^SIP\/2\.0 400 /);
    const res = await request(p, 'OPTIONS', udp);
    t.equal(res.status, 200, 'still answering');
    t.ok(sw.stats().sip.badRequests >= 2);
  });

  t.test('CANCEL while the webhook is slow: 487 to the INVITE, nothing left', async (t) => {
    reply = () => ({ delayMs: 1500, body: { module: 'tts', data: { text: 'too late' } } });
    let canceled = false;
    const { res } = await invite(p, udp, offer(40002), '4999', (tx, prov) => {
      if (prov.status === 100 && !canceled) { canceled = true; setTimeout(() => tx.cancel(), 100); }
    });
    t.equal(res.status, 487);
    t.ok(await eventually(() => sw.stats().calls === 0 && sw.stats().media.sessions === 0, 5000), 'call and media released');
  });

  t.test('answered call: SIP INFO digits reach the web script; re-INVITE answered; RTP timeout ends the call with BYE', async (t) => {
    reply = (path) => path === '/ivr'
      ? { body: { module: 'collect_dtmf', data: { max_digits: 2, timeout: 10000 }, children: { _: { module: 'pivot', data: { voice_url: `${script.url}/got` } } } } }
      : { body: { module: 'sleep', data: { duration: 30 } } };
    const before = script.requests.length;
    const byes = p.byes;
    const { res, dialog } = await invite(p, udp, offer(40004));
    t.equal(res.status, 200);
    t.match(res.bodyText(), /m=audio \d+ RTP\/AVP 0 101/);
    const d = dialog!;
    const send = (method: string, body: string, contentType: string): Promise<SipResponse> => new Promise((resolve) => {
      p.stack.sendRequest(d.createRequest(method, { body, contentType }), d.peer, (r) => { if (r.status >= 200) resolve(r); });
    });
    t.equal((await send('INFO', 'Signal=7\r\nDuration=160\r\n', 'application/dtmf-relay')).status, 200);
    t.equal((await send('INFO', '#', 'application/dtmf')).status, 200);
    const reqs = await script.waitFor(before + 2, 5000);
    t.same(reqs[before + 1]!.params.Digits, { default: '7' }, 'INFO digit collected; # ended the collection');
    const re = await send('INVITE', offer(40006), 'application/sdp');
    t.equal(re.status, 200, 're-INVITE answered');
    t.match(re.bodyText(), /m=audio/);
    // We never send RTP: after rtp.timeoutSeconds (2 s) the switch hangs up.
    t.ok(await eventually(() => p.byes > byes, 6000), 'BYE from the switch after the RTP timeout');
    t.ok(await eventually(() => sw.stats().calls === 0, 3000));
  });

  /** INVITE without SDP (a delayed offer); the ACK carries `answerFor(offer in the 200)`, or nothing. */
  const lateInvite = (answerFor: ((offer: string) => string) | undefined): Promise<{ res: SipResponse; dialog?: Dialog }> => {
    const req = createRequest({
      method: 'INVITE', uri: `sip:4999@127.0.0.1:${udp.port}`, from: 'sip:99992@127.0.0.1', to: 'sip:4999@127.0.0.1',
      contact: [p.stack.contact('99992', 'udp')],
    });
    return new Promise((resolve) => {
      const tx = p.stack.invite(req, udp, (res) => {
        if (res.status < 200) return;
        if (res.status >= 300) { resolve({ res }); return; }
        const dialog = Dialog.fromUac(req, res, tx.peer);
        tx.sendAck(answerFor ? dialog.createAck({ body: answerFor(res.bodyText()), contentType: 'application/sdp' }) : dialog.createAck());
        resolve({ res, dialog });
      });
    });
  };

  t.test('delayed offer: an INVITE without SDP gets our offer in the 200 OK; the answer in the ACK starts the media', async (t) => {
    reply = () => ({ body: { module: 'tts', data: { text: 'You sent no offer, and that is fine.' }, children: { _: { module: 'sleep', data: { duration: 20 } } } } });
    const rtp = dgram.createSocket('udp4');
    await new Promise<void>((r) => rtp.bind(0, '127.0.0.1', () => r()));
    t.teardown(() => rtp.close());
    const pts: number[] = [];
    rtp.on('message', (m) => { if (m.length >= 12) pts.push(m[1]! & 0x7f); });
    let ourOffer = '';
    const { res, dialog } = await lateInvite((o) => {
      ourOffer = o;
      // answer with PCMA only (the second codec we were offered) and telephone-event
      return offer(rtp.address().port, '8 101');
    });
    t.equal(res.status, 200);
    t.match(res.get('content-type') ?? res.contentType ?? '', /application\/sdp/, 'the 200 OK has a body of SDP');
    t.match(ourOffer, /m=audio \d+ RTP\/AVP 0 8 101\r\n/, 'the 200 OK carries our offer: PCMU, PCMA, telephone-event');
    t.match(ourOffer, /a=sendrecv/);
    t.ok(await eventually(() => pts.length >= 20, 5000), `the greeting's RTP reaches the address in the ACK (${pts.length} packets)`);
    t.ok(pts.every((pt) => pt === 8), 'in the codec the caller chose in its answer (PCMA)');
    const bye = await sendBye(p, dialog!);
    t.equal(bye.status, 200);
    t.ok(await eventually(() => sw.stats().calls === 0 && sw.stats().media.sessions === 0, 3000), 'released');
  });

  t.test('delayed offer: an ACK without an answer (or with an unusable one) ends the call with BYE', async (t) => {
    reply = () => ({ body: { module: 'tts', data: { text: 'Nobody will hear this.' }, children: { _: { module: 'sleep', data: { duration: 20 } } } } });
    for (const answer of [undefined, (_o: string): string => offer(40020, '18')]) {
      const byes = p.byes;
      const { res } = await lateInvite(answer);
      t.equal(res.status, 200);
      t.ok(await eventually(() => p.byes > byes, 5000), `BYE after an ACK ${answer ? 'with no common codec' : 'without SDP'}`);
      t.ok(await eventually(() => sw.stats().calls === 0 && sw.stats().media.sessions === 0, 3000), 'released');
    }
  });

  t.test('a re-INVITE without SDP gets our offer in its 200; the answer in its ACK moves the media', async (t) => {
    reply = () => ({ body: { module: 'answer', data: {}, children: { _: { module: 'sleep', data: { duration: 20 } } } } });
    const sock = async (): Promise<{ s: dgram.Socket; pts: number[] }> => {
      const s = dgram.createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      t.teardown(() => s.close());
      const pts: number[] = [];
      s.on('message', (m) => { if (m.length >= 12) pts.push(m[1]! & 0x7f); });
      return { s, pts };
    };
    const a = await sock(); const b = await sock();
    const { res, dialog } = await invite(p, udp, offer(a.s.address().port));
    t.equal(res.status, 200);
    const d = dialog!;
    t.ok(await eventually(() => a.pts.length >= 5, 3000), 'RTP to the first address');
    const firstVersion = /o=\S+ \d+ (\d+)/.exec(res.bodyText())?.[1];
    const re = await new Promise<SipResponse>((resolve) => {
      const tx = p.stack.invite(d.createRequest('INVITE'), d.peer, (r) => {
        if (r.status < 200) return;
        if (r.status < 300) tx.sendAck(d.createAck({ body: offer(b.s.address().port, '8 101'), contentType: 'application/sdp' }));
        resolve(r);
      });
    });
    t.equal(re.status, 200);
    t.match(re.bodyText(), /m=audio \d+ RTP\/AVP 0 8 101/, 'our offer in the 200');
    t.not(/o=\S+ \d+ (\d+)/.exec(re.bodyText())?.[1], firstVersion, 'a new SDP version');
    const before = b.pts.length;
    t.ok(await eventually(() => b.pts.length >= before + 10, 3000), 'RTP moved to the address in the ACK');
    t.ok(b.pts.every((pt) => pt === 8), 'in the codec chosen in the ACK (PCMA)');
    const bye = await sendBye(p, d);
    t.equal(bye.status, 200);
    t.ok(await eventually(() => sw.stats().calls === 0, 3000));
  });

  t.test('hold (re-INVITE a=inactive) suspends the RTP timeout; the call stays up', async (t) => {
    reply = () => ({ body: { module: 'answer', data: {}, children: { _: { module: 'sleep', data: { duration: 20 } } } } });
    const byes = p.byes;
    const { res, dialog } = await invite(p, udp, offer(40010));
    t.equal(res.status, 200);
    const d = dialog!;
    const hold = await new Promise<SipResponse>((resolve) => {
      p.stack.sendRequest(d.createRequest('INVITE', { body: offer(40010).replace('a=sendrecv', 'a=inactive'), contentType: 'application/sdp' }), d.peer, (r) => { if (r.status >= 200) resolve(r); });
    });
    t.equal(hold.status, 200);
    t.match(hold.bodyText(), /a=inactive/, 'answer mirrors the hold');
    await new Promise((r) => setTimeout(r, 3000));
    t.equal(p.byes, byes, 'no BYE while on hold, though no RTP arrives');
    t.equal(sw.stats().calls, 1);
    const bye = await sendBye(p, d);
    t.equal(bye.status, 200);
    t.ok(await eventually(() => sw.stats().calls === 0, 3000));
  });

  t.test('a call over TCP works and a BYE from the caller ends it', async (t) => {
    reply = () => ({ body: { module: 'tts', data: { text: 'Over TCP.' }, children: { _: { module: 'sleep', data: { duration: 20 } } } } });
    const { res, dialog } = await invite(p, tcp, offer(40008));
    t.equal(res.status, 200);
    t.equal(sw.stats().calls, 1);
    const bye = await sendBye(p, dialog!);
    t.equal(bye.status, 200);
    t.ok(await eventually(() => sw.stats().calls === 0 && sw.stats().media.sessions === 0, 3000), 'released');
  });

  t.test('TCP: after the caller closed its connection, our BYE goes to its Contact, not the old ephemeral port', async (t) => {
    reply = () => ({ body: { module: 'tts', data: { text: 'One moment.' }, children: { _: { module: 'sleep', data: { duration: 1 } } } } });
    const contact = p.stack.contact('99992', 'tcp').uri; // the phone's TCP listener
    const byesBefore = p.byes;
    const sock = net.connect({ host: '127.0.0.1', port: tcp.port });
    await new Promise<void>((r) => sock.once('connect', () => r()));
    let got = '';
    sock.on('data', (b: Buffer) => { got += b.toString('latin1'); });
    const body = offer(40016);
    const common = (method: string): string[] => [
      `Via: SIP/2.0/TCP 127.0.0.1:${sock.localPort};branch=z9hG4bK-tcp-${method}-1`,
      'From: <sip:99992@127.0.0.1>;tag=rawtcp', 'To: <sip:4999@127.0.0.1>', 'Call-ID: raw-tcp-bye@127.0.0.1',
      `CSeq: 1 ${method}`, 'Max-Forwards: 70',
    ];
    sock.write([`INVITE sip:4999@127.0.0.1:${tcp.port};transport=tcp SIP/2.0`, ...common('INVITE'),
      `Contact: <sip:99992@127.0.0.1:${contact.port};transport=tcp>`, 'Content-Type: application/sdp',
      `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n'));
    t.ok(await eventually(() => / 200 OK\r\n/.test(got), 5000), 'answered over the connection');
    const toTag = /\r\nTo: [^\r]*;tag=([^;\r]+)/i.exec(got)?.[1];
    t.ok(toTag, 'the 200 has a To tag');
    const ack = [`ACK sip:4999@127.0.0.1:${tcp.port};transport=tcp SIP/2.0`, ...common('ACK').map((l) => (l.startsWith('To:') ? `${l};tag=${toTag}` : l)), 'Content-Length: 0', '', ''].join('\r\n');
    sock.write(ack);
    await new Promise((r) => setTimeout(r, 100));
    sock.destroy(); // the caller's connection is gone before the call ends
    t.ok(await eventually(() => p.byes > byesBefore, 8000), 'the BYE reached the caller\'s listening port (its Contact)');
    t.ok(await eventually(() => sw.stats().calls === 0, 3000), 'released');
  });
});

t.test('calls beyond calls.maxInSetup unanswered ones get 503 with Retry-After; the overload guard probes its queue', async (t) => {
  const script = await startScriptServer(() => ({ delayMs: 800, body: { module: 'hangup' } }));
  const { sw, port } = await startTestSwitch({
    numbers: { '4999': { flow: { module: 'pivot', data: { voice_url: `${script.url}/slow` } } } },
    calls: { maxInSetup: 1 },
  });
  t.teardown(async () => { await sw.close(); await script.close(); });
  const udp = { transport: 'udp' as const, address: '127.0.0.1', port };
  const p = await phone(t);
  const first = invite(p, udp, offer(40010));
  t.ok(await eventually(() => sw.stats().callsInSetup === 1, 3000), 'the first call is in setup (its webhook is slow)');
  const { res } = await invite(p, udp, offer(40012));
  t.equal(res.status, 503);
  t.equal(res.headers.find((h) => h.lname === 'retry-after')?.value, '2');
  t.equal(sw.stats().callsShed, 1);
  t.equal(sw.stats().calls, 1, 'no call was made for it');
  await first;
  t.ok(await eventually(() => sw.stats().callsInSetup === 0 && sw.stats().calls === 0, 5000), 'the first call left setup when it ended');
  const again = await invite(p, udp, offer(40014));
  t.not(again.res.status, 503, 'a new call is taken again');
  const o = sw.stats().overload;
  t.equal(o.shedShare, 0, 'the guard refuses nothing on an idle switch');
  t.ok(o.queueDelayMs < 100, `and measures a short receive queue (${o.queueDelayMs.toFixed(1)} ms)`);
});
