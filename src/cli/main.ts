/**
 * `hookline` command line: `serve` runs the switch, `call` is a built-in test caller on the project's own stack.
 * This layer (with config.ts) is the only one that reads files, the environment and the process arguments.
 */
import { parseArgs } from 'node:util';
import { writeFileSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { realpathSync } from 'node:fs';
import { configureLogging, getLogger } from '../util/logger.js';
import { ConfigError, loadConfigFile, validateConfig, type HooklineConfig } from './config.js';
import { startDemoScript, type DemoScript } from './demo.js';
import { Switch } from '../pbx/switch.js';
import { placeCall } from '../pbx/caller.js';
import { writeWav } from '../media/wav.js';
import { missingPiperPackages, PIPER_INSTALL_HINT, scanVoices } from '../media/tts/piper/index.js';

const USAGE = `Hookline: a programmable PBX (SIP in, Kazoo Pivot webhooks out, its own media and TTS).

Usage:
  hookline serve [--config FILE] [--demo] [--port N] [--listen ADDR] [--log-level LEVEL]
      Run the switch. With --demo (the default when no --config is given) it also serves the built-in demo
      web script on 127.0.0.1 and routes every number to it. SIGHUP reloads the config file (see the README).
  hookline call sip:NUMBER@HOST[:PORT] [--from NUMBER] [--digits 123#] [--record out.wav]
                [--wait-ms 1500] [--max-seconds 60] [--transport udp|tcp]
      Dial a SIP URI, send the digits as RFC 4733 events once answered (after --wait-ms), record what was heard,
      and print the outcome. Exit code 0 when the call was answered.
  hookline debug [CALL_ID] [--account ID] --admin URL [--token T]
      Pivot debug records of a call (each request, status, headers, body, timings, JSON/schema errors) from a
      running switch's admin endpoint (config admin.port); without CALL_ID, the calls that have records.
  hookline cdrs [--call-id ID] [--account ID] [--since TIME] [--until TIME] [--cause CAUSE] [--limit N] --admin URL
      Call detail records from a running switch, newest first.
  hookline check-config FILE
      Validate a config file and print the result (with tts.voicesDir: the Piper voices found or skipped).
  hookline bench <ivr|cps|bridge|soak|sip|pacer|tts|udp|http> [options] | --compare A.json B.json
      Run the bench suite (the same as npm run bench -- ...; see the README's Performance section).
`;

function out(s: string): void { process.stdout.write(`${s}\n`); }

/** What `check-config` says about a Piper voices folder: each voice, each skipped file, missing packages. */
function piperReport(dir: string): string[] {
  const { voices, errors } = scanVoices(dir);
  const lines = voices.map((v) => `piper voice ${v.name}: espeak ${v.espeakVoice || '(text)'}, ${v.sampleRate} Hz${v.numSpeakers > 1 ? `, ${v.numSpeakers} speakers` : ''}`);
  for (const e of errors) lines.push(`piper voice skipped: ${e.message}`);
  if (voices.length === 0 && errors.length === 0) lines.push(`piper: no voices in ${dir}`);
  const missing = missingPiperPackages();
  if (missing.length > 0) lines.push(`piper: unavailable, ${missing.join(' and ')} not installed; ${PIPER_INSTALL_HINT}`);
  return lines;
}
function err(s: string): void { process.stderr.write(`${s}\n`); }

async function serve(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      demo: { type: 'boolean' },
      port: { type: 'string' },
      listen: { type: 'string' },
      'log-level': { type: 'string' },
    },
    allowPositionals: false,
  });
  // The file plus the command line's overrides (also on reload).
  const load = (): HooklineConfig => {
    const c = values.config ? loadConfigFile(values.config) : validateConfig({});
    if (values.port !== undefined) c.sip.port = validateConfig({ sip: { port: values.port } }).sip.port;
    if (values.listen !== undefined) c.sip.listen = validateConfig({ sip: { listen: values.listen } }).sip.listen;
    if (values['log-level'] !== undefined) c.log.level = validateConfig({ log: { level: values['log-level'] } }).log.level;
    if (demo && !c.numbers['*']) {
      c.numbers['*'] = {
        account: c.accounts[0]!.id,
        flow: { module: 'pivot', data: { voice_url: demo.url, method: 'post', req_body_format: 'form' },
          children: { _: { module: 'tts', data: { text: 'Sorry, the demo script is not answering. Goodbye.' } } } },
      };
    }
    return c;
  };
  let demo: DemoScript | undefined;
  let config: HooklineConfig;
  try {
    config = load();
  } catch (e) {
    if (e instanceof ConfigError) { err(`hookline: config error: ${e.message}`); return 2; }
    throw e;
  }
  configureLogging(config.log.level);
  const log = getLogger('cli');
  if (values.demo || !values.config) {
    demo = await startDemoScript();
    config = load();
  }
  const sw = await Switch.start(config);
  const addr = sw.addresses();
  out(`hookline: listening for SIP on ${addr.sip.map((a) => `${a.transport}://${a.address}:${a.port}`).join(' ')}; RTP ${config.rtp.portMin}-${config.rtp.portMax}`);
  if (addr.admin) out(`hookline: admin endpoint at ${addr.admin} (hookline debug / hookline cdrs --admin ${addr.admin})`);
  if (demo) out(`hookline: demo web script at ${demo.url}; try: npx hookline call sip:4999@127.0.0.1:${addr.sip[0]?.port ?? 5060} --from 99992 --digits 123# --record out.wav`);
  log.info({ sip: addr.sip }, 'hookline started');
  // SIGHUP: reload the config file (one reload at a time; a bad file is refused and the running config kept).
  let reloading = Promise.resolve();
  const onHup = (): void => {
    reloading = reloading.then(async () => {
      if (!values.config) { err('hookline: SIGHUP: no --config file to reload'); return; }
      let next: HooklineConfig;
      try { next = load(); } catch (e) {
        err(`hookline: config reload refused, keeping the running config: ${e instanceof ConfigError ? e.message : String(e)}`);
        return;
      }
      const r = await sw.reload(next);
      if (next.log.level !== config.log.level) { configureLogging(next.log.level); config = next; }
      const restart = r.restartNeeded.filter((k) => k !== 'log');
      out(`hookline: config reloaded (changed: ${r.applied.join(', ') || 'nothing'})${restart.length ? `; needs a restart to change: ${restart.join(', ')}` : ''}`);
    }).catch((e: unknown) => { err(`hookline: config reload failed: ${String(e)}`); });
  };
  process.on('SIGHUP', onHup);
  await new Promise<void>((resolve) => {
    const stop = (): void => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve(); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  process.off('SIGHUP', onHup);
  out('hookline: shutting down (ending calls)');
  await sw.close();
  await demo?.close();
  return 0;
}

async function call(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      from: { type: 'string', default: '1000' },
      digits: { type: 'string', default: '' },
      record: { type: 'string' },
      'wait-ms': { type: 'string', default: '1500' },
      'max-seconds': { type: 'string', default: '60' },
      transport: { type: 'string', default: 'udp' },
      'log-level': { type: 'string', default: 'warn' },
    },
    allowPositionals: true,
  });
  const target = positionals[0];
  if (!target || !/^sips?:/.test(target)) { err('hookline call: give a SIP URI, e.g. sip:4999@127.0.0.1:5060'); return 2; }
  if (values.transport !== 'udp' && values.transport !== 'tcp') { err('hookline call: --transport must be udp or tcp'); return 2; }
  if (!/^[0-9A-D*#]*$/i.test(values.digits)) { err('hookline call: --digits may only hold 0-9, *, #, A-D'); return 2; }
  configureLogging(validateConfig({ log: { level: values['log-level'] } }).log.level);
  const result = await placeCall({
    uri: target,
    from: values.from,
    digits: values.digits.toUpperCase(),
    waitMs: Number(values['wait-ms']),
    maxSeconds: Number(values['max-seconds']),
    transport: values.transport,
    record: values.record !== undefined,
  });
  if (values.record && result.audio) {
    writeFileSync(values.record, writeWav(result.audio, 8000));
  }
  out(`call: ${result.outcome}${result.status ? ` (${result.status}${result.reason ? ` ${result.reason}` : ''})` : ''}`);
  if (result.answered) {
    out(`call: answered after ${result.setupMs} ms, codec ${result.codec}, lasted ${(result.durationMs / 1000).toFixed(1)} s, ended by ${result.endedBy}`);
    if (values.digits) out(`call: sent digits ${values.digits}`);
    if (result.audio) {
      out(`call: heard ${(result.heardSeconds).toFixed(1)} s of sound in ${(result.audio.length / 8000).toFixed(1)} s of audio (RMS ${result.rms.toFixed(0)})${values.record ? `, written to ${values.record}` : ''}`);
    }
    const m = result.media;
    if (m) {
      const far = m.remoteFractionLost >= 0
        ? `; the far end's RTCP: ${m.remoteLost} of ours lost, jitter ${m.remoteJitterMs.toFixed(1)} ms${m.rttMs >= 0 ? `, round trip ${m.rttMs.toFixed(1)} ms` : ''}`
        : '; no RTCP report from the far end';
      out(`call: RTP sent ${m.sent}, received ${m.received}, lost ${m.lost}, jitter ${m.jitterMs.toFixed(1)} ms${far}`);
    }
  }
  return result.answered ? 0 : 1;
}

/**
 * `hookline debug [CALL_ID]` and `hookline cdrs [...]`: read a running switch's admin endpoint (config `admin`).
 * The URL comes from --admin or HOOKLINE_ADMIN, the token from --token or HOOKLINE_ADMIN_TOKEN.
 */
async function admin(kind: 'debug' | 'cdrs', argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      admin: { type: 'string' }, token: { type: 'string' }, 'call-id': { type: 'string' }, account: { type: 'string' },
      since: { type: 'string' }, until: { type: 'string' }, cause: { type: 'string' }, limit: { type: 'string' },
    },
    allowPositionals: true,
  });
  const base = values.admin ?? process.env.HOOKLINE_ADMIN;
  if (!base) { err(`hookline ${kind}: no admin endpoint: set admin.port in the switch's config, then pass --admin http://127.0.0.1:PORT (or HOOKLINE_ADMIN)`); return 2; }
  let path: string;
  if (kind === 'debug') {
    path = positionals[0] ? `/debug/${encodeURIComponent(positionals[0])}` : `/debug${values.account ? `?account=${encodeURIComponent(values.account)}` : ''}`;
  } else {
    const q = new URLSearchParams();
    const map: Array<[string, string | undefined]> = [['call_id', values['call-id']], ['account', values.account], ['since', values.since], ['until', values.until], ['cause', values.cause], ['limit', values.limit]];
    for (const [k, v] of map) if (v !== undefined) q.set(k, v);
    path = `/cdrs${q.size ? `?${q.toString()}` : ''}`;
  }
  const token = values.token ?? process.env.HOOKLINE_ADMIN_TOKEN;
  let res: Response;
  try {
    res = await fetch(new URL(path, base), { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(10000) });
  } catch (e) {
    err(`hookline ${kind}: cannot reach ${base}: ${e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e)}`);
    return 1;
  }
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* print as is */ }
  if (!res.ok) { err(`hookline ${kind}: ${res.status}: ${typeof body === 'object' && body && 'error' in body ? String((body as { error: unknown }).error) : text}`); return 1; }
  out(JSON.stringify(body, null, 2));
  return 0;
}

/** `hookline bench ...`: runs the compiled bench runner in a child process (it manages its own children and signals). */
async function bench(argv: string[]): Promise<number> {
  const runner = fileURLToPath(new URL('../../bench/run.js', import.meta.url));
  if (!existsSync(runner)) { err('hookline bench: the bench suite is not built; run `npm run build` first'); return 1; }
  const child = spawn(process.execPath, [runner, ...argv], { stdio: 'inherit' });
  const forward = (sig: NodeJS.Signals): void => { child.kill(sig); };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  try {
    return await new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : 1))));
  } finally {
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
  }
}

export async function cli(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'serve': return await serve(rest);
      case 'call': return await call(rest);
      case 'bench': return await bench(rest);
      case 'debug': return await admin('debug', rest);
      case 'cdrs': return await admin('cdrs', rest);
      case 'check-config': {
        if (!rest[0]) { err('hookline check-config FILE'); return 2; }
        const checked = loadConfigFile(rest[0]);
        out(`${rest[0]}: ok`);
        if (checked.tts.voicesDir) for (const line of piperReport(checked.tts.voicesDir)) out(line);
        return 0;
      }
      case undefined: case 'help': case '--help': case '-h': out(USAGE); return cmd === undefined ? 2 : 0;
      default: err(`hookline: unknown command ${cmd}\n\n${USAGE}`); return 2;
    }
  } catch (e) {
    if (e instanceof ConfigError) { err(`hookline: config error: ${e.message}`); return 2; }
    if (e instanceof Error && 'code' in e && (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') { err(`hookline: ${e.message}`); return 2; }
    err(`hookline: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    return 1;
  }
}

const isMain = (() => {
  try { return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url)); } catch { return false; }
})();
if (isMain) {
  cli(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: unknown) => { err(String(e)); process.exitCode = 1; });
}
