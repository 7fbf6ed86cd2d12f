/**
 * Bench agent, preloaded into the Hookline child process the bench starts (`node --import <this> main.js serve`).
 * Once a second it appends one JSON line to the file named by HOOKLINE_BENCH_AGENT: main-thread event-loop delay
 * (perf_hooks.monitorEventLoopDelay), main-thread GC pauses (PerformanceObserver 'gc'), heap, the switch's active
 * calls, and the media workers' send-pacing histogram (MediaEngine.pacerStats, reset each second: send time minus
 * deadline) and their GC counts. It finds the Switch and MediaEngine by wrapping their static `start` (same module
 * instances as the CLI's, since ESM modules are singletons). Nothing runs in worker threads.
 */
import { isMainThread } from 'node:worker_threads';
import { monitorEventLoopDelay, PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { appendFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';

export interface AgentSample {
  /** Date.now() at the sample. */
  t: number;
  eld: { p50: number; p99: number; max: number };
  /** Main-thread GC this second; `majorMs`/`majorMaxMs`: the mark-compact (full) collections among them. */
  gc: { count: number; ms: number; maxMs: number; majorMs?: number; majorMaxMs?: number };
  heapUsedMB: number;
  rssMB: number;
  /** Main thread: memory outside the V8 heap (Buffers, ArrayBuffers) and V8's reserved heap, MB. */
  externalMB?: number;
  heapTotalMB?: number;
  /** Main thread: V8 heap spaces, committed MB by space name (new_space is the young generation's semi-spaces). */
  spacesMB?: Record<string, number>;
  calls: number | null;
  /** INVITEs the switch has refused for overload so far (overload guard and `calls.maxInSetup`; cumulative), and calls in setup now. */
  shed?: number | null;
  inSetup?: number | null;
  /** The overload guard: share of new calls refused, and the SIP receive-queue delay it last measured (ms). */
  overload?: { shedShare: number; queueDelayMs: number } | null;
  pacer: {
    sent: number; lateP50: number; lateP99: number; lateMax: number; resyncs: number; received: number;
    workerGcCount: number; workerGcMs: number;
    /** V8 heap of all media threads: used and reserved, MB. */
    workerHeapUsedMB?: number; workerHeapTotalMB?: number;
    /** CPU time of the media threads in this second, ms (-1: unknown). */
    cpuMs: number;
    /** Event-loop delay of the media threads in this second (the worst worker), ms. */
    loopP99Ms: number; loopMaxMs: number;
    /** Sparse lateness histogram: [bin, count], bin i = [HIST_MIN + i*STEP, +STEP) ms. */
    hist: Array<[number, number]>;
  } | null;
}

async function main(out: string): Promise<void> {
  const { Switch } = await import('../../src/pbx/switch.js');
  const { MediaEngine } = await import('../../src/rtp/media-engine.js');
  type SwitchT = Awaited<ReturnType<typeof Switch.start>>;
  type EngineT = Awaited<ReturnType<typeof MediaEngine.start>>;
  const switches: SwitchT[] = [];
  const engines: EngineT[] = [];
  const origSwitch = Switch.start.bind(Switch);
  (Switch as { start: typeof Switch.start }).start = async (...a: Parameters<typeof Switch.start>) => {
    const s = await origSwitch(...a);
    switches.push(s);
    return s;
  };
  const origEngine = MediaEngine.start.bind(MediaEngine);
  (MediaEngine as { start: typeof MediaEngine.start }).start = async (...a: Parameters<typeof MediaEngine.start>) => {
    const e = await origEngine(...a);
    engines.push(e);
    return e;
  };

  const eld = monitorEventLoopDelay({ resolution: 5 });
  eld.enable();
  let gcCount = 0; let gcMs = 0; let gcMax = 0; let majorMs = 0; let majorMax = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcCount++; gcMs += e.duration; if (e.duration > gcMax) gcMax = e.duration;
      if (((e as unknown as { detail?: { kind?: number } }).detail)?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) { majorMs += e.duration; if (e.duration > majorMax) majorMax = e.duration; }
    }
  });
  obs.observe({ entryTypes: ['gc'] });

  const timer = setInterval(() => {
    void (async () => {
      let pacer: AgentSample['pacer'] = null;
      const engine = engines[0];
      if (engine) {
        try {
          const p = await engine.pacerStats(true);
          const hist: Array<[number, number]> = [];
          for (let i = 0; i < p.hist.length; i++) if (p.hist[i]! > 0) hist.push([i, p.hist[i]!]);
          pacer = {
            sent: p.sent, lateP50: p.lateP50, lateP99: p.lateP99, lateMax: p.lateMax, resyncs: p.resyncs, received: p.received,
            workerGcCount: p.gcCount, workerGcMs: p.gcMs,
            workerHeapUsedMB: p.heapUsedMB, workerHeapTotalMB: p.heapTotalMB, cpuMs: p.cpuMs, loopP99Ms: p.loopP99Ms, loopMaxMs: p.loopMaxMs, hist,
          };
        } catch { pacer = null; }
      }
      const mem = process.memoryUsage();
      const sw = switches[0]?.stats();
      const s: AgentSample = {
        t: Date.now(),
        eld: { p50: eld.percentile(50) / 1e6, p99: eld.percentile(99) / 1e6, max: eld.max / 1e6 },
        gc: { count: gcCount, ms: gcMs, maxMs: gcMax, majorMs, majorMaxMs: majorMax },
        heapUsedMB: mem.heapUsed / 1048576,
        rssMB: mem.rss / 1048576,
        externalMB: mem.external / 1048576,
        heapTotalMB: mem.heapTotal / 1048576,
        spacesMB: Object.fromEntries(getHeapSpaceStatistics().map((sp) => [sp.space_name, Math.round(sp.physical_space_size / 104857.6) / 10])),
        calls: sw ? sw.calls : null,
        shed: sw ? sw.callsShed : null,
        inSetup: sw ? sw.callsInSetup : null,
        overload: sw ? sw.overload : null,
        pacer,
      };
      eld.reset();
      gcCount = 0; gcMs = 0; gcMax = 0; majorMs = 0; majorMax = 0;
      try { appendFileSync(out, `${JSON.stringify(s)}\n`); } catch { /* the bench went away */ }
    })();
  }, 1000);
  timer.unref();
}

const out = process.env.HOOKLINE_BENCH_AGENT;
if (isMainThread && out) await main(out);
