/**
 * RFC 4733 §2.3 telephone-event payload (DTMF named events 0-15).
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |     event     |E|R| volume    |          duration             |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * E = end of event, R = reserved (sent 0, ignored), volume = power in -dBm0 (0..63),
 * duration = in RTP timestamp units since the event's timestamp.
 */

export const TELEPHONE_EVENT_SIZE = 4;
export const END_BIT = 0x80;
export const RESERVED_BIT = 0x40;
export const VOLUME_MASK = 0x3f;
/** Default volume we send: -10 dBm0. */
export const DEFAULT_EVENT_VOLUME = 10;

/** DTMF keys in event-code order (RFC 4733 §3.2): 0-9 → 0-9, * → 10, # → 11, A-D → 12-15. */
export const DTMF_EVENTS = '0123456789*#ABCD';

export class TelephoneEvent {
  event = 0;
  end = false;
  volume = 0;
  duration = 0;
}

/** Decode a telephone-event payload into `out`. Returns false if the payload is too short. Never throws. */
export function decodeTelephoneEvent(buf: Uint8Array, out: TelephoneEvent, offset = 0, len: number = buf.length - offset): boolean {
  if (len < TELEPHONE_EVENT_SIZE || offset < 0 || offset + TELEPHONE_EVENT_SIZE > buf.length) return false;
  out.event = buf[offset]!;
  const b1 = buf[offset + 1]!;
  out.end = (b1 & END_BIT) !== 0;
  out.volume = b1 & VOLUME_MASK;
  out.duration = (buf[offset + 2]! << 8) | buf[offset + 3]!;
  return true;
}

/** Encode into `out` at `offset`. Returns 4, or -1 if it does not fit or a field is out of range. */
export function encodeTelephoneEvent(e: TelephoneEvent, out: Uint8Array, offset = 0): number {
  if (offset < 0 || offset + TELEPHONE_EVENT_SIZE > out.length) return -1;
  if (e.event < 0 || e.event > 255 || e.volume < 0 || e.volume > VOLUME_MASK || e.duration < 0 || e.duration > 0xffff) return -1;
  out[offset] = e.event;
  out[offset + 1] = (e.end ? END_BIT : 0) | e.volume;
  out[offset + 2] = (e.duration >>> 8) & 0xff;
  out[offset + 3] = e.duration & 0xff;
  return TELEPHONE_EVENT_SIZE;
}

/** Event code of a DTMF key (case-insensitive A-D), or -1 if it is not one. */
export function dtmfToEvent(digit: string): number {
  if (digit.length !== 1) return -1;
  return DTMF_EVENTS.indexOf(digit.toUpperCase());
}

/** DTMF key of an event code, or undefined for non-DTMF events (e.g. 16 flash, tones). */
export function eventToDtmf(event: number): string | undefined {
  return event >= 0 && event < DTMF_EVENTS.length ? DTMF_EVENTS[event] : undefined;
}
