/** Outbound gateway registration on a fake clock: refresh at 80 % of the granted expiry, retry with backoff, unregister. */
import t from 'tap';
import { silentLogger } from '../../src/util/logger.js';
import { createResponse, SipStack, type IncomingRequest } from '../../src/sip/index.js';
import type { SipTarget } from '../../src/sip/resolve.js';
import { TrunkRegistrations } from '../../src/pbx/trunk-registration.js';
import type { CarrierConfig } from '../../src/cli/config.js';
import { makePair } from '../sip/helpers.js';

function carrier(host = '10.0.0.2', srv = false): CarrierConfig[] {
  return [{
    id: 'trunk', priority: 1, rules: [], flags: [], format: 'e164', callerIdFormat: 'asis',
    gateways: [{ host, port: 5060, transport: 'udp', prefix: '', suffix: '', username: 'u', password: 'p', register: true, registerExpires: 3600, replyTimeout: 5, srv }],
  }];
}

t.test('refresh at 80 % of the granted expiry; failure → retry after 30 s; Expires 0 at close', async (t) => {
  const p = await makePair();
  const seen: string[] = [];
  let answer = 200;
  p.b.onRequest = (req: IncomingRequest) => {
    const m = req.message;
    seen.push(`${m.method} ${m.get('expires')}`);
    const res = createResponse(m, answer, answer === 200 ? 'OK' : 'Service Unavailable', { toTag: 'x' });
    if (answer === 200 && m.contact[0]) res.contact.push({ uri: m.contact[0].uri, params: ';expires=60' });
    req.sendResponse(res);
  };
  const regs = new TrunkRegistrations(p.a, p.clock, silentLogger, carrier());
  regs.start();
  p.clock.tick(100);
  t.equal(regs.registered, 1);
  t.same(seen, ['REGISTER 3600']);
  p.clock.tick(47_000);
  t.equal(seen.length, 1, 'not yet');
  p.clock.tick(1_100);
  t.equal(seen.length, 2, 'refreshed at 48 s (80 % of 60)');
  answer = 503;
  p.clock.tick(48_100);
  t.equal(seen.length, 3);
  t.equal(regs.registered, 0, 'a failed refresh: not registered');
  p.clock.tick(29_000);
  t.equal(seen.length, 3);
  p.clock.tick(1_100);
  t.equal(seen.length, 4, 'retried after 30 s');
  answer = 200;
  p.clock.tick(60_100);
  t.equal(seen.length, 5, 'next retry after 60 s (backoff)');
  t.equal(regs.registered, 1);
  const closing = regs.close();
  p.clock.tick(100);
  await closing;
  t.equal(seen[seen.length - 1], 'REGISTER 0', 'unregistered');
  p.clock.tick(100_000);
  t.equal(seen.length, 6, 'nothing after close');
  await p.a.close();
  await p.b.close();
});

t.test('a registrar host name without a port: SRV targets in order, the next on 503, the granting one kept for refreshes', async (t) => {
  const p = await makePair();
  const c = await SipStack.create({ clock: p.clock, logger: silentLogger, userAgent: 'Hookline-test', transports: [p.net.bind('10.0.0.3', 5060, false)] });
  const seen: string[] = [];
  const answers: Record<string, number> = { b: 200, c: 503 };
  const registrar = (name: 'b' | 'c') => (req: IncomingRequest): void => {
    const m = req.message;
    seen.push(`${name} ${m.uri.host}${m.uri.port === undefined ? '' : `:${m.uri.port}`} ${m.get('expires')}`);
    const status = answers[name]!;
    const res = createResponse(m, status, status === 200 ? 'OK' : 'Service Unavailable', { toTag: 'x' });
    if (status === 200 && m.contact[0]) res.contact.push({ uri: m.contact[0].uri, params: ';expires=60' });
    req.sendResponse(res);
  };
  p.b.onRequest = registrar('b');
  c.onRequest = registrar('c');
  const lookups: string[] = [];
  const locator = {
    resolve: async (host: string, port: number | undefined, transport: 'udp' | 'tcp'): Promise<SipTarget[]> => {
      lookups.push(`${host} ${port ?? 'SRV'} ${transport}`);
      return [{ address: '10.0.0.3', port: 5060, transport }, { address: '10.0.0.2', port: 5060, transport }];
    },
  };
  const regs = new TrunkRegistrations(p.a, p.clock, silentLogger, carrier('carrier.test', true), locator);
  regs.start();
  await new Promise((r) => setImmediate(r));
  p.clock.tick(100);
  t.same(lookups, ['carrier.test SRV udp'], 'located by SRV (no port configured)');
  t.same(seen, ['c carrier.test 3600', 'b carrier.test 3600'], 'the first target answered 503, the second was tried at once; Request-URI is the domain');
  t.equal(regs.registered, 1);
  p.clock.tick(48_100);
  t.same(seen.slice(2), ['b carrier.test 3600'], 'the refresh goes to the target that granted the registration');
  t.same(lookups.length, 1, 'without locating again');
  answers.b = 503;
  p.clock.tick(48_100);
  t.equal(regs.registered, 0, 'a failed refresh: not registered');
  t.same(seen.slice(3), ['b carrier.test 3600'], 'no target after it in the list: wait for the retry');
  answers.c = 200;
  p.clock.tick(30_000);
  await new Promise((r) => setImmediate(r));
  p.clock.tick(100);
  t.same(lookups.length, 2, 'the retry locates afresh');
  t.same(seen.slice(4), ['c carrier.test 3600'], 'and starts again with the first target');
  t.equal(regs.registered, 1);
  const closing = regs.close();
  p.clock.tick(100);
  await closing;
  t.same(seen.slice(5), ['c carrier.test 0'], 'unregistered where it was registered');
  await Promise.all([p.a.close(), p.b.close(), c.close()]);
});

t.test('a registrar name that DNS does not know: a warning and the usual retry, no REGISTER', async (t) => {
  const p = await makePair();
  let asked = 0;
  const seen: string[] = [];
  p.b.onRequest = (req: IncomingRequest) => { seen.push(req.message.method); req.respond(200); };
  const regs = new TrunkRegistrations(p.a, p.clock, silentLogger, carrier('nowhere.test', true), { resolve: async () => { asked++; return []; } });
  regs.start();
  await new Promise((r) => setImmediate(r));
  p.clock.tick(100);
  t.equal(asked, 1);
  t.same(seen, []);
  p.clock.tick(30_000);
  await new Promise((r) => setImmediate(r));
  t.equal(asked, 2, 'asked again at the retry');
  await regs.close();
  await p.a.close();
  await p.b.close();
});
