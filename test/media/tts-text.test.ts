import t from 'tap';
import { cleanText, isEnglish, mapVoice, splitSentences } from '../../src/media/tts/text.js';
import { FLITE_VOICES } from '../../src/media/tts/flite-engine.js';
import { PcmCache, cacheKeyHash } from '../../src/media/tts/cache.js';
import { normalizePeak } from '../../src/media/tts/service.js';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

t.test('sentence splitting', async (t) => {
  const table: Array<[string, string[]]> = [
    ['Hello Sally. Your current account balance is 5 dollars and 72 cents.', ['Hello Sally.', 'Your current account balance is 5 dollars and 72 cents.']],
    ['Price is 5.72 dollars! Really? Yes.', ['Price is 5.72 dollars!', 'Really?', 'Yes.']],
    ['Call Dr. Smith at 3 p.m. today. Thanks', ['Call Dr. Smith at 3 p.m. today.', 'Thanks']],
    ['J. R. Smith said "hi." Then left.', ['J. R. Smith said "hi."', 'Then left.']],
    ['line one\nline two\r\n\r\nline three', ['line one', 'line two', 'line three']],
    ['Wait... what?!', ['Wait...', 'what?!']],
    ['   ', []],
    ['...', []],
    ['no punctuation', ['no punctuation']],
  ];
  for (const [input, want] of table) t.same(splitSentences(input), want, JSON.stringify(input));
  const long = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ') + ', and then ' + Array.from({ length: 30 }, () => 'more').join(' ');
  const parts = splitSentences(long);
  t.ok(parts.length >= 2 && parts.every((p) => p.length <= 200), 'long sentence split ≤ 200 chars');
  t.equal(parts.join(' ').replace(/\s+/g, ' '), long.replace(/\s+/g, ' '), 'nothing lost');
});

t.test('cleanText', async (t) => {
  t.equal(cleanText('  a\u0000b\tc\r\n d\u007f '), 'a b c d', 'control characters and whitespace');
  t.equal(cleanText('<speak>Hello <break time="1s"/> world &amp; you.<p>Bye</p></speak>'), 'Hello , world & you.. Bye.');
  t.equal(cleanText('<?xml version="1.0"?><speak version="1.1">Hi</speak>'), 'Hi');
  t.equal(cleanText('x < y and <b> stays'), 'x < y and <b> stays', 'not SSML: left alone');
});

t.test('voice mapping', async (t) => {
  const table: Array<[string, string | undefined]> = [
    ['female', 'slt'],
    ['Female', 'slt'],
    ['male', 'rms'],
    ['female/en-US', 'slt'],
    ['slt', 'slt'],
    ['kal16', 'kal16'],
    ['cmu_us_awb', 'awb'],
    ['robot', undefined],
  ];
  for (const [req, want] of table) t.equal(mapVoice(req, FLITE_VOICES), want, req);
  t.ok(isEnglish(undefined));
  t.ok(isEnglish('en-GB'));
  t.ok(isEnglish('EN'));
  t.notOk(isEnglish('fr-FR'));
  t.notOk(isEnglish('eng-x'), 'not a prefix match on letters');
});

t.test('normalizePeak', async (t) => {
  const a = new Int16Array([1000, -2000, 500]);
  normalizePeak(a);
  t.same([...a], [4000, -8000, 2000], 'quiet audio gets at most +12 dB');
  const b = new Int16Array([30000, -32768]);
  normalizePeak(b);
  t.equal(b[1], -23197, 'loud audio brought to -3 dBFS');
  const z = new Int16Array(4);
  normalizePeak(z);
  t.same([...z], [0, 0, 0, 0]);
});

t.test('PcmCache: LRU by entries and bytes', async (t) => {
  const c = new PcmCache({ maxEntries: 3, maxBytes: 100 });
  c.set('a', new Int16Array(10));
  c.set('b', new Int16Array(10));
  c.set('c', new Int16Array(10));
  t.ok(c.get('a'), 'a used → most recent');
  c.set('d', new Int16Array(10));
  t.equal(c.get('b'), undefined, 'b evicted (entries)');
  t.equal(c.size, 3);
  c.set('e', new Int16Array(40)); // 80 bytes: must evict down to ≤ 100
  t.ok(c.byteSize <= 100, `bytes ${c.byteSize}`);
  t.ok(c.get('e'));
  c.set('huge', new Int16Array(1000));
  t.equal(c.get('huge'), undefined, 'larger than the whole cache: not kept');
});

t.test('PcmCache: disk round trip, atomic names, corrupt files ignored', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-cache-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const c1 = new PcmCache({ dir });
  const pcm = new Int16Array([1, 2, 3, -4]);
  c1.set('k', pcm);
  await c1.flush();
  t.same(readdirSync(dir), [`${cacheKeyHash('k')}.wav`], 'only the final file remains');
  const c2 = new PcmCache({ dir });
  t.same(await c2.load('k'), pcm, 'read back by a new cache');
  t.equal(await c2.load('missing'), undefined);
  writeFileSync(join(dir, `${cacheKeyHash('bad')}.wav`), 'garbage');
  t.equal(await c2.load('bad'), undefined, 'corrupt file is a miss');
  const c3 = new PcmCache({ dir: join(dir, 'nested', 'deeper') });
  c3.set('x', pcm);
  await c3.flush();
  t.same(await new PcmCache({ dir: join(dir, 'nested', 'deeper') }).load('x'), pcm, 'folder created on demand');
});

t.test('PcmCache: disk folder is size-bounded, oldest first', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-cache-bound-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'not-ours.txt'), 'keep me');
  const each = 44 + 2 * 100; // one WAV file
  const c = new PcmCache({ dir, maxDiskBytes: each * 3 });
  for (const k of ['a', 'b', 'c']) {
    c.set(k, new Int16Array(100));
    await c.flush();
  }
  await c.load('a'); // memory hit: disk order unchanged
  c.clear();
  await c.load('a'); // disk read: 'a' becomes most recent on disk
  c.set('d', new Int16Array(100));
  await c.flush();
  const files = readdirSync(dir).sort();
  t.equal(c.diskByteSize, each * 3);
  t.ok(files.includes('not-ours.txt'), 'foreign files untouched');
  t.notOk(files.includes(`${cacheKeyHash('b')}.wav`), 'least recently used file deleted');
  t.ok(files.includes(`${cacheKeyHash('a')}.wav`), 'recently read file kept');
  // A new cache over the same folder learns the existing files.
  const c2 = new PcmCache({ dir, maxDiskBytes: each * 2 });
  c2.set('e', new Int16Array(100));
  await c2.flush();
  t.equal(readdirSync(dir).filter((f) => f.endsWith('.wav')).length, 2);
});
