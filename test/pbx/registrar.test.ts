/** Registrar: digest challenge and verification, expiry bounds, several contacts, unregistration, NAT source. */
import t from 'tap';
import { FakeClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { createRequest, createResponse, parseMessage, serialize, type IncomingRequest, type SipRequest, type SipResponse, type Source } from '../../src/sip/index.js';
import { authorize, parseChallenge } from '../../src/sip/auth.js';
import { Registrar } from '../../src/pbx/registrar.js';
import type { RegistrarConfig } from '../../src/cli/config.js';

const CFG: RegistrarConfig = { realm: 'hookline', minExpires: 60, maxExpires: 3600, defaultExpires: 600, maxContacts: 3 };
const SOURCE: Source = { transport: 'udp', address: '203.0.113.9', port: 40123 };

function reparse(m: SipRequest): SipRequest {
  if (m.via.length === 0) m.via.push({ transport: 'UDP', host: '203.0.113.9', port: 40123, branch: 'z9hG4bK' + cseq, params: '' });
  const r = parseMessage(serialize(m), { stream: false });
  if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
  return r.message as SipRequest;
}

let cseq = 1;
function register(contacts: string[], headers: Array<[string, string]> = [], user = '1001'): SipRequest {
  const h: Array<[string, string]> = [...headers];
  for (const c of contacts) h.push(['Contact', c]);
  return reparse(createRequest({
    method: 'REGISTER', uri: 'sip:127.0.0.1', from: `sip:${user}@127.0.0.1`, to: `sip:${user}@127.0.0.1`, callId: 'reg-1', cseq: cseq++, headers: h,
  }));
}

function incoming(m: SipRequest, out: SipResponse[]): IncomingRequest {
  return {
    message: m, source: SOURCE, serverTransaction: null, inviteTransaction: null, toTag: 'tt',
    respond(status, reason, opts = {}) {
      const parsed = parseMessage(serialize(createResponse(m, status, reason, { ...opts, toTag: 'tt' })), { stream: false });
      if (parsed.kind !== 'ok') throw new Error(JSON.stringify(parsed));
      const r = parsed.message as SipResponse;
      out.push(r);
      return r;
    },
    sendResponse(res) { out.push(res); return true; },
  };
}

/** Send `m`; if challenged, answer the challenge with `password` and send again. Returns the final response. */
function send(reg: Registrar, make: () => SipRequest, password = 'pw1001', username = '1001'): SipResponse {
  const out: SipResponse[] = [];
  reg.handleRegister(incoming(make(), out));
  let res = out[out.length - 1]!;
  if (res.status !== 401) return res;
  const ch = parseChallenge(res.get('www-authenticate')!)!;
  const auth = authorize(ch, { username, password }, 'REGISTER', 'sip:127.0.0.1');
  const m = make();
  m.add('Authorization', auth);
  reg.handleRegister(incoming(reparse(m), out));
  res = out[out.length - 1]!;
  return res;
}

function setup(): { reg: Registrar; clock: FakeClock } {
  const clock = new FakeClock();
  const reg = new Registrar(CFG, [{ id: 'desk', username: '1001', password: 'pw1001' }, { id: 'lobby', username: '1002', password: 'pw1002' }], clock, silentLogger);
  return { reg, clock };
}

t.test('no credentials → 401 with a digest challenge; right password → 200 listing the contact', async (t) => {
  const { reg } = setup();
  const out: SipResponse[] = [];
  reg.handleRegister(incoming(register(['<sip:1001@192.168.1.20:5062>']), out));
  t.equal(out[0]!.status, 401);
  const ch = parseChallenge(out[0]!.get('www-authenticate')!);
  t.equal(ch?.realm, 'hookline');
  t.same(ch?.qop, ['auth']);
  const res = send(reg, () => register(['<sip:1001@192.168.1.20:5062>']));
  t.equal(res.status, 200);
  t.equal(res.contact.length, 1);
  t.equal(res.contact[0]!.uri.host, '192.168.1.20');
  t.match(res.contact[0]!.params, /expires=600/);
  const b = reg.contacts('1001');
  t.equal(b.length, 1);
  t.same(b[0]!.source, SOURCE, 'reached at the address and port the REGISTER came from (NAT)');
  t.equal(b[0]!.uri.host, '192.168.1.20', 'the Contact URI stays the Request-URI');
});

const cases: Array<[string, () => SipRequest, string, number]> = [
  ['wrong password', () => register(['<sip:1001@10.0.0.1>']), 'nope', 403],
  ['unknown user', () => register(['<sip:9999@10.0.0.1>'], [], '9999'), 'x', 404],
  ['expires below the minimum', () => register(['<sip:1001@10.0.0.1>'], [['Expires', '10']]), 'pw1001', 423],
  ['Contact * without Expires 0', () => register(['*']), 'pw1001', 400],
];
for (const [name, make, pw, status] of cases) {
  t.test(`REGISTER: ${name} → ${status}`, async (t) => {
    const { reg } = setup();
    const res = send(reg, make, pw, name === 'unknown user' ? '9999' : '1001');
    t.equal(res.status, status);
    if (status === 423) t.equal(res.get('min-expires'), '60');
    t.equal(reg.contacts('1001').length, 0);
  });
}

t.test('credentials of another device are refused', async (t) => {
  const { reg } = setup();
  const res = send(reg, () => register(['<sip:1001@10.0.0.1>']), 'pw1002', '1002');
  t.equal(res.status, 403);
});

t.test('expiry capped, several contacts (bounded), per-contact unregister, Contact *, expiry on the clock', async (t) => {
  const { reg, clock } = setup();
  t.equal(send(reg, () => register(['<sip:1001@10.0.0.1>;expires=99999'])).status, 200);
  t.equal(Math.round((reg.contacts('1001')[0]!.expiresAt - clock.now()) / 1000), 3600, 'capped at maxExpires');
  send(reg, () => register(['<sip:1001@10.0.0.2>', '<sip:1001@10.0.0.3>']));
  t.equal(reg.contacts('1001').length, 3);
  send(reg, () => register(['<sip:1001@10.0.0.4>']));
  t.equal(reg.contacts('1001').length, 3, 'maxContacts: the oldest dropped');
  t.notOk(reg.contacts('1001').some((b) => b.uri.host === '10.0.0.1'));
  send(reg, () => register(['<sip:1001@10.0.0.4>;expires=0']));
  t.equal(reg.contacts('1001').length, 2, 'expires=0 removes that contact');
  t.equal(send(reg, () => register(['*'], [['Expires', '0']])).status, 200);
  t.equal(reg.contacts('1001').length, 0, 'Contact * removes all');
  send(reg, () => register(['<sip:1001@10.0.0.5>'], [['Expires', '120']]));
  clock.tick(119_000);
  t.equal(reg.contacts('1001').length, 1);
  clock.tick(2000);
  t.equal(reg.contacts('1001').length, 0, 'gone once expired');
  t.equal(reg.bindingCount(), 0);
});

t.test('bindings survive a config reload that keeps the device, and go with it otherwise', async (t) => {
  const { reg } = setup();
  send(reg, () => register(['<sip:1001@10.0.0.1>']));
  reg.setDevices([{ id: 'desk', username: '1001', password: 'new' }, { id: 'x', username: '1003', password: 'p' }]);
  t.equal(reg.contacts('1001').length, 1);
  reg.setDevices([{ id: 'x', username: '1003', password: 'p' }]);
  t.equal(reg.contacts('1001').length, 0);
});
