/**
 * TwiML → callflow (PIVOT.md 1.4, 2.2, 2.6): a `<Response>` document becomes a chain of callflow nodes the
 * interpreter runs like any reply, so TwiML and Kazoo JSON share one engine.
 *
 * | verb | node |
 * |---|---|
 * | `<Say voice language loop>` | `tts` (not interruptible, as in Twilio); `loop` N → N nodes (≤ 10), `0` → endless |
 * | `<Play loop digits>url` | `play` (not interruptible), `loop_count` / endless; `digits` → `send_dtmf` |
 * | `<Pause length>` | `sleep` (seconds, default 1) |
 * | `<Gather action method timeout finishOnKey numDigits>` + nested Say/Play/Pause | `twiml_gather`: digits → `pivot` to `action` (default: this document's URL; method default POST; Twilio names); none → next verb |
 * | `<Redirect method>url` | `pivot` (method default POST, Twilio names); verbs after it never run |
 * | `<Hangup/>` | `hangup` |
 * | `<Reject reason>` | `response` 486 (`busy`) or 603 (`rejected`, the default) |
 * | `<Dial timeout callerId action method>number</Dial>` (or `<Number>`, or `<Sip username password>uri`) | (`set_cid` +) `twiml_dial`: carriers for a number, the URI itself for `<Sip>`; when the far end hangs up or nobody answers the caller stays: `pivot` to `action` with DialCallStatus/DialCallDuration/DialCallSid, else the next verb |
 * | `<Record action method timeout finishOnKey maxLength playBeep>` | `twiml_record`: stored (config `pivot.recordingUrl`) → `pivot` to `action` (default: this document's URL) with RecordingUrl/RecordingDuration/RecordingSid; empty, or no storage → next verb |
 * | other verbs (`Sms`…) and nouns (`Client`, `Conference`, `Queue`…) | skipped (logged through `skipped`) |
 *
 * URLs resolve against the document's URL; only http(s) results are used. When the verbs run out the flow
 * ends and the call is hung up.
 */
import type { CallflowNode } from '../callflow.js';
import { parseXml, textOf, type XmlElement } from './xml.js';

export type TwimlResult =
  | { readonly ok: true; readonly flow: CallflowNode; readonly skipped: readonly string[] }
  | { readonly ok: false; readonly error: string };

const MAX_SAY_LOOPS = 10;
const MAX_VERBS = 200;

function attr(e: XmlElement, name: string): string | undefined {
  const v = e.attrs[name];
  return v === undefined ? undefined : v.trim();
}

function intAttr(e: XmlElement, name: string, dflt: number, min: number, max: number): number {
  const v = attr(e, name);
  if (v === undefined || !/^\d{1,9}$/.test(v)) return dflt;
  return Math.max(min, Math.min(max, Number(v)));
}

function resolveUrl(ref: string | undefined, base: string): string | undefined {
  try {
    const u = new URL(ref === undefined || ref === '' ? base : ref, base);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.toString() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Twilio voice names → ours (`man` → male; `woman`, `alice`, `Polly.*`, `Google.*` → the default female);
 * any other name (a flite or Piper voice of this switch) is passed on as written.
 */
function voiceOf(e: XmlElement): string | undefined {
  const raw = attr(e, 'voice')?.trim();
  const v = raw?.toLowerCase();
  if (v === 'man' || v === 'male') return 'male';
  if (v === 'woman' || v === 'female') return 'female';
  if (!raw || v === 'alice' || /^(polly|google)\./.test(v!)) return undefined;
  return raw;
}

function languageOf(e: XmlElement): string | undefined {
  const l = attr(e, 'language');
  return l && /^[A-Za-z]{2}(-[A-Za-z]{2})?$/.test(l) ? l.toLowerCase() : undefined;
}

function pivotTo(url: string, method: string | undefined): CallflowNode {
  return { module: 'pivot', data: { voice_url: url, method: method?.toUpperCase() === 'GET' ? 'get' : 'post', req_format: 'twiml', req_body_format: 'form' } };
}

/** A node plus where the rest of the chain hangs off it (`undefined`: the chain ends here). */
interface Link { node: CallflowNode; next?: string }

function verbNodes(e: XmlElement, base: string, skipped: string[]): Link[] {
  switch (e.name) {
    case 'Say': {
      const text = textOf(e).slice(0, 4000);
      if (!text) return [];
      const voice = voiceOf(e);
      const language = languageOf(e);
      const loop = intAttr(e, 'loop', 1, 0, 1000);
      const data = { text, terminators: [] as string[], ...(voice ? { voice } : {}), ...(language ? { language } : {}) };
      if (loop === 0) return [{ node: { module: 'tts', data: { ...data, endless_playback: true } }, next: '_' }];
      return Array.from({ length: Math.min(MAX_SAY_LOOPS, loop) }, () => ({ node: { module: 'tts', data: { ...data } }, next: '_' }));
    }
    case 'Play': {
      const out: Link[] = [];
      const digits = attr(e, 'digits');
      if (digits && /^[0-9*#A-Da-dwW]{1,256}$/.test(digits)) out.push({ node: { module: 'send_dtmf', data: { digits, duration_ms: 100 } }, next: '_' });
      const url = textOf(e);
      if (url) {
        const id = resolveUrl(url, base);
        const loop = intAttr(e, 'loop', 1, 0, 1000);
        if (id) out.push({ node: { module: 'play', data: { id, terminators: [], ...(loop === 0 ? { endless_playback: true } : { loop_count: loop }) } }, next: '_' });
        else skipped.push('Play (bad URL)');
      }
      return out;
    }
    case 'Pause':
      return [{ node: { module: 'sleep', data: { duration: intAttr(e, 'length', 1, 0, 3600), unit: 's' } }, next: '_' }];
    case 'Hangup':
      return [{ node: { module: 'hangup', data: {} } }];
    case 'Reject':
      return [{ node: { module: 'response', data: { code: attr(e, 'reason') === 'busy' ? 486 : 603 } } }];
    case 'Redirect': {
      const url = resolveUrl(textOf(e), base);
      if (!url) { skipped.push('Redirect (bad URL)'); return []; }
      return [{ node: pivotTo(url, attr(e, 'method')) }];
    }
    case 'Gather': {
      const action = resolveUrl(attr(e, 'action'), base);
      if (!action) { skipped.push('Gather (bad action)'); return []; }
      const prompts: Array<Record<string, unknown>> = [];
      for (const c of e.children) {
        if (typeof c === 'string') continue;
        if (c.name === 'Say') {
          const text = textOf(c).slice(0, 4000);
          const voice = voiceOf(c);
          const language = languageOf(c);
          const loop = Math.min(MAX_SAY_LOOPS, intAttr(c, 'loop', 1, 0, 1000) || MAX_SAY_LOOPS);
          if (text) for (let i = 0; i < loop; i++) prompts.push({ say: text, ...(voice ? { voice } : {}), ...(language ? { language } : {}) });
        } else if (c.name === 'Play') {
          const url = resolveUrl(textOf(c), base);
          const loop = Math.min(MAX_SAY_LOOPS, intAttr(c, 'loop', 1, 0, 1000) || MAX_SAY_LOOPS);
          if (url) for (let i = 0; i < loop; i++) prompts.push({ play: url });
        } else if (c.name === 'Pause') {
          prompts.push({ pause: intAttr(c, 'length', 1, 0, 600) });
        } else {
          skipped.push(`Gather/${c.name}`);
        }
      }
      const finish = attr(e, 'finishOnKey');
      return [{
        node: {
          module: 'twiml_gather',
          data: {
            prompts,
            num_digits: intAttr(e, 'numDigits', 0, 0, 128),
            timeout_ms: intAttr(e, 'timeout', 5, 1, 3600) * 1000,
            finish_on_key: finish === undefined ? '#' : /^[0-9*#]$/.test(finish) ? finish : '',
          },
          children: { digits: pivotTo(action, attr(e, 'method')) },
        },
        next: '_',
      }];
    }
    case 'Record': {
      const action = resolveUrl(attr(e, 'action'), base);
      if (!action) { skipped.push('Record (bad action)'); return []; }
      const finish = attr(e, 'finishOnKey');
      return [{
        node: {
          module: 'twiml_record',
          data: {
            timeout_s: intAttr(e, 'timeout', 5, 0, 3600),
            max_length_s: intAttr(e, 'maxLength', 3600, 1, 3600),
            finish_on_key: finish === undefined ? '1234567890*#' : [...finish].filter((k) => /^[0-9*#]$/.test(k)).join(''),
            play_beep: attr(e, 'playBeep')?.toLowerCase() !== 'false',
          },
          children: { recorded: pivotTo(action, attr(e, 'method')) },
        },
        next: '_',
      }];
    }
    case 'Dial': {
      // A bare number or <Number>: through the account's carriers; <Sip>: straight to that URI (with its
      // username/password for a digest challenge). The first target is dialled; <Client>, <Conference>, <Queue>
      // are not supported. Afterwards (the far end hung up, or no answer): `action` with DialCallStatus, else
      // the next verb (twiml_dial).
      let number = textOf(e);
      let sip: { uri: string; username?: string; password?: string } | undefined;
      for (const c of e.children) {
        if (typeof c === 'string') continue;
        if (c.name === 'Number' && !number && !sip) number = textOf(c);
        else if (c.name === 'Sip' && !number && !sip) {
          sip = { uri: textOf(c) };
          const u = attr(c, 'username'); const p = attr(c, 'password');
          if (u !== undefined && p !== undefined) { sip.username = u; sip.password = p; }
        } else if (c.name !== 'Number' && c.name !== 'Sip') skipped.push(`Dial/${c.name}`);
      }
      if (sip && !/^sips?:[^\s<>"]{3,256}$/i.test(sip.uri)) { skipped.push('Dial/Sip (not a SIP URI)'); sip = undefined; }
      if (!sip && !/^\+?[0-9*#]{1,32}$/.test(number)) { if (number) skipped.push('Dial (not a number)'); return []; }
      const out: Link[] = [];
      const callerId = attr(e, 'callerId');
      if (callerId && /^\+?[0-9]{1,32}$/.test(callerId)) out.push({ node: { module: 'set_cid', data: { caller_id_number: callerId, caller_id_name: '' } }, next: '_' });
      const data: Record<string, string | number> = { timeout: intAttr(e, 'timeout', 30, 5, 600) };
      if (sip) {
        data.sip = sip.uri;
        if (sip.username !== undefined && sip.password !== undefined) { data.username = sip.username; data.password = sip.password; }
      } else data.number = number;
      const node: CallflowNode = { module: 'twiml_dial', data };
      const action = attr(e, 'action');
      if (action !== undefined) {
        const url = resolveUrl(action, base);
        if (url) node.children = { action: pivotTo(url, attr(e, 'method')) };
      }
      out.push({ node, next: '_' });
      return out;
    }
    default:
      skipped.push(e.name);
      return [];
  }
}

/** Translate a TwiML document fetched from `baseUrl`. */
export function translateTwiml(xml: string, baseUrl: string): TwimlResult {
  const parsed = parseXml(xml);
  if (!parsed.ok) return { ok: false, error: `XML: ${parsed.error}` };
  if (parsed.root.name !== 'Response') return { ok: false, error: `root element is <${parsed.root.name}>, not <Response>` };
  const skipped: string[] = [];
  const links: Link[] = [];
  let verbs = 0;
  for (const c of parsed.root.children) {
    if (typeof c === 'string') continue;
    if (++verbs > MAX_VERBS) { skipped.push(`verbs after ${MAX_VERBS}`); break; }
    const ls = verbNodes(c, baseUrl, skipped);
    links.push(...ls);
    // A verb that ends the chain (Redirect, Hangup, Reject): the rest never runs.
    if (ls.length > 0 && ls[ls.length - 1]!.next === undefined) break;
  }
  // Link back to front: each node's `next` key holds the rest of the chain.
  let rest: CallflowNode | undefined;
  for (let i = links.length - 1; i >= 0; i--) {
    const l = links[i]!;
    if (rest && l.next !== undefined) l.node.children = { ...(l.node.children ?? {}), [l.next]: rest };
    rest = l.node;
  }
  // An empty document: nothing to do (the call is hung up).
  return { ok: true, flow: rest ?? { module: 'hangup', data: {} }, skipped };
}
