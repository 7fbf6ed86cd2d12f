/** Parameter building and encodings (PIVOT.md 1.2, 1.3, 1.5). */
import t from 'tap';
import { appendQuery, buildParams, encodeForm, encodeJson, formEscape, type ParamState } from '../../src/pivot/params.js';
import { DEFAULT_INFO } from './helpers.js';

const base: ParamState = { info: DEFAULT_INFO, apiVersion: '2015-03-01', collections: new Map(), answered: false, ended: false };

t.test('kazoo names, no empty keys, no Digits before a collection', async (tt) => {
  const p = buildParams({ ...base, info: { ...DEFAULT_INFO, callerIdName: '' } }, 'kazoo');
  tt.same(Object.keys(p), ['Call-ID', 'Account-ID', 'Api-Version', 'Direction', 'Caller-ID-Number', 'From', 'From-Realm', 'To', 'To-Realm', 'Request', 'Request-Realm']);
  tt.equal(p['Api-Version'], '2015-03-01');
});

t.test('outbound direction, Language, Digits object, Custom-SIP-Headers', async (tt) => {
  const p = buildParams({
    ...base,
    info: { ...DEFAULT_INFO, direction: 'outbound', customSipHeaders: { 'X-Foo': 'bar baz' } },
    language: 'fr-ca',
    collections: new Map([['default', ''], ['pin', '1234']]),
  }, 'kazoo');
  tt.equal(p.Direction, 'outbound');
  tt.equal(p.Language, 'fr-ca');
  tt.same(p.Digits, { default: '', pin: '1234' });
  tt.same(p['Custom-SIP-Headers'], { 'X-Foo': 'bar baz' });
});

t.test('twiml names', async (tt) => {
  const p = buildParams({ ...base, answered: true, collections: new Map([['a', '1'], ['b', '22']]), lastCollection: 'b' }, 'twiml');
  tt.same(p, {
    CallSid: 'call-1@test', AccountSid: 'acct42', From: '15551234567', FromRealm: 'caller.test', To: '2000', ToRealm: 'pbx.test',
    CallStatus: 'in-progress', ApiVersion: '2010-04-01', Direction: 'inbound', CallerName: 'John Smith', CallerNumber: '+15551234567', Digits: '22',
  });
});

t.test('form encoding: + for spaces, nesting, lists, booleans', async (tt) => {
  tt.equal(formEscape('John Smith & Co+'), 'John+Smith+%26+Co%2B');
  const s = encodeForm({ 'Caller-ID-Name': 'John Smith', Digits: { default: '12#', pin: '' }, 'User-ID': ['a', 'b'], Flag: true, N: 3 });
  tt.equal(s, 'Caller-ID-Name=John+Smith&Digits[default]=12%23&Digits[pin]=&User-ID[]=a&User-ID[]=b&Flag=true&N=3');
  const back = new URLSearchParams(s);
  tt.equal(back.get('Caller-ID-Name'), 'John Smith');
  tt.equal(back.get('Digits[default]'), '12#');
  tt.same(back.getAll('User-ID[]'), ['a', 'b']);
  tt.equal(encodeForm({ H: { 'X-A b': { deep: 'v' } } }), 'H[X-A+b][deep]=v');
});

t.test('json encoding keeps nesting', async (tt) => {
  tt.same(JSON.parse(encodeJson({ A: 'x y', Digits: { pin: '1' } })), { A: 'x y', Digits: { pin: '1' } });
});

t.test('appendQuery keeps an existing query and fragment', async (tt) => {
  tt.equal(appendQuery('http://h/p', 'a=1'), 'http://h/p?a=1');
  tt.equal(appendQuery('http://h/p?tenant=42', 'a=1'), 'http://h/p?tenant=42&a=1');
  tt.equal(appendQuery('http://h/p?tenant=42#frag', 'a=1'), 'http://h/p?tenant=42&a=1#frag');
  tt.equal(appendQuery('http://h/p?', 'a=1'), 'http://h/p?a=1');
  tt.equal(appendQuery('http://h/p?x=1&', 'a=1'), 'http://h/p?x=1&a=1');
  tt.equal(appendQuery('http://h/p#f', ''), 'http://h/p#f');
});
