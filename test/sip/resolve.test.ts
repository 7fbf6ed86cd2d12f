/** RFC 3263 gateway location against a real DNS server on 127.0.0.1: SRV order, A fallback, cache, failures. */
import t from 'tap';
import { SipResolver, orderSrv } from '../../src/sip/resolve.js';
import { startDnsServer } from '../helpers/dns.js';

t.test('orderSrv: priority first, then weighted within a priority (RFC 2782)', async (t) => {
  const recs = [
    { name: 'c', port: 3, priority: 20, weight: 0 },
    { name: 'a', port: 1, priority: 10, weight: 10 },
    { name: 'b', port: 2, priority: 10, weight: 90 },
  ];
  t.same(orderSrv(recs, () => 0.5).map((r) => r.name), ['b', 'a', 'c'], 'a draw at 50 of 100 falls in b (weights 10 then 90)');
  t.same(orderSrv(recs, () => 0.05).map((r) => r.name), ['a', 'b', 'c'], 'a draw at 5 of 100 falls in a');
  t.same(orderSrv([{ name: 'x', port: 1, priority: 5, weight: 0 }, { name: 'y', port: 2, priority: 1, weight: 0 }]).map((r) => r.name), ['y', 'x']);
});

t.test('SipResolver against a DNS server', async (t) => {
  const dns = await startDnsServer({
    srv: { '_sip._udp.carrier.test': [{ priority: 20, weight: 0, port: 5082, target: 'b.carrier.test' }, { priority: 10, weight: 0, port: 5081, target: 'a.carrier.test' }] },
    a: { 'a.carrier.test': ['127.0.0.2'], 'b.carrier.test': ['127.0.0.3'], 'plain.test': ['127.0.0.4'], 'carrier.test': ['127.0.0.9'] },
  });
  t.teardown(() => dns.close());
  const r = new SipResolver({ servers: [dns.address], timeoutMs: 2000 });
  t.same(await r.resolve('carrier.test', undefined, 'udp'), [
    { address: '127.0.0.2', port: 5081, transport: 'udp' }, { address: '127.0.0.3', port: 5082, transport: 'udp' },
  ], 'SRV targets in priority order, each by A');
  t.same(await r.resolve('carrier.test', 5070, 'udp'), [{ address: '127.0.0.9', port: 5070, transport: 'udp' }], 'a port given: no SRV, the name\'s A');
  t.same(await r.resolve('plain.test', undefined, 'udp'), [{ address: '127.0.0.4', port: 5060, transport: 'udp' }], 'no SRV record: A at 5060');
  t.same(await r.resolve('missing.test', undefined, 'udp'), [], 'not found: no target');
  t.same(await r.resolve('10.1.2.3', undefined, 'tcp'), [{ address: '10.1.2.3', port: 5060, transport: 'tcp' }], 'an IP address is used as given');
  const before = dns.queries.length;
  await r.resolve('carrier.test', undefined, 'udp');
  t.equal(dns.queries.length, before, 'cached: no new query');
  t.ok(dns.queries.includes('SRV _sip._udp.carrier.test'));
  const tcp = await r.resolve('carrier.test', undefined, 'tcp');
  t.same(tcp, [{ address: '127.0.0.9', port: 5060, transport: 'tcp' }], 'no _sip._tcp record: A fallback');
});

t.test('SipResolver: a DNS server that never answers gives no target within the timeout', async (t) => {
  const dgram = await import('node:dgram');
  const dead = dgram.createSocket('udp4');
  await new Promise<void>((r) => dead.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => dead.close());
  const r = new SipResolver({ servers: [`127.0.0.1:${dead.address().port}`], timeoutMs: 300 });
  const t0 = Date.now();
  t.same(await r.resolve('carrier.test', undefined, 'udp'), []);
  t.ok(Date.now() - t0 < 2000, `gave up in ${Date.now() - t0} ms`);
});
