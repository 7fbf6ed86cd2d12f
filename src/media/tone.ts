/**
 * PCM16 tone and silence generation: single beeps, dual-tone DTMF, arbitrary sums of sines.
 * Whole-buffer helpers allocate their result; `ToneGenerator.fill()` streams a continuous tone into a
 * caller's buffer without allocating (phase carried across calls).
 */

/** DTMF row (low group) and column (high group) frequencies by key. */
export const DTMF_FREQUENCIES: Readonly<Record<string, readonly [low: number, high: number]>> = Object.freeze({
  '1': [697, 1209], '2': [697, 1336], '3': [697, 1477], A: [697, 1633],
  '4': [770, 1209], '5': [770, 1336], '6': [770, 1477], B: [770, 1633],
  '7': [852, 1209], '8': [852, 1336], '9': [852, 1477], C: [852, 1633],
  '*': [941, 1209], '0': [941, 1336], '#': [941, 1477], D: [941, 1633],
});

export interface ToneOptions {
  /** Length in milliseconds. */
  durationMs: number;
  /** Samples per second; default 8000. */
  sampleRate?: number;
  /** Peak amplitude of EACH component, 0..32767; default 8000 (≈ -12 dBFS). */
  amplitude?: number;
  /** Raised-cosine fade in/out in ms, to avoid clicks; default 2 (0 = hard edges). */
  rampMs?: number;
}

/** `ms` of digital silence. */
export function silence(ms: number, sampleRate = 8000): Int16Array {
  return new Int16Array(Math.max(0, Math.round((ms * sampleRate) / 1000)));
}

/** A sum of sines of the given frequencies (Hz), each at `amplitude`, clipped to 16 bits. */
export function tone(frequencies: number | readonly number[], opts: ToneOptions): Int16Array {
  const freqs = typeof frequencies === 'number' ? [frequencies] : frequencies;
  const rate = opts.sampleRate ?? 8000;
  const amp = opts.amplitude ?? 8000;
  const n = Math.max(0, Math.round((opts.durationMs * rate) / 1000));
  const ramp = Math.min(Math.floor(n / 2), Math.round(((opts.rampMs ?? 2) * rate) / 1000));
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (const f of freqs) v += Math.sin((2 * Math.PI * f * i) / rate);
    let g = amp;
    if (i < ramp) g *= 0.5 - 0.5 * Math.cos((Math.PI * i) / ramp);
    else if (i >= n - ramp) g *= 0.5 - 0.5 * Math.cos((Math.PI * (n - 1 - i)) / ramp);
    out[i] = clamp16(Math.round(v * g));
  }
  return out;
}

/** A single-frequency beep; default 1000 Hz, 200 ms. */
export function beep(opts: Partial<ToneOptions> & { frequency?: number } = {}): Int16Array {
  return tone(opts.frequency ?? 1000, { durationMs: 200, ...opts });
}

/**
 * The dual tone of a DTMF key ('0'-'9', '*', '#', 'A'-'D'); default 100 ms. `twistDb` > 0 makes the high
 * (column) tone louder than the low one by that many dB.
 */
export function dtmfTone(key: string, opts: Partial<ToneOptions> & { twistDb?: number } = {}): Int16Array {
  const freqs = DTMF_FREQUENCIES[key.toUpperCase()];
  if (!freqs) throw new RangeError(`not a DTMF key: ${JSON.stringify(key)}`);
  const rate = opts.sampleRate ?? 8000;
  const amp = opts.amplitude ?? 8000;
  const twist = Math.pow(10, (opts.twistDb ?? 0) / 20);
  const low = tone(freqs[0], { durationMs: opts.durationMs ?? 100, sampleRate: rate, amplitude: amp, rampMs: opts.rampMs });
  const high = tone(freqs[1], { durationMs: opts.durationMs ?? 100, sampleRate: rate, amplitude: amp * twist, rampMs: opts.rampMs });
  for (let i = 0; i < low.length; i++) low[i] = clamp16(low[i]! + high[i]!);
  return low;
}

/** Concatenate PCM buffers. */
export function concatPcm(parts: readonly Int16Array[]): Int16Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Int16Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A continuous (optionally dual) tone streamed into caller buffers, phase continuous, no allocation per fill. */
export class ToneGenerator {
  private readonly step: Float64Array;
  private readonly phase: Float64Array;

  constructor(
    frequencies: number | readonly number[],
    private readonly amplitude = 8000,
    sampleRate = 8000,
  ) {
    const freqs = typeof frequencies === 'number' ? [frequencies] : frequencies;
    this.step = new Float64Array(freqs.map((f) => (2 * Math.PI * f) / sampleRate));
    this.phase = new Float64Array(freqs.length);
  }

  /** Write `out.length` samples of the tone into `out`. */
  fill(out: Int16Array): void {
    const k = this.step.length;
    for (let i = 0; i < out.length; i++) {
      let v = 0;
      for (let j = 0; j < k; j++) {
        v += Math.sin(this.phase[j]!);
        this.phase[j] = (this.phase[j]! + this.step[j]!) % (2 * Math.PI);
      }
      out[i] = clamp16(Math.round(v * this.amplitude));
    }
  }
}

function clamp16(v: number): number {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}
