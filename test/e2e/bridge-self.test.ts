/**
 * can_call_self (PIVOT.md 3.3: "allow calling devices of the same owner"): a phone calling its owner's `user`
 * rings none of that owner's phones, itself included (Kazoo's default); with can_call_self they ring. A caller that
 * is not one of the owner's devices rings them all. Two baresip phones registered as devices of one user.
 */
import t from 'tap';
import { hasBaresip, Baresip } from '../helpers/peers.js';
import { startTestSwitch, eventually } from '../helpers/switch.js';
import { placeCall } from '../../src/pbx/caller.js';

t.test('a user call from one of its own devices rings the owner\'s devices only with can_call_self', { skip: hasBaresip ? false : 'baresip not installed' }, async (t) => {
  const { sw, port, uri } = await startTestSwitch({
    users: [{ id: 'u1' }],
    devices: [
      { id: 'desk', username: '1001', password: 'pw-desk', owner: 'u1' },
      { id: 'lobby', username: '1002', password: 'pw-lobby', owner: 'u1' },
    ],
    numbers: {
      '5000': { flow: { module: 'user', data: { id: 'u1', timeout: 3 } } },
      '5001': { flow: { module: 'user', data: { id: 'u1', timeout: 3, can_call_self: true } } },
    },
  });
  let desk: Baresip | undefined;
  let lobby: Baresip | undefined;
  t.teardown(async () => { await desk?.stop(); await lobby?.stop(); await sw.close(); });
  desk = await Baresip.start({ account: `<sip:1001@127.0.0.1:${port}>;auth_pass=pw-desk;regint=300;answermode=manual` });
  lobby = await Baresip.start({ account: `<sip:1002@127.0.0.1:${port}>;auth_pass=pw-lobby;regint=300;answermode=manual` });
  t.ok(await eventually(() => sw.stats().registrations === 2, 10000), 'both phones registered');
  const incoming = (p: Baresip): number => p.events.filter((e) => e.type === 'CALL_INCOMING').length;

  // From lobby (owner u1) to user u1: nothing to ring.
  lobby.dial(uri('5000'));
  await lobby.waitEvent('CALL_CLOSED', 10000);
  t.equal(incoming(desk) + incoming(lobby), 0, 'no phone of the owner rang');
  t.equal(sw.stats().legsTotal, 0, 'no leg was placed');

  // With can_call_self: both ring (the calling phone too).
  lobby.events.length = 0;
  lobby.dial(uri('5001'));
  await desk.waitEvent('CALL_INCOMING', 8000);
  // baresip, busy with its own outgoing call, turns the second INVITE away without a CALL_INCOMING event: count
  // the legs the switch placed instead.
  t.ok(await eventually(() => sw.stats().legsTotal === 2, 5000), `a leg to each of u1's phones, the calling one too (${sw.stats().legsTotal})`);
  await desk.waitEvent('CALL_CLOSED', 10000);
  t.ok(await eventually(() => sw.stats().calls === 0 && sw.stats().legs === 0, 10000), `ended: ${JSON.stringify(sw.stats())}`);

  // A caller that is none of u1's devices rings both.
  desk.events.length = 0;
  lobby.events.length = 0;
  const r = placeCall({ uri: uri('5000'), from: '99992', portMin: 53000, portMax: 53998, maxSeconds: 6 });
  await desk.waitEvent('CALL_INCOMING', 8000);
  t.ok(await eventually(() => incoming(lobby) === 1, 5000), 'both of u1\'s phones rang for an outside caller');
  await r;
  t.ok(await eventually(() => sw.stats().calls === 0 && sw.stats().legs === 0, 10000), `ended: ${JSON.stringify(sw.stats())}`);
});
