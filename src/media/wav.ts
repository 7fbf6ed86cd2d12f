/**
 * RIFF/WAVE read and write.
 *
 * Read: PCM 8/16/24/32-bit, IEEE float 32/64, A-law (format tag 6), μ-law (7), WAVE_FORMAT_EXTENSIBLE
 * (0xFFFE) wrapping any of those; any sample rate; any channel count (mixed down to mono). Unknown chunks
 * (LIST, fact, bext, junk...) are skipped; a data chunk whose declared size runs past the end of the file
 * (a recording that was never finalised) is read up to the end. Anything unreadable throws a WavError with
 * a `code`, never a RangeError from a DataView.
 *
 * Write: PCM16 mono (the only thing Hookline produces), or G.711 bytes with the matching format tag.
 */
import { ALAW_DECODE, MULAW_DECODE } from './g711.js';

export type WavErrorCode = 'WAV_TRUNCATED' | 'WAV_NOT_RIFF' | 'WAV_NO_FMT' | 'WAV_NO_DATA' | 'WAV_UNSUPPORTED' | 'WAV_BAD_FORMAT';

export class WavError extends Error {
  override readonly name = 'WavError';
  constructor(
    readonly code: WavErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type WavSampleFormat = 'pcm8' | 'pcm16' | 'pcm24' | 'pcm32' | 'float32' | 'float64' | 'alaw' | 'mulaw';

export interface WavAudio {
  /** Mono PCM16 samples. */
  pcm: Int16Array;
  /** Samples per second, as declared by the file. */
  sampleRate: number;
  /** Channel count of the file (the samples above are already mixed to mono). */
  channels: number;
  /** Sample encoding of the file. */
  format: WavSampleFormat;
}

export const WAVE_FORMAT_PCM = 1;
export const WAVE_FORMAT_IEEE_FLOAT = 3;
export const WAVE_FORMAT_ALAW = 6;
export const WAVE_FORMAT_MULAW = 7;
export const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

const MAX_CHANNELS = 64;

function fourcc(b: Uint8Array, off: number): string {
  return String.fromCharCode(b[off]!, b[off + 1]!, b[off + 2]!, b[off + 3]!);
}

/** Parse a WAV file held in memory into mono PCM16. Throws WavError on anything it cannot read. */
export function readWav(buf: Uint8Array): WavAudio {
  if (buf.length < 12) throw new WavError('WAV_TRUNCATED', `WAV too short (${buf.length} bytes)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (fourcc(buf, 0) !== 'RIFF' || fourcc(buf, 8) !== 'WAVE') throw new WavError('WAV_NOT_RIFF', 'not a RIFF/WAVE file');

  let fmt: { tag: number; channels: number; rate: number; blockAlign: number; bits: number } | undefined;
  let dataOff = -1;
  let dataLen = 0;
  let off = 12;
  while (off + 8 <= buf.length) {
    const id = fourcc(buf, off);
    const size = view.getUint32(off + 4, true);
    const body = off + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > buf.length) throw new WavError('WAV_TRUNCATED', 'fmt chunk too short');
      let tag = view.getUint16(body, true);
      const channels = view.getUint16(body + 2, true);
      const rate = view.getUint32(body + 4, true);
      const blockAlign = view.getUint16(body + 12, true);
      const bits = view.getUint16(body + 14, true);
      if (tag === WAVE_FORMAT_EXTENSIBLE) {
        // cbSize(2) validBits(2) channelMask(4) then the sub-format GUID whose first 2 bytes are the tag.
        if (size < 40 || body + 26 > buf.length) throw new WavError('WAV_BAD_FORMAT', 'extensible fmt chunk too short');
        tag = view.getUint16(body + 24, true);
      }
      fmt = { tag, channels, rate, blockAlign, bits };
    } else if (id === 'data') {
      dataOff = body;
      dataLen = Math.min(size, buf.length - body);
      if (fmt) break; // fmt normally precedes data; if not, keep scanning for it
    }
    // Chunks are word aligned: odd sizes carry one pad byte. Stop on a size that runs off the end.
    const next = body + size + (size & 1);
    if (next <= off) break;
    off = next;
  }
  if (!fmt) throw new WavError('WAV_NO_FMT', 'no fmt chunk');
  if (dataOff < 0) throw new WavError('WAV_NO_DATA', 'no data chunk');
  const { tag, channels, rate, bits } = fmt;
  if (channels < 1 || channels > MAX_CHANNELS) throw new WavError('WAV_BAD_FORMAT', `bad channel count ${channels}`);
  if (rate < 1 || rate > 768000) throw new WavError('WAV_BAD_FORMAT', `bad sample rate ${rate}`);

  let format: WavSampleFormat;
  let bytes: number;
  if (tag === WAVE_FORMAT_PCM && (bits === 8 || bits === 16 || bits === 24 || bits === 32)) {
    format = `pcm${bits}` as WavSampleFormat;
    bytes = bits / 8;
  } else if (tag === WAVE_FORMAT_IEEE_FLOAT && (bits === 32 || bits === 64)) {
    format = bits === 32 ? 'float32' : 'float64';
    bytes = bits / 8;
  } else if (tag === WAVE_FORMAT_ALAW && bits === 8) {
    format = 'alaw';
    bytes = 1;
  } else if (tag === WAVE_FORMAT_MULAW && bits === 8) {
    format = 'mulaw';
    bytes = 1;
  } else {
    throw new WavError('WAV_UNSUPPORTED', `unsupported WAV encoding: format tag ${tag}, ${bits} bits`);
  }
  const frameBytes = bytes * channels;
  const frames = Math.floor(dataLen / frameBytes);
  const pcm = new Int16Array(frames);
  const readOne = sampleReader(format, view);
  for (let f = 0; f < frames; f++) {
    const base = dataOff + f * frameBytes;
    let acc = 0;
    for (let c = 0; c < channels; c++) acc += readOne(base + c * bytes);
    const v = Math.round(acc / channels);
    pcm[f] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return { pcm, sampleRate: rate, channels, format };
}

function sampleReader(format: WavSampleFormat, v: DataView): (at: number) => number {
  switch (format) {
    case 'pcm8':
      return (at) => (v.getUint8(at) - 128) << 8;
    case 'pcm16':
      return (at) => v.getInt16(at, true);
    case 'pcm24':
      return (at) => ((v.getUint8(at + 2) << 24) | (v.getUint8(at + 1) << 16) | (v.getUint8(at) << 8)) >> 16;
    case 'pcm32':
      return (at) => v.getInt32(at, true) >> 16;
    case 'float32':
      return (at) => floatTo16(v.getFloat32(at, true));
    case 'float64':
      return (at) => floatTo16(v.getFloat64(at, true));
    case 'alaw':
      return (at) => ALAW_DECODE[v.getUint8(at)]!;
    case 'mulaw':
      return (at) => MULAW_DECODE[v.getUint8(at)]!;
  }
}

function floatTo16(x: number): number {
  if (!(x === x)) return 0; // NaN
  const s = Math.round(x * 32768);
  return s > 32767 ? 32767 : s < -32768 ? -32768 : s;
}

function header(out: Uint8Array, dataBytes: number, tag: number, rate: number, bits: number): void {
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const ascii = (off: number, s: string): void => {
    for (let i = 0; i < 4; i++) out[off + i] = s.charCodeAt(i);
  };
  const bytesPerSample = bits / 8;
  ascii(0, 'RIFF');
  v.setUint32(4, 36 + dataBytes + (dataBytes & 1), true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, tag, true);
  v.setUint16(22, 1, true);
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * bytesPerSample, true);
  v.setUint16(32, bytesPerSample, true);
  v.setUint16(34, bits, true);
  ascii(36, 'data');
  v.setUint32(40, dataBytes, true);
}

/** A PCM16 mono WAV file (44-byte header). */
export function writeWav(pcm: Int16Array, sampleRate: number): Uint8Array {
  const out = new Uint8Array(44 + pcm.length * 2);
  header(out, pcm.length * 2, WAVE_FORMAT_PCM, sampleRate, 16);
  const v = new DataView(out.buffer);
  for (let i = 0; i < pcm.length; i++) v.setInt16(44 + i * 2, pcm[i]!, true);
  return out;
}

/** A G.711 mono WAV file from already-encoded bytes (format tag 7 for μ-law, 6 for A-law). */
export function writeWavG711(bytes: Uint8Array, law: 'mulaw' | 'alaw', sampleRate = 8000): Uint8Array {
  const pad = bytes.length & 1;
  const out = new Uint8Array(44 + bytes.length + pad);
  header(out, bytes.length, law === 'mulaw' ? WAVE_FORMAT_MULAW : WAVE_FORMAT_ALAW, sampleRate, 8);
  out.set(bytes, 44);
  return out;
}
