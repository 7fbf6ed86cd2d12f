/**
 * RTP fixed header (RFC 3550 §5.1): decode into an existing object, encode into a caller's buffer.
 *
 * Decoding never throws and never copies: `payload` is a view (`subarray`) over the received buffer,
 * valid only as long as that buffer is. Anything kept longer must be copied by the caller.
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                           timestamp                           |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |           synchronization source (SSRC) identifier            |
 *    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 *    |            contributing source (CSRC) identifiers             |
 *    |                             ....                              |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Header extension (X=1, RFC 3550 §5.3.1), right after the CSRC list:
 *
 *    |      defined by profile       |           length              |
 *    |                        header extension                       |
 *
 * `length` counts 32-bit words of extension data (not counting this 4-byte prefix).
 * Padding (P=1): the last payload octet says how many octets of padding (itself included) to drop.
 */

export const RTP_VERSION = 2;
export const RTP_FIXED_HEADER_SIZE = 12;
export const RTP_MAX_CSRC = 15;

// Octet 0
export const VERSION_SHIFT = 6;
export const VERSION_MASK = 0xc0;
export const PADDING_BIT = 0x20;
export const EXTENSION_BIT = 0x10;
export const CSRC_COUNT_MASK = 0x0f;
// Octet 1
export const MARKER_BIT = 0x80;
export const PAYLOAD_TYPE_MASK = 0x7f;
// Offsets
export const SEQ_OFFSET = 2;
export const TIMESTAMP_OFFSET = 4;
export const SSRC_OFFSET = 8;
export const CSRC_OFFSET = 12;
export const EXTENSION_PREFIX_SIZE = 4;

/** Decode result codes: 0 is success, anything else says why the packet was rejected. */
export enum RtpDecodeResult {
  Ok = 0,
  TooShort = 1,
  BadVersion = 2,
  CsrcOverrun = 3,
  ExtensionOverrun = 4,
  BadPadding = 5,
}

const EMPTY = new Uint8Array(0);

/** A decoded (or to-be-encoded) RTP packet. Reuse one instance per socket; `decodeRtp` resets every field. */
export class RtpPacket {
  version = RTP_VERSION;
  padding = false;
  extension = false;
  marker = false;
  payloadType = 0;
  sequenceNumber = 0;
  timestamp = 0;
  ssrc = 0;
  /** CSRC identifiers; only the first `csrcCount` entries are meaningful (the array is reused). */
  readonly csrc: number[] = [];
  csrcCount = 0;
  extensionProfile = 0;
  /** Extension data (view), empty when `extension` is false. */
  extensionData: Uint8Array = EMPTY;
  /** Payload without padding (view over the decoded buffer). */
  payload: Uint8Array = EMPTY;
  /** Offset and length of the payload inside the decoded buffer (for hot paths that avoid the view). */
  payloadOffset = 0;
  payloadLength = 0;
  /** Octets of padding removed on decode, or to append on encode (0 = none). */
  paddingLength = 0;
}

/**
 * Decode `buf[0..len)` into `out`. Returns `RtpDecodeResult.Ok` (0) or the reason for rejection; never throws.
 * `views` = false skips creating the `payload`/`extensionData` views (use `payloadOffset`/`payloadLength`).
 */
export function decodeRtp(buf: Uint8Array, out: RtpPacket, len: number = buf.length, views = true): RtpDecodeResult {
  if (len < RTP_FIXED_HEADER_SIZE || len > buf.length) return RtpDecodeResult.TooShort;
  const b0 = buf[0]!;
  const version = (b0 & VERSION_MASK) >>> VERSION_SHIFT;
  if (version !== RTP_VERSION) return RtpDecodeResult.BadVersion;
  const cc = b0 & CSRC_COUNT_MASK;
  let off = CSRC_OFFSET + cc * 4;
  if (off > len) return RtpDecodeResult.CsrcOverrun;
  const hasExt = (b0 & EXTENSION_BIT) !== 0;
  let extProfile = 0;
  let extStart = 0;
  let extLen = 0;
  if (hasExt) {
    if (off + EXTENSION_PREFIX_SIZE > len) return RtpDecodeResult.ExtensionOverrun;
    extProfile = (buf[off]! << 8) | buf[off + 1]!;
    extLen = ((buf[off + 2]! << 8) | buf[off + 3]!) * 4;
    extStart = off + EXTENSION_PREFIX_SIZE;
    off = extStart + extLen;
    if (off > len) return RtpDecodeResult.ExtensionOverrun;
  }
  const hasPad = (b0 & PADDING_BIT) !== 0;
  let padLen = 0;
  if (hasPad) {
    padLen = buf[len - 1]!;
    if (padLen === 0 || off + padLen > len) return RtpDecodeResult.BadPadding;
  }
  const b1 = buf[1]!;
  out.version = version;
  out.padding = hasPad;
  out.extension = hasExt;
  out.marker = (b1 & MARKER_BIT) !== 0;
  out.payloadType = b1 & PAYLOAD_TYPE_MASK;
  out.sequenceNumber = (buf[SEQ_OFFSET]! << 8) | buf[SEQ_OFFSET + 1]!;
  out.timestamp = readU32(buf, TIMESTAMP_OFFSET);
  out.ssrc = readU32(buf, SSRC_OFFSET);
  out.csrcCount = cc;
  for (let i = 0; i < cc; i++) out.csrc[i] = readU32(buf, CSRC_OFFSET + i * 4);
  out.csrc.length = cc;
  out.extensionProfile = extProfile;
  out.paddingLength = padLen;
  out.payloadOffset = off;
  out.payloadLength = len - padLen - off;
  if (views) {
    out.extensionData = hasExt ? buf.subarray(extStart, extStart + extLen) : EMPTY;
    out.payload = buf.subarray(off, len - padLen);
  } else {
    out.extensionData = EMPTY;
    out.payload = EMPTY;
  }
  return RtpDecodeResult.Ok;
}

/** Size in octets of the header `p` would encode to (fixed header, CSRCs, extension). */
export function rtpHeaderSize(p: RtpPacket): number {
  let n = RTP_FIXED_HEADER_SIZE + Math.min(p.csrcCount, RTP_MAX_CSRC) * 4;
  if (p.extension) n += EXTENSION_PREFIX_SIZE + ((p.extensionData.length + 3) & ~3);
  return n;
}

/** Size in octets of the whole packet `p` would encode to. */
export function rtpEncodedSize(p: RtpPacket): number {
  return rtpHeaderSize(p) + p.payload.length + (p.paddingLength > 0 ? p.paddingLength : 0);
}

/**
 * Encode the header of `p` into `out` at `offset`. Returns the header size, or -1 if `out` is too small
 * or a field is out of range. The payload is not written (see `encodeRtp`).
 */
export function encodeRtpHeader(p: RtpPacket, out: Uint8Array, offset = 0): number {
  const size = rtpHeaderSize(p);
  if (offset < 0 || offset + size > out.length) return -1;
  if (p.csrcCount > RTP_MAX_CSRC || p.csrcCount > p.csrc.length) return -1;
  if (p.extensionData.length > 0xffff * 4) return -1;
  const pad = p.paddingLength > 0;
  out[offset] = (RTP_VERSION << VERSION_SHIFT) | (pad ? PADDING_BIT : 0) | (p.extension ? EXTENSION_BIT : 0) | p.csrcCount;
  out[offset + 1] = (p.marker ? MARKER_BIT : 0) | (p.payloadType & PAYLOAD_TYPE_MASK);
  out[offset + SEQ_OFFSET] = (p.sequenceNumber >>> 8) & 0xff;
  out[offset + SEQ_OFFSET + 1] = p.sequenceNumber & 0xff;
  writeU32(out, offset + TIMESTAMP_OFFSET, p.timestamp);
  writeU32(out, offset + SSRC_OFFSET, p.ssrc);
  let o = offset + CSRC_OFFSET;
  for (let i = 0; i < p.csrcCount; i++, o += 4) writeU32(out, o, p.csrc[i]!);
  if (p.extension) {
    const words = (p.extensionData.length + 3) >>> 2;
    out[o] = (p.extensionProfile >>> 8) & 0xff;
    out[o + 1] = p.extensionProfile & 0xff;
    out[o + 2] = (words >>> 8) & 0xff;
    out[o + 3] = words & 0xff;
    o += EXTENSION_PREFIX_SIZE;
    out.set(p.extensionData, o);
    for (let i = p.extensionData.length; i < words * 4; i++) out[o + i] = 0;
  }
  return size;
}

/** Encode header, payload and padding of `p` into `out` at `offset`. Returns the packet size, or -1 if it does not fit. */
export function encodeRtp(p: RtpPacket, out: Uint8Array, offset = 0): number {
  const total = rtpEncodedSize(p);
  if (p.paddingLength > 255 || offset + total > out.length) return -1;
  const h = encodeRtpHeader(p, out, offset);
  if (h < 0) return -1;
  out.set(p.payload, offset + h);
  if (p.paddingLength > 0) {
    const padStart = offset + h + p.payload.length;
    for (let i = 0; i < p.paddingLength - 1; i++) out[padStart + i] = 0;
    out[padStart + p.paddingLength - 1] = p.paddingLength;
  }
  return total;
}

/** Allocating convenience wrapper around `encodeRtp`. Throws RangeError only on out-of-range fields. */
export function marshalRtp(p: RtpPacket): Uint8Array {
  const out = new Uint8Array(rtpEncodedSize(p));
  if (encodeRtp(p, out, 0) < 0) throw new RangeError('RTP packet fields out of range');
  return out;
}

/**
 * True if the datagram looks like RTCP multiplexed on the RTP port (RFC 5761 §4: second octet 192..223,
 * i.e. RTCP packet types 200-204 and friends).
 */
export function looksLikeRtcp(buf: Uint8Array, len: number = buf.length): boolean {
  if (len < 2) return false;
  const pt = buf[1]!;
  return pt >= 192 && pt <= 223;
}

export function readU32(buf: Uint8Array, o: number): number {
  return ((buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!) >>> 0;
}

export function writeU32(buf: Uint8Array, o: number, v: number): void {
  buf[o] = (v >>> 24) & 0xff;
  buf[o + 1] = (v >>> 16) & 0xff;
  buf[o + 2] = (v >>> 8) & 0xff;
  buf[o + 3] = v & 0xff;
}
