import t from 'tap';
import {
  ALAW_DECODE,
  ALAW_SILENCE,
  MULAW_DECODE,
  MULAW_SILENCE,
  decodeAlaw,
  decodeMulaw,
  encodeAlaw,
  encodeMulaw,
  linearToAlaw,
  linearToMulaw,
} from '../../src/media/g711.js';

t.test('μ-law code points', async (t) => {
  const table: Array<[code: number, linear: number]> = [
    [0xff, 0],
    [0x7f, 0],
    [0x00, -32124],
    [0x80, 32124],
    [0xfe, 8],
    [0x7e, -8],
    [0xef, 132],
    [0xf0, 120],
  ];
  t.equal(MULAW_DECODE.length, 256);
  for (const [code, linear] of table) t.equal(MULAW_DECODE[code], linear, `decode 0x${code.toString(16)}`);
  const enc: Array<[linear: number, code: number]> = [
    [0, 0xff],
    [1, 0xff],
    [-1, 0x7f],
    [-5, 0x7e],
    [4, 0xfe],
    [-4, 0x7f],
    [32767, 0x80],
    [-32768, 0x00],
    [32124, 0x80],
    [-32124, 0x00],
    [8, 0xfe],
  ];
  for (const [linear, code] of enc) t.equal(linearToMulaw(linear), code, `encode ${linear}`);
  t.equal(MULAW_SILENCE, 0xff);
});

t.test('A-law code points', async (t) => {
  const table: Array<[code: number, linear: number]> = [
    [0xd5, 8],
    [0x55, -8],
    [0xd4, 24],
    [0xaa, 32256],
    [0x2a, -32256],
  ];
  t.equal(ALAW_DECODE.length, 256);
  for (const [code, linear] of table) t.equal(ALAW_DECODE[code], linear, `decode 0x${code.toString(16)}`);
  const enc: Array<[linear: number, code: number]> = [
    [0, 0xd5],
    [7, 0xd5],
    [-1, 0x55],
    [-8, 0x55],
    [32767, 0xaa],
    [-32768, 0x2a],
  ];
  for (const [linear, code] of enc) t.equal(linearToAlaw(linear), code, `encode ${linear}`);
  t.equal(ALAW_SILENCE, 0xd5);
});

t.test('every code survives decode → encode', async (t) => {
  let badU = 0;
  let badA = 0;
  for (let c = 0; c < 256; c++) {
    const u = linearToMulaw(MULAW_DECODE[c]);
    if (u !== c && !(c === 0x7f && u === 0xff)) badU++;
    if (linearToAlaw(ALAW_DECODE[c]) !== c) badA++;
  }
  t.equal(badU, 0);
  t.equal(badA, 0);
});

t.test('round trip of every 16-bit sample stays within the quantisation step', async (t) => {
  let worstU = 0;
  let worstA = 0;
  for (let x = -32768; x <= 32767; x++) {
    const a = Math.abs(x);
    // Step size of the segment holding |x|: μ-law 8·2^seg (≈ |x|/16 + 8), A-law 16·2^(seg-1) (≈ |x|/16 + 16).
    const eu = Math.abs(MULAW_DECODE[linearToMulaw(x)] - x) / (a / 16 + 16);
    const ea = Math.abs(ALAW_DECODE[linearToAlaw(x)] - x) / (a / 16 + 16);
    if (a <= 32124) worstU = Math.max(worstU, eu);
    if (a <= 32256) worstA = Math.max(worstA, ea);
  }
  t.ok(worstU <= 1, `μ-law worst error ${worstU.toFixed(3)} steps`);
  t.ok(worstA <= 1, `A-law worst error ${worstA.toFixed(3)} steps`);
});

t.test('buffer encode/decode', async (t) => {
  const pcm = new Int16Array([0, 1000, -1000, 32767, -32768, 8, -8]);
  const u = new Uint8Array(pcm.length);
  const a = new Uint8Array(pcm.length);
  encodeMulaw(pcm, u);
  encodeAlaw(pcm, a);
  for (let i = 0; i < pcm.length; i++) {
    t.equal(u[i], linearToMulaw(pcm[i]));
    t.equal(a[i], linearToAlaw(pcm[i]));
  }
  const du = new Int16Array(pcm.length);
  const da = new Int16Array(pcm.length);
  decodeMulaw(u, du);
  decodeAlaw(a, da);
  for (let i = 0; i < pcm.length; i++) {
    t.equal(du[i], MULAW_DECODE[u[i]]);
    t.equal(da[i], ALAW_DECODE[a[i]]);
  }
  // Short output: only out.length samples are written.
  const short = new Uint8Array(2);
  encodeMulaw(pcm, short);
  t.same([...short], [0xff, linearToMulaw(1000)]);
});
