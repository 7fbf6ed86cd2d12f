/**
 * Band-limited sample-rate conversion: a Kaiser-windowed sinc low-pass evaluated as a polyphase filter.
 *
 * For a conversion from → to with L/M = to/from in lowest terms, output sample j sits at input time
 * j·M/L; its L possible fractional offsets ("phases") each get a precomputed set of taps. The low-pass
 * is centred on half the LOWER of the two rates, with a transition band of ±10 % of that (so for
 * 16 kHz → 8 kHz: flat to 3.6 kHz, ≥ 70 dB down from 4.4 kHz; 5 kHz, which would alias to 3 kHz, is
 * removed). Each phase is normalised to unity DC gain. When L is large (rates with no common factor)
 * the phase is quantised to MAX_PHASES steps, an error of < 1/2048 of a sample.
 *
 * `resample()` converts a whole buffer; `Resampler` converts a stream chunk by chunk (keeping the filter
 * history), writing into the caller's buffer.
 */

/** Stop-band attenuation the filter is designed for, dB. */
const STOPBAND_DB = 70;
/** Half the transition band as a fraction of the lower Nyquist frequency. */
const TRANSITION = 0.1;
const MAX_PHASES = 1024;

interface FilterBank {
  /** Number of phases (L, or MAX_PHASES when quantised). */
  phases: number;
  /** Taps per phase (2K). */
  taps: number;
  /** K: taps reach K-1 input samples back and K forward of the base sample. */
  half: number;
  /** phases × taps coefficients; phase p's tap d applies to input sample base - half + 1 + d. */
  coeffs: Float32Array;
  /** Rational step: output advances by `step / phasesExact` input samples. */
  num: number;
  den: number;
  /** Exact phases (L) — may differ from `phases` when quantised. */
  exact: boolean;
}

const bankCache = new Map<string, FilterBank>();
const BANK_CACHE_LIMIT = 16;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Modified Bessel function of the first kind, order 0 (series; converges fast for β ≤ 10). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 50; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

function filterBank(fromRate: number, toRate: number): FilterBank {
  const key = `${fromRate}>${toRate}`;
  const cached = bankCache.get(key);
  if (cached) return cached;
  const g = gcd(fromRate, toRate);
  const L = toRate / g;
  const M = fromRate / g;
  const exact = L <= MAX_PHASES;
  const phases = exact ? L : MAX_PHASES;
  // Filter in units of input samples.
  const nyq = Math.min(fromRate, toRate) / 2;
  const fc = nyq / fromRate; // cutoff, cycles per input sample
  const df = (2 * TRANSITION * nyq) / fromRate; // full transition width
  const beta = 0.1102 * (STOPBAND_DB - 8.7);
  const length = Math.ceil((STOPBAND_DB - 8) / (2.285 * 2 * Math.PI * df));
  const half = Math.max(2, Math.ceil(length / 2));
  const taps = 2 * half;
  const coeffs = new Float32Array(phases * taps);
  const i0b = besselI0(beta);
  for (let p = 0; p < phases; p++) {
    const frac = p / phases;
    let sum = 0;
    for (let d = 0; d < taps; d++) {
      // Distance (input samples) from the output instant to input sample base - half + 1 + d.
      const t = frac - (d - half + 1);
      const x = 2 * fc * t;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const r = t / half;
      const w = r * r >= 1 ? 0 : besselI0(beta * Math.sqrt(1 - r * r)) / i0b;
      const h = 2 * fc * sinc * w;
      coeffs[p * taps + d] = h;
      sum += h;
    }
    for (let d = 0; d < taps; d++) coeffs[p * taps + d] = coeffs[p * taps + d]! / sum;
  }
  const bank: FilterBank = { phases, taps, half, coeffs, num: M, den: L, exact };
  if (bankCache.size >= BANK_CACHE_LIMIT) bankCache.delete(bankCache.keys().next().value as string);
  bankCache.set(key, bank);
  return bank;
}

function clamp16(v: number): number {
  const r = Math.round(v);
  return r > 32767 ? 32767 : r < -32768 ? -32768 : r;
}

/** Number of output samples `resample()` produces for `inputLength` samples. */
export function resampledLength(inputLength: number, fromRate: number, toRate: number): number {
  if (inputLength <= 0) return 0;
  const g = gcd(fromRate, toRate);
  const L = toRate / g;
  const M = fromRate / g;
  return Math.floor(((inputLength - 1) * L) / M) + 1;
}

function checkRates(fromRate: number, toRate: number): void {
  for (const r of [fromRate, toRate]) {
    if (!Number.isInteger(r) || r < 1000 || r > 384000) throw new RangeError(`resample: unsupported sample rate ${r}`);
  }
}

/** Convert a whole PCM16 buffer from `fromRate` to `toRate` (samples outside the buffer count as silence). */
export function resample(pcm: Int16Array, fromRate: number, toRate: number): Int16Array {
  checkRates(fromRate, toRate);
  if (fromRate === toRate) return pcm.slice();
  const bank = filterBank(fromRate, toRate);
  const { taps, half, coeffs, num: M, den: L, phases, exact } = bank;
  const outLen = resampledLength(pcm.length, fromRate, toRate);
  const out = new Int16Array(outLen);
  const n = pcm.length;
  for (let j = 0; j < outLen; j++) {
    const pos = j * M; // in units of 1/L input samples
    const base = Math.floor(pos / L);
    const rem = pos - base * L;
    const p = exact ? rem : Math.min(phases - 1, Math.round((rem / L) * phases));
    const c = p * taps;
    const first = base - half + 1;
    let acc = 0;
    if (first >= 0 && first + taps <= n) {
      for (let d = 0; d < taps; d++) acc += coeffs[c + d]! * pcm[first + d]!;
    } else {
      for (let d = 0; d < taps; d++) {
        const i = first + d;
        if (i >= 0 && i < n) acc += coeffs[c + d]! * pcm[i]!;
      }
    }
    out[j] = clamp16(acc);
  }
  return out;
}

/**
 * Streaming converter: feed chunks of any size, get the output produced so far. Holds `taps` samples of
 * history; output is delayed by about `half` input samples relative to `resample()` of the whole stream
 * (it waits for look-ahead), and `flush()` drains the tail.
 */
export class Resampler {
  private readonly bank: FilterBank;
  private readonly history: Float32Array;
  /** Input samples consumed so far (absolute index of the next input sample). */
  private consumed = 0;
  /** Next output sample index. */
  private produced = 0;

  constructor(
    readonly fromRate: number,
    readonly toRate: number,
  ) {
    checkRates(fromRate, toRate);
    this.bank = filterBank(fromRate, toRate);
    // Ring of the last 2·taps input samples (power-of-two size for cheap wrap).
    let size = 1;
    while (size < 2 * this.bank.taps + 2) size <<= 1;
    this.history = new Float32Array(size);
  }

  /** Upper bound of output samples produced by `process()` for `inputLength` more samples. */
  maxOutput(inputLength: number): number {
    return Math.ceil(((inputLength + 1) * this.toRate) / this.fromRate) + 1;
  }

  /**
   * Consume `input` and write the output samples that are now computable into `out` (which must hold
   * `maxOutput(input.length)`). Returns the number written. No allocation.
   */
  process(input: Int16Array, out: Int16Array): number {
    return this.run(input, input.length, out, false);
  }

  /** Emit the tail (treating further input as silence). Returns the number written. */
  flush(out: Int16Array): number {
    return this.run(undefined, 0, out, true);
  }

  reset(): void {
    this.history.fill(0);
    this.consumed = 0;
    this.produced = 0;
  }

  private run(input: Int16Array | undefined, count: number, out: Int16Array, flushing: boolean): number {
    const { taps, half, coeffs, num: M, den: L, phases, exact } = this.bank;
    const h = this.history;
    const mask = h.length - 1;
    let w = 0;
    let next = 0; // index into input
    const end = this.consumed + count;
    // Last input index available (absolute); when flushing pretend K more zeros exist.
    const limit = flushing ? this.consumed + half : end;
    if (flushing) {
      for (let i = 0; i < half; i++) h[(this.consumed + i) & mask] = 0;
    }
    for (;;) {
      const pos = this.produced * M;
      const base = Math.floor(pos / L);
      const lastNeeded = base + half; // inclusive
      if (flushing) {
        // Stop after the output at or before the last input sample (as resampledLength() counts).
        if (pos > (this.consumed - 1) * L) break;
      } else {
        // Pull input up to the needed sample.
        while (this.consumed + next <= lastNeeded && this.consumed + next < end) {
          h[(this.consumed + next) & mask] = input![next]!;
          next++;
        }
        if (lastNeeded >= this.consumed + next) break;
      }
      if (w >= out.length) break;
      const rem = pos - base * L;
      const p = exact ? rem : Math.min(phases - 1, Math.round((rem / L) * phases));
      const c = p * taps;
      const first = base - half + 1;
      let acc = 0;
      for (let d = 0; d < taps; d++) {
        const i = first + d;
        if (i >= 0 && i < limit) acc += coeffs[c + d]! * h[i & mask]!;
      }
      out[w++] = clamp16(acc);
      this.produced++;
    }
    if (!flushing) {
      // Keep the rest of the input in history (it is within the ring since outputs consumed up to here).
      while (next < count) {
        h[(this.consumed + next) & mask] = input![next]!;
        next++;
      }
      this.consumed = end;
    }
    return w;
  }
}
