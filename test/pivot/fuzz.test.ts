/** Bad input never crashes: random JSON values through validation and random bodies through classification. */
import t from 'tap';
import { validateCallflow } from '../../src/pivot/callflow.js';
import { WebhookClient } from '../../src/pivot/webhook.js';
import { FakeClock } from '../../src/util/clock.js';

let seed = 12345;
function rnd(n: number): number { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; }
const MODULES = ['tts', 'say', 'pivot', 'collect_dtmf', 'sleep', 'response', 'menu', 'x', '', 'ring_group', 'language'];
const KEYS = ['module', 'data', 'children', 'text', 'voice_url', 'max_digits', 'terminators', 'code', '_', 'duration', 'unit', 'endpoints', 'language'];

function value(depth: number): unknown {
  switch (rnd(depth > 4 ? 5 : 9)) {
    case 0: return null;
    case 1: return rnd(2) === 0;
    case 2: return rnd(3) === 0 ? rnd(100000) - 50 : String(rnd(1000));
    case 3: return ['', 'http://x', 'hello', '#', '486', 'fr-ca'][rnd(6)];
    case 4: return MODULES[rnd(MODULES.length)];
    case 5: case 6: case 7: {
      const o: Record<string, unknown> = {};
      for (let i = rnd(5); i > 0; i--) o[KEYS[rnd(KEYS.length)]!] = value(depth + 1);
      if (rnd(2) === 0) o.module = MODULES[rnd(MODULES.length)];
      return o;
    }
    default: return Array.from({ length: rnd(4) }, () => value(depth + 1));
  }
}

t.test('validateCallflow never throws and returns a verdict', async (tt) => {
  let okCount = 0;
  for (let i = 0; i < 5000; i++) {
    const v = value(0);
    for (const compat of ['lenient', 'strict'] as const) {
      const r = validateCallflow(v, { compat });
      if (r.ok) okCount++;
      else if (r.errors.length === 0) tt.fail('rejected without errors');
    }
  }
  tt.ok(okCount >= 0);
});

t.test('classify never throws', async (tt) => {
  let bad = 0;
  let flows = 0;
  for (const compat of ['lenient', 'strict'] as const) {
    const client = new WebhookClient({ clock: new FakeClock(), compat });
    for (let i = 0; i < 2000; i++) {
      const body = rnd(3) === 0 ? JSON.stringify(value(0)).slice(0, rnd(200)) : JSON.stringify(value(0));
      const type = [null, 'application/json', 'text/html', 'text/xml', 'text/plain; charset=x', ''][rnd(6)] ?? null;
      const r = client.classify(type, body ?? '');
      if (r.kind === 'flow') flows++;
      else if (compat === 'lenient' && r.hangup) bad++;
    }
  }
  tt.equal(bad, 0, 'lenient never hangs up');
  tt.ok(flows > 0, 'some random bodies are valid flows');
});
