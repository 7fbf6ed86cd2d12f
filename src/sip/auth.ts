/**
 * HTTP Digest authentication for SIP (RFC 3261 22, RFC 2617, RFC 7616 with RFC 8760 for SIP): both sides.
 *
 * Client (outbound trunks, `resources`): `parseChallenge()` a WWW-Authenticate / Proxy-Authenticate value,
 * then `authorize()` builds the Authorization / Proxy-Authorization value (MD5 or SHA-256, `-sess` variants,
 * qop=auth or no qop for RFC 2069-style servers).
 * Server (registrar): `NonceSource` makes stateless nonces (time + HMAC, so nothing is stored per challenge and
 * nothing grows), `challenge()` the header value, `parseCredentials()` + `verifyCredentials()` the answer.
 *
 *   response = KD(H(A1), nonce ":" nc ":" cnonce ":" qop ":" H(A2))     (qop=auth)
 *   response = KD(H(A1), nonce ":" H(A2))                               (no qop)
 *   A1 = username ":" realm ":" password   [ ":" nonce ":" cnonce for -sess ]
 *   A2 = method ":" digest-uri
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type DigestAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess';
const ALGORITHMS: readonly DigestAlgorithm[] = ['MD5', 'MD5-sess', 'SHA-256', 'SHA-256-sess'];

export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithm: DigestAlgorithm;
  /** Offered qop values (lower case); empty = none offered (RFC 2069 compatibility). */
  qop: string[];
  stale: boolean;
}

export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm: DigestAlgorithm;
  qop?: string;
  nc?: string;
  cnonce?: string;
  opaque?: string;
}

/**
 * Parse `key=value, key="quoted, value"` pairs after the scheme. Keys are lower-cased; quoted values
 * unescaped. Returns undefined for text that is not a Digest header.
 */
export function parseAuthParams(header: string): Map<string, string> | undefined {
  const m = /^\s*digest\s+/i.exec(header);
  if (!m) return undefined;
  const out = new Map<string, string>();
  let i = m[0].length;
  const s = header;
  while (i < s.length) {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === ',')) i++;
    const eq = s.indexOf('=', i);
    if (eq < 0) break;
    const key = s.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
    let value = '';
    if (s[i] === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        value += s[i];
        i++;
      }
      i++; // closing quote
    } else {
      const end = s.indexOf(',', i);
      value = (end < 0 ? s.slice(i) : s.slice(i, end)).trim();
      i = end < 0 ? s.length : end;
    }
    if (key && !out.has(key) && out.size < 32) out.set(key, value);
  }
  return out;
}

function algorithmOf(v: string | undefined): DigestAlgorithm | undefined {
  if (v === undefined) return 'MD5';
  const u = v.toUpperCase();
  return ALGORITHMS.find((a) => a.toUpperCase() === u);
}

/** A WWW-Authenticate / Proxy-Authenticate value; undefined when not Digest, incomplete, or an unknown algorithm. */
export function parseChallenge(header: string): DigestChallenge | undefined {
  const p = parseAuthParams(header);
  if (!p) return undefined;
  const realm = p.get('realm');
  const nonce = p.get('nonce');
  const algorithm = algorithmOf(p.get('algorithm'));
  if (realm === undefined || nonce === undefined || !algorithm) return undefined;
  const qop = (p.get('qop') ?? '').split(',').map((x) => x.trim().toLowerCase()).filter((x) => x.length > 0);
  const c: DigestChallenge = { realm, nonce, algorithm, qop, stale: (p.get('stale') ?? '').toLowerCase() === 'true' };
  const opaque = p.get('opaque');
  if (opaque !== undefined) c.opaque = opaque;
  return c;
}

/** Of several challenges, the one to answer: SHA-256 before MD5 (RFC 8760 3), then the first. */
export function pickChallenge(headers: readonly string[]): DigestChallenge | undefined {
  let best: DigestChallenge | undefined;
  for (const h of headers) {
    const c = parseChallenge(h);
    if (!c) continue;
    if (!best || (c.algorithm.startsWith('SHA-256') && !best.algorithm.startsWith('SHA-256'))) best = c;
  }
  return best;
}

function hash(alg: DigestAlgorithm, s: string): string {
  return createHash(alg.startsWith('SHA-256') ? 'sha256' : 'md5').update(s, 'utf8').digest('hex');
}

/** H(A1) for a user (what a registrar may store instead of the password). */
export function ha1(alg: DigestAlgorithm, username: string, realm: string, password: string): string {
  return hash(alg, `${username}:${realm}:${password}`);
}

export interface ResponseInput {
  algorithm: DigestAlgorithm;
  /** H(username:realm:password), see `ha1()`. */
  ha1: string;
  method: string;
  uri: string;
  nonce: string;
  qop?: string;
  nc?: string;
  cnonce?: string;
}

/** The `response` value (lower-case hex). */
export function digestResponse(i: ResponseInput): string {
  let h1 = i.ha1;
  if (i.algorithm.endsWith('-sess')) h1 = hash(i.algorithm, `${h1}:${i.nonce}:${i.cnonce ?? ''}`);
  const h2 = hash(i.algorithm, `${i.method}:${i.uri}`);
  if (i.qop === 'auth' || i.qop === 'auth-int') {
    return hash(i.algorithm, `${h1}:${i.nonce}:${i.nc ?? ''}:${i.cnonce ?? ''}:${i.qop}:${h2}`);
  }
  return hash(i.algorithm, `${h1}:${i.nonce}:${h2}`);
}

const quote = (s: string): string => '"' + s.replace(/(["\\])/g, '\\$1') + '"';

/**
 * The Authorization / Proxy-Authorization value answering `ch` for `method` `uri`.
 * qop=auth is used when offered; `nc` counts uses of the same nonce (default 1).
 */
export function authorize(
  ch: DigestChallenge, user: { username: string; password: string }, method: string, uri: string,
  opts: { nc?: number; cnonce?: string } = {},
): string {
  const useQop = ch.qop.includes('auth') ? 'auth' : undefined;
  const cnonce = opts.cnonce ?? randomBytes(12).toString('hex');
  const nc = (opts.nc ?? 1).toString(16).padStart(8, '0');
  const response = digestResponse({
    algorithm: ch.algorithm, ha1: ha1(ch.algorithm, user.username, ch.realm, user.password), method, uri, nonce: ch.nonce,
    ...(useQop ? { qop: useQop, nc, cnonce } : ch.algorithm.endsWith('-sess') ? { cnonce } : {}),
  });
  let s = `Digest username=${quote(user.username)}, realm=${quote(ch.realm)}, nonce=${quote(ch.nonce)}, uri=${quote(uri)}, response=${quote(response)}, algorithm=${ch.algorithm}`;
  if (useQop) s += `, qop=${useQop}, nc=${nc}, cnonce=${quote(cnonce)}`;
  else if (ch.algorithm.endsWith('-sess')) s += `, cnonce=${quote(cnonce)}`;
  if (ch.opaque !== undefined) s += `, opaque=${quote(ch.opaque)}`;
  return s;
}

/** Parse an Authorization / Proxy-Authorization value; undefined when not Digest or incomplete. */
export function parseCredentials(header: string): DigestCredentials | undefined {
  const p = parseAuthParams(header);
  if (!p) return undefined;
  const username = p.get('username');
  const realm = p.get('realm');
  const nonce = p.get('nonce');
  const uri = p.get('uri');
  const response = p.get('response');
  const algorithm = algorithmOf(p.get('algorithm'));
  if (username === undefined || realm === undefined || nonce === undefined || uri === undefined || response === undefined || !algorithm) return undefined;
  const c: DigestCredentials = { username, realm, nonce, uri, response: response.toLowerCase(), algorithm };
  const qop = p.get('qop');
  if (qop !== undefined) c.qop = qop.toLowerCase();
  const nc = p.get('nc');
  if (nc !== undefined) c.nc = nc;
  const cnonce = p.get('cnonce');
  if (cnonce !== undefined) c.cnonce = cnonce;
  const opaque = p.get('opaque');
  if (opaque !== undefined) c.opaque = opaque;
  return c;
}

/** True when `c` is a correct answer for `method` given the user's password (constant-time compare). */
export function verifyCredentials(c: DigestCredentials, method: string, password: string): boolean {
  if (c.qop !== undefined && c.qop !== 'auth') return false; // auth-int is not offered
  if (c.qop === 'auth' && (c.nc === undefined || c.cnonce === undefined)) return false;
  const expected = digestResponse({
    algorithm: c.algorithm, ha1: ha1(c.algorithm, c.username, c.realm, password), method, uri: c.uri, nonce: c.nonce,
    ...(c.qop !== undefined ? { qop: c.qop } : {}), ...(c.nc !== undefined ? { nc: c.nc } : {}),
    ...(c.cnonce !== undefined ? { cnonce: c.cnonce } : {}),
  });
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(c.response, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A WWW-Authenticate / Proxy-Authenticate value. */
export function challenge(o: { realm: string; nonce: string; algorithm?: DigestAlgorithm; stale?: boolean; opaque?: string }): string {
  let s = `Digest realm=${quote(o.realm)}, nonce=${quote(o.nonce)}, algorithm=${o.algorithm ?? 'MD5'}, qop="auth"`;
  if (o.opaque !== undefined) s += `, opaque=${quote(o.opaque)}`;
  if (o.stale) s += ', stale=TRUE';
  return s;
}

/**
 * Stateless nonces: `<ms since epoch, hex>.<HMAC(secret, time), 16 bytes hex>`. A nonce is valid when its
 * HMAC matches and it is younger than `lifetimeMs`; an expired one gets a new challenge with stale=TRUE.
 */
export class NonceSource {
  private readonly secret: Buffer;
  constructor(readonly lifetimeMs = 300_000, secret?: Buffer, private readonly now: () => number = Date.now) {
    this.secret = secret ?? randomBytes(32);
  }

  create(): string {
    const t = Math.floor(this.now()).toString(16);
    return t + '.' + this.mac(t);
  }

  /** 'ok', 'stale' (ours, expired) or 'bad' (not ours). */
  check(nonce: string): 'ok' | 'stale' | 'bad' {
    const dot = nonce.indexOf('.');
    if (dot <= 0 || dot > 16) return 'bad';
    const t = nonce.slice(0, dot);
    const mac = Buffer.from(nonce.slice(dot + 1), 'utf8');
    const want = Buffer.from(this.mac(t), 'utf8');
    if (mac.length !== want.length || !timingSafeEqual(mac, want)) return 'bad';
    const age = this.now() - parseInt(t, 16);
    if (!(age >= -5000)) return 'bad';
    return age > this.lifetimeMs ? 'stale' : 'ok';
  }

  private mac(t: string): string {
    return createHmac('sha256', this.secret).update(t).digest('hex').slice(0, 32);
  }
}
