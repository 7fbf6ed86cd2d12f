import t from 'tap';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig, loadConfigFile, routeFor, ConfigError } from '../../src/cli/config.js';

function fieldOf(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return e instanceof ConfigError ? e.field : `not a ConfigError: ${String(e)}`; }
  return undefined;
}

t.test('defaults are telephony defaults', async (t) => {
  const c = validateConfig({});
  t.equal(c.sip.port, 5060);
  t.same(c.sip.transports, ['udp', 'tcp']);
  t.equal(c.rtp.portMin % 2, 0);
  t.same(c.rtp.codecs, ['PCMU', 'PCMA']);
  t.equal(c.rtp.timeoutSeconds, 60);
  t.equal(c.rtp.niceness, -10, 'media threads above signalling by default');
  t.equal(c.pivot.compat, 'lenient');
  t.equal(c.pivot.apiVersion, '2015-03-01');
  t.equal(c.accounts[0]!.id, 'default');
  t.equal(c.calls.maxInSetup, 1000);
  t.equal(c.calls.overloadGuard, true, 'the overload guard is on');
});

const bad: Array<[string, unknown, string]> = [
  ['port not a number', { sip: { port: 'abc' } }, 'sip.port'],
  ['port out of range', { sip: { port: 70000 } }, 'sip.port'],
  ['maxInSetup zero', { calls: { maxInSetup: 0 } }, 'calls.maxInSetup'],
  ['overloadGuard not a boolean', { calls: { overloadGuard: 'yes' } }, 'calls.overloadGuard'],
  ['unknown top-level field', { sipp: {} }, 'sipp'],
  ['unknown nested field', { sip: { prot: 5060 } }, 'sip.prot'],
  ['bad transport', { sip: { transports: ['udp', 'sctp'] } }, 'sip.transports[1]'],
  ['odd RTP port', { rtp: { portMin: 10001 } }, 'rtp.portMin'],
  ['inverted range', { rtp: { portMin: 20000, portMax: 10000 } }, 'rtp.portMax'],
  ['bad codec', { rtp: { codecs: ['G729'] } }, 'rtp.codecs[0]'],
  ['niceness out of range', { rtp: { niceness: -30 } }, 'rtp.niceness'],
  ['bad compat', { pivot: { compat: 'loose' } }, 'pivot.compat'],
  ['bad tts.voicesDir', { tts: { voicesDir: 5 } }, 'tts.voicesDir'],
  ['bad tts.piperWorkers', { tts: { piperWorkers: 0 } }, 'tts.piperWorkers'],
  ['bad tts.piperTimeoutMs', { tts: { piperTimeoutMs: 'soon' } }, 'tts.piperTimeoutMs'],
  ['bad tts.idleSeconds', { tts: { idleSeconds: -1 } }, 'tts.idleSeconds'],
  ['bad tts.warmAtStart', { tts: { warmAtStart: 'yes' } }, 'tts.warmAtStart'],
  ['bad log level', { log: { level: 'loud' } }, 'log.level'],
  ['number without flow', { numbers: { '4999': {} } }, 'numbers.4999.flow'],
  ['flow without module', { numbers: { '4999': { flow: { data: {} } } } }, 'numbers.4999.flow.module'],
  ['pivot without url', { numbers: { '4999': { flow: { module: 'pivot', data: {} } } } }, 'numbers.4999.flow.data.voice_url'],
  ['unknown account', { numbers: { '4999': { account: 'nope', flow: { module: 'hangup' } } } }, 'numbers.4999.account'],
  ['bad child', { numbers: { '1': { flow: { module: 'tts', data: { text: 'x' }, children: { _: 5 } } } } }, 'numbers.1.flow.children._'],
  ['duplicate account', { accounts: [{ id: 'a' }, { id: 'a' }] }, 'accounts[1].id'],
  ['bad listen address', { sip: { listen: 'my host' } }, 'sip.listen'],
  ['carrier without gateways', { carriers: [{ id: 'c1' }] }, 'carriers[0].gateways'],
  ['gateway without host', { carriers: [{ id: 'c1', gateways: [{ port: 5060 }] }] }, 'carriers[0].gateways[0].host'],
  ['gateway bad transport', { carriers: [{ id: 'c1', gateways: [{ host: '127.0.0.1', transport: 'sctp' }] }] }, 'carriers[0].gateways[0].transport'],
  ['gateway username without password', { carriers: [{ id: 'c1', gateways: [{ host: '127.0.0.1', username: 'u' }] }] }, 'carriers[0].gateways[0].password'],
  ['carrier unknown account', { carriers: [{ id: 'c1', account: 'nope', gateways: [{ host: '127.0.0.1' }] }] }, 'carriers[0].account'],
  ['carrier bad rule', { carriers: [{ id: 'c1', rules: ['('], gateways: [{ host: '127.0.0.1' }] }] }, 'carriers[0].rules[0]'],
  ['duplicate carrier', { carriers: [{ id: 'c', gateways: [{ host: 'a' }] }, { id: 'c', gateways: [{ host: 'b' }] }] }, 'carriers[1].id'],
  ['device without password', { devices: [{ id: 'd1', username: '1001' }] }, 'devices[0].password'],
  ['device unknown owner', { devices: [{ id: 'd1', username: '1001', password: 'p', owner: 'u9' }] }, 'devices[0].owner'],
  ['duplicate device username', { devices: [{ id: 'd1', username: '1001', password: 'p' }, { id: 'd2', username: '1001', password: 'p' }] }, 'devices[1].username'],
  ['ring group unknown device', { ringGroups: [{ id: 'g', endpoints: [{ id: 'x', type: 'device' }] }] }, 'ringGroups[0].endpoints[0].id'],
  ['registrar max below min', { registrar: { minExpires: 600, maxExpires: 60 } }, 'registrar.maxExpires'],
  ['cdr url not http', { cdr: { url: 'ftp://x' } }, 'cdr.url'],
  ['register without credentials', { carriers: [{ id: 'c1', gateways: [{ host: '127.0.0.1', register: true }] }] }, 'carriers[0].gateways[0].register'],
  ['registerExpires too short', { carriers: [{ id: 'c1', gateways: [{ host: '127.0.0.1', registerExpires: 5 }] }] }, 'carriers[0].gateways[0].registerExpires'],
  ['media with two sources', { media: { g: { url: 'http://x/a.wav', file: '/a.wav' } } }, 'media.g'],
  ['media url not http', { media: { g: { url: 'ftp://x/a.wav' } } }, 'media.g.url'],
  ['media bad id', { media: { 'a b': { tts: 'x' } } }, 'media.a b'],
  ['menu retries not a number', { menus: { main: { retries: 'many' } } }, 'menus.main.retries'],
  ['menu unknown field', { menus: { main: { greeting: 'x' } } }, 'menus.main.greeting'],
  ['menu unknown media id', { menus: { main: { media: { greeting: 'nope' } } } }, 'menus.main.media.greeting'],
  ['menu greeting false', { menus: { main: { media: { greeting: false } } } }, 'menus.main.media.greeting'],
  ['rule bad weekday', { temporalRules: { bh: { wdays: ['monday', 'funday'] } } }, 'temporalRules.bh.wdays[1]'],
  ['rule bad time', { temporalRules: { bh: { time_window_start: '25:00' } } }, 'temporalRules.bh.time_window_start'],
  ['rule bad time zone', { temporalRules: { bh: { timezone: 'Mars/Olympus' } } }, 'temporalRules.bh.timezone'],
  ['rule bad date', { temporalRules: { bh: { dates: ['2026-13-01'] } } }, 'temporalRules.bh.dates[0]'],
  ['rule set unknown member', { temporalRules: { set: { temporal_rules: ['nope'] } } }, 'temporalRules.set.temporal_rules[0]'],
];
for (const [name, input, field] of bad) {
  t.test(`rejects: ${name}`, async (t) => {
    try {
      validateConfig(input);
      t.fail('expected a ConfigError');
    } catch (e) {
      t.ok(e instanceof ConfigError);
      t.equal((e as ConfigError).code, 'CONFIG_INVALID');
      t.equal((e as ConfigError).field, field);
    }
  });
}

t.test('numbers route exactly, then *', async (t) => {
  const c = validateConfig({
    numbers: {
      '4999': { flow: { module: 'pivot', data: { voice_url: 'http://127.0.0.1/a' } } },
      '*': { flow: { module: 'hangup' } },
    },
  });
  t.equal(routeFor(c, '4999')!.flow.module, 'pivot');
  t.equal(routeFor(c, '1234')!.flow.module, 'hangup');
  t.equal(routeFor(c, '4999')!.account, 'default');
});

t.test('YAML and JSON files; unreadable and unparsable files name the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'a.yaml'), 'sip:\n  port: 5070\nnumbers:\n  "4999":\n    flow:\n      module: pivot\n      data: { voice_url: "http://127.0.0.1:8080/ivr" }\n');
  t.equal(loadConfigFile(join(dir, 'a.yaml')).sip.port, 5070);
  writeFileSync(join(dir, 'b.json'), '{"rtp": {"portMin": 20000, "portMax": 20100}}');
  t.equal(loadConfigFile(join(dir, 'b.json')).rtp.portMax, 20100);
  writeFileSync(join(dir, 'c.json'), '{"rtp": ');
  t.equal(fieldOf(() => loadConfigFile(join(dir, 'c.json'))), '(file)');
  t.equal(fieldOf(() => loadConfigFile(join(dir, 'missing.yaml'))), '(file)');
  writeFileSync(join(dir, 'd.yaml'), 'sip:\n  port: [1, 2]\n');
  t.equal(fieldOf(() => loadConfigFile(join(dir, 'd.yaml'))), 'sip.port');
});

t.test('bridging sections: carriers, devices, users, ring groups, registrar, cdr with defaults', async (t) => {
  const c = validateConfig({
    accounts: [{ id: 'a1' }],
    carriers: [
      { id: 'global', gateways: [{ host: '127.0.0.1', port: 5080, username: 'u', password: 'p' }, { host: 'gw2.example' }] },
      { id: 'local', account: 'a1', priority: 2, rules: ['^\\+1'], format: 'npan', gateways: [{ host: '10.0.0.1', transport: 'tcp' }] },
    ],
    users: [{ id: 'u1', name: 'Alice' }],
    devices: [{ id: 'd1', username: '1001', password: 's', owner: 'u1', extension: '201' }],
    ringGroups: [{ id: 'g1', endpoints: [{ id: 'd1', type: 'device' }, { id: 'u1', type: 'user', delay: 5 }] }],
    cdr: { url: 'http://127.0.0.1/cdr' },
  });
  t.equal(c.carriers.length, 2);
  t.same(c.carriers[0]!.gateways[0], { host: '127.0.0.1', port: 5080, transport: 'udp', prefix: '', suffix: '', register: false, registerExpires: 3600, replyTimeout: 5, srv: false, username: 'u', password: 'p' });
  t.equal(c.carriers[0]!.account, undefined, 'global');
  t.equal(c.carriers[1]!.account, 'a1');
  t.equal(c.carriers[1]!.format, 'npan');
  t.equal(c.devices[0]!.owner, 'u1');
  t.same(c.ringGroups[0]!.endpoints[1], { id: 'u1', type: 'user', delay: 5, timeout: 20 });
  t.same(c.registrar, { realm: 'hookline', minExpires: 60, maxExpires: 3600, defaultExpires: 3600, maxContacts: 5 });
  t.same(c.cdr, { url: 'http://127.0.0.1/cdr', maxRecords: 1000 });
  const d = validateConfig({});
  t.same([d.carriers, d.devices, d.users, d.ringGroups], [[], [], [], []]);
});

t.test('media, menus and temporalRules sections with defaults', async (t) => {
  const c = validateConfig({
    media: { greet: { url: 'http://127.0.0.1/greet.wav' }, bye: { tts: 'Goodbye' }, disk: { file: '/var/media/x.mp3' } },
    menus: { main: { retries: 2, media: { greeting: 'greet', invalid_media: 'tts://Try again', exit_media: false } }, bare: {} },
    temporalRules: {
      bh: { timezone: 'America/New_York', wdays: ['monday', 'tue', 'wensday', 'Thursday', 'friday'], time_window_start: '09:00', time_window_stop: 61200 },
      xmas: { dates: ['12-25', '2026-12-24'], enabled: false },
      closed: { temporal_rules: ['xmas'] },
    },
  });
  t.same(c.media.greet, { url: 'http://127.0.0.1/greet.wav' });
  t.same(c.media.bye, { tts: 'Goodbye' });
  t.same(c.menus.main, { retries: 2, timeout: 10000, interdigitTimeout: 2000, maxExtensionLength: 4, greeting: 'greet', invalidMedia: 'tts://Try again', exitMedia: false });
  t.same(c.menus.bare, { retries: 3, timeout: 10000, interdigitTimeout: 2000, maxExtensionLength: 4 });
  t.same(c.temporalRules.bh, { timezone: 'America/New_York', wdays: [1, 2, 3, 4, 5], timeWindowStart: 32400, timeWindowStop: 61200 });
  t.same(c.temporalRules.xmas, { dates: ['12-25', '2026-12-24'], enabled: false });
  t.same(c.temporalRules.closed, { temporalRules: ['xmas'] });
  const d = validateConfig({});
  t.same([d.media, d.menus, d.temporalRules], [{}, {}, {}]);
});

t.test('a relative media file path is relative to the config file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-cfg-media-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'hookline.yaml');
  writeFileSync(f, 'media:\n  hold: { file: sounds/hold.wav }\n  abs: { file: /srv/a.wav }\n');
  const c = loadConfigFile(f);
  t.same(c.media.hold, { file: join(dir, 'sounds/hold.wav') });
  t.same(c.media.abs, { file: '/srv/a.wav' });
});

t.test('admin: off by default, 127.0.0.1, fields named', async (t) => {
  t.same(validateConfig({}).admin, { listen: '127.0.0.1' }, 'no port: no endpoint');
  t.same(validateConfig({ admin: { port: 8089 } }).admin, { listen: '127.0.0.1', port: 8089 });
  t.equal(fieldOf(() => validateConfig({ admin: { port: 70000 } })), 'admin.port');
  t.equal(fieldOf(() => validateConfig({ admin: { port: 8089, token: 'short' } })), 'admin.token');
  t.equal(fieldOf(() => validateConfig({ admin: { listen: 'everywhere' } })), 'admin.listen');
  t.equal(fieldOf(() => validateConfig({ admin: { prot: 1 } })), 'admin.prot');
});

t.test('tts Piper settings: defaults, and a relative voicesDir is relative to the config file', async (t) => {
  const d = validateConfig({});
  t.equal(d.tts.voicesDir, undefined, 'no Piper engine by default');
  t.same([d.tts.piperWorkers, d.tts.piperThreads, d.tts.piperTimeoutMs], [1, 1, 30000]);
  t.same([d.tts.idleSeconds, d.tts.warmAtStart], [300, false], 'flite starts with the first call, stops after 5 idle minutes');
  t.same([validateConfig({ tts: { idleSeconds: 0, warmAtStart: true } }).tts.idleSeconds, validateConfig({ tts: { warmAtStart: true } }).tts.warmAtStart], [0, true]);
  const dir = mkdtempSync(join(tmpdir(), 'hookline-cfg-voices-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'hookline.yaml');
  writeFileSync(f, 'tts:\n  voicesDir: voices\n  piperThreads: 2\n');
  const c = loadConfigFile(f);
  t.equal(c.tts.voicesDir, join(dir, 'voices'));
  t.equal(c.tts.piperThreads, 2);
});

t.test('mediaFetch: defaults and named fields', async (t) => {
  t.same(validateConfig({}).mediaFetch, { maxBytes: 20 * 1024 * 1024, timeoutMs: 10000, maxSeconds: 600, cacheEntries: 128, cacheBytes: 64 * 1024 * 1024, maxAgeSeconds: 60 });
  t.equal(validateConfig({ mediaFetch: { maxBytes: 4096 } }).mediaFetch.maxBytes, 4096);
  t.equal(fieldOf(() => validateConfig({ mediaFetch: { maxBytes: 10 } })), 'mediaFetch.maxBytes');
  t.equal(fieldOf(() => validateConfig({ mediaFetch: { timeoutMs: 'soon' } })), 'mediaFetch.timeoutMs');
  t.equal(fieldOf(() => validateConfig({ mediaFetch: { maxbytes: 1 } })), 'mediaFetch.maxbytes');
});
