/** Smoke test over real sockets on 127.0.0.1 (UDP and TCP), RealClock. */
import dgram from 'node:dgram';
import net from 'node:net';
import t from 'tap';
import { RealClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { Dialog, SipStack, createRequest, type InviteClientTransaction, type SipResponse } from '../../src/sip/index.js';

async function pair(): Promise<{ a: SipStack; b: SipStack; clock: RealClock }> {
  const clock = new RealClock();
  const opts = { udp: { address: '127.0.0.1', port: 0 }, tcp: { address: '127.0.0.1', port: 0 }, clock, logger: silentLogger, userAgent: 'Hookline/0.1' };
  return { a: await SipStack.create(opts), b: await SipStack.create(opts), clock };
}

function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const iv = setInterval(() => {
      if (cond()) { clearInterval(iv); resolve(); } else if (Date.now() - start > ms) { clearInterval(iv); reject(new Error('timeout')); }
    }, 2);
  });
}

for (const transport of ['udp', 'tcp'] as const) {
  t.test(`call over ${transport} on 127.0.0.1`, async (t) => {
    const { a, b } = await pair();
    t.teardown(async () => { await a.close(); await b.close(); });
    t.ok(b.udpPort > 0 && b.tcpPort > 0, 'bound ports read back');
    const events: string[] = [];
    b.onRequest = (req) => {
      events.push(req.message.method);
      const tx = req.serverTransaction;
      if (req.message.method === 'INVITE' && tx && 'onAck' in tx) {
        const d = Dialog.fromUas(req.message, req.toTag, b.contact('b', transport), req.source);
        b.dialogs.add(d);
        tx.onAck = (ack) => { events.push('ACK:' + ack.bodyText()); };
        req.respond(180);
        req.respond(200, 'OK', { contact: [b.contact('b', transport)], body: 'v=0\r\n', contentType: 'application/sdp' });
      } else if (req.message.method === 'BYE') {
        const d = b.dialogs.findForRequest(req.message);
        if (d) b.dialogs.remove(d);
        req.respond(d ? 200 : 481);
      }
    };
    const port = transport === 'udp' ? b.udpPort : b.tcpPort;
    const target = { transport, address: '127.0.0.1', port };
    const inv = createRequest({ method: 'INVITE', uri: `sip:b@127.0.0.1:${port}`, from: 'sip:a@127.0.0.1', to: 'sip:b@127.0.0.1', contact: [a.contact('a', transport)] });
    const statuses: number[] = [];
    let bye: SipResponse | null = null;
    const tx = a.sendRequest(inv, target, (res) => {
      statuses.push(res.status);
      if (res.status === 200) {
        const d = Dialog.fromUac(inv, res, target);
        (tx as InviteClientTransaction).sendAck(d.createAck({ body: 'late', contentType: 'text/plain' }));
        a.sendRequest(d.createRequest('BYE'), d.peer, (r) => { bye = r; });
      }
    });
    await waitFor(() => bye !== null);
    t.same(statuses, [100, 180, 200], '100 Trying at once (the default), then 180, 200');
    t.equal((bye as SipResponse | null)?.status, 200);
    t.same(events, ['INVITE', 'ACK:late', 'BYE']);
    if (transport === 'tcp') {
      t.equal(a.stats().tcpConnections, 1, 'one connection, reused for all requests');
      t.equal(b.stats().tcpConnections, 1);
      await waitFor(() => a.stats().clientTransactions === 1 && b.stats().serverTransactions === 0 && b.stats().absorbed === 1, 500);
      t.pass('reliable: BYE transactions gone at once (Timers J/K = 0); the client INVITE waits for M, the ACKed server one is a key until L');
    }
  });
}

t.test('bad bytes on real sockets never crash; 400 over UDP; TCP stream garbage closes the connection', async (t) => {
  const { a, b } = await pair();
  t.teardown(async () => { await a.close(); await b.close(); });
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const replies: string[] = [];
  sock.on('message', (m) => replies.push(m.toString()));
  const send = (s: string | Buffer): void => { sock.send(s, a.udpPort, '127.0.0.1'); };
  send('garbage');
  send(Buffer.from([0, 1, 2, 3, 255]));
  send('\r\n\r\n');
  send('OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx1;rport\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: z\r\nCSeq: x OPTIONS\r\n\r\n');
  await waitFor(() => replies.length === 1);
  t.match(replies[0]!, /^SIP\/2\.0 400 Bad CSeq/);
  t.equal(a.stats().malformedDropped, 2);

  const c = net.connect(a.tcpPort, '127.0.0.1');
  const got: string[] = [];
  c.on('data', (d) => got.push(d.toString()));
  let closed = false;
  c.on('close', () => { closed = true; });
  c.on('error', () => {});
  c.write('\r\n\r\n');
  await waitFor(() => got.join('') === '\r\n');
  t.pass('CRLF keep-alive pong');
  c.write('OPTIONS sip:x SIP/2.0\r\nContent-Length: zz\r\n\r\n');
  await waitFor(() => closed);
  t.pass('connection closed after malformed framing');
  await waitFor(() => a.stats().tcpConnections === 0);
  sock.close();
});

t.test('TCP: a message dribbled one byte at a time is framed; unreachable TCP target → synthetic 503', async (t) => {
  const { a, b } = await pair();
  t.teardown(async () => { await a.close(); await b.close(); });
  let got = 0;
  a.onRequest = (req) => { got++; req.respond(200); };
  const c = net.connect(a.tcpPort, '127.0.0.1');
  c.on('error', () => {});
  const replies: string[] = [];
  c.on('data', (d) => replies.push(d.toString()));
  await new Promise<void>((r) => c.once('connect', () => r()));
  const msg = Buffer.from('OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKd1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: dribble\r\nCSeq: 1 OPTIONS\r\nContent-Length: 4\r\n\r\nbody');
  for (let i = 0; i < msg.length; i++) { c.write(msg.subarray(i, i + 1)); if (i % 16 === 0) await new Promise((r) => setImmediate(r)); }
  await waitFor(() => replies.join('').includes('\r\n\r\n'));
  t.equal(got, 1);
  t.match(replies.join(''), /^SIP\/2\.0 200 OK\r\n/);
  c.destroy();

  // a free port with nobody listening
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const deadPort = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  let res: SipResponse | null = null;
  const o = createRequest({ method: 'OPTIONS', uri: `sip:x@127.0.0.1:${deadPort}`, from: 'sip:a@127.0.0.1', to: 'sip:x@127.0.0.1' });
  a.sendRequest(o, { transport: 'tcp', address: '127.0.0.1', port: deadPort }, (r) => { res = r; });
  await waitFor(() => res !== null);
  t.equal((res as SipResponse | null)?.status, 503);
  t.equal((res as SipResponse | null)?.synthetic, 'transport');
  await waitFor(() => a.stats().clientTransactions === 0 && a.stats().tcpConnections === 0);
});
