/**
 * The system under test. Either Hookline started by the bench in a child process
 * (`node --import agent.js dist/src/cli/main.js serve --config <generated>`), so its CPU and RSS are measured apart
 * from the load generators and the agent reports event-loop delay, GC and send pacing from inside it; or an
 * external SIP system (`--target HOST:PORT`) that the bench only calls.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync, openSync, closeSync, readSync, existsSync, statSync, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AgentSample } from './agent.js';
import { track } from './children.js';

export interface Target {
  host: string;
  port: number;
  /** Pid of the Hookline child, when the bench started it. */
  pid: number | null;
  external: boolean;
  /** The generated config (null for an external target). */
  config: Record<string, unknown> | null;
  /** The exact command line of the child. */
  command: string | null;
  /** New agent samples since the last call (empty for an external target). */
  readAgent(): AgentSample[];
  stop(): Promise<void>;
}

export interface StartOptions {
  dir: string;
  /** Dialled number → web script URL. */
  numbers: Record<string, string>;
  rtpPortMin: number;
  rtpPortMax: number;
  workers?: number;
  /** rtp.niceness of the media threads (default: the config default). */
  niceness?: number;
  /** Extra node flags for the child (e.g. --max-old-space-size=256). */
  nodeFlags?: string[];
  /** Prefix command (e.g. ['taskset', '-c', '0']). */
  prefix?: string[];
  logLevel?: string;
  /** More config sections (e.g. `carriers` for the bridge scenario). */
  extraConfig?: Record<string, unknown>;
}

const root = fileURLToPath(new URL('../../../', import.meta.url));

export async function startHookline(o: StartOptions): Promise<Target> {
  const numbers: Record<string, unknown> = {};
  for (const [n, url] of Object.entries(o.numbers)) {
    numbers[n] = { account: 'bench', flow: { module: 'pivot', data: { voice_url: url, method: 'post', req_body_format: 'form' } } };
  }
  const config = {
    sip: { listen: '127.0.0.1', port: 0, transports: ['udp'] },
    rtp: { address: '127.0.0.1', portMin: o.rtpPortMin, portMax: o.rtpPortMax, workers: o.workers ?? 0, timeoutSeconds: 60, ...(o.niceness !== undefined ? { niceness: o.niceness } : {}) },
    calls: { maxConcurrent: 20000 },
    accounts: [{ id: 'bench' }],
    numbers,
    log: { level: o.logLevel ?? 'warn' },
    ...(o.extraConfig ?? {}),
  };
  const configFile = join(o.dir, 'hookline-bench.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const agentFile = join(o.dir, 'agent.jsonl');
  writeFileSync(agentFile, '');
  const agentUrl = pathToFileURL(fileURLToPath(new URL('./agent.js', import.meta.url))).href;
  const main = join(root, 'dist/src/cli/main.js');
  const args = [...(o.nodeFlags ?? []), '--import', agentUrl, main, 'serve', '--config', configFile];
  const [cmd, ...pre] = o.prefix && o.prefix.length ? [...o.prefix, process.execPath] : [process.execPath];
  const fullArgs = [...pre, ...args];
  // The target's log (stdout) and anything it prints on stderr both go to hookline.log, appended, so that warnings
  // during the run and the output of --node-flags such as --trace-gc are kept with the report.
  const logFile = join(o.dir, 'hookline.log');
  writeFileSync(logFile, '');
  const logFd = openSync(logFile, 'a');
  const child: ChildProcess = spawn(cmd!, fullArgs, {
    cwd: root, stdio: ['ignore', 'pipe', logFd], env: { ...process.env, HOOKLINE_BENCH_AGENT: agentFile },
  });
  closeSync(logFd);
  track(child);
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`hookline did not start within 20 s: ${out.slice(-500)}`)), 20000);
    child.stdout!.on('data', (d: Buffer) => {
      out = (out + d.toString()).slice(-20000);
      const m = /listening for SIP on udp:\/\/[^:\s]+:(\d+)/.exec(out);
      if (m) { clearTimeout(t); resolve(Number(m[1])); }
    });
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`hookline exited (${code}) at start: ${out.slice(-500)}`)); });
  });
  const logOut = createWriteStream(logFile, { flags: 'a' });
  logOut.write(out);
  child.stdout!.removeAllListeners('data');
  child.stdout!.pipe(logOut);
  let agentOffset = 0;
  let partial = '';
  return {
    host: '127.0.0.1', port, pid: child.pid ?? null, external: false, config,
    command: [cmd, ...fullArgs].join(' '),
    readAgent(): AgentSample[] {
      if (!existsSync(agentFile)) return [];
      const size = statSync(agentFile).size;
      if (size <= agentOffset) return [];
      const fd = openSync(agentFile, 'r');
      const buf = Buffer.alloc(size - agentOffset);
      readSync(fd, buf, 0, buf.length, agentOffset);
      closeSync(fd);
      agentOffset = size;
      const text = partial + buf.toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      const out: AgentSample[] = [];
      for (const l of lines) { try { out.push(JSON.parse(l) as AgentSample); } catch { /* torn line */ } }
      return out;
    },
    async stop(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await new Promise<void>((r) => {
        const t = setTimeout(() => { child.kill('SIGKILL'); r(); }, 5000);
        child.once('exit', () => { clearTimeout(t); r(); });
      });
    },
  };
}

export function externalTarget(hostPort: string): Target {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(hostPort);
  if (!m) throw new Error(`--target wants HOST:PORT, got ${hostPort}`);
  return {
    host: m[1]!, port: Number(m[2]), pid: null, external: true, config: null, command: null,
    readAgent: () => [],
    stop: async () => { /* not ours */ },
  };
}
