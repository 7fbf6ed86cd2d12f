/**
 * A Piper voice end to end: a switch configured with `tts.voicesDir` holding the test's tiny ONNX voice
 * (a 440 Hz sine whose length follows the phoneme count), a web script answering with a `tts` module that
 * names the voice, and the built-in caller recording what it hears over G.711.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { placeCall } from '../../src/pbx/caller.js';
import { startScriptServer } from '../helpers/peers.js';
import { startTestSwitch } from '../helpers/switch.js';
import { tinyPiperConfig, tinyPiperModel } from '../helpers/onnx.js';
import { rmsOf, toneShare } from '../media/media-server.js';

function unavailable(): string | undefined {
  try {
    createRequire(import.meta.url)('onnxruntime-node');
    createRequire(import.meta.url).resolve('@echogarden/espeak-ng-emscripten');
    return undefined;
  } catch (err) {
    return `Piper dependencies do not load here: ${(err as Error).message.split('\n')[0]}`;
  }
}
const SKIP = unavailable();
if (SKIP) t.comment(`SKIPPING: ${SKIP}`);

/** "Hello world." = 14 phonemes → 31 ids; hop 1024 at 22050 Hz → 1.44 s. */
const EXPECTED_S = (31 * 1024) / 22050;

t.test('a tts module naming a Piper voice speaks through it', { skip: SKIP }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-e2e-piper-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'en_US-tiny.onnx'), tinyPiperModel({ hop: 1024 }));
  writeFileSync(join(dir, 'en_US-tiny.onnx.json'), JSON.stringify(tinyPiperConfig()));
  const script = await startScriptServer(() => ({
    body: { module: 'tts', data: { text: 'Hello world.', voice: 'en_US-tiny' }, children: { _: { module: 'hangup', data: {} } } },
  }));
  const { sw, uri } = await startTestSwitch({
    tts: { voicesDir: dir },
    numbers: { '5300': { flow: { module: 'pivot', data: { voice_url: `${script.url}/ivr` } } } },
  });
  t.teardown(async () => {
    await sw.close();
    await script.close();
  });
  const portMin = 42000 + ((process.pid * 11) % 40) * 100;
  const r = await placeCall({ uri: uri('5300'), from: '99993', record: true, maxSeconds: 15, portMin, portMax: portMin + 98 });
  t.equal(r.outcome, 'answered');
  t.equal(r.endedBy, 'remote', 'Hookline hung up after speaking');
  const pcm = r.audio!;
  let toneFrames = 0;
  for (let i = 0; i + 160 <= pcm.length; i += 160) {
    const f = pcm.subarray(i, i + 160);
    if (rmsOf(f) > 500 && toneShare(f, 440) > 0.8) toneFrames++;
  }
  const heard = toneFrames * 0.02;
  t.ok(Math.abs(heard - EXPECTED_S) <= 0.1, `heard ${heard.toFixed(2)} s of the voice's 440 Hz (expected ${EXPECTED_S.toFixed(2)} s)`);
});
