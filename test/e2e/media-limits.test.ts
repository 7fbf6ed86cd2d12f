/**
 * mediaFetch bounds reach the switch's media loader: with maxBytes below a file's size, `play` of that URL is
 * refused (the flow goes on to `_`, the caller hears the next prompt instead); a file within the bound plays.
 */
import t from 'tap';
import { startScriptServer } from '../helpers/peers.js';
import { startTestSwitch } from '../helpers/switch.js';
import { placeCall } from '../../src/pbx/caller.js';
import { startMediaServer, wavBytes, toneShare } from '../media/media-server.js';

t.test('mediaFetch.maxBytes bounds play downloads', async (t) => {
  const media = await startMediaServer({
    '/big.wav': { body: wavBytes(1000, 2000, 8000), contentType: 'audio/wav' }, // 32 KB
    '/small.wav': { body: wavBytes(600, 500, 8000), contentType: 'audio/wav' }, // 8 KB
  });
  const script = await startScriptServer(() => ({ body: {
    module: 'play', data: { id: `${media.url}/big.wav` },
    children: { _: { module: 'play', data: { id: `${media.url}/small.wav` }, children: { _: { module: 'hangup', data: {} } } } },
  } }));
  const { sw, uri } = await startTestSwitch({
    numbers: { '4999': { flow: { module: 'pivot', data: { voice_url: `${script.url}/ivr` } } } },
    mediaFetch: { maxBytes: 16384 },
  });
  t.teardown(async () => { await sw.close(); await script.close(); await media.close(); });
  const r = await placeCall({ uri: uri('4999'), from: '99992', portMin: 55000, portMax: 55998, record: true, maxSeconds: 8 });
  t.equal(r.outcome, 'answered');
  t.equal(r.endedBy, 'remote', 'the flow ran to its hangup');
  const audio = r.audio ?? new Int16Array(0);
  t.ok(toneShare(audio, 600) > 0.5, `the small file played (600 Hz share ${toneShare(audio, 600).toFixed(2)})`);
  t.ok(toneShare(audio, 1000) < 0.05, `the big one was refused (1 kHz share ${toneShare(audio, 1000).toFixed(2)})`);
  t.ok(media.log.some((l) => l.path === '/big.wav'), 'the big file was asked for');
});
