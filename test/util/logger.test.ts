import t from 'tap';
import { Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { configureLogging, getLogger, lazyChild, silentLogger } from '../../src/util/logger.js';

t.test('silent logger: every level a no-op, children silent, nothing enabled', async (t) => {
  const child = silentLogger.child({ callId: 'x' });
  t.equal(child.isLevelEnabled('error'), false);
  t.equal(child.level, 'silent');
  t.same(child.bindings(), {});
  for (const m of ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const) t.doesNotThrow(() => child[m]({ a: 1 }, 'msg'));
});

t.test('configureLogging: a real pino logger writes JSON lines with the subsystem and bindings', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(chunk.toString('utf8')); cb(); } });
  configureLogging('info', sink);
  t.teardown(() => configureLogging('silent'));
  const log = getLogger('pivot').child({ callId: 'c1' });
  t.equal(log.isLevelEnabled('info'), true);
  t.equal(log.isLevelEnabled('debug'), false);
  log.info({ n: 3 }, 'hello');
  log.debug('dropped');
  await new Promise((r) => setImmediate(r));
  t.equal(lines.length, 1);
  const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
  t.match(rec, { sub: 'pivot', callId: 'c1', n: 3, msg: 'hello', level: 30 });
  configureLogging('silent');
  t.equal(getLogger('x').isLevelEnabled('fatal'), false, 'silent again');
});

t.test('a thread whose logging is silent does not load pino', async (t) => {
  const url = new URL('../../src/util/logger.js', import.meta.url).href;
  const code = `
    const { createRequire } = require('node:module');
    import(${JSON.stringify(url)}).then((m) => {
      m.getLogger('rtp').warn('nothing');
      const loaded = Object.keys(createRequire(${JSON.stringify(url)}).cache).some((k) => k.includes('/node_modules/pino/'));
      require('node:worker_threads').parentPort.postMessage(loaded);
    });`;
  const run = (env: NodeJS.ProcessEnv): Promise<boolean> => new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, env });
    w.once('message', (m: boolean) => { resolve(m); void w.terminate(); });
    w.once('error', reject);
  });
  const env = { ...process.env };
  delete env.HOOKLINE_LOG_LEVEL;
  t.equal(await run(env), false, 'silent: pino not loaded');
  t.equal(await run({ ...env, HOOKLINE_LOG_LEVEL: 'error' }), true, 'HOOKLINE_LOG_LEVEL=error: pino loaded');
});

t.test('a subsystem logger made before configureLogging (at import time) follows the root configured later', async (t) => {
  const early = getLogger('rtp'); // as a module-level `const log = getLogger('rtp')` is
  early.warn('before: dropped');
  const lines: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(chunk.toString('utf8')); cb(); } });
  configureLogging('info', sink);
  t.teardown(() => configureLogging('silent'));
  t.equal(early.isLevelEnabled('info'), true, 'enabled once the root is configured');
  early.warn({ worker: 1 }, 'media worker died');
  early.child({ sid: 7 }).info('child of the configured root');
  await new Promise((r) => setImmediate(r));
  t.equal(lines.length, 2);
  t.match(JSON.parse(lines[0]!), { sub: 'rtp', worker: 1, msg: 'media worker died', level: 40 });
  t.match(JSON.parse(lines[1]!), { sub: 'rtp', sid: 7, level: 30 });
  configureLogging('silent');
  early.error('after: dropped');
  await new Promise((r) => setImmediate(r));
  t.equal(lines.length, 2, 'silent again');
});

t.test('lazyChild: no pino child until something is logged at an enabled level; then the bindings are on the line', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(chunk.toString('utf8')); cb(); } });
  configureLogging('info', sink);
  t.teardown(() => configureLogging('silent'));
  const parent = getLogger('pbx');
  let made = 0;
  // the parent as lazyChild sees it, counting the children made from it
  const counting = {
    get level() { return parent.level; },
    isLevelEnabled: (l: string) => parent.isLevelEnabled(l),
    bindings: () => parent.bindings(),
    flush: () => parent.flush(),
    child: (b: Record<string, unknown>) => { made++; return parent.child(b); },
  } as unknown as typeof parent;
  const log = lazyChild(counting, { callId: 'c9' });
  log.debug('below the level');
  t.equal(log.isLevelEnabled('debug'), false);
  t.equal(log.isLevelEnabled('info'), true);
  t.match(log.bindings(), { callId: 'c9', sub: 'pbx' }, 'bindings without making the child');
  const grand = log.child({ iteration: 2 });
  grand.debug('still nothing');
  t.equal(made, 0, 'nothing logged yet: no pino child made');
  grand.warn({ n: 1 }, 'now');
  log.info('and the parent');
  t.equal(made, 1, 'made once, on the first line');
  await new Promise((r) => setImmediate(r));
  t.equal(lines.length, 2);
  t.match(JSON.parse(lines[0]!), { sub: 'pbx', callId: 'c9', iteration: 2, n: 1, msg: 'now' });
  t.match(JSON.parse(lines[1]!), { sub: 'pbx', callId: 'c9', msg: 'and the parent' });
});
