/** Start a Switch on 127.0.0.1 with free ports for end-to-end tests. */
import { Switch, type SwitchOptions } from '../../src/pbx/switch.js';
import { validateConfig } from '../../src/cli/config.js';

let rangeBase = 20000 + ((process.pid * 7) % 200) * 50;

export async function startTestSwitch(input: Record<string, unknown>, opts: SwitchOptions = {}): Promise<{ sw: Switch; port: number; uri: (n: string) => string }> {
  // Each switch in this process gets its own RTP port range; the engine skips ports the OS refuses anyway.
  const portMin = rangeBase;
  rangeBase += 1000;
  if (rangeBase > 38000) rangeBase = 20000;
  const config = validateConfig({
    ...input,
    sip: { listen: '127.0.0.1', port: 0, ...(input.sip as object | undefined) },
    rtp: { address: '127.0.0.1', portMin, portMax: portMin + 998, workers: 1, ...(input.rtp as object | undefined) },
    log: { level: process.env.HOOKLINE_TEST_LOG ?? 'silent' },
  });
  const sw = await Switch.start(config, opts);
  const port = sw.addresses().sip[0]!.port;
  return { sw, port, uri: (n: string) => `sip:${n}@127.0.0.1:${port}` };
}

/** Poll until `fn` is true or the time runs out; returns the last value of fn. */
export async function eventually(fn: () => boolean, timeoutMs = 10000, stepMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (fn()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return fn();
}
