/**
 * SDP (RFC 4566/8866) parse/serialize, and RFC 3264 offer/answer for one audio stream with
 * PCMU (PT 0), PCMA (PT 8) and telephone-event (RFC 4733, dynamic PT, 8000 Hz).
 *
 * Parsing never throws: it returns `{ ok: false, error }` for input it cannot read. Attribute lines are
 * kept in order (name + raw value), so a parsed description serializes back to the same lines.
 * Offer/answer failures that SIP should turn into `488 Not Acceptable Here` come back as
 * `{ ok: false, status: 488 }`; unreadable or incomplete SDP as `{ ok: false, status: 400 }`.
 */

export interface SdpOrigin {
  username: string;
  /** Numeric strings (may exceed 2^53). */
  sessionId: string;
  sessionVersion: string;
  netType: string;
  addrType: string;
  address: string;
}

export interface SdpConnection {
  netType: string;
  /** 'IP4' | 'IP6' */
  addrType: string;
  address: string;
}

export interface SdpAttribute {
  name: string;
  /** Text after the first ':'; undefined for flag attributes (`a=sendrecv`). */
  value?: string;
}

/** Other lines kept verbatim (i=, u=, e=, p=, b=, r=, z=, k=), by type letter. */
export interface SdpLine {
  type: string;
  value: string;
}

export interface SdpMedia {
  media: string;
  port: number;
  /** `m=audio 49170/2 ...` → 2; undefined when absent. */
  numPorts?: number;
  proto: string;
  formats: string[];
  connection?: SdpConnection;
  /** i=, b=, k= lines of this media section. */
  lines: SdpLine[];
  attributes: SdpAttribute[];
}

export interface SessionDescription {
  version: number;
  origin: SdpOrigin;
  sessionName: string;
  connection?: SdpConnection;
  /** t= values (usually one, `0 0`). */
  timing: string[];
  lines: SdpLine[];
  attributes: SdpAttribute[];
  media: SdpMedia[];
}

export type SdpDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
const DIRECTIONS: readonly string[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];

export type ParseResult = { ok: true; sdp: SessionDescription } | { ok: false; error: string };

const CRLF = '\r\n';

// ---------------------------------------------------------------- parse
/** Parse SDP text (CRLF or LF line ends). Never throws. */
export function parseSdp(text: string): ParseResult {
  if (typeof text !== 'string') return { ok: false, error: 'not a string' };
  const rawLines = text.split(/\r?\n/);
  let version: number | undefined;
  let origin: SdpOrigin | undefined;
  let sessionName: string | undefined;
  let connection: SdpConnection | undefined;
  const timing: string[] = [];
  const lines: SdpLine[] = [];
  const attributes: SdpAttribute[] = [];
  const media: SdpMedia[] = [];
  let cur: SdpMedia | undefined;
  for (let i = 0; i < rawLines.length; i++) {
    const line = rawLines[i]!.replace(/\s+$/, '');
    if (line === '') continue;
    if (line.length < 2 || line[1] !== '=' || !/^[a-z]$/.test(line[0]!)) return { ok: false, error: `line ${i + 1}: not "<type>=<value>"` };
    const type = line[0]!;
    const value = line.slice(2);
    if (i === 0 && type !== 'v') return { ok: false, error: 'first line must be v=' };
    switch (type) {
      case 'v':
        if (!/^\d+$/.test(value)) return { ok: false, error: `line ${i + 1}: bad v=` };
        version = Number(value);
        break;
      case 'o': {
        const f = value.split(/\s+/);
        if (f.length !== 6) return { ok: false, error: `line ${i + 1}: o= needs 6 fields` };
        origin = { username: f[0]!, sessionId: f[1]!, sessionVersion: f[2]!, netType: f[3]!, addrType: f[4]!, address: f[5]! };
        break;
      }
      case 's':
        sessionName = value;
        break;
      case 'c': {
        const c = parseConnection(value);
        if (!c) return { ok: false, error: `line ${i + 1}: bad c=` };
        if (cur) cur.connection = c;
        else connection = c;
        break;
      }
      case 't':
        if (cur) return { ok: false, error: `line ${i + 1}: t= inside a media section` };
        timing.push(value);
        break;
      case 'm': {
        const f = value.split(/\s+/);
        if (f.length < 3) return { ok: false, error: `line ${i + 1}: m= needs media, port and proto` };
        const pm = /^(\d+)(?:\/(\d+))?$/.exec(f[1]!);
        if (!pm) return { ok: false, error: `line ${i + 1}: bad m= port` };
        const port = Number(pm[1]);
        if (port > 65535) return { ok: false, error: `line ${i + 1}: m= port out of range` };
        cur = { media: f[0]!, port, proto: f[2]!, formats: f.slice(3), lines: [], attributes: [] };
        if (pm[2] !== undefined) cur.numPorts = Number(pm[2]);
        media.push(cur);
        break;
      }
      case 'a': {
        const colon = value.indexOf(':');
        const attr: SdpAttribute = colon < 0 ? { name: value } : { name: value.slice(0, colon), value: value.slice(colon + 1) };
        (cur ? cur.attributes : attributes).push(attr);
        break;
      }
      default:
        (cur ? cur.lines : lines).push({ type, value });
    }
  }
  if (version === undefined) return { ok: false, error: 'missing v=' };
  if (!origin) return { ok: false, error: 'missing o=' };
  const sdp: SessionDescription = {
    version, origin, sessionName: sessionName ?? '-', timing: timing.length ? timing : ['0 0'], lines, attributes, media,
  };
  if (connection) sdp.connection = connection;
  return { ok: true, sdp };
}

function parseConnection(value: string): SdpConnection | undefined {
  const f = value.split(/\s+/);
  if (f.length !== 3 || !f[2]) return undefined;
  // strip multicast TTL/count suffixes: we only do unicast
  return { netType: f[0]!, addrType: f[1]!, address: f[2]!.split('/')[0]! };
}

// ---------------------------------------------------------------- serialize
/** Serialize with CRLF line ends, in RFC 8866 field order. */
export function serializeSdp(sdp: SessionDescription): string {
  const out: string[] = [];
  out.push(`v=${sdp.version}`);
  const o = sdp.origin;
  out.push(`o=${o.username} ${o.sessionId} ${o.sessionVersion} ${o.netType} ${o.addrType} ${o.address}`);
  out.push(`s=${sdp.sessionName === '' ? '-' : sdp.sessionName}`);
  pushLines(out, sdp.lines, 'iuep');
  if (sdp.connection) out.push(`c=${conn(sdp.connection)}`);
  pushLines(out, sdp.lines, 'b');
  for (const t of sdp.timing) out.push(`t=${t}`);
  pushLines(out, sdp.lines, 'rzk');
  pushOtherLines(out, sdp.lines, 'iuepbrzk');
  for (const a of sdp.attributes) out.push(attr(a));
  for (const m of sdp.media) {
    out.push(`m=${m.media} ${m.port}${m.numPorts !== undefined ? `/${m.numPorts}` : ''} ${m.proto}${m.formats.length ? ' ' + m.formats.join(' ') : ''}`);
    pushLines(out, m.lines, 'i');
    if (m.connection) out.push(`c=${conn(m.connection)}`);
    pushLines(out, m.lines, 'bk');
    pushOtherLines(out, m.lines, 'ibk');
    for (const a of m.attributes) out.push(attr(a));
  }
  return out.join(CRLF) + CRLF;
}

function pushLines(out: string[], lines: readonly SdpLine[], types: string): void {
  for (const t of types) for (const l of lines) if (l.type === t) out.push(`${l.type}=${l.value}`);
}
function pushOtherLines(out: string[], lines: readonly SdpLine[], known: string): void {
  for (const l of lines) if (!known.includes(l.type)) out.push(`${l.type}=${l.value}`);
}
function conn(c: SdpConnection): string { return `${c.netType} ${c.addrType} ${c.address}`; }
function attr(a: SdpAttribute): string { return a.value === undefined ? `a=${a.name}` : `a=${a.name}:${a.value}`; }

// ---------------------------------------------------------------- helpers
export interface RtpMap {
  payloadType: number;
  encoding: string;
  clockRate: number;
  channels?: number;
}

/** rtpmap of `pt` in a media section; static PTs 0 (PCMU) and 8 (PCMA) are implied when absent. */
export function rtpmapOf(m: SdpMedia, pt: number): RtpMap | undefined {
  for (const a of m.attributes) {
    if (a.name !== 'rtpmap' || a.value === undefined) continue;
    const r = /^(\d+)\s+([^/\s]+)\/(\d+)(?:\/(\d+))?/.exec(a.value);
    if (!r || Number(r[1]) !== pt) continue;
    const map: RtpMap = { payloadType: pt, encoding: r[2]!, clockRate: Number(r[3]) };
    if (r[4] !== undefined) map.channels = Number(r[4]);
    return map;
  }
  if (pt === 0) return { payloadType: 0, encoding: 'PCMU', clockRate: 8000 };
  if (pt === 8) return { payloadType: 8, encoding: 'PCMA', clockRate: 8000 };
  return undefined;
}

/** fmtp parameters of `pt`, or undefined. */
export function fmtpOf(m: SdpMedia, pt: number): string | undefined {
  for (const a of m.attributes) {
    if (a.name !== 'fmtp' || a.value === undefined) continue;
    const sp = a.value.indexOf(' ');
    if (sp > 0 && Number(a.value.slice(0, sp)) === pt) return a.value.slice(sp + 1).trim();
  }
  return undefined;
}

/** Direction of a media section (media-level attribute, else session-level, else sendrecv). */
export function directionOf(sdp: SessionDescription, m: SdpMedia): SdpDirection {
  for (const a of m.attributes) if (DIRECTIONS.includes(a.name)) return a.name as SdpDirection;
  for (const a of sdp.attributes) if (DIRECTIONS.includes(a.name)) return a.name as SdpDirection;
  return 'sendrecv';
}

/** The RTCP port of a media section from `a=rtcp:<port> [nettype addrtype address]` (RFC 3605), or undefined. */
export function rtcpPortOf(m: SdpMedia): number | undefined {
  for (const a of m.attributes) {
    if (a.name !== 'rtcp' || a.value === undefined) continue;
    const p = /^(\d{1,5})(?:\s|$)/.exec(a.value.trim());
    const port = p ? Number(p[1]) : 0;
    if (port > 0 && port <= 65535) return port;
  }
  return undefined;
}

/** a=ptime of a media section in ms, or undefined. */
export function ptimeOf(m: SdpMedia): number | undefined {
  for (const a of m.attributes) if (a.name === 'ptime' && a.value !== undefined && /^\d+(\.\d+)?$/.test(a.value)) return Number(a.value);
  return undefined;
}

/** The connection that applies to `m` (media-level c= overrides session-level). */
export function connectionOf(sdp: SessionDescription, m: SdpMedia): SdpConnection | undefined {
  return m.connection ?? sdp.connection;
}

// ---------------------------------------------------------------- offer/answer
export type AudioCodec = 'PCMU' | 'PCMA';

/** What the media session needs: pass straight to `MediaSession.configure()` (plus direction/ptime). */
export interface NegotiatedAudio {
  codec: AudioCodec;
  payloadType: number;
  telephoneEventPt?: number;
  /** Remote RTP destination from the peer's SDP. Address '0.0.0.0' means hold (RFC 2543 style). */
  address: string;
  port: number;
  /** Direction from OUR point of view (sendonly = we send, they do not). */
  direction: SdpDirection;
  /** The peer's a=ptime, if any (we always send 20 ms). */
  remotePtime?: number;
  /** The peer's RTCP port from a=rtcp (RFC 3605), if given; else RTCP goes to `port` + 1. */
  rtcpPort?: number;
  /** Index of the audio m= line used. */
  mediaIndex: number;
}

export type NegotiationResult =
  | { ok: true; media: NegotiatedAudio }
  | { ok: false; status: 488 | 400; reason: string };

export type AnswerResult =
  | { ok: true; answer: SessionDescription; sdp: string; media: NegotiatedAudio }
  | { ok: false; status: 488 | 400; reason: string };

/** Our side of a negotiation. */
export interface LocalMedia {
  /** Address for o= and c= (IP4 or IP6 literal). */
  address: string;
  /** Our RTP port (MediaSession.localPort). */
  port: number;
  /** Codecs we accept, in our preference order (used for offers). Default ['PCMU', 'PCMA']. */
  codecs?: readonly AudioCodec[];
  /** Offer/accept telephone-event. Default true. */
  telephoneEvent?: boolean;
  /** PT for telephone-event in our offers. Default 101. */
  telephoneEventPt?: number;
  /** o= username and s= value. Defaults 'hookline' / 'hookline'. */
  username?: string;
  sessionName?: string;
  /** Our direction. Default sendrecv (answers mirror the offer's direction). */
  direction?: SdpDirection;
}

const STATIC_PT: Record<AudioCodec, number> = { PCMU: 0, PCMA: 8 };
const RTP_PROTOS = ['RTP/AVP', 'RTP/AVPF'];

/**
 * A fresh origin for our first SDP in a dialog; pass `previous` (our last SDP in this dialog) to keep its
 * session id and increment its version (re-INVITE answers and offers).
 */
export function nextOrigin(local: LocalMedia, previous?: SessionDescription): SdpOrigin {
  const addrType = local.address.includes(':') ? 'IP6' : 'IP4';
  if (previous) {
    let v: string;
    try { v = (BigInt(previous.origin.sessionVersion) + 1n).toString(); } catch { v = String(Date.now()); }
    return { ...previous.origin, sessionVersion: v, addrType, address: local.address };
  }
  const id = String(Math.floor(Date.now() / 1000) * 1000 + Math.floor(Math.random() * 1000));
  return { username: local.username ?? 'hookline', sessionId: id, sessionVersion: id, netType: 'IN', addrType, address: local.address };
}

/** Our offer: PCMU 0, PCMA 8, telephone-event 101 (by default), ptime 20. */
export function createOffer(local: LocalMedia, previous?: SessionDescription): SessionDescription {
  const codecs = local.codecs ?? ['PCMU', 'PCMA'];
  const tePt = local.telephoneEventPt ?? 101;
  const formats = codecs.map((c) => String(STATIC_PT[c]));
  const attributes: SdpAttribute[] = codecs.map((c) => ({ name: 'rtpmap', value: `${STATIC_PT[c]} ${c}/8000` }));
  if (local.telephoneEvent !== false) {
    formats.push(String(tePt));
    attributes.push({ name: 'rtpmap', value: `${tePt} telephone-event/8000` }, { name: 'fmtp', value: `${tePt} 0-16` });
  }
  attributes.push({ name: 'ptime', value: '20' }, { name: local.direction ?? 'sendrecv' });
  const origin = nextOrigin(local, previous);
  return {
    version: 0, origin, sessionName: local.sessionName ?? 'hookline',
    connection: { netType: 'IN', addrType: origin.addrType, address: local.address },
    timing: ['0 0'], lines: [], attributes: [],
    media: [{ media: 'audio', port: local.port, proto: 'RTP/AVP', formats, lines: [], attributes }],
  };
}

interface Choice { codec: AudioCodec; pt: number; tePt?: number; teFmtp?: string }

/** Pick a codec from a media section: the first of ITS formats we support (its preference order). */
function choose(m: SdpMedia, accept: readonly AudioCodec[], wantTe: boolean): Choice | undefined {
  let chosen: Choice | undefined;
  let tePt: number | undefined;
  let teFmtp: string | undefined;
  for (const f of m.formats) {
    if (!/^\d+$/.test(f)) continue;
    const pt = Number(f);
    if (pt > 127) continue;
    const map = rtpmapOf(m, pt);
    if (!map) continue;
    const enc = map.encoding.toUpperCase();
    if (map.clockRate !== 8000 || (map.channels !== undefined && map.channels !== 1)) continue;
    if (!chosen && (enc === 'PCMU' || enc === 'PCMA') && accept.includes(enc)) chosen = { codec: enc, pt };
    else if (wantTe && tePt === undefined && enc === 'TELEPHONE-EVENT') { tePt = pt; teFmtp = fmtpOf(m, pt); }
  }
  if (!chosen) return undefined;
  if (tePt !== undefined) { chosen.tePt = tePt; chosen.teFmtp = teFmtp; }
  return chosen;
}

function reverse(d: SdpDirection): SdpDirection {
  return d === 'sendonly' ? 'recvonly' : d === 'recvonly' ? 'sendonly' : d;
}

/** Combine our wish with the peer's offered direction (RFC 3264 §6.1). */
function answerDirection(offered: SdpDirection, ours: SdpDirection): SdpDirection {
  const theySend = offered === 'sendrecv' || offered === 'sendonly';
  const theyRecv = offered === 'sendrecv' || offered === 'recvonly';
  const weSend = (ours === 'sendrecv' || ours === 'sendonly') && theyRecv;
  const weRecv = (ours === 'sendrecv' || ours === 'recvonly') && theySend;
  return weSend && weRecv ? 'sendrecv' : weSend ? 'sendonly' : weRecv ? 'recvonly' : 'inactive';
}

type Picked = { index: number; choice: Choice; conn: SdpConnection } | { status: 400 | 488; reason: string };

/** The audio stream createAnswer would use, or why there is none (400/488). */
function pickAudio(o: SessionDescription, local: Pick<LocalMedia, 'codecs' | 'telephoneEvent'>): Picked {
  const accept = local.codecs ?? ['PCMU', 'PCMA'];
  const wantTe = local.telephoneEvent !== false;
  let missingConnection = false;
  for (let i = 0; i < o.media.length; i++) {
    const m = o.media[i]!;
    if (m.media !== 'audio' || m.port === 0 || !RTP_PROTOS.includes(m.proto.toUpperCase())) continue;
    const choice = choose(m, accept, wantTe);
    if (!choice) continue;
    const c = connectionOf(o, m);
    if (!c) { missingConnection = true; continue; }
    return { index: i, choice, conn: c };
  }
  if (missingConnection) return { status: 400, reason: 'no c= line for the audio stream' };
  return { status: 488, reason: 'no common audio codec (we accept ' + accept.join(', ') + ' over RTP/AVP)' };
}

/**
 * Whether createAnswer would answer this offer, without building the answer: undefined, or the status and reason
 * to refuse it with (the switch checks an INVITE's offer before it spends a port on it).
 */
export function offerProblem(o: SessionDescription, local: Pick<LocalMedia, 'codecs' | 'telephoneEvent'>): { status: 400 | 488; reason: string } | undefined {
  const p = pickAudio(o, local);
  return 'status' in p ? p : undefined;
}

/**
 * Answer an offer (text or parsed). Uses the first audio m= line with a non-zero port, RTP/AVP(F) and a
 * common codec, choosing the offer's most preferred common codec; telephone-event is echoed with the
 * offerer's PT when offered. Every other m= line is rejected (port 0). No usable stream → 488.
 * `previous` = our last SDP in this dialog (re-INVITE): same session id, version + 1.
 */
export function createAnswer(offer: SessionDescription | string, local: LocalMedia, previous?: SessionDescription): AnswerResult {
  let o: SessionDescription;
  if (typeof offer === 'string') {
    const p = parseSdp(offer);
    if (!p.ok) return { ok: false, status: 400, reason: `unreadable SDP: ${p.error}` };
    o = p.sdp;
  } else {
    o = offer;
  }
  const picked = pickAudio(o, local);
  if ('status' in picked) return { ok: false, ...picked };
  const used = picked;
  const offeredDir = directionOf(o, o.media[used.index]!);
  const dir = answerDirection(offeredDir, local.direction ?? 'sendrecv');
  const origin = nextOrigin(local, previous);
  const media: SdpMedia[] = o.media.map((m, i): SdpMedia => {
    if (i !== used!.index) {
      // rejected stream: port 0, same media/proto, at least one format (RFC 3264 §6)
      return { media: m.media, port: 0, proto: m.proto, formats: m.formats.length ? [m.formats[0]!] : ['0'], lines: [], attributes: [] };
    }
    const ch = used!.choice;
    const formats = [String(ch.pt)];
    const attributes: SdpAttribute[] = [{ name: 'rtpmap', value: `${ch.pt} ${ch.codec}/8000` }];
    if (ch.tePt !== undefined) {
      formats.push(String(ch.tePt));
      attributes.push({ name: 'rtpmap', value: `${ch.tePt} telephone-event/8000` }, { name: 'fmtp', value: `${ch.tePt} ${ch.teFmtp ?? '0-16'}` });
    }
    attributes.push({ name: 'ptime', value: '20' }, { name: dir });
    return { media: 'audio', port: local.port, proto: m.proto, formats, lines: [], attributes };
  });
  const answer: SessionDescription = {
    version: 0, origin, sessionName: local.sessionName ?? 'hookline',
    connection: { netType: 'IN', addrType: origin.addrType, address: local.address },
    timing: ['0 0'], lines: [], attributes: [], media,
  };
  const m = o.media[used.index]!;
  const neg: NegotiatedAudio = {
    codec: used.choice.codec, payloadType: used.choice.pt, address: used.conn.address, port: m.port, direction: dir, mediaIndex: used.index,
  };
  if (used.choice.tePt !== undefined) neg.telephoneEventPt = used.choice.tePt;
  const ptime = ptimeOf(m);
  if (ptime !== undefined) neg.remotePtime = ptime;
  const rtcpPort = rtcpPortOf(m);
  if (rtcpPort !== undefined) neg.rtcpPort = rtcpPort;
  return { ok: true, answer, sdp: serializeSdp(answer), media: neg };
}

/**
 * Read the answer to our offer: the codec is the first of the answer's formats that we offered;
 * telephone-event only if both offered it. Port 0 or no common codec → 488.
 */
export function acceptAnswer(offer: SessionDescription, answer: SessionDescription | string): NegotiationResult {
  let a: SessionDescription;
  if (typeof answer === 'string') {
    const p = parseSdp(answer);
    if (!p.ok) return { ok: false, status: 400, reason: `unreadable SDP: ${p.error}` };
    a = p.sdp;
  } else {
    a = answer;
  }
  for (let i = 0; i < a.media.length && i < offer.media.length; i++) {
    const am = a.media[i]!;
    const om = offer.media[i]!;
    if (om.media !== 'audio' || am.media !== 'audio' || om.port === 0) continue;
    if (am.port === 0) return { ok: false, status: 488, reason: 'audio stream rejected by the answerer' };
    const offered: AudioCodec[] = [];
    let offeredTe = false;
    for (const f of om.formats) {
      const map = rtpmapOf(om, Number(f));
      const enc = map?.encoding.toUpperCase();
      if (enc === 'PCMU' || enc === 'PCMA') offered.push(enc);
      if (enc === 'TELEPHONE-EVENT') offeredTe = true;
    }
    const choice = choose(am, offered, offeredTe);
    if (!choice) return { ok: false, status: 488, reason: 'no common audio codec in the answer' };
    const c = connectionOf(a, am);
    if (!c) return { ok: false, status: 400, reason: 'no c= line for the audio stream' };
    const neg: NegotiatedAudio = {
      codec: choice.codec, payloadType: choice.pt, address: c.address, port: am.port,
      direction: reverse(directionOf(a, am)), mediaIndex: i,
    };
    if (choice.tePt !== undefined) neg.telephoneEventPt = choice.tePt;
    const ptime = ptimeOf(am);
    if (ptime !== undefined) neg.remotePtime = ptime;
    const rtcpPort = rtcpPortOf(am);
    if (rtcpPort !== undefined) neg.rtcpPort = rtcpPort;
    return { ok: true, media: neg };
  }
  return { ok: false, status: 488, reason: 'no audio stream in the answer' };
}
