/**
 * The README's promise: `hookline serve` with the built-in demo script answers a first call that already speaks,
 * and `hookline call` (the built-in test caller) dials it, sends digits, records what it heard.
 * Runs the real CLI as child processes, as a user would.
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { freePort, wavStats } from '../helpers/peers.js';
import { tinyPiperConfig, tinyPiperModel } from '../helpers/onnx.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const bin = join(root, 'bin/hookline.js');

function run(args: string[], timeoutMs = 60000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    c.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('exit', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
  });
}

function waitForOutput(c: ChildProcess, re: RegExp, timeoutMs = 15000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no ${re} in: ${buf}`)), timeoutMs);
    c.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (re.test(buf)) { clearTimeout(timer); resolve(buf); }
    });
  });
}

t.test('demo switch speaks to the built-in caller; digits are read back', async (t) => {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'hookline-cli-'));
  const rtpMin = 30000 + (process.pid % 100) * 20;
  writeFileSync(join(dir, 'hookline.yaml'), [
    'sip:', `  listen: 127.0.0.1`, `  port: ${port}`,
    'rtp:', '  address: 127.0.0.1', `  portMin: ${rtpMin}`, `  portMax: ${rtpMin + 18}`, '  workers: 1',
    'log:', '  level: warn', '',
  ].join('\n'));
  const server = spawn(process.execPath, [bin, 'serve', '--config', join(dir, 'hookline.yaml'), '--demo'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(async () => {
    if (server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const banner = await waitForOutput(server, /demo web script at/);
  t.match(banner, new RegExp(`udp://127\\.0\\.0\\.1:${port}`));

  const wav = join(dir, 'out.wav');
  const r = await run(['call', `sip:4999@127.0.0.1:${port}`, '--from', '99992', '--digits', '123#', '--wait-ms', '9000', '--record', wav, '--max-seconds', '40']);
  t.equal(r.code, 0, `caller exit code (${r.err})`);
  t.match(r.out, /call: answered/);
  t.match(r.out, /ended by remote/, 'the demo hangs up after reading the digits back');
  t.match(r.out, /sent digits 123#/);
  t.match(r.out, /call: RTP sent \d+, received \d+, lost 0, jitter [\d.]+ ms; the far end's RTCP: 0 of ours lost/, 'RTP figures and the switch\'s RTCP report');
  t.ok(existsSync(wav), 'recording written');
  const s = wavStats(wav);
  t.ok(s.seconds > 10, `heard the whole call (${s.seconds.toFixed(1)} s)`);
  t.ok(s.activeSeconds > 6, `greeting and read-back are speech (${s.activeSeconds.toFixed(1)} s of sound)`);

  server.kill('SIGTERM');
  const code = await new Promise((r) => server.once('exit', r));
  t.equal(code, 0, 'serve exits cleanly on SIGTERM');
});

t.test('check-config lists the Piper voices and the skipped files', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-cli-voices-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'voices'));
  writeFileSync(join(dir, 'voices', 'en_US-tiny.onnx'), tinyPiperModel());
  writeFileSync(join(dir, 'voices', 'en_US-tiny.onnx.json'), JSON.stringify(tinyPiperConfig()));
  writeFileSync(join(dir, 'voices', 'broken.onnx'), tinyPiperModel());
  writeFileSync(join(dir, 'voices', 'broken.onnx.json'), JSON.stringify({ audio: { sample_rate: 22050 } }));
  writeFileSync(join(dir, 'hookline.yaml'), 'tts:\n  voicesDir: voices\n');
  const r = await run(['check-config', join(dir, 'hookline.yaml')]);
  t.equal(r.code, 0, r.err);
  t.match(r.out, 'piper voice en_US-tiny: espeak en-us, 22050 Hz');
  t.match(r.out, `piper voice skipped: ${join(dir, 'voices', 'broken.onnx.json')}: espeak.voice missing`);
});

t.test('bad config names the field and exits 2', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'bad.yaml'), 'sip:\n  port: fifty\n');
  const r = await run(['serve', '--config', join(dir, 'bad.yaml')]);
  t.equal(r.code, 2);
  t.match(r.err, /sip\.port/);
  const c = await run(['check-config', join(dir, 'bad.yaml')]);
  t.equal(c.code, 2);
  const u = await run(['call', 'not-a-uri']);
  t.equal(u.code, 2);
  const h = await run(['frobnicate']);
  t.equal(h.code, 2);
  t.match(h.err, /unknown command/);
});
