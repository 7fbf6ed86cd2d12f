/** The bridge modules (resources, device, user, ring_group, group) over a fake call that can bridge. */
import t from 'tap';
import { FakeClock } from '../../src/util/clock.js';
import { PivotSession } from '../../src/pivot/session.js';
import type { CallflowNode, Compat } from '../../src/pivot/callflow.js';
import type { BridgeOutcome, BridgingCallControl, EndpointsRequest, ResourcesRequest } from '../../src/pivot/call-control.js';
import { FakeCall, drive } from './helpers.js';

class BridgingCall extends FakeCall implements BridgingCallControl {
  readonly resources: ResourcesRequest[] = [];
  readonly endpoints: EndpointsRequest[] = [];
  constructor(clock: FakeClock, public outcome: BridgeOutcome) { super(clock); }
  bridgeResources(req: ResourcesRequest): Promise<BridgeOutcome> { this.resources.push(req); return Promise.resolve(this.outcome); }
  bridgeEndpoints(req: EndpointsRequest): Promise<BridgeOutcome> { this.endpoints.push(req); return Promise.resolve(this.outcome); }
}

async function run(flow: CallflowNode, outcome: BridgeOutcome, compat: Compat = 'lenient'): Promise<{ call: BridgingCall; reason: string }> {
  const clock = new FakeClock();
  const call = new BridgingCall(clock, outcome);
  const session = new PivotSession(call, { clock, compat });
  const r = await drive(clock, () => session.requestsInFlight, session.run(flow));
  return { call, reason: r.reason };
}

const say = (text: string): CallflowNode => ({ module: 'tts', data: { text } });
const busy: BridgeOutcome = { kind: 'failed', cause: 'USER_BUSY', code: 486 };

t.test('resources: cause child first, then sip:CODE, then _ (lenient) or hang up (strict)', async (t) => {
  const children = { USER_BUSY: say('cause'), 'sip:486': say('code'), _: say('default') };
  t.same((await run({ module: 'resources', data: {}, children }, busy)).call.spoken, ['cause']);
  t.same((await run({ module: 'resources', data: {}, children: { 'sip:486': say('code'), _: say('default') } }, busy)).call.spoken, ['code']);
  t.same((await run({ module: 'resources', data: {}, children: { _: say('default') } }, busy)).call.spoken, ['default'], 'lenient: _');
  t.same((await run({ module: 'resources', data: {}, children: { _: say('default') } }, busy, 'strict')).call.spoken, [], 'strict: hang up');
  const none = await run({ module: 'resources', data: {}, children: { NO_ROUTE_DESTINATION: say('no route') } }, { kind: 'no_endpoints', why: 'x' });
  t.same(none.call.spoken, ['no route']);
});

t.test('resources: answered ends the flow; the request carries the node data and the shaped caller ID', async (t) => {
  const flow: CallflowNode = {
    module: 'set_cid', data: { caller_id_number: '+15551230000', caller_id_name: 'ACME' },
    children: { _: { module: 'prepend_cid', data: { caller_id_name_prefix: 'VIP ', caller_id_number_prefix: '' }, children: { _: {
      module: 'resources',
      data: { to_did: '+14155550000', timeout: 30, ignore_early_media: true, bypass_e164: true, outbound_flags: ['fax'], custom_sip_headers: { 'X-Acct': 'a1', 'Bad Name': 'x', 'X-Nl': 'a\r\nb' } },
      children: { _: say('never') },
    } } } },
  };
  const { call, reason } = await run(flow, { kind: 'bridged' });
  t.equal(reason, 'bridged');
  t.same(call.spoken, []);
  const r = call.resources[0]!;
  t.equal(r.toDid, '+14155550000');
  t.equal(r.useLocalResources, true, 'Kazoo default');
  t.equal(r.timeoutSeconds, 30);
  t.equal(r.ignoreEarlyMedia, true);
  t.equal(r.normalize, false);
  t.same(r.outboundFlags, ['fax']);
  t.same(r.customSipHeaders, { 'X-Acct': 'a1' }, 'bad names and CR/LF values dropped');
  t.same(r.callerId, { name: 'VIP ACME', number: '+15551230000' });
});

t.test('device/user: failure → cause child or _; nothing to ring → _; answered ends', async (t) => {
  const kids = { NO_ANSWER: say('no answer'), _: say('voicemail') };
  const na: BridgeOutcome = { kind: 'failed', cause: 'NO_ANSWER', code: 480 };
  t.same((await run({ module: 'device', data: { id: 'DEV1', timeout: 10 }, children: kids }, na)).call.spoken, ['no answer']);
  t.same((await run({ module: 'device', data: { id: 'DEV1' }, children: { _: say('voicemail') } }, na)).call.spoken, ['voicemail']);
  t.same((await run({ module: 'user', data: { id: 'U1' }, children: kids }, { kind: 'no_endpoints', why: 'x' })).call.spoken, ['voicemail']);
  const d = await run({ module: 'device', data: { id: 'DEV1', timeout: 10, delay: 2 }, children: kids }, { kind: 'bridged' });
  t.equal(d.reason, 'bridged');
  t.same(d.call.endpoints[0]!.endpoints, [{ type: 'device', id: 'DEV1', delaySeconds: 2, timeoutSeconds: 10 }]);
  t.equal(d.call.endpoints[0]!.timeoutSeconds, 10);
});

t.test('ring_group and group: endpoints, strategy, repeats', async (t) => {
  const { call } = await run({
    module: 'ring_group',
    data: { strategy: 'single', repeats: 2, timeout: 15, endpoints: [{ id: 'D1', endpoint_type: 'device', delay: 1 }, { id: 'U1', endpoint_type: 'user', timeout: 5 }, 'D2'] },
  }, { kind: 'bridged' });
  const r = call.endpoints[0]!;
  t.equal(r.strategy, 'single');
  t.equal(r.repeats, 2);
  t.same(r.endpoints.map((e) => `${e.type}:${e.id}:${e.delaySeconds}:${e.timeoutSeconds}`), ['device:D1:1:15', 'user:U1:0:5', 'device:D2:0:15'], 'lenient id strings are devices');
  const g = await run({ module: 'group', data: { id: 'sales' } }, { kind: 'bridged' });
  t.same(g.call.endpoints[0]!.endpoints, [{ type: 'group', id: 'sales', delaySeconds: 0, timeoutSeconds: 20 }]);
});

t.test('resources: hunt_account_id, format_from_uri, from_uri_realm, emit_account_id reach the call layer', async (t) => {
  const { call } = await run({ module: 'resources', data: { to_did: '+1415', hunt_account_id: 'acct-2', format_from_uri: true, emit_account_id: true } }, { kind: 'bridged' });
  const r = call.resources[0]!;
  t.equal(r.huntAccountId, 'acct-2');
  t.equal(r.formatFromUri, true);
  t.equal(r.emitAccountId, true);
  t.equal(r.fromUriRealm, undefined);
  const plain = (await run({ module: 'resources', data: { from_uri_realm: 'carrier.example' } }, { kind: 'bridged' })).call.resources[0]!;
  t.equal(plain.fromUriRealm, 'carrier.example');
  t.equal(plain.huntAccountId, undefined);
  t.equal(plain.emitAccountId, undefined, 'off unless asked');
});

t.test('device/user: static_invite and can_call_self; group by id takes the stored strategy and timeout it was not given', async (t) => {
  const d = (await run({ module: 'device', data: { id: 'DEV1', static_invite: 'frontdesk', can_call_self: true } }, { kind: 'bridged' })).call.endpoints[0]!;
  t.equal(d.staticInvite, 'frontdesk');
  t.equal(d.canCallSelf, true);
  const u = (await run({ module: 'user', data: { id: 'U1' } }, { kind: 'bridged' })).call.endpoints[0]!;
  t.equal(u.canCallSelf, undefined, 'not rung back to itself by default');
  const g = (await run({ module: 'group', data: { id: 'sales' } }, { kind: 'bridged' })).call.endpoints[0]!;
  t.same(g.defaultsFromGroup, { strategy: true, timeout: true }, 'nothing given: both from the stored group');
  const g2 = (await run({ module: 'group', data: { id: 'sales', strategy: 'single', timeout: 7 } }, { kind: 'bridged' })).call.endpoints[0]!;
  t.same(g2.defaultsFromGroup, { strategy: false, timeout: false });
  t.equal(g2.strategy, 'single');
  t.equal(g2.timeoutSeconds, 7);
});
