/**
 * SIP message model (RFC 3261 section 7).
 *
 * The routing headers are decoded eagerly into typed fields (`via`, `from`, `to`, `callId`, `cseq`,
 * `maxForwards`, `contact`, `contentType`); every other header is kept raw in `headers`, in order, and
 * decoded on access (`get`, `getAll`). Each header lives in exactly one place, so the serializer writes
 * the typed fields and then `headers`; `Content-Length` is never stored, it is computed from `body`.
 */

import { parseNameAddr } from './uri.js';

/** A SIP (or sips/tel) URI. `params` keys are lower case; `null` means a flag parameter (`;lr`). */
export interface SipUri {
  scheme: string;
  user?: string;
  password?: string;
  /** Host; IPv6 references keep their brackets (`[::1]`). Empty for non-SIP schemes. */
  host: string;
  port?: number;
  params: Record<string, string | null>;
  headers: Record<string, string>;
}

/** One Via header value. `rport: true` means the parameter is present without a value (RFC 3581). */
export interface Via {
  /** Upper case transport token: UDP, TCP, TLS, WS... */
  transport: string;
  host: string;
  port?: number;
  branch?: string;
  received?: string;
  rport?: number | true;
  /** Other parameters, raw, each with its leading `;` (e.g. `;maddr=x;ttl=1`), kept verbatim. */
  params: string;
}

/** name-addr / addr-spec as used by From, To, Contact, Route... */
export interface NameAddr {
  displayName?: string;
  uri: SipUri;
  tag?: string;
  /** Header parameters other than `tag`, raw, each with its leading `;` (e.g. `;expires=3600`). */
  params: string;
}

export interface CSeq {
  seq: number;
  method: string;
}

export interface Header {
  /** Name as written on the wire (or by the caller). */
  name: string;
  /** Lower case full name (compact forms expanded), used for lookups. */
  lname: string;
  value: string;
}

/** Where a message came from / goes to. `connectionId` identifies a TCP connection. */
export interface Endpoint {
  transport: TransportName;
  address: string;
  port: number;
}

export type TransportName = 'udp' | 'tcp';

export interface Source extends Endpoint {
  /** TCP: the connection the message arrived on (responses go back over it). */
  connectionId?: number;
}

/** Headers whose values are comma-separated lists (split by `getAll`). */
const LIST_HEADERS = new Set([
  'via', 'route', 'record-route', 'contact', 'allow', 'supported', 'require', 'proxy-require',
  'unsupported', 'accept', 'accept-encoding', 'accept-language', 'allow-events', 'path', 'service-route',
]);

/** Compact header forms (RFC 3261 7.3.3 and later RFCs). */
export const COMPACT_FORMS: Readonly<Record<string, string>> = {
  a: 'accept-contact', b: 'referred-by', c: 'content-type', d: 'request-disposition', e: 'content-encoding',
  f: 'from', i: 'call-id', j: 'reject-contact', k: 'supported', l: 'content-length', m: 'contact',
  n: 'identity-info', o: 'event', r: 'refer-to', s: 'subject', t: 'to', u: 'allow-events', v: 'via',
  x: 'session-expires', y: 'identity',
};

/** Lower-case full name of a header name (expands compact forms). */
export function canonicalName(name: string): string {
  const l = name.toLowerCase();
  if (l.length === 1) return COMPACT_FORMS[l] ?? l;
  return l;
}

/**
 * Split a header value on commas that are not inside quotes or angle brackets
 * (`"Doe, John" <sip:a@b>, <sip:c@d>` is two values). Empty elements are dropped.
 */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  let inQuote = false;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inQuote) {
      if (c === 0x5c) i++; // backslash escape
      else if (c === 0x22) inQuote = false;
    } else if (c === 0x22) inQuote = true;
    else if (c === 0x3c) inAngle = true;
    else if (c === 0x3e) inAngle = false;
    else if (c === 0x2c && !inAngle) {
      const part = value.slice(start, i).trim();
      if (part) out.push(part);
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last) out.push(last);
  return out;
}

export interface MessageInit {
  via?: Via[];
  from: NameAddr;
  to: NameAddr;
  callId: string;
  cseq: CSeq;
  maxForwards?: number;
  contact?: NameAddr[];
  contentType?: string;
  headers?: Header[];
  body?: Buffer;
}

export abstract class SipMessageBase {
  via: Via[];
  from: NameAddr;
  to: NameAddr;
  callId: string;
  cseq: CSeq;
  maxForwards: number | undefined;
  /** Contact values; `contactStar` is set instead for `Contact: *` (REGISTER). */
  contact: NameAddr[];
  contactStar = false;
  contentType: string | undefined;
  /** All other headers, raw, in wire order. */
  headers: Header[];
  body: Buffer;

  constructor(init: MessageInit) {
    this.via = init.via ?? [];
    this.from = init.from;
    this.to = init.to;
    this.callId = init.callId;
    this.cseq = init.cseq;
    this.maxForwards = init.maxForwards;
    this.contact = init.contact ?? [];
    this.contentType = init.contentType;
    this.headers = init.headers ?? [];
    this.body = init.body ?? EMPTY_BODY;
  }

  /** First raw value of a non-eager header (case-insensitive, compact forms accepted). */
  get(name: string): string | undefined {
    const l = canonicalName(name);
    for (const h of this.headers) if (h.lname === l) return h.value;
    return undefined;
  }

  /** All values of a header, comma-joined list headers split into elements. */
  getAll(name: string): string[] {
    const l = canonicalName(name);
    const split = LIST_HEADERS.has(l);
    const out: string[] = [];
    for (const h of this.headers) {
      if (h.lname !== l) continue;
      if (split) for (const v of splitList(h.value)) out.push(v);
      else out.push(h.value);
    }
    return out;
  }

  has(name: string): boolean { return this.get(name) !== undefined; }

  /** All values of a name-addr list header (Route, Record-Route, P-Asserted-Identity...), decoded; bad ones skipped. */
  getNameAddrs(name: string): NameAddr[] {
    const out: NameAddr[] = [];
    for (const v of this.getAll(name)) {
      const na = parseNameAddr(v);
      if (na) out.push(na);
    }
    return out;
  }

  /** First value of a header as a non-negative integer (Expires, Min-SE...); undefined if absent or not a number. */
  getInt(name: string): number | undefined {
    const v = this.get(name);
    if (v === undefined || !/^\s*\d{1,10}\s*$/.test(v)) return undefined;
    return Number(v);
  }

  /** Append a raw header (for eager headers use the typed fields instead). */
  add(name: string, value: string): this {
    this.headers.push({ name, lname: canonicalName(name), value });
    return this;
  }

  /** Replace all values of a header with one value. */
  set(name: string, value: string): this {
    this.remove(name);
    return this.add(name, value);
  }

  remove(name: string): this {
    const l = canonicalName(name);
    this.headers = this.headers.filter((h) => h.lname !== l);
    return this;
  }

  /** The body as UTF-8 text. */
  bodyText(): string { return this.body.toString('utf8'); }

  abstract isRequest(): this is SipRequest;
}

export const EMPTY_BODY: Buffer = Buffer.alloc(0);

export interface RequestInit extends MessageInit {
  method: string;
  uri: SipUri;
}

export class SipRequest extends SipMessageBase {
  method: string;
  uri: SipUri;
  constructor(init: RequestInit) {
    super(init);
    this.method = init.method;
    this.uri = init.uri;
  }
  isRequest(): this is SipRequest { return true; }
}

export interface ResponseInit extends MessageInit {
  status: number;
  reason: string;
}

export class SipResponse extends SipMessageBase {
  status: number;
  reason: string;
  /**
   * Set on responses the stack made up itself: 'timeout' (408 after Timer B/F), 'transport' (503 after a
   * transport error). Undefined for responses received from the network.
   */
  synthetic: 'timeout' | 'transport' | undefined;
  constructor(init: ResponseInit) {
    super(init);
    this.status = init.status;
    this.reason = init.reason;
    this.synthetic = undefined;
  }
  isRequest(): this is SipRequest { return false; }
}

export type SipMessage = SipRequest | SipResponse;

/** The RFC 3261 magic cookie that starts every branch we generate. */
export const BRANCH_COOKIE = 'z9hG4bK';
