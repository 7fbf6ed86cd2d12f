/** Schema-lite validation of callflows (PIVOT.md 2.4, section 3). */
import t from 'tap';
import { validateCallflow, type CallflowNode, type ValidationIssue } from '../../src/pivot/callflow.js';

function ok(input: unknown, compat: 'lenient' | 'strict' = 'lenient'): CallflowNode {
  const r = validateCallflow(input, { compat });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.flow;
}
function errors(input: unknown, compat: 'lenient' | 'strict' = 'lenient'): readonly ValidationIssue[] {
  const r = validateCallflow(input, { compat });
  return r.ok ? [] : r.errors;
}

t.test('defaults are written in', async (tt) => {
  const f = ok({ module: 'pivot', data: { voice_url: 'https://x.test/a', method: 'POST' } });
  tt.same(f.data, { voice_url: 'https://x.test/a', method: 'post', req_format: 'kazoo', req_body_format: 'form', debug: false });
  const c = ok({ module: 'collect_dtmf' });
  tt.same(c.data, { max_digits: 1, timeout: 5000, interdigit_timeout: 2000, collection_name: 'default', terminator: '#' });
  const c2 = ok({ module: 'collect_dtmf', data: { terminators: ['*', '0'] } });
  tt.equal(c2.data.terminator, undefined, 'terminators kept visible when terminator is absent');
  const s = ok({ module: 'tts', data: { text: 'hi' } });
  tt.equal((s.data.terminators as string[]).length, 12);
  tt.same(ok({ module: 'sleep', data: {} }).data, { duration: 0, unit: 's' });
  tt.equal(ok({ module: 'response', data: {} }).data.code, 486);
});

t.test('children recurse; {} kept as an ending child', async (tt) => {
  const f = ok({ module: 'tts', data: { text: 'a' }, children: { _: { module: 'hangup', data: {} }, x: {} } });
  tt.same(f.children?._, { module: 'hangup', data: {} });
  tt.same(f.children?.x, {});
  tt.ok(errors({ module: 'tts', data: { text: 'a' }, children: { _: { module: 'tts', data: {} } } }).some((e) => e.path === '/children/_/data/text'));
  tt.ok(errors({ module: 'tts', data: { text: 'a' }, children: [] }).length > 0);
  tt.ok(errors({ module: 'tts', data: { text: 'a' }, children: { _: 'x' } }).length > 0);
});

t.test('shape errors', async (tt) => {
  tt.ok(errors([]).length > 0, 'array root');
  tt.ok(errors(null).length > 0);
  tt.ok(errors('tts').length > 0);
  tt.ok(errors({ flow: { module: 'tts', data: { text: 'x' } } }).some((e) => e.path === '/module'), 'wrapper');
  tt.ok(errors({ module: 'frob', data: {} }).some((e) => e.path === '/module'), 'unknown module');
  tt.ok(errors({ module: 'x'.repeat(65), data: {} }).length > 0);
  tt.ok(errors({ module: 'tts', data: [] }).some((e) => e.path === '/data'));
  tt.same(ok({ module: 'noop' }).data, {}, 'missing data defaults to {}');
});

t.test('required fields and types', async (tt) => {
  tt.ok(errors({ module: 'pivot', data: {} }).some((e) => e.path === '/data/voice_url'));
  tt.ok(errors({ module: 'pivot', data: { voice_url: 'ftp://x' } }).length > 0);
  tt.ok(errors({ module: 'pivot', data: { voice_url: 'http://x', method: 'put' } }).length > 0);
  tt.ok(errors({ module: 'tts', data: { text: '' } }).length > 0);
  tt.ok(errors({ module: 'tts', data: { text: 'x'.repeat(1001) } }).length > 0);
  tt.same(errors({ module: 'tts', data: { text: 'x'.repeat(1000) } }), []);
  tt.ok(errors({ module: 'tts', data: { text: 'x', terminators: ['1', 'x'] } }).some((e) => e.path === '/data/terminators/1'));
  tt.ok(errors({ module: 'collect_dtmf', data: { max_digits: 0 } }).length > 0);
  tt.ok(errors({ module: 'collect_dtmf', data: { max_digits: 1.5 } }).length > 0);
  tt.ok(errors({ module: 'collect_dtmf', data: { terminators: ['#', '#'] } }).length > 0);
  tt.ok(errors({ module: 'language', data: { language: 'french' } }).length > 0);
  tt.ok(errors({ module: 'language', data: {} }).length > 0);
  tt.ok(errors({ module: 'sleep', data: { duration: 86_400_001, unit: 'ms' } }).length > 0);
  tt.ok(errors({ module: 'tts', data: { text: 'x', skip_module: 'yes' } }).length > 0);
  tt.ok(errors({ module: 'ring_group', data: {} }).length > 0);
});

t.test('lenient vs strict', async (tt) => {
  tt.equal(ok({ module: 'response', data: { code: '486' } }).data.code, 486, 'numeric string accepted');
  tt.ok(errors({ module: 'response', data: { code: '486' } }, 'strict').length > 0);
  tt.equal(ok({ module: 'say', data: { text: 'hi' } }).module, 'tts', 'say alias');
  tt.ok(errors({ module: 'say', data: { text: 'hi' } }, 'strict').length > 0);
  tt.same(ok({ module: 'ring_group', data: { endpoints: ['d1'] } }).data.endpoints, [{ id: 'd1', endpoint_type: 'device' }]);
  tt.ok(errors({ module: 'ring_group', data: { endpoints: ['d1'] } }, 'strict').length > 0);
  tt.ok(errors({ module: 'collect_dtmf', data: { max_digits: 'four' } }).length > 0);
});

t.test('bounds: depth and node count', async (tt) => {
  let deep: Record<string, unknown> = { module: 'noop', data: {} };
  for (let i = 0; i < 100; i++) deep = { module: 'noop', data: {}, children: { _: deep } };
  tt.ok(errors(deep).some((e) => /deeper/.test(e.message)));
  const wide: Record<string, unknown> = {};
  for (let i = 0; i < 3000; i++) wide[`k${i}`] = { module: 'noop', data: {} };
  tt.ok(errors({ module: 'noop', data: {}, children: wide }).length > 0);
});

t.test('input is not mutated', async (tt) => {
  const input = { module: 'tts', data: { text: 'x' } };
  ok(input);
  tt.same(input, { module: 'tts', data: { text: 'x' } });
});
