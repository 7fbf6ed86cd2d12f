/**
 * Per-process CPU and RSS from /proc/<pid>/stat, sampled once a second: CPU = Δ(utime + stime) / Δwall, in percent
 * of one core (200 % = both cores of a 2-core machine); RSS = field 24 × page size. Linux only; elsewhere every
 * sample is missing and the report says so.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export interface ProcSample {
  /** Date.now() */
  t: number;
  role: string;
  pid: number;
  /** Percent of one core since the previous sample of this pid (null on the first sample). */
  cpuPct: number | null;
  rssMB: number;
  /** Cumulative user+system CPU seconds of the process. */
  cpuSeconds: number;
}

function sysconf(name: string, fallback: number): number {
  try { return Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim()) || fallback; } catch { return fallback; }
}

const CLK_TCK = sysconf('CLK_TCK', 100);
const PAGE = sysconf('PAGESIZE', 4096);

/** user+system seconds and RSS bytes of a pid, or null when it is gone / not Linux. */
export function readProc(pid: number): { cpuSeconds: number; rssBytes: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces: fields start after the last ')'.
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); utime = field 14, stime = 15, rss = 24.
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    const rss = Number(rest[21]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime) || !Number.isFinite(rss)) return null;
    return { cpuSeconds: (utime + stime) / CLK_TCK, rssBytes: rss * PAGE };
  } catch {
    return null;
  }
}

export class ProcSampler {
  readonly samples: ProcSample[] = [];
  private readonly watched = new Map<number, { role: string; lastCpu: number; lastT: number }>();
  private timer: NodeJS.Timeout | undefined;
  /** Bounded: a soak at one sample per second per process keeps at most this many. */
  private readonly maxSamples = 200_000;

  watch(pid: number, role: string): void {
    const p = readProc(pid);
    this.watched.set(pid, { role, lastCpu: p?.cpuSeconds ?? 0, lastT: Date.now() });
  }

  unwatch(pid: number): void { this.watched.delete(pid); }

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): void {
    const now = Date.now();
    for (const [pid, w] of this.watched) {
      const p = readProc(pid);
      if (!p) { this.watched.delete(pid); continue; }
      const dt = (now - w.lastT) / 1000;
      const cpuPct = dt > 0.2 ? ((p.cpuSeconds - w.lastCpu) / dt) * 100 : null;
      if (cpuPct !== null) { w.lastCpu = p.cpuSeconds; w.lastT = now; }
      if (this.samples.length < this.maxSamples) {
        this.samples.push({ t: now, role: w.role, pid, cpuPct: cpuPct === null ? null : Math.round(cpuPct * 10) / 10, rssMB: Math.round(p.rssBytes / 104857.6) / 10, cpuSeconds: p.cpuSeconds });
      }
    }
  }

  stop(): void { clearInterval(this.timer); }
}
