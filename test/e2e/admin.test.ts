/**
 * The admin endpoint and the CLI that reads it: a call whose pivot node has `debug: true` gets a broken JSON
 * reply (PIVOT.md case 26); its debug record (with json_errors) is readable over HTTP and through
 * `hookline debug`, its CDR through `hookline cdrs`. Token required, GET only, bad queries get 400.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { startScriptServer } from '../helpers/peers.js';
import { startTestSwitch, eventually } from '../helpers/switch.js';
import { placeCall } from '../../src/pbx/caller.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const TOKEN = 'test-admin-token-0123456789';

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [join(root, 'bin/hookline.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = ''; let err = '';
    c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    c.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    c.on('exit', (code) => resolve({ code, out, err }));
  });
}

t.test('admin endpoint: debug records and CDRs over HTTP and the CLI', async (t) => {
  const script = await startScriptServer(() => ({ body: '{"module":"tts","data":{"text":"x"}' }));
  const { sw, uri } = await startTestSwitch({
    numbers: { '4999': { flow: { module: 'pivot', data: { voice_url: `${script.url}/ivr`, debug: true }, children: { _: { module: 'hangup', data: {} } } } } },
    admin: { port: 0, token: TOKEN },
  });
  t.teardown(async () => { await sw.close(); await script.close(); });
  const admin = sw.addresses().admin!;
  t.match(admin, /^http:\/\/127\.0\.0\.1:\d+$/, 'bound to 127.0.0.1 by default');
  await placeCall({ uri: uri('4999'), from: '99992', portMin: 54000, portMax: 54998, maxSeconds: 3 });
  t.ok(await eventually(() => sw.cdrs.query().length === 1, 5000), 'the call ended');
  const callId = sw.cdrs.query()[0]!.callId;
  const auth = { authorization: `Bearer ${TOKEN}` };

  t.equal((await fetch(`${admin}/debug`)).status, 401, 'no token: 401');
  t.equal((await fetch(`${admin}/debug`, { headers: { authorization: 'Bearer wrong-token-of-some-length' } })).status, 401);
  t.equal((await fetch(`${admin}/debug`, { method: 'POST', headers: auth })).status, 405, 'GET only');
  const list = await (await fetch(`${admin}/debug`, { headers: auth })).json() as { callIds: string[] };
  t.same(list.callIds, [callId]);
  const recs = await (await fetch(`${admin}/debug/${encodeURIComponent(callId)}`, { headers: auth })).json() as { records: Array<Record<string, unknown>> };
  t.equal(recs.records.length, 1, 'one webhook request recorded');
  t.match(JSON.stringify(recs.records[0]), /json_errors|jsonErrors/, 'the broken JSON is in the record');
  t.equal((await fetch(`${admin}/debug/nope`, { headers: auth })).status, 404);
  t.equal((await fetch(`${admin}/cdrs?since=yesterday`, { headers: auth })).status, 400, 'a bad query is named');
  const stats = await (await fetch(`${admin}/stats`, { headers: auth })).json() as { calls: number; callsTotal: number };
  t.equal(stats.callsTotal, 1);

  const d = await cli(['debug', callId, '--admin', admin], { HOOKLINE_ADMIN_TOKEN: TOKEN });
  t.equal(d.code, 0, d.err);
  const parsed = JSON.parse(d.out) as { callId: string; records: unknown[] };
  t.equal(parsed.callId, callId);
  t.equal(parsed.records.length, 1);
  const c = await cli(['cdrs', '--limit', '5', '--admin', admin, '--token', TOKEN]);
  t.equal(c.code, 0, c.err);
  t.equal((JSON.parse(c.out) as { cdrs: Array<{ callId: string }> }).cdrs[0]!.callId, callId);
  const bad = await cli(['debug', callId, '--admin', admin]);
  t.equal(bad.code, 1);
  t.match(bad.err, /401/, 'without the token the CLI says 401');
  const none = await cli(['cdrs'], { HOOKLINE_ADMIN: '' });
  t.equal(none.code, 2);
  t.match(none.err, /set admin\.port/, 'no endpoint: says how to get one');
});
