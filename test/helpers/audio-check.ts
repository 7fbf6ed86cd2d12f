/** Audio checks for recording tests: Goertzel power of a frequency, and the strongest of a set of candidates. */

/** Normalised power of `hz` in `pcm[from, to)` (Goertzel), roughly amplitude² / 4 for a pure tone. */
export function goertzel(pcm: Int16Array, hz: number, rate = 8000, from = 0, to = pcm.length): number {
  const n = Math.max(1, to - from);
  const k = Math.round((n * hz) / rate);
  const w = (2 * Math.PI * k) / n;
  const c = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = from; i < to; i++) {
    const s = pcm[i]! / 32768 + c * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  const p = s1 * s1 + s2 * s2 - c * s1 * s2;
  return p / (n * n);
}

/** Seconds of 100 ms windows in which `hz` dominates (its power > `ratio` × the mean of `others`, and audible). */
export function toneSeconds(pcm: Int16Array, hz: number, others: readonly number[], rate = 8000, ratio = 10): number {
  const win = rate / 10;
  let count = 0;
  for (let i = 0; i + win <= pcm.length; i += win) {
    const p = goertzel(pcm, hz, rate, i, i + win);
    let o = 0;
    for (const f of others) o += goertzel(pcm, f, rate, i, i + win);
    o /= Math.max(1, others.length);
    if (p > 1e-5 && p > ratio * o) count++;
  }
  return (count * win) / rate;
}
