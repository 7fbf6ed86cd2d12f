/**
 * SIP URI and name-addr parsing/formatting (RFC 3261 19.1, 20.10, 25.1).
 *
 *   SIP-URI  = "sip:" [ userinfo ] hostport uri-parameters [ headers ]
 *   userinfo = ( user / telephone-subscriber ) [ ":" password ] "@"
 *   hostport = host [ ":" port ]        host = hostname / IPv4address / "[" IPv6address "]"
 *   name-addr = [ display-name ] LAQUOT addr-spec RAQUOT
 *
 * Functions return `null` for malformed input; they never throw.
 */
import type { NameAddr, SipUri } from './message.js';
import { detach } from '../util/strings.js';

function parsePort(s: string): number | undefined | null {
  if (s.length === 0 || s.length > 5) return null;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return null;
    n = n * 10 + c;
  }
  if (n < 1 || n > 65535) return null;
  return n;
}

/** Split `host[:port]` (IPv6 in brackets). Returns null when malformed. */
export function parseHostPort(s: string): { host: string; port: number | undefined } | null {
  if (s.length === 0) return null;
  let host: string;
  let portStr: string | undefined;
  if (s.charCodeAt(0) === 0x5b) { // '['
    const close = s.indexOf(']');
    if (close < 0) return null;
    host = s.slice(0, close + 1);
    const rest = s.slice(close + 1);
    if (rest.length > 0) {
      if (rest.charCodeAt(0) !== 0x3a) return null;
      portStr = rest.slice(1);
    }
  } else {
    const colon = s.indexOf(':');
    if (colon >= 0) { host = s.slice(0, colon); portStr = s.slice(colon + 1); } else host = s;
  }
  if (host.length === 0 || !isHostChars(host)) return null;
  if (portStr === undefined) return { host, port: undefined };
  const port = parsePort(portStr);
  if (port === null || port === undefined) return null;
  return { host, port };
}

function isHostChars(h: string): boolean {
  for (let i = 0; i < h.length; i++) {
    const c = h.charCodeAt(i);
    // alnum . - [ ] : (IPv6) ; anything else (spaces, quotes, controls) is invalid
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
      c === 0x2e || c === 0x2d || c === 0x5b || c === 0x5d || c === 0x3a || c === 0x5f)) return false;
  }
  return true;
}

function isUserChars(u: string): boolean {
  for (let i = 0; i < u.length; i++) {
    const c = u.charCodeAt(i);
    if (c <= 0x20 || c === 0x22 || c === 0x3c || c === 0x3e || c === 0x7f) return false;
  }
  return true;
}

/** Parse `;a=b;c` into a record with lower-case names. */
export function parseParams(s: string, out: Record<string, string | null>): void {
  let i = 0;
  while (i < s.length) {
    let end = s.indexOf(';', i);
    if (end < 0) end = s.length;
    if (end > i) {
      const part = s.slice(i, end);
      const eq = part.indexOf('=');
      if (eq < 0) out[part.trim().toLowerCase()] = null;
      else out[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim();
    }
    i = end + 1;
  }
}

/** Parse a URI. sip/sips are fully decoded; other schemes (tel, urn...) keep the opaque part in `user`. */
export function parseUri(input: string): SipUri | null {
  const s = input.trim();
  const colon = s.indexOf(':');
  if (colon <= 0) return null;
  const scheme = s.slice(0, colon).toLowerCase();
  const params: Record<string, string | null> = {};
  const headers: Record<string, string> = {};
  let rest = s.slice(colon + 1);
  if (scheme !== 'sip' && scheme !== 'sips') {
    for (let i = 0; i < scheme.length; i++) {
      const c = scheme.charCodeAt(i);
      if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e)) return null;
    }
    const semi = rest.indexOf(';');
    if (semi >= 0) { parseParams(rest.slice(semi + 1), params); rest = rest.slice(0, semi); }
    if (rest.length === 0) return null;
    return { scheme, user: rest, host: '', params, headers };
  }
  const q = rest.indexOf('?');
  if (q >= 0) {
    const hs = rest.slice(q + 1);
    rest = rest.slice(0, q);
    for (const kv of hs.split('&')) {
      if (!kv) continue;
      const eq = kv.indexOf('=');
      if (eq < 0) headers[kv] = ''; else headers[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
  }
  let user: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const pc = userinfo.indexOf(':');
    if (pc >= 0) { user = userinfo.slice(0, pc); password = userinfo.slice(pc + 1); } else user = userinfo;
    if (user.length === 0 || !isUserChars(userinfo)) return null;
  }
  const semi = rest.indexOf(';');
  let hostport = rest;
  if (semi >= 0) { hostport = rest.slice(0, semi); parseParams(rest.slice(semi + 1), params); }
  const hp = parseHostPort(hostport);
  if (!hp) return null;
  const uri: SipUri = { scheme, host: hp.host, params, headers };
  if (user !== undefined) uri.user = user;
  if (password !== undefined) uri.password = password;
  if (hp.port !== undefined) uri.port = hp.port;
  return uri;
}

/** A copy of `u` whose strings do not keep the parsed message alive (util/strings.ts): for URIs kept past it. */
export function detachUri(u: SipUri): SipUri {
  const params: Record<string, string | null> = {};
  for (const k in u.params) { const v = u.params[k]!; params[detach(k)] = v === null ? null : detach(v); }
  const headers: Record<string, string> = {};
  for (const k in u.headers) headers[detach(k)] = detach(u.headers[k]!);
  const out: SipUri = { scheme: u.scheme, host: detach(u.host), params, headers };
  if (u.user !== undefined) out.user = detach(u.user);
  if (u.password !== undefined) out.password = detach(u.password);
  if (u.port !== undefined) out.port = u.port;
  return out;
}

/** A copy of `na` whose strings do not keep the parsed message alive (see `detachUri`). */
export function detachNameAddr(na: NameAddr): NameAddr {
  const out: NameAddr = { uri: detachUri(na.uri), params: detach(na.params) };
  if (na.displayName !== undefined) out.displayName = detach(na.displayName);
  if (na.tag !== undefined) out.tag = detach(na.tag);
  return out;
}

export function formatUri(u: SipUri): string {
  let s = u.scheme + ':';
  if (u.host === '') {
    s += u.user ?? '';
  } else {
    if (u.user !== undefined) {
      s += u.user;
      if (u.password !== undefined) s += ':' + u.password;
      s += '@';
    }
    s += u.host;
    if (u.port !== undefined) s += ':' + u.port;
  }
  for (const k in u.params) {
    const v = u.params[k];
    s += v === null || v === undefined ? ';' + k : ';' + k + '=' + v;
  }
  let first = true;
  for (const k in u.headers) {
    s += (first ? '?' : '&') + k + '=' + u.headers[k];
    first = false;
  }
  return s;
}

/** Value of a parameter in a raw `;a=b;c` string (lower-case name match); null for a flag, undefined if absent. */
export function paramValue(raw: string, name: string): string | null | undefined {
  if (raw.length === 0) return undefined;
  const rec: Record<string, string | null> = {};
  parseParams(raw, rec);
  return name.toLowerCase() in rec ? rec[name.toLowerCase()] : undefined;
}

/**
 * Parse a name-addr or addr-spec with header parameters:
 * `"Alice" <sip:alice@host>;tag=1`, `Bob <sip:bob@h>`, `sip:carol@h;tag=2` (params belong to the header).
 */
export function parseNameAddr(input: string): NameAddr | null {
  const s = input;
  let i = 0;
  const n = s.length;
  while (i < n && (s.charCodeAt(i) === 0x20 || s.charCodeAt(i) === 0x09)) i++;
  let displayName: string | undefined;
  let uriText: string;
  let paramText: string;
  if (i < n && s.charCodeAt(i) === 0x22) { // quoted display name
    let j = i + 1;
    let dn = '';
    let segStart = j;
    for (; j < n; j++) {
      const c = s.charCodeAt(j);
      if (c === 0x5c) { dn += s.slice(segStart, j); j++; segStart = j; continue; }
      if (c === 0x22) break;
    }
    if (j >= n) return null;
    dn += s.slice(segStart, j);
    displayName = dn;
    const lt = s.indexOf('<', j + 1);
    if (lt < 0) return null;
    const gt = s.indexOf('>', lt + 1);
    if (gt < 0) return null;
    uriText = s.slice(lt + 1, gt);
    paramText = s.slice(gt + 1);
  } else {
    const lt = s.indexOf('<', i);
    if (lt >= 0) {
      const gt = s.indexOf('>', lt + 1);
      if (gt < 0) return null;
      const dn = s.slice(i, lt).trim();
      if (dn.length > 0) displayName = dn;
      uriText = s.slice(lt + 1, gt);
      paramText = s.slice(gt + 1);
    } else {
      const semi = s.indexOf(';', i);
      if (semi >= 0) { uriText = s.slice(i, semi); paramText = s.slice(semi); } else { uriText = s.slice(i); paramText = ''; }
    }
  }
  const uri = parseUri(uriText);
  if (!uri) return null;
  const na: NameAddr = { uri, params: '' };
  if (displayName !== undefined) na.displayName = displayName;
  paramText = paramText.trim();
  if (paramText.length > 0) {
    if (paramText.charCodeAt(0) !== 0x3b) return null; // must start with ';'
    // Extract tag, keep the rest verbatim.
    let other = '';
    let p = 1;
    while (p <= paramText.length) {
      let end = paramText.indexOf(';', p);
      if (end < 0) end = paramText.length;
      const part = paramText.slice(p, end).trim();
      if (part.length > 0) {
        const eq = part.indexOf('=');
        const name = (eq < 0 ? part : part.slice(0, eq)).trim();
        if (name.length === 3 && name.toLowerCase() === 'tag' && eq >= 0) na.tag = part.slice(eq + 1).trim();
        else other += ';' + part;
      }
      p = end + 1;
    }
    na.params = other;
  }
  return na;
}

function needsQuotes(dn: string): boolean {
  for (let i = 0; i < dn.length; i++) {
    const c = dn.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
      c === 0x2d || c === 0x2e || c === 0x21 || c === 0x25 || c === 0x2a || c === 0x5f || c === 0x2b ||
      c === 0x60 || c === 0x27 || c === 0x7e || c === 0x20)) return true;
  }
  return false;
}

export function formatNameAddr(na: NameAddr): string {
  let s = '';
  if (na.displayName !== undefined && na.displayName.length > 0) {
    s = needsQuotes(na.displayName)
      ? '"' + na.displayName.replace(/(["\\])/g, '\\$1') + '" '
      : na.displayName + ' ';
  }
  s += '<' + formatUri(na.uri) + '>';
  if (na.tag !== undefined) s += ';tag=' + na.tag;
  s += na.params;
  return s;
}
