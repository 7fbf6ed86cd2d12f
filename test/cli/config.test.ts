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
  t.equal(c.pivot.compat, 'lenient');
  t.equal(c.pivot.apiVersion, '2015-03-01');
  t.equal(c.accounts[0]!.id, 'default');
});

const bad: Array<[string, unknown, string]> = [
  ['port not a number', { sip: { port: 'abc' } }, 'sip.port'],
  ['port out of range', { sip: { port: 70000 } }, 'sip.port'],
  ['unknown top-level field', { sipp: {} }, 'sipp'],
  ['unknown nested field', { sip: { prot: 5060 } }, 'sip.prot'],
  ['bad transport', { sip: { transports: ['udp', 'sctp'] } }, 'sip.transports[1]'],
  ['odd RTP port', { rtp: { portMin: 10001 } }, 'rtp.portMin'],
  ['inverted range', { rtp: { portMin: 20000, portMax: 10000 } }, 'rtp.portMax'],
  ['bad codec', { rtp: { codecs: ['G729'] } }, 'rtp.codecs[0]'],
  ['bad compat', { pivot: { compat: 'loose' } }, 'pivot.compat'],
  ['bad log level', { log: { level: 'loud' } }, 'log.level'],
  ['number without flow', { numbers: { '4999': {} } }, 'numbers.4999.flow'],
  ['flow without module', { numbers: { '4999': { flow: { data: {} } } } }, 'numbers.4999.flow.module'],
  ['pivot without url', { numbers: { '4999': { flow: { module: 'pivot', data: {} } } } }, 'numbers.4999.flow.data.voice_url'],
  ['unknown account', { numbers: { '4999': { account: 'nope', flow: { module: 'hangup' } } } }, 'numbers.4999.account'],
  ['bad child', { numbers: { '1': { flow: { module: 'tts', data: { text: 'x' }, children: { _: 5 } } } } }, 'numbers.1.flow.children._'],
  ['duplicate account', { accounts: [{ id: 'a' }, { id: 'a' }] }, 'accounts[1].id'],
  ['bad listen address', { sip: { listen: 'my host' } }, 'sip.listen'],
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
