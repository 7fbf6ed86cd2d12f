/**
 * SIP message parser over Buffers (RFC 3261 7, 18.3, 25).
 *
 *   SIP-message  = start-line *message-header CRLF [ message-body ]
 *   Request-Line = Method SP Request-URI SP SIP-Version CRLF
 *   Status-Line  = SIP-Version SP Status-Code SP Reason-Phrase CRLF
 *
 * The header section is decoded once (UTF-8) and walked by offsets; routing headers are decoded eagerly,
 * others are kept raw. The body is a view (`subarray`) over the input: callers that keep a message longer
 * than the input buffer (TCP connection buffers) pass a buffer they own.
 *
 * Results: `ok` (with the bytes consumed), `incomplete` (stream only: wait for more bytes), `keepalive`
 * (CRLF pings), `malformed` (with a reason, and for requests enough raw fields to answer 400).
 * Never throws.
 */
import {
  canonicalName, SipRequest, SipResponse, type CSeq, type Header, type NameAddr, type SipMessage, type SipUri,
  type Via,
} from './message.js';
import { parseHostPort, parseNameAddr, parseUri } from './uri.js';

export interface ParseOptions {
  /** true for TCP (framing by Content-Length, `incomplete` possible); false for datagrams. */
  stream: boolean;
  /** Max bytes of one message (start line to end of body). Default 65535. */
  maxMessageSize?: number;
  /** Max number of header fields. Default 256. */
  maxHeaders?: number;
}

export const DEFAULT_MAX_MESSAGE_SIZE = 65535;
export const DEFAULT_MAX_HEADERS = 256;

/** What is needed to answer a malformed request with 400: raw lines, copied verbatim into the response. */
export interface PartialRequest {
  method: string;
  via: Via[];
  /** Raw header values (first occurrence) of From, To, Call-ID, CSeq when present. */
  from?: string;
  to?: string;
  callId?: string;
  cseq?: string;
}

export type ParseResult =
  | { kind: 'ok'; message: SipMessage; length: number }
  | { kind: 'incomplete' }
  | { kind: 'keepalive'; length: number }
  | { kind: 'malformed'; reason: string; length: number; partial: PartialRequest | null };

const INCOMPLETE: ParseResult = { kind: 'incomplete' };

function malformed(reason: string, length: number, partial: PartialRequest | null = null): ParseResult {
  return { kind: 'malformed', reason, length, partial };
}

function isTokenChar(c: number): boolean {
  // token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" )
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
    c === 0x2d || c === 0x2e || c === 0x21 || c === 0x25 || c === 0x2a || c === 0x5f || c === 0x2b ||
    c === 0x60 || c === 0x27 || c === 0x7e;
}

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTokenChar(s.charCodeAt(i))) return false;
  return true;
}

/** Parse a non-negative decimal integer made only of digits; -1 if invalid or > max. */
function parseUint(s: string, max: number): number {
  if (s.length === 0 || s.length > 10) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n > max ? -1 : n;
}

function isWs(c: number): boolean { return c === 0x20 || c === 0x09; }

/**
 * Parse one Via value (not a comma list) into `out`. Returns false when malformed.
 *   via-parm = sent-protocol LWS sent-by *( SEMI via-params )
 *   sent-protocol = protocol-name SLASH protocol-version SLASH transport
 */
export function parseVia(v: string): Via | null {
  const n = v.length;
  let i = 0;
  while (i < n && isWs(v.charCodeAt(i))) i++;
  // protocol name / version / transport, LWS allowed around slashes
  const parts: string[] = [];
  for (let k = 0; k < 3; k++) {
    const start = i;
    while (i < n && isTokenChar(v.charCodeAt(i))) i++;
    if (i === start) return null;
    parts.push(v.slice(start, i));
    while (i < n && isWs(v.charCodeAt(i))) i++;
    if (k < 2) {
      if (i >= n || v.charCodeAt(i) !== 0x2f) return null;
      i++;
      while (i < n && isWs(v.charCodeAt(i))) i++;
    }
  }
  if (parts[0]!.toUpperCase() !== 'SIP' || parts[1] !== '2.0') return null;
  // sent-by up to ';' (or end), whitespace trimmed
  let end = v.indexOf(';', i);
  if (end < 0) end = n;
  const sentBy = v.slice(i, end).trim();
  const hp = parseHostPort(sentBy);
  if (!hp) return null;
  const via: Via = { transport: parts[2]!.toUpperCase(), host: hp.host, params: '' };
  if (hp.port !== undefined) via.port = hp.port;
  let p = end + 1;
  while (p <= n && end < n) {
    let e = v.indexOf(';', p);
    if (e < 0) e = n;
    const part = v.slice(p, e).trim();
    if (part.length > 0) {
      const eq = part.indexOf('=');
      const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
      const value = eq < 0 ? null : part.slice(eq + 1).trim();
      if (name === 'branch' && value !== null) via.branch = value;
      else if (name === 'received' && value !== null) via.received = value;
      else if (name === 'rport') {
        if (value === null || value === '') via.rport = true;
        else {
          const port = parseUint(value, 65535);
          if (port <= 0) return null;
          via.rport = port;
        }
      } else via.params += ';' + part;
    }
    p = e + 1;
  }
  return via;
}

/** Parse a comma-list of Vias (respecting quotes) into `out`; false when any element is malformed. */
function parseViaList(value: string, out: Via[]): boolean {
  if (value.indexOf(',') < 0 && value.indexOf('"') < 0) {
    const v = parseVia(value);
    if (!v) return false;
    out.push(v);
    return true;
  }
  let start = 0;
  let inQuote = false;
  for (let i = 0; i <= value.length; i++) {
    const c = i < value.length ? value.charCodeAt(i) : 0x2c;
    if (inQuote) { if (c === 0x22) inQuote = false; continue; }
    if (c === 0x22) { inQuote = true; continue; }
    if (c === 0x2c) {
      const part = value.slice(start, i);
      if (part.trim().length > 0) {
        const v = parseVia(part);
        if (!v) return false;
        out.push(v);
      }
      start = i + 1;
    }
  }
  return true;
}

/** Parse a Contact value list; '*' sets star. Returns false when an element is malformed. */
function parseContactList(value: string, out: NameAddr[]): boolean | 'star' {
  const t = value.trim();
  if (t === '*') return 'star';
  let start = 0;
  let inQuote = false;
  let inAngle = false;
  for (let i = 0; i <= value.length; i++) {
    const c = i < value.length ? value.charCodeAt(i) : 0x2c;
    if (inQuote) { if (c === 0x5c) i++; else if (c === 0x22) inQuote = false; continue; }
    if (c === 0x22) inQuote = true;
    else if (c === 0x3c) inAngle = true;
    else if (c === 0x3e) inAngle = false;
    else if (c === 0x2c && !inAngle) {
      const part = value.slice(start, i);
      if (part.trim().length > 0) {
        const na = parseNameAddr(part);
        if (!na) return false;
        out.push(na);
      }
      start = i + 1;
    }
  }
  return true;
}

export function parseCSeq(v: string): CSeq | null {
  const t = v.trim();
  let i = 0;
  while (i < t.length && t.charCodeAt(i) >= 0x30 && t.charCodeAt(i) <= 0x39) i++;
  if (i === 0 || i >= t.length || !isWs(t.charCodeAt(i))) return null;
  const seq = parseUint(t.slice(0, i), 0x7fffffff);
  if (seq < 0) return null;
  const method = t.slice(i).trim();
  if (!isToken(method)) return null;
  return { seq, method };
}

const CRLF2 = Buffer.from('\r\n\r\n');
const FOLD_RE = /\r\n[ \t]+/g;

/**
 * Parse one message starting at `offset` of `buf`.
 * Datagram mode: the whole rest of `buf` is the message. Stream mode: the message is framed by Content-Length.
 */
export function parseMessage(buf: Buffer, opts: ParseOptions, offset = 0): ParseResult {
  try {
    return parseInner(buf, opts, offset);
  } catch {
    // Defensive: a parser bug must never take the process down.
    return malformed('Parser error', buf.length - offset);
  }
}

function parseInner(buf: Buffer, opts: ParseOptions, offset: number): ParseResult {
  const maxSize = opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  const maxHeaders = opts.maxHeaders ?? DEFAULT_MAX_HEADERS;
  const total = buf.length;
  // Skip leading CRLFs (RFC 3261 7.5; RFC 5626 keep-alives).
  let start = offset;
  while (start < total && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  if (start === total) {
    if (opts.stream) {
      // A complete "\r\n\r\n" ping, or wait for the rest of it.
      if (start - offset >= 4) return { kind: 'keepalive', length: start - offset };
      return start === offset ? INCOMPLETE : { kind: 'keepalive', length: start - offset };
    }
    return { kind: 'keepalive', length: total - offset };
  }
  if (!opts.stream && total - offset > maxSize) return malformed('Message too large', total - offset);
  let headEnd = buf.indexOf(CRLF2, start);
  let truncatedHead = false;
  if (headEnd < 0) {
    if (opts.stream) {
      if (total - start > maxSize) return malformed('Message too large', total - offset);
      return INCOMPLETE;
    }
    headEnd = total;
    truncatedHead = true;
  } else if (headEnd - start > maxSize) {
    return malformed('Message too large', total - offset);
  }
  const bodyStart = truncatedHead ? total : headEnd + 4;
  let head = buf.toString('utf8', start, headEnd);
  if (head.indexOf('\r\n ') >= 0 || head.indexOf('\r\n\t') >= 0) head = head.replace(FOLD_RE, ' ');

  let error: string | null = null;
  const nul = buf.indexOf(0, start);
  if (nul >= 0 && nul < headEnd) error = 'NUL byte in headers';
  if (truncatedHead && error === null) error = 'Missing empty line after headers';

  // ---- start line
  let lineEnd = head.indexOf('\r\n');
  if (lineEnd < 0) lineEnd = head.length;
  const startLine = head.slice(0, lineEnd);
  let isRequest: boolean;
  let method = '';
  let uri: SipUri | null = null;
  let status = 0;
  let reason = '';
  if (startLine.startsWith('SIP/2.0 ')) {
    isRequest = false;
    const codeStr = startLine.slice(8, 11);
    status = parseUint(codeStr, 699);
    if (status < 100 || (startLine.length > 11 && startLine.charCodeAt(11) !== 0x20)) {
      return malformed('Bad status line', total - offset);
    }
    reason = startLine.slice(12);
  } else {
    isRequest = true;
    const sp1 = startLine.indexOf(' ');
    const sp2 = sp1 < 0 ? -1 : startLine.indexOf(' ', sp1 + 1);
    if (sp1 <= 0 || sp2 < 0) return malformed('Bad request line', total - offset);
    method = startLine.slice(0, sp1);
    const version = startLine.slice(sp2 + 1);
    if (!isToken(method) || version !== 'SIP/2.0') {
      // Unknown version: we still cannot safely answer (could be HTTP etc.): drop.
      return malformed(version.toUpperCase() === 'SIP/2.0' ? 'Bad method' : 'Bad request line', total - offset);
    }
    uri = parseUri(startLine.slice(sp1 + 1, sp2));
    if (!uri && error === null) error = 'Bad Request-URI';
  }

  // ---- headers
  const via: Via[] = [];
  const contact: NameAddr[] = [];
  const headers: Header[] = [];
  let contactStar = false;
  let from: NameAddr | null = null;
  let to: NameAddr | null = null;
  let callId: string | null = null;
  let cseq: CSeq | null = null;
  let maxForwards: number | undefined;
  let contentLength = -1;
  let contentType: string | undefined;
  let rawFrom: string | undefined;
  let rawTo: string | undefined;
  let rawCseq: string | undefined;
  let count = 0;
  let pos = lineEnd + 2;
  const hlen = head.length;
  while (pos < hlen) {
    let eol = head.indexOf('\r\n', pos);
    if (eol < 0) eol = hlen;
    if (eol === pos) { pos = eol + 2; continue; }
    if (++count > maxHeaders) { if (error === null) error = 'Too many headers'; break; }
    const colon = head.indexOf(':', pos);
    if (colon < 0 || colon > eol) {
      if (error === null) error = 'Header without colon';
      pos = eol + 2;
      continue;
    }
    let ne = colon;
    while (ne > pos && isWs(head.charCodeAt(ne - 1))) ne--;
    const name = head.slice(pos, ne);
    const value = head.slice(colon + 1, eol).trim();
    pos = eol + 2;
    if (!isToken(name)) { if (error === null) error = 'Bad header name'; continue; }
    const lname = canonicalName(name);
    switch (lname) {
      case 'via':
        if (!parseViaList(value, via) && error === null) error = 'Bad Via';
        break;
      case 'from':
        if (rawFrom !== undefined) { if (error === null) error = 'Duplicate From'; break; }
        rawFrom = value;
        from = parseNameAddr(value);
        if (!from && error === null) error = 'Bad From';
        break;
      case 'to':
        if (rawTo !== undefined) { if (error === null) error = 'Duplicate To'; break; }
        rawTo = value;
        to = parseNameAddr(value);
        if (!to && error === null) error = 'Bad To';
        break;
      case 'call-id':
        if (callId !== null) { if (error === null) error = 'Duplicate Call-ID'; break; }
        callId = value;
        if (value.length === 0 && error === null) error = 'Bad Call-ID';
        break;
      case 'cseq':
        if (rawCseq !== undefined) { if (error === null) error = 'Duplicate CSeq'; break; }
        rawCseq = value;
        cseq = parseCSeq(value);
        if (!cseq && error === null) error = 'Bad CSeq';
        break;
      case 'max-forwards': {
        const mf = parseUint(value, 255);
        if (mf < 0) { if (error === null) error = 'Bad Max-Forwards'; } else maxForwards = mf;
        break;
      }
      case 'content-length': {
        const cl = parseUint(value, 0x7fffffff);
        if (cl < 0) { if (error === null) error = 'Bad Content-Length'; } else if (contentLength >= 0 && cl !== contentLength) {
          if (error === null) error = 'Conflicting Content-Length';
        } else contentLength = cl;
        break;
      }
      case 'contact': {
        const r = parseContactList(value, contact);
        if (r === 'star') contactStar = true;
        else if (!r && error === null) error = 'Bad Contact';
        break;
      }
      case 'content-type':
        contentType = value;
        break;
      default:
        headers.push({ name, lname, value });
    }
  }

  // ---- framing
  let msgEnd: number;
  if (contentLength >= 0) {
    msgEnd = bodyStart + contentLength;
    if (msgEnd - start > maxSize) return malformed('Message too large', total - offset);
    if (msgEnd > total) {
      if (opts.stream) return INCOMPLETE;
      if (error === null) error = 'Body shorter than Content-Length';
      msgEnd = total;
    }
  } else {
    msgEnd = opts.stream ? bodyStart : total;
  }
  const length = msgEnd - offset;

  // ---- mandatory headers
  if (error === null) {
    if (via.length === 0) error = 'Missing Via';
    else if (!rawFrom) error = 'Missing From';
    else if (!rawTo) error = 'Missing To';
    else if (callId === null) error = 'Missing Call-ID';
    else if (!rawCseq) error = 'Missing CSeq';
    else if (isRequest && cseq && cseq.method !== method) error = 'CSeq method does not match';
  }
  if (error !== null) {
    let partial: PartialRequest | null = null;
    if (isRequest && via.length > 0) {
      partial = { method, via };
      if (rawFrom !== undefined) partial.from = rawFrom;
      if (rawTo !== undefined) partial.to = rawTo;
      if (callId !== null) partial.callId = callId;
      if (rawCseq !== undefined) partial.cseq = rawCseq;
    }
    return malformed(error, length, partial);
  }

  const body = msgEnd > bodyStart ? buf.subarray(bodyStart, msgEnd) : EMPTY;
  // No object spread here: V8 takes a slow path for it (measured: 5x the whole parse).
  let message: SipMessage;
  if (isRequest) {
    message = new SipRequest({
      method, uri: uri!, via, from: from!, to: to!, callId: callId!, cseq: cseq!, maxForwards, contact, contentType, headers, body,
    });
  } else {
    message = new SipResponse({
      status, reason, via, from: from!, to: to!, callId: callId!, cseq: cseq!, maxForwards, contact, contentType, headers, body,
    });
  }
  if (contactStar) message.contactStar = true;
  return { kind: 'ok', message, length };
}

const EMPTY = Buffer.alloc(0);
