/** Digest authentication: RFC 2617 / RFC 7616 vectors, challenge parsing, round trips, nonces. */
import t from 'tap';
import {
  authorize, challenge, digestResponse, ha1, NonceSource, parseChallenge, parseCredentials, pickChallenge,
  verifyCredentials, type DigestAlgorithm,
} from '../../src/sip/auth.js';

// Published vectors: RFC 2617 3.5 and RFC 7616 3.9.1 (user Mufasa, password "Circle Of Life" / "Circle of Life").
const vectors: Array<{ name: string; alg: DigestAlgorithm; user: string; realm: string; pass: string; method: string; uri: string; nonce: string; qop?: string; nc?: string; cnonce?: string; want: string }> = [
  {
    name: 'RFC 2617 MD5 qop=auth', alg: 'MD5', user: 'Mufasa', realm: 'testrealm@host.com', pass: 'Circle Of Life', method: 'GET',
    uri: '/dir/index.html', nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', qop: 'auth', nc: '00000001', cnonce: '0a4f113b',
    want: '6629fae49393a05397450978507c4ef1',
  },
  {
    name: 'RFC 7616 MD5', alg: 'MD5', user: 'Mufasa', realm: 'http-auth@example.org', pass: 'Circle of Life', method: 'GET',
    uri: '/dir/index.html', nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v', qop: 'auth', nc: '00000001',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ', want: '8ca523f5e9506fed4657c9700eebdbec',
  },
  {
    name: 'RFC 7616 SHA-256', alg: 'SHA-256', user: 'Mufasa', realm: 'http-auth@example.org', pass: 'Circle of Life', method: 'GET',
    uri: '/dir/index.html', nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v', qop: 'auth', nc: '00000001',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ', want: '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
  },
];

for (const v of vectors) {
  t.test(`vector: ${v.name}`, async (t) => {
    const r = digestResponse({
      algorithm: v.alg, ha1: ha1(v.alg, v.user, v.realm, v.pass), method: v.method, uri: v.uri, nonce: v.nonce,
      ...(v.qop ? { qop: v.qop, nc: v.nc!, cnonce: v.cnonce! } : {}),
    });
    t.equal(r, v.want);
  });
}

const challenges: Array<[string, string, { realm: string; nonce: string; algorithm: DigestAlgorithm; qop: string[]; opaque?: string; stale: boolean } | undefined]> = [
  ['SIPp style', 'Digest realm="sipp.test", nonce="abc123", qop="auth", algorithm=MD5', { realm: 'sipp.test', nonce: 'abc123', algorithm: 'MD5', qop: ['auth'], stale: false }],
  ['no algorithm means MD5, no qop', 'Digest realm="r", nonce="n"', { realm: 'r', nonce: 'n', algorithm: 'MD5', qop: [], stale: false }],
  ['SHA-256, qop list, opaque, stale', 'digest  realm="a, b", nonce="n2",opaque="o", qop="auth,auth-int", algorithm=SHA-256, stale=TRUE',
    { realm: 'a, b', nonce: 'n2', algorithm: 'SHA-256', qop: ['auth', 'auth-int'], opaque: 'o', stale: true }],
  ['escaped quote in realm', 'Digest realm="x\\"y", nonce="n"', { realm: 'x"y', nonce: 'n', algorithm: 'MD5', qop: [], stale: false }],
  ['Basic is not digest', 'Basic realm="x"', undefined],
  ['missing nonce', 'Digest realm="x"', undefined],
  ['unknown algorithm', 'Digest realm="x", nonce="n", algorithm=SHA-512-256-foo', undefined],
  ['garbage', 'Digest ,,,=,"', undefined],
  ['empty', '', undefined],
];
for (const [name, header, want] of challenges) {
  t.test(`challenge: ${name}`, async (t) => {
    const c = parseChallenge(header);
    if (want === undefined) t.equal(c, undefined);
    else t.same(c, want);
  });
}

t.test('pickChallenge prefers SHA-256 over MD5', async (t) => {
  const c = pickChallenge(['Digest realm="r", nonce="1", algorithm=MD5', 'Digest realm="r", nonce="2", algorithm=SHA-256']);
  t.equal(c?.nonce, '2');
  t.equal(pickChallenge(['Basic x']), undefined);
});

for (const alg of ['MD5', 'SHA-256', 'MD5-sess', 'SHA-256-sess'] as const) {
  for (const qop of [true, false]) {
    t.test(`round trip ${alg} ${qop ? 'qop=auth' : 'no qop'}`, async (t) => {
      const src = new NonceSource();
      const hdr = challenge({ realm: 'hookline', nonce: src.create(), algorithm: alg });
      const ch = parseChallenge(hdr)!;
      if (!qop) ch.qop = [];
      const auth = authorize(ch, { username: '1001', password: 's3cret' }, 'REGISTER', 'sip:127.0.0.1', { nc: 3 });
      const c = parseCredentials(auth)!;
      t.ok(c, 'parses');
      t.equal(c.algorithm, alg);
      t.equal(c.qop, qop ? 'auth' : undefined);
      if (qop) t.equal(c.nc, '00000003');
      t.ok(verifyCredentials(c, 'REGISTER', 's3cret'), 'right password verifies');
      t.notOk(verifyCredentials(c, 'REGISTER', 'wrong'), 'wrong password fails');
      t.notOk(verifyCredentials(c, 'INVITE', 's3cret'), 'other method fails');
      t.equal(src.check(c.nonce), 'ok');
    });
  }
}

t.test('credentials parsing rejects incomplete headers', async (t) => {
  t.equal(parseCredentials('Digest username="a", realm="r", nonce="n", uri="sip:x"'), undefined, 'no response');
  t.equal(parseCredentials('Basic abc'), undefined);
  const c = parseCredentials('Digest username="a", realm="r", nonce="n", uri="sip:x", response="ABC", qop=auth');
  t.equal(c?.response, 'abc', 'response lower-cased');
  t.notOk(verifyCredentials(c!, 'INVITE', 'p'), 'qop=auth without nc/cnonce fails');
});

t.test('nonces: ours and fresh, stale after the lifetime, forged ones bad', async (t) => {
  let now = 1_000_000;
  const src = new NonceSource(1000, undefined, () => now);
  const n = src.create();
  t.equal(src.check(n), 'ok');
  now += 1500;
  t.equal(src.check(n), 'stale');
  t.equal(src.check('f4240.' + '0'.repeat(32)), 'bad');
  t.equal(src.check('nonsense'), 'bad');
  t.equal(new NonceSource(1000, undefined, () => now).check(src.create()), 'bad', 'another secret');
});
