/**
 * SIPp as the load generator: one process per load increment (the ivr ramp adds one per step), each in its own
 * folder so its `-trace_stat` CSV (one row per second) and `-trace_rtt` CSV (INVITE → 200 of every call) can be
 * read while it runs. Stopped with SIGUSR1 (SIPp stops placing calls and exits when its calls end), then SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { track } from './children.js';

export interface SippStatRow {
  /** Date.now() of the row (SIPp's CurrentTime column). */
  t: number;
  created: number;
  current: number;
  successful: number;
  failed: number;
  retransmissions: number;
}

export interface RttSample { /** Date.now() at the 200 OK (SIPp start + Date_ms). */ t: number; ms: number }

export class SippProcess {
  private constructor(readonly child: ChildProcess, readonly dir: string, readonly startedAt: number, readonly args: string[]) {
    child.stderr?.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-4000); });
  }
  stderr = '';

  get pid(): number | null { return this.child.pid ?? null; }
  get running(): boolean { return this.child.exitCode === null && this.child.signalCode === null; }

  static start(dir: string, args: string[]): SippProcess {
    mkdirSync(dir, { recursive: true });
    const full = ['-nostdin', '-trace_stat', '-stf', join(dir, 'stat.csv'), '-fd', '1', '-trace_rtt', '-rtt_freq', '1', ...args];
    const child = spawn('sipp', full, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    child.on('error', () => { /* reported through `running` and the missing stat file */ });
    track(child);
    return new SippProcess(child, dir, Date.now(), full);
  }

  /** All per-second rows so far. */
  stats(): SippStatRow[] {
    const f = join(this.dir, 'stat.csv');
    if (!existsSync(f)) return [];
    const lines = readFileSync(f, 'utf8').trim().split('\n');
    if (lines.length < 2) return [];
    const head = lines[0]!.split(';');
    const col = (n: string): number => head.indexOf(n);
    const ci = { t: col('CurrentTime'), created: col('OutgoingCall(C)'), current: col('CurrentCall'), ok: col('SuccessfulCall(C)'), failed: col('FailedCall(C)'), rt: col('Retransmissions(C)') };
    const out: SippStatRow[] = [];
    for (const l of lines.slice(1)) {
      const c = l.split(';');
      // CurrentTime looks like "2026-11-25\t19:50:01.123456\t1795635001.123456": the epoch seconds come last.
      const tf = (c[ci.t] ?? '').trim().split(/\s+/);
      const epoch = Number(tf[tf.length - 1]);
      out.push({
        t: Number.isFinite(epoch) ? Math.round(epoch * 1000) : NaN,
        created: Number(c[ci.created]), current: Number(c[ci.current]), successful: Number(c[ci.ok]),
        failed: Number(c[ci.failed]), retransmissions: Number(c[ci.rt]),
      });
    }
    return out.filter((r) => Number.isFinite(r.t));
  }

  /** Setup delays (ms, SIPp's 1 ms resolution) of every answered call so far. */
  rtt(): RttSample[] {
    const f = existsSync(this.dir) ? readdirSync(this.dir).find((n) => n.endsWith('_rtt.csv')) : undefined;
    if (!f) return [];
    const out: RttSample[] = [];
    for (const l of readFileSync(join(this.dir, f), 'utf8').split('\n').slice(1)) {
      const c = l.split(';');
      if (c.length < 3) continue;
      const at = Number(c[0]); const ms = Number(c[1]);
      if (Number.isFinite(at) && Number.isFinite(ms)) out.push({ t: this.startedAt + at, ms });
    }
    return out;
  }

  /** Stop placing calls; resolve when SIPp has exited (SIGKILL after `graceMs`). */
  async stop(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGUSR1');
    await new Promise<void>((r) => {
      const t = setTimeout(() => { this.child.kill('SIGKILL'); r(); }, graceMs);
      this.child.once('exit', () => { clearTimeout(t); r(); });
    });
  }

  kill(): void { if (this.running) this.child.kill('SIGKILL'); }
}

export function hasSipp(): boolean {
  const path = (process.env.PATH ?? '').split(':');
  return path.some((p) => p && existsSync(join(p, 'sipp')));
}

async function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const u = createSocket('udp4');
    u.once('error', () => { u.close(); resolve(false); });
    u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
  });
}

/** A free port on 127.0.0.1 for UDP and TCP. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const s = createServer();
    const p = await new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
    await new Promise<void>((r) => s.close(() => r()));
    if (await udpFree(p)) return p;
  }
  throw new Error('no free port');
}

/** An even port with the next three free (SIPp media: audio and video ports). */
export async function freeMediaPort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const p = await freePort();
    const even = p + (p & 1);
    if (even > 65000) continue;
    const ok = await Promise.all([even, even + 1, even + 2, even + 3].map(udpFree));
    if (ok.every(Boolean)) return even;
  }
  throw new Error('no free media port');
}
