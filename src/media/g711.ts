/**
 * ITU-T G.711 μ-law (PCMU) and A-law (PCMA) companding, table driven.
 *
 * Encoding looks the 16-bit linear sample up in a precomputed table: μ-law works on 14-bit magnitudes
 * (index = sample >> 2, 16384 entries), A-law on 13-bit (index = sample >> 3, 8192 entries). The tables
 * are built once at module load from the segment/quantisation rules of G.711, so the per-sample cost is
 * one shift, one mask and one load. Decoding is a 256-entry table.
 *
 * Inputs to the encoders are 16-bit signed samples (-32768..32767); larger numbers wrap.
 */

/** μ-law code for digital silence (linear 0). */
export const MULAW_SILENCE = 0xff;
/** A-law code for the smallest positive level (linear +8), the usual idle pattern. */
export const ALAW_SILENCE = 0xd5;

const MULAW_BIAS = 0x84; // 132, added before segment search (G.711 table 2)
const MULAW_CLIP = 8159; // 14-bit magnitude clip: (32635 >> 2)
const QUANT_MASK = 0x0f;
const SEG_SHIFT = 4;
const SEG_MASK = 0x70;
const SIGN_BIT = 0x80;

function mulawDecodeOne(code: number): number {
  const u = ~code & 0xff;
  let t = ((u & QUANT_MASK) << 3) + MULAW_BIAS;
  t <<= (u & SEG_MASK) >> SEG_SHIFT;
  return u & SIGN_BIT ? MULAW_BIAS - t : t - MULAW_BIAS;
}

function alawDecodeOne(code: number): number {
  const a = code ^ 0x55;
  let t = (a & QUANT_MASK) << 4;
  const seg = (a & SEG_MASK) >> SEG_SHIFT;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return a & SIGN_BIT ? t : -t;
}

/** `value` is a 14-bit signed sample (16-bit >> 2). */
function mulawEncode14(value: number): number {
  let v = value;
  let mask = 0xff;
  if (v < 0) {
    // One's complement: the table entry for index i covers 16-bit samples 4i..4i+3, so for negative i
    // the magnitudes are |4i+3|..|4i|, i.e. 14-bit magnitude -i-1 (rounded down), symmetric with i >= 0.
    v = -v - 1;
    mask = 0x7f;
  }
  if (v > MULAW_CLIP) v = MULAW_CLIP;
  v += MULAW_BIAS >> 2;
  // Segment: position of the highest set bit above bit 5 (segment ends 0x3f, 0x7f, ... 0x1fff).
  let seg = 0;
  while (seg < 8 && v >= 0x40 << seg) seg++;
  if (seg >= 8) return 0x7f ^ mask;
  return ((seg << SEG_SHIFT) | ((v >> (seg + 1)) & QUANT_MASK)) ^ mask;
}

/** `value` is a 13-bit signed sample (16-bit >> 3). */
function alawEncode13(value: number): number {
  let v = value;
  let mask: number;
  if (v >= 0) {
    mask = 0xd5;
  } else {
    mask = 0x55;
    v = -v - 1;
  }
  let seg = 0;
  while (seg < 8 && v >= 0x20 << seg) seg++;
  if (seg >= 8) return 0x7f ^ mask;
  let a = seg << SEG_SHIFT;
  a |= seg < 2 ? (v >> 1) & QUANT_MASK : (v >> seg) & QUANT_MASK;
  return a ^ mask;
}

/** μ-law code → linear PCM16. */
export const MULAW_DECODE: Int16Array = new Int16Array(256);
/** A-law code → linear PCM16. */
export const ALAW_DECODE: Int16Array = new Int16Array(256);
/** Indexed by (sample >> 2) & 0x3fff. */
const MULAW_ENCODE = new Uint8Array(16384);
/** Indexed by (sample >> 3) & 0x1fff. */
const ALAW_ENCODE = new Uint8Array(8192);

for (let c = 0; c < 256; c++) {
  MULAW_DECODE[c] = mulawDecodeOne(c);
  ALAW_DECODE[c] = alawDecodeOne(c);
}
for (let i = 0; i < 16384; i++) MULAW_ENCODE[i] = mulawEncode14(i >= 8192 ? i - 16384 : i);
for (let i = 0; i < 8192; i++) ALAW_ENCODE[i] = alawEncode13(i >= 4096 ? i - 8192 : i);

/** One PCM16 sample → μ-law code. */
export function linearToMulaw(sample: number): number {
  return MULAW_ENCODE[(sample >> 2) & 0x3fff];
}

/** One PCM16 sample → A-law code. */
export function linearToAlaw(sample: number): number {
  return ALAW_ENCODE[(sample >> 3) & 0x1fff];
}

/** Encode `pcm` into `out` (μ-law); encodes min(pcm.length, out.length) samples. */
export function encodeMulaw(pcm: Int16Array, out: Uint8Array): void {
  const n = Math.min(pcm.length, out.length);
  for (let i = 0; i < n; i++) out[i] = MULAW_ENCODE[(pcm[i] >> 2) & 0x3fff];
}

/** Encode `pcm` into `out` (A-law); encodes min(pcm.length, out.length) samples. */
export function encodeAlaw(pcm: Int16Array, out: Uint8Array): void {
  const n = Math.min(pcm.length, out.length);
  for (let i = 0; i < n; i++) out[i] = ALAW_ENCODE[(pcm[i] >> 3) & 0x1fff];
}

/** Decode μ-law `buf` into `out`; decodes min(buf.length, out.length) samples. */
export function decodeMulaw(buf: Uint8Array, out: Int16Array): void {
  const n = Math.min(buf.length, out.length);
  for (let i = 0; i < n; i++) out[i] = MULAW_DECODE[buf[i]];
}

/** Decode A-law `buf` into `out`; decodes min(buf.length, out.length) samples. */
export function decodeAlaw(buf: Uint8Array, out: Int16Array): void {
  const n = Math.min(buf.length, out.length);
  for (let i = 0; i < n; i++) out[i] = ALAW_DECODE[buf[i]];
}
