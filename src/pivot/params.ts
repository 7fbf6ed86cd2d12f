/**
 * Request parameters (PIVOT.md 1.2, 1.3, and Hookline's choices) and their encodings (1.5).
 *
 * Parameters are rebuilt from the call state on every request. A key with no value is left out.
 */
import type { CallInfo } from './call-control.js';

export type ParamValue = string | number | boolean | readonly ParamValue[] | { readonly [key: string]: ParamValue };
export type PivotParams = Record<string, ParamValue>;

export type ReqFormat = 'kazoo' | 'twiml';

/** Hookline's default `Api-Version` (the value our users' scripts have seen). */
export const DEFAULT_API_VERSION = '2015-03-01';
/** The constant TwiML `ApiVersion`. */
export const TWIML_API_VERSION = '2010-04-01';

/** The call state a request is built from. */
export interface ParamState {
  readonly info: CallInfo;
  readonly apiVersion: string;
  readonly language?: string;
  /** DTMF collections of the call, in insertion order. */
  readonly collections: ReadonlyMap<string, string>;
  /** Name of the collection written last (TwiML `Digits` is that value as a plain string). */
  readonly lastCollection?: string;
  readonly answered: boolean;
  readonly ended: boolean;
  /** The latest TwiML `<Record>` result (sent as RecordingUrl/RecordingDuration/RecordingSid in TwiML requests only). */
  readonly recording?: { readonly url: string; readonly durationSeconds: number; readonly id: string };
  /** The latest TwiML `<Dial>` result (DialCallStatus, DialCallDuration, DialCallSid; TwiML requests only). */
  readonly dial?: DialResult;
}

/** Twilio's DialCallStatus values. */
export type DialStatus = 'completed' | 'answered' | 'busy' | 'no-answer' | 'failed' | 'canceled';
export interface DialResult { readonly status: DialStatus; readonly seconds?: number; readonly sid?: string }

function put(out: PivotParams, key: string, v: string | undefined): void {
  if (v !== undefined && v !== '') out[key] = v;
}

/** Build the parameter object for one request. */
export function buildParams(s: ParamState, format: ReqFormat): PivotParams {
  const i = s.info;
  const out: PivotParams = {};
  if (format === 'twiml') {
    put(out, 'CallSid', i.callId);
    put(out, 'AccountSid', i.accountId);
    put(out, 'From', i.from);
    put(out, 'FromRealm', i.fromRealm);
    put(out, 'To', i.to);
    put(out, 'ToRealm', i.toRealm);
    put(out, 'CallStatus', s.ended ? 'completed' : s.answered ? 'in-progress' : 'ringing');
    put(out, 'ApiVersion', TWIML_API_VERSION);
    put(out, 'Direction', i.direction);
    put(out, 'CallerName', i.callerIdName);
    put(out, 'CallerNumber', i.callerIdNumber);
    if (s.recording) {
      put(out, 'RecordingUrl', s.recording.url);
      out.RecordingDuration = Math.round(s.recording.durationSeconds);
      put(out, 'RecordingSid', s.recording.id);
    }
    if (s.dial) {
      put(out, 'DialCallStatus', s.dial.status);
      if (s.dial.seconds !== undefined) out.DialCallDuration = s.dial.seconds;
      put(out, 'DialCallSid', s.dial.sid);
    }
    if (s.lastCollection !== undefined && s.collections.has(s.lastCollection)) {
      // A plain string, as TwiML scripts expect; an empty result is still reported.
      out.Digits = s.collections.get(s.lastCollection) ?? '';
    }
    return out;
  }
  put(out, 'Call-ID', i.callId);
  put(out, 'Account-ID', i.accountId);
  put(out, 'Api-Version', s.apiVersion);
  put(out, 'Direction', i.direction);
  put(out, 'Caller-ID-Name', i.callerIdName);
  put(out, 'Caller-ID-Number', i.callerIdNumber);
  put(out, 'From', i.from);
  put(out, 'From-Realm', i.fromRealm);
  put(out, 'To', i.to);
  put(out, 'To-Realm', i.toRealm);
  put(out, 'Request', i.request);
  put(out, 'Request-Realm', i.requestRealm);
  put(out, 'Language', s.language);
  if (s.collections.size > 0) {
    // Collections are reported even when empty ("" after a timeout): Digits.default === "".
    const digits: Record<string, string> = {};
    for (const [k, v] of s.collections) digits[k] = v;
    out.Digits = digits;
  }
  if (i.customSipHeaders && Object.keys(i.customSipHeaders).length > 0) {
    out['Custom-SIP-Headers'] = { ...i.customSipHeaders };
  }
  return out;
}

/** URL-encode one form value, legacy style: `+` for spaces. */
export function formEscape(s: string): string {
  return encodeURIComponent(s).replace(/%20/g, '+');
}

function scalar(v: string | number | boolean): string {
  return typeof v === 'string' ? v : String(v);
}

function encodeInto(parts: string[], key: string, v: ParamValue): void {
  if (Array.isArray(v)) {
    for (const item of v as readonly ParamValue[]) encodeInto(parts, `${key}[]`, item);
  } else if (typeof v === 'object' && v !== null) {
    for (const [k, sub] of Object.entries(v as { readonly [key: string]: ParamValue })) encodeInto(parts, `${key}[${formEscape(k)}]`, sub);
  } else {
    parts.push(`${key}=${formEscape(scalar(v as string | number | boolean))}`);
  }
}

/**
 * `application/x-www-form-urlencoded`, the way Kazoo writes it: `Key=v+w`, nested objects as
 * `Key[sub]=v`, lists as `Key[]=a&Key[]=b`; brackets written unescaped.
 */
export function encodeForm(params: PivotParams): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(params)) encodeInto(parts, formEscape(k), v);
  return parts.join('&');
}

/** The JSON body: one object, nested values stay nested. */
export function encodeJson(params: PivotParams): string {
  return JSON.stringify(params);
}

/**
 * Append an encoded query to a URL that may already have a query and/or a `#fragment`:
 * `http://h/p?a=1#f` + `b=2` → `http://h/p?a=1&b=2#f`.
 */
export function appendQuery(url: string, qs: string): string {
  const hash = url.indexOf('#');
  const base = hash >= 0 ? url.slice(0, hash) : url;
  const frag = hash >= 0 ? url.slice(hash) : '';
  if (qs === '') return base + frag;
  let sep = '?';
  if (base.includes('?')) sep = base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return base + sep + qs + frag;
}
