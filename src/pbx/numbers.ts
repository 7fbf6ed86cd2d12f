/**
 * Number handling for outbound legs: E.164 normalisation (Kazoo's default converters), the per-carrier
 * output format, and SIP status → Kazoo/FreeSWITCH hangup cause (RFC 3398 in reverse).
 */

/**
 * To E.164 the way Kazoo's default `e164_convertors` do: a North American 10 or 11 digit number → +1NPANXXXXXX;
 * 011… or 00… (international prefix) → +…; an 8+ digit number not starting with 0/1 → +…; already +… stays.
 * Anything else (extensions, short codes) is returned with only the visual separators removed.
 */
export function toE164(input: string): string {
  const n = input.replace(/[\s().-]/g, '');
  if (/^\+\d+$/.test(n)) {
    const m = /^\+?1?([2-9]\d{2}[2-9]\d{6})$/.exec(n);
    return m && n.length <= 12 && n.startsWith('+1') ? '+1' + m[1] : n;
  }
  let m = /^1?([2-9]\d{2}[2-9]\d{6})$/.exec(n);
  if (m) return '+1' + m[1];
  m = /^(?:011|00)(\d+)$/.exec(n);
  if (m) return '+' + m[1];
  if (/^[2-9]\d{7,}$/.test(n)) return '+' + n;
  return n;
}

export type NumberFormat = 'e164' | 'npan' | '1npan' | 'international';

/** An E.164 number in a carrier's format (non-E.164 input is returned unchanged). */
export function formatForCarrier(e164: string, format: NumberFormat): string {
  if (!e164.startsWith('+')) return e164;
  switch (format) {
    case 'e164': return e164;
    case 'international': return '00' + e164.slice(1);
    case 'npan': return e164.startsWith('+1') && e164.length === 12 ? e164.slice(2) : e164.slice(1);
    case '1npan': return e164.slice(1);
  }
}

/** Hangup cause for a failed outbound leg (FreeSWITCH's names, which Kazoo's children use). */
export function causeForStatus(status: number): string {
  switch (status) {
    case 400: case 481: return 'INVALID_MSG_UNSPECIFIED';
    case 500: case 503: return 'NORMAL_TEMPORARY_FAILURE';
    case 401: case 402: case 403: case 407: case 603: return 'CALL_REJECTED';
    case 404: case 604: return 'UNALLOCATED_NUMBER';
    case 405: return 'SERVICE_UNAVAILABLE';
    case 406: case 415: case 420: return 'SERVICE_NOT_IMPLEMENTED';
    case 488: case 606: return 'INCOMPATIBLE_DESTINATION';
    case 408: case 504: return 'RECOVERY_ON_TIMER_EXPIRE';
    case 410: return 'NUMBER_CHANGED';
    case 413: case 414: case 416: return 'INTERWORKING';
    case 480: return 'NO_USER_RESPONSE';
    case 482: case 483: return 'EXCHANGE_ROUTING_ERROR';
    case 484: return 'INVALID_NUMBER_FORMAT';
    case 485: return 'NO_ROUTE_DESTINATION';
    case 486: case 600: return 'USER_BUSY';
    case 487: return 'ORIGINATOR_CANCEL';
    case 501: return 'FACILITY_REJECTED';
    case 502: return 'NETWORK_OUT_OF_ORDER';
    case 505: return 'INTERWORKING';
    case 580: return 'BEARERCAPABILITY_NOTAVAIL';
    default: return status >= 600 ? 'CALL_REJECTED' : status >= 500 ? 'NORMAL_TEMPORARY_FAILURE' : 'NORMAL_UNSPECIFIED';
  }
}

/** Failover to the next gateway on these (RFC 3261 16.7-ish: the gateway, not the number, failed). */
export function isGatewayFailure(status: number): boolean {
  return status === 408 || (status >= 500 && status < 600);
}
