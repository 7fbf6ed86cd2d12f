/**
 * Hold carried across a bridge (issue #3, media item 3): a SIPp caller bridged by `resources` to a SIPp carrier.
 * The caller holds (re-INVITE a=sendonly) and resumes: the carrier receives Hookline's re-INVITEs with
 * a=sendonly then a=sendrecv. The carrier then holds and resumes: the caller receives them the same way. Each
 * side checks the answers it gets (a=recvonly while held). Then the caller's BYE ends both legs.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { startScriptServer, runSipp, freePort, freeEvenPort, hasSipp } from '../helpers/peers.js';
import { startTestSwitch, eventually } from '../helpers/switch.js';

const sippDir = join(fileURLToPath(new URL('.', import.meta.url)), '../../../test/e2e/sipp');

t.test('hold and resume on either leg are re-offered to the other', { skip: hasSipp ? false : 'sipp (sip-tester) not installed' }, async (t) => {
  const carrierPort = await freePort();
  const carrier = runSipp(['-sf', join(sippDir, 'carrier-hold.xml'), '-i', '127.0.0.1', '-p', String(carrierPort),
    '-mp', String(await freeEvenPort()), '-m', '1', '-timeout', '30s', '-timeout_error'], 40000);
  const script = await startScriptServer(() => ({ body: { module: 'resources', data: { to_did: '+14158867900', use_local_resources: false } } }));
  const { sw, port } = await startTestSwitch({
    accounts: [{ id: 'acct-1' }],
    numbers: { '4999': { account: 'acct-1', flow: { module: 'pivot', data: { voice_url: `${script.url}/ivr` } } } },
    carriers: [{ id: 'trunk', gateways: [{ host: '127.0.0.1', port: carrierPort }] }],
  });
  t.teardown(async () => { await sw.close(); await script.close(); });
  await new Promise((r) => setTimeout(r, 300));
  const caller = await runSipp(['-sf', join(sippDir, 'hold-uac.xml'), '-s', '4999', `127.0.0.1:${port}`, '-i', '127.0.0.1',
    '-p', String(await freePort()), '-mp', String(await freeEvenPort()), '-m', '1', '-timeout', '30s', '-timeout_error'], 40000);
  const c = await carrier;
  t.equal(caller.successful, 1, `the caller's hold was answered recvonly, its resume sendrecv, and the carrier's hold and resume reached it (${caller.errors.slice(-800)})`);
  t.equal(c.successful, 1, `the carrier received the caller's hold and resume, and its own were answered (${c.errors.slice(-800)})`);
  t.ok(await eventually(() => { const s = sw.stats(); return s.calls === 0 && s.legs === 0 && s.dialogs === 0 && s.media.portsInUse === 0; }, 8000),
    `both legs ended: ${JSON.stringify(sw.stats())}`);
});
