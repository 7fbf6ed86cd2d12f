/** Outbound gateway registration on a fake clock: refresh at 80 % of the granted expiry, retry with backoff, unregister. */
import t from 'tap';
import { silentLogger } from '../../src/util/logger.js';
import { createResponse, type IncomingRequest } from '../../src/sip/index.js';
import { TrunkRegistrations } from '../../src/pbx/trunk-registration.js';
import type { CarrierConfig } from '../../src/cli/config.js';
import { makePair } from '../sip/helpers.js';

function carrier(): CarrierConfig[] {
  return [{
    id: 'trunk', priority: 1, rules: [], flags: [], format: 'e164', callerIdFormat: 'asis',
    gateways: [{ host: '10.0.0.2', port: 5060, transport: 'udp', prefix: '', suffix: '', username: 'u', password: 'p', register: true, registerExpires: 3600, replyTimeout: 5 }],
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
