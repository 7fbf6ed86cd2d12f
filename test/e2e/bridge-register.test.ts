/** Outbound registration to a carrier gateway: digest-answered REGISTER, granted expiry, unregistration at shutdown. */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { runSipp, freePort, freeEvenPort, hasSipp } from '../helpers/peers.js';
import { startTestSwitch, eventually } from '../helpers/switch.js';
import { startDnsServer } from '../helpers/dns.js';

const sippDir = join(fileURLToPath(new URL('.', import.meta.url)), '../../../test/e2e/sipp');

t.test('register: true registers with the gateway (digest) and unregisters at shutdown', { skip: hasSipp ? false : 'sipp (sip-tester) not installed' }, async (t) => {
  const port = await freePort();
  const carrier = runSipp([
    '-sf', join(sippDir, 'carrier-register.xml'), '-i', '127.0.0.1', '-p', String(port), '-mp', String(await freeEvenPort()),
    '-m', '1', '-timeout', '20s', '-timeout_error',
  ], 25000);
  await new Promise((r) => setTimeout(r, 400));
  const { sw } = await startTestSwitch({
    carriers: [{ id: 'trunk', gateways: [{ host: '127.0.0.1', port, username: 'trunkuser', password: 'trunkpass', register: true }] }],
  });
  let closed = false;
  t.teardown(async () => { if (!closed) await sw.close(); });
  t.ok(await eventually(() => sw.stats().trunkRegistrations === 1, 5000), 'registered with the gateway');
  await sw.close();
  closed = true;
  t.equal(sw.stats().timers, 0, 'the refresh timer is gone after shutdown');
  t.equal(sw.stats().trunkRegistrations, 0);
  const c = await carrier;
  t.equal(c.successful, 1, `the gateway verified the digest and saw the unregistration (${c.errors.slice(-600)})`);
});

t.test('a registrar named without a port is located by DNS SRV: the first target answers 503, the second registers us', { skip: hasSipp ? false : 'sipp (sip-tester) not installed' }, async (t) => {
  const badPort = await freePort();
  const goodPort = await freePort();
  const bad = runSipp([
    '-sf', join(sippDir, 'carrier-register-unavailable.xml'), '-i', '127.0.0.1', '-p', String(badPort), '-mp', String(await freeEvenPort()),
    '-m', '1', '-timeout', '20s', '-timeout_error',
  ], 25000);
  const good = runSipp([
    '-sf', join(sippDir, 'carrier-register.xml'), '-i', '127.0.0.1', '-p', String(goodPort), '-mp', String(await freeEvenPort()),
    '-m', '1', '-timeout', '20s', '-timeout_error',
  ], 25000);
  const dns = await startDnsServer({
    srv: { '_sip._udp.carrier.test': [{ priority: 10, weight: 0, port: badPort, target: 'edge1.carrier.test' }, { priority: 20, weight: 0, port: goodPort, target: 'edge2.carrier.test' }] },
    a: { 'edge1.carrier.test': ['127.0.0.1'], 'edge2.carrier.test': ['127.0.0.1'] },
  });
  t.teardown(() => dns.close());
  await new Promise((r) => setTimeout(r, 400));
  const { sw } = await startTestSwitch({
    sip: { dnsServers: [dns.address] },
    carriers: [{ id: 'trunk', gateways: [{ host: 'carrier.test', username: 'trunkuser', password: 'trunkpass', register: true }] }],
  });
  let closed = false;
  t.teardown(async () => { if (!closed) await sw.close(); });
  t.ok(await eventually(() => sw.stats().trunkRegistrations === 1, 5000), 'registered with the second SRV target');
  t.ok(dns.queries.includes('SRV _sip._udp.carrier.test'), `SRV asked (${dns.queries.join(', ')})`);
  t.equal((await bad).successful, 1, 'the priority-10 target was asked first');
  await sw.close();
  closed = true;
  const c = await good;
  t.equal(c.successful, 1, `the second target verified the digest and saw the unregistration (${c.errors.slice(-600)})`);
});
