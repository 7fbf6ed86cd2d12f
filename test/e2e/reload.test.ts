/**
 * Config reload. On a running Switch: numbers, devices and pivot settings change for new calls, a registered
 * phone (baresip) keeps its registration across the reload, a removed device loses it, and sections that need a
 * restart (sip, rtp) keep their running values and are named. Through the CLI: `kill -HUP` reloads the file,
 * and a broken file is refused with the field named while the switch keeps running.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startScriptServer, hasBaresip, Baresip, freePort } from '../helpers/peers.js';
import { startTestSwitch, eventually } from '../helpers/switch.js';
import { validateConfig } from '../../src/cli/config.js';
import { placeCall } from '../../src/pbx/caller.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const CALLER = { from: '99992', portMin: 52000, portMax: 52998 };
const hangup = { body: { module: 'hangup', data: {} } };

t.test('Switch.reload: new routes and devices for new calls; registrations of remaining devices kept', { skip: hasBaresip ? false : 'baresip not installed' }, async (t) => {
  const a = await startScriptServer(() => hangup);
  const b = await startScriptServer(() => hangup);
  const base = (script: string, devices: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    numbers: { '4999': { flow: { module: 'pivot', data: { voice_url: `${script}/ivr` } } } }, devices, ...extra,
  });
  const desk = { id: 'desk', username: '1001', password: 's3cret-desk' };
  const { sw, port } = await startTestSwitch(base(a.url, [desk]));
  let phone: Baresip | undefined;
  t.teardown(async () => { await phone?.stop(); await sw.close(); await a.close(); await b.close(); });
  phone = await Baresip.start({ account: `<sip:1001@127.0.0.1:${port}>;auth_pass=s3cret-desk;regint=300;answermode=auto` });
  t.ok(await eventually(() => sw.stats().registrations === 1, 10000), 'the phone registered');

  // Same listen/rtp as running (startTestSwitch's), new route, a second device: applied at once.
  const running = sw.config;
  const next = validateConfig(base(b.url, [desk, { id: 'lobby', username: '1002', password: 'x-lobby' }]));
  const r = await sw.reload({ ...next, sip: running.sip, rtp: running.rtp, log: running.log });
  t.same(r.restartNeeded, [], 'nothing needs a restart');
  t.ok(r.applied.includes('numbers') && r.applied.includes('devices'), `applied: ${r.applied.join(', ')}`);
  t.equal(sw.stats().registrations, 1, 'the registration survived the reload');
  t.equal(sw.registrar?.contacts('1001').length, 1, 'the binding is still there');
  const call = await placeCall({ uri: `sip:4999@127.0.0.1:${port}`, ...CALLER, maxSeconds: 3 });
  t.not(call.status, undefined);
  t.equal(b.requests.length, 1, 'a new call uses the reloaded route');
  t.equal(a.requests.length, 0);

  // A sip change needs a restart: named, and the running port stays.
  const r2 = await sw.reload({ ...next, sip: { ...running.sip, port: port + 1 }, rtp: running.rtp, log: running.log });
  t.same(r2.restartNeeded, ['sip']);
  t.equal(sw.addresses().sip[0]!.port, port, 'still on the running port');
  t.equal(sw.config.sip.port, running.sip.port, 'the running sip section is kept');

  // The device removed: its binding goes.
  await sw.reload({ ...validateConfig(base(b.url, [{ id: 'lobby', username: '1002', password: 'x-lobby' }])), sip: running.sip, rtp: running.rtp, log: running.log });
  t.equal(sw.stats().registrations, 0, 'the removed device lost its registration');
});

t.test('hookline serve: SIGHUP reloads the config file; a broken one is refused and the switch keeps running', async (t) => {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'hookline-reload-'));
  const file = join(dir, 'hookline.yaml');
  const rtpMin = 33000 + (process.pid % 100) * 20;
  const yaml = (extra: string[]): string => [
    'sip:', '  listen: 127.0.0.1', `  port: ${port}`, 'rtp:', '  address: 127.0.0.1', `  portMin: ${rtpMin}`, `  portMax: ${rtpMin + 18}`, '  workers: 1',
    'log:', '  level: warn', ...extra, '',
  ].join('\n');
  writeFileSync(file, yaml(['numbers:', '  "4000":', '    flow: { module: hangup, data: {} }']));
  const server = spawn(process.execPath, [join(root, 'bin/hookline.js'), 'serve', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = ''; let err = '';
  server.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  server.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  t.teardown(async () => {
    if (server.exitCode === null) { server.kill('SIGTERM'); await new Promise((r) => server.once('exit', r)); }
    rmSync(dir, { recursive: true, force: true });
  });
  t.ok(await eventually(() => /listening for SIP/.test(out), 15000), 'started');
  writeFileSync(file, yaml(['numbers:', '  "4000":', '    flow: { module: hangup, data: {} }', '  "4001":', '    flow: { module: response, data: { code: 486 } }']));
  server.kill('SIGHUP');
  t.ok(await eventually(() => /config reloaded \(changed: numbers\)/.test(out), 10000), `reloaded: ${out.slice(-300)}`);
  const r = await placeCall({ uri: `sip:4001@127.0.0.1:${port}`, ...CALLER, maxSeconds: 2 });
  t.equal(r.status, 486, 'the new number answers as the reloaded file says');
  writeFileSync(file, yaml(['numbers:', '  "4000":', '    flow: { module: hangup }', 'calls:', '  maxConcurrent: -5']));
  server.kill('SIGHUP');
  t.ok(await eventually(() => /config reload refused/.test(err), 10000), `refused: ${err.slice(-300)}`);
  t.match(err, /calls\.maxConcurrent/, 'the bad field is named');
  const r2 = await placeCall({ uri: `sip:4001@127.0.0.1:${port}`, ...CALLER, maxSeconds: 2 });
  t.equal(r2.status, 486, 'still running with the last good config');
  t.equal(server.exitCode, null);
});
