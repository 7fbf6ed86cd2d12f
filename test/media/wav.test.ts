import t from 'tap';
import { WavError, readWav, writeWav, writeWavG711 } from '../../src/media/wav.js';
import { encodeAlaw, encodeMulaw, MULAW_DECODE, ALAW_DECODE } from '../../src/media/g711.js';

function build(chunks: Array<[string, Uint8Array]>, riffSize?: number): Uint8Array {
  let total = 12;
  for (const [, b] of chunks) total += 8 + b.length + (b.length & 1);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  out.set(Buffer.from('RIFF'), 0);
  v.setUint32(4, riffSize ?? total - 8, true);
  out.set(Buffer.from('WAVE'), 8);
  let off = 12;
  for (const [id, b] of chunks) {
    out.set(Buffer.from(id), off);
    v.setUint32(off + 4, b.length, true);
    out.set(b, off + 8);
    off += 8 + b.length + (b.length & 1);
  }
  return out;
}

function fmt(tag: number, channels: number, rate: number, bits: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint16(0, tag, true);
  v.setUint16(2, channels, true);
  v.setUint32(4, rate, true);
  v.setUint32(8, (rate * channels * bits) / 8, true);
  v.setUint16(12, (channels * bits) / 8, true);
  v.setUint16(14, bits, true);
  return b;
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof WavError ? e.code : `not a WavError: ${String(e)}`;
  }
  return undefined;
}

t.test('PCM16 mono round trip', async (t) => {
  const pcm = new Int16Array([0, 1, -1, 32767, -32768, 1234]);
  const file = writeWav(pcm, 16000);
  t.equal(file.length, 44 + 12);
  const back = readWav(file);
  t.same(back, { pcm, sampleRate: 16000, channels: 1, format: 'pcm16' });
});

t.test('stereo is mixed to mono, junk chunks skipped, odd chunk padded', async (t) => {
  const data = new Int16Array([100, 300, -100, -300, 32767, 32767]);
  const file = build([
    ['JUNK', new Uint8Array(3)],
    ['fmt ', fmt(1, 2, 44100, 16)],
    ['LIST', new Uint8Array(10)],
    ['data', new Uint8Array(data.buffer)],
  ]);
  const w = readWav(file);
  t.equal(w.channels, 2);
  t.equal(w.sampleRate, 44100);
  t.same([...w.pcm], [200, -200, 32767]);
});

t.test('8-bit, 24-bit, 32-bit, float, μ-law and A-law', async (t) => {
  t.same([...readWav(build([['fmt ', fmt(1, 1, 8000, 8)], ['data', new Uint8Array([128, 255, 0])]])).pcm], [0, 127 << 8, -32768]);
  t.same([...readWav(build([['fmt ', fmt(1, 1, 8000, 24)], ['data', new Uint8Array([0, 0x34, 0x12, 0, 0, 0x80])]])).pcm], [0x1234, -32768]);
  const i32 = new Int32Array([0x12340000, -0x80000000]);
  t.same([...readWav(build([['fmt ', fmt(1, 1, 8000, 32)], ['data', new Uint8Array(i32.buffer)]])).pcm], [0x1234, -32768]);
  const f32 = new Float32Array([0, 0.5, -1, 2, NaN]);
  t.same([...readWav(build([['fmt ', fmt(3, 1, 8000, 32)], ['data', new Uint8Array(f32.buffer)]])).pcm], [0, 16384, -32768, 32767, 0]);
  const pcm = new Int16Array([0, 1000, -1000, 30000]);
  const mu = new Uint8Array(4);
  const al = new Uint8Array(4);
  encodeMulaw(pcm, mu);
  encodeAlaw(pcm, al);
  const wm = readWav(writeWavG711(mu, 'mulaw'));
  t.equal(wm.format, 'mulaw');
  t.same([...wm.pcm], [...mu].map((c) => MULAW_DECODE[c]));
  const wa = readWav(build([['fmt ', fmt(6, 1, 8000, 8)], ['data', al]]));
  t.equal(wa.format, 'alaw');
  t.same([...wa.pcm], [...al].map((c) => ALAW_DECODE[c]));
});

t.test('WAVE_FORMAT_EXTENSIBLE', async (t) => {
  const f = new Uint8Array(40);
  f.set(fmt(0xfffe, 1, 16000, 16));
  const v = new DataView(f.buffer);
  v.setUint16(16, 22, true);
  v.setUint16(18, 16, true);
  v.setUint16(24, 1, true); // sub-format PCM
  const w = readWav(build([['fmt ', f], ['data', new Uint8Array(new Int16Array([5, -5]).buffer)]]));
  t.same([...w.pcm], [5, -5]);
});

t.test('a data chunk declared longer than the file is read to the end', async (t) => {
  const file = writeWav(new Int16Array([1, 2, 3, 4]), 8000);
  new DataView(file.buffer).setUint32(40, 0xffffffff, true);
  t.same([...readWav(file).pcm], [1, 2, 3, 4]);
  t.same([...readWav(file.subarray(0, 49)).pcm], [1, 2], 'odd trailing byte dropped');
});

t.test('bad files give a WavError with a code', async (t) => {
  t.equal(code(() => readWav(new Uint8Array(0))), 'WAV_TRUNCATED');
  t.equal(code(() => readWav(new Uint8Array(100))), 'WAV_NOT_RIFF');
  t.equal(code(() => readWav(build([['data', new Uint8Array(4)]]))), 'WAV_NO_FMT');
  t.equal(code(() => readWav(build([['fmt ', fmt(1, 1, 8000, 16)]]))), 'WAV_NO_DATA');
  t.equal(code(() => readWav(build([['fmt ', fmt(2, 1, 8000, 4)], ['data', new Uint8Array(4)]]))), 'WAV_UNSUPPORTED', 'ADPCM');
  t.equal(code(() => readWav(build([['fmt ', fmt(1, 0, 8000, 16)], ['data', new Uint8Array(4)]]))), 'WAV_BAD_FORMAT');
  t.equal(code(() => readWav(build([['fmt ', new Uint8Array(8)], ['data', new Uint8Array(4)]]))), 'WAV_TRUNCATED');
  // Fuzz: random bytes behind a valid header never throw anything but WavError.
  let seed = 42;
  let foreign = 0;
  const base = writeWav(new Int16Array(50), 8000);
  for (let k = 0; k < 2000; k++) {
    const f = base.slice(0, 12 + ((seed >>> 3) % 60));
    for (let i = 12; i < f.length; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      if (seed % 3 === 0) f[i] = seed >>> 24;
    }
    const c = code(() => readWav(f));
    if (c?.startsWith('not a WavError')) foreign++;
  }
  t.equal(foreign, 0, 'only WavError escapes');
});
