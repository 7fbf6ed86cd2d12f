import t from 'tap';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../../src/util/clock.js';
import { MediaLoader, MediaFetchError, decodeMedia } from '../../src/media/fetch.js';
import { decodeMp3, looksLikeMp3 } from '../../src/media/mp3.js';
import { startMediaServer, wavBytes, mulawWavBytes, mp3Bytes, rmsOf, toneShare } from './media-server.js';

const code = (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: unknown) => (e instanceof MediaFetchError ? e.code : `other: ${String(e)}`));

t.test('WAV at 8, 16 and 44.1 kHz, μ-law WAV and MP3 all decode to 8 kHz with the tone intact', async (t) => {
  const cases: Array<[string, Buffer, number]> = [
    ['pcm 8k', wavBytes(1000, 500, 8000), 4000],
    ['pcm 16k', wavBytes(1000, 500, 16000), 4000],
    ['pcm 44.1k', wavBytes(1000, 500, 44100), 4000],
    ['mulaw 8k', mulawWavBytes(1000, 500), 4000],
  ];
  for (const [name, bytes, samples] of cases) {
    const pcm = await decodeMedia(bytes);
    t.ok(Math.abs(pcm.length - samples) <= 2, `${name}: ${pcm.length} samples`);
    t.ok(rmsOf(pcm, 200, pcm.length - 200) > 6000, `${name}: level kept`);
    t.ok(toneShare(pcm.subarray(200, pcm.length - 200), 1000) > 0.9, `${name}: still a 1 kHz tone`);
  }
  const mp3 = mp3Bytes(800, 1000, 16000);
  t.ok(looksLikeMp3(mp3), 'MP3 sniffed');
  const d = await decodeMp3(mp3);
  t.equal(d.sampleRate, 16000);
  const pcm = await decodeMedia(mp3);
  t.ok(pcm.length >= 8000 && pcm.length < 9000, `mp3: ${pcm.length} samples at 8 kHz (encoder padding allowed)`);
  t.ok(toneShare(pcm.subarray(1000, 7000), 800) > 0.8, 'mp3: an 800 Hz tone');
  t.equal(await code(decodeMedia(Buffer.from('hello, not audio at all'))), 'MEDIA_UNSUPPORTED');
  t.equal(await code(decodeMedia(Buffer.from('RIFF\0\0\0\0WAVEjunk'))), 'MEDIA_INVALID');
  t.equal(await code(decodeMedia(wavBytes(1000, 3000, 8000), { maxSeconds: 2 })), 'MEDIA_TOO_LONG');
});

t.test('HTTP: cache hit, ETag revalidation (304, no re-decode), Last-Modified, no-store, errors', async (t) => {
  const clock = new FakeClock();
  const srv = await startMediaServer({
    '/a.wav': { body: wavBytes(1000, 200, 16000), etag: '"v1"', contentType: 'audio/wav' },
    '/b.mp3': { body: mp3Bytes(600, 300), lastModified: 'Wed, 21 Oct 2026 07:28:00 GMT', contentType: 'audio/mpeg' },
    '/c.wav': { body: wavBytes(1000, 100, 8000), cacheControl: 'no-store' },
    '/big.wav': { body: wavBytes(1000, 2000, 8000) },
    '/text': { body: Buffer.from('<html>nope</html>'), contentType: 'text/html' },
    '/err': { body: Buffer.from(''), status: 500 },
  });
  t.teardown(() => srv.close());
  const loader = new MediaLoader({ clock, maxAgeMs: 60_000 });

  const a1 = await loader.load(`${srv.url}/a.wav`);
  const a2 = await loader.load(`${srv.url}/a.wav#frag`);
  t.equal(a1, a2, 'same buffer from the cache');
  t.equal(srv.log.filter((l) => l.path === '/a.wav').length, 1, 'one request while fresh');
  clock.tick(61_000);
  const a3 = await loader.load(`${srv.url}/a.wav`);
  t.equal(a3, a1, '304 keeps the decoded buffer');
  const last = srv.log.at(-1)!;
  t.equal(last.ifNoneMatch, '"v1"', 'conditional GET with If-None-Match');
  t.equal(last.status, 304);
  t.equal(loader.stats().revalidated, 1);
  // Changed on the server: a new ETag → 200 → new audio.
  srv.files.set('/a.wav', { body: wavBytes(1000, 400, 16000), etag: '"v2"' });
  clock.tick(61_000);
  const a4 = await loader.load(`${srv.url}/a.wav`);
  t.not(a4, a1, 'changed media replaced');
  t.equal(a4.length, 3200);

  await loader.load(`${srv.url}/b.mp3`);
  clock.tick(61_000);
  await loader.load(`${srv.url}/b.mp3`);
  t.equal(srv.log.at(-1)!.ifModifiedSince, 'Wed, 21 Oct 2026 07:28:00 GMT', 'If-Modified-Since');
  t.equal(srv.log.at(-1)!.status, 304);

  await loader.load(`${srv.url}/c.wav`);
  await loader.load(`${srv.url}/c.wav`);
  t.equal(srv.log.filter((l) => l.path === '/c.wav').length, 2, 'no-store is not cached');

  t.equal(await code(loader.load(`${srv.url}/missing.wav`)), 'MEDIA_HTTP_STATUS');
  t.equal(await code(loader.load(`${srv.url}/text`)), 'MEDIA_UNSUPPORTED');
  t.equal(await code(loader.load('ftp://example.com/x.wav')), 'MEDIA_BAD_URL');
  t.equal(await code(loader.load('not a url')), 'MEDIA_BAD_URL');
  t.equal(await code(new MediaLoader({ maxBytes: 10_000 }).load(`${srv.url}/big.wav`)), 'MEDIA_TOO_LARGE');
  const closedPort = srv.url.replace(/:\d+$/, ':1');
  t.equal(await code(loader.load(`${closedPort}/x.wav`)), 'MEDIA_CONNECT');

  // Stale-if-error: a cached copy is played when revalidation fails with a 5xx.
  srv.files.set('/a.wav', { body: Buffer.from(''), status: 503 });
  clock.tick(61_000);
  t.equal(await loader.load(`${srv.url}/a.wav`), a4, 'stale copy served on 503');
});

t.test('timeouts, concurrent loads share one request, LRU bounds', async (t) => {
  const srv = await startMediaServer({
    '/slow.wav': { body: wavBytes(500, 100, 8000), delayMs: 1500 },
    '/x.wav': { body: wavBytes(500, 1000, 8000), delayMs: 100 },
  });
  t.teardown(() => srv.close());
  const slow = new MediaLoader({ timeoutMs: 200 });
  const t0 = Date.now();
  t.equal(await code(slow.load(`${srv.url}/slow.wav`)), 'MEDIA_TIMEOUT');
  t.ok(Date.now() - t0 < 1200, 'gave up at the timeout');

  const loader = new MediaLoader({ cacheEntries: 2 });
  const [p1, p2, p3] = await Promise.all([1, 2, 3].map(() => loader.load(`${srv.url}/x.wav`)));
  t.equal(p1, p2);
  t.equal(p2, p3);
  t.equal(srv.log.filter((l) => l.path === '/x.wav').length, 1, 'one request for three concurrent loads');
  for (const q of ['?1', '?2', '?3']) await loader.load(`${srv.url}/x.wav${q}`);
  t.equal(loader.stats().entries, 2, 'bounded by entries');
  const small = new MediaLoader({ cacheBytes: 20_000 });
  await small.load(`${srv.url}/x.wav?a`);
  await small.load(`${srv.url}/x.wav?b`);
  t.ok(small.stats().bytes <= 20_000, `bounded by bytes (${small.stats().bytes})`);
  const ac = new AbortController();
  const pending = code(loader.load(`${srv.url}/x.wav?late`, ac.signal));
  ac.abort();
  t.equal(await pending, 'MEDIA_ABORTED', 'a caller can stop waiting');
});

t.test('local files: read, cached by size+mtime, missing file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-media-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'greet.wav');
  writeFileSync(f, wavBytes(700, 300, 16000));
  const loader = new MediaLoader();
  const a = await loader.loadFile(f);
  t.equal(a.length, 2400);
  t.equal(await loader.loadFile(f), a, 'cached');
  writeFileSync(f, wavBytes(700, 500, 16000));
  const b = await loader.loadFile(f);
  t.equal(b.length, 4000, 'changed file read again');
  t.equal(await code(loader.loadFile(join(dir, 'nope.wav'))), 'MEDIA_FILE');
  writeFileSync(join(dir, 'bad.mp3'), Buffer.from([0xff, 0xfb, 0x90, 0x00, 1, 2, 3]));
  t.equal(await code(loader.loadFile(join(dir, 'bad.mp3'))), 'MEDIA_INVALID');
});

t.test('Cache-Control: max-age sets freshness, no-cache revalidates every time', async (t) => {
  const clock = new FakeClock();
  const srv = await startMediaServer({
    '/ma.wav': { body: wavBytes(1000, 100, 8000), etag: '"m"', cacheControl: 'public, max-age=5' },
    '/nc.wav': { body: wavBytes(1000, 100, 8000), etag: '"n"', cacheControl: 'no-cache' },
  });
  t.teardown(() => srv.close());
  const loader = new MediaLoader({ clock, maxAgeMs: 3_600_000 });
  const count = (p: string): number => srv.log.filter((l) => l.path === p).length;
  await loader.load(`${srv.url}/ma.wav`);
  clock.tick(4000);
  await loader.load(`${srv.url}/ma.wav`);
  t.equal(count('/ma.wav'), 1, 'fresh within max-age');
  clock.tick(2000);
  await loader.load(`${srv.url}/ma.wav`);
  t.equal(count('/ma.wav'), 2, 'revalidated after max-age');
  t.equal(srv.log.at(-1)!.status, 304);
  await loader.load(`${srv.url}/nc.wav`);
  await loader.load(`${srv.url}/nc.wav`);
  t.equal(count('/nc.wav'), 2, 'no-cache: a conditional request each time');
  t.equal(srv.log.at(-1)!.status, 304);
  t.equal(loader.stats().inFlight, 0);
});
