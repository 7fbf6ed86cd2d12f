/**
 * Small numeric helpers for the load benches: percentiles over raw samples, sparse histograms, the E-model.
 * A measure that could not be taken is `{ value: null, reason }`, never a made-up number.
 */

/** A measured value, or null with the reason it is missing. */
export interface Measure {
  value: number | null;
  unit: string;
  /** Why the value is null (absent when it is a number). */
  reason?: string;
  /** Where the number comes from (raw samples in the report it can be recomputed from). */
  from?: string;
}

export function measured(value: number, unit: string, from?: string): Measure {
  return from === undefined ? { value: round(value), unit } : { value: round(value), unit, from };
}

export function missing(unit: string, reason: string): Measure {
  return { value: null, unit, reason };
}

/** Round to 3 decimals (reports; raw samples keep what they had). */
export function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/** Nearest-rank percentile (p in 0..1) of unsorted samples; null when there are none. */
export function percentile(samples: readonly number[], p: number): number | null {
  if (samples.length === 0) return null;
  const s = samples.slice().sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil(p * s.length)));
  return s[rank - 1]!;
}

export function mean(samples: readonly number[]): number | null {
  if (samples.length === 0) return null;
  let t = 0;
  for (const v of samples) t += v;
  return t / samples.length;
}

export function max(samples: readonly number[]): number | null {
  if (samples.length === 0) return null;
  let m = -Infinity;
  for (const v of samples) if (v > m) m = v;
  return m;
}

/** Percentile from a sparse histogram `[[binIndex, count], ...]` with bins of `step` starting at `min`. Upper bin edge. */
export function sparsePercentile(sparse: ReadonlyArray<readonly [number, number]>, p: number, min: number, step: number): number | null {
  let total = 0;
  for (const [, c] of sparse) total += c;
  if (total === 0) return null;
  const sorted = sparse.slice().sort((a, b) => a[0] - b[0]);
  const want = Math.ceil(total * p);
  let acc = 0;
  for (const [bin, c] of sorted) {
    acc += c;
    if (acc >= want) return min + (bin + 1) * step;
  }
  return min + (sorted[sorted.length - 1]![0] + 1) * step;
}

/** Merge sparse histograms. */
export function mergeSparse(all: ReadonlyArray<ReadonlyArray<readonly [number, number]>>): Array<[number, number]> {
  const m = new Map<number, number>();
  for (const h of all) for (const [b, c] of h) m.set(b, (m.get(b) ?? 0) + c);
  return [...m.entries()].sort((a, b) => a[0] - b[0]);
}

/** A dense histogram as sparse pairs (non-zero bins only). */
export function toSparse(hist: ArrayLike<number>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < hist.length; i++) if (hist[i]! > 0) out.push([i, hist[i]!]);
  return out;
}

/**
 * E-model (ITU-T G.107, simplified as in G.113 Appendix / common VoIP practice) for G.711 with packet loss
 * concealment: R = 93.2 − Id − Ie,eff; Id = 0.024·d + 0.11·(d − 177.3)·H(d − 177.3);
 * Ie,eff = Ie + (95 − Ie)·Ppl / (Ppl + Bpl) with Ie = 0 and Bpl = 25.1 (G.711 with PLC, random loss);
 * MOS = 1 + 0.035·R + R·(R − 60)·(100 − R)·7·10⁻⁶ (R clamped to 0..100).
 * `delayMs` is the one-way mouth-to-ear delay, `lossPct` the packet loss in percent (late packets included).
 */
export function eModel(delayMs: number, lossPct: number): { r: number; mos: number } {
  const d = Math.max(0, delayMs);
  const id = 0.024 * d + (d > 177.3 ? 0.11 * (d - 177.3) : 0);
  const ppl = Math.max(0, lossPct);
  const ie = 0;
  const bpl = 25.1;
  const ieEff = ie + ((95 - ie) * ppl) / (ppl + bpl);
  let r = 93.2 - id - ieEff;
  r = Math.max(0, Math.min(100, r));
  const mos = r <= 0 ? 1 : 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
  return { r: round(r), mos: round(Math.max(1, Math.min(4.5, mos))) };
}
