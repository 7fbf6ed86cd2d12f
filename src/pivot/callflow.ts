/**
 * Callflow types and schema-lite validation (PIVOT.md 2.4).
 *
 * `validateCallflow(input, { compat })` checks one callflow action object recursively, writes the
 * schema defaults into a fresh copy and collects every problem as `{ path, message }` (for the
 * debug record). It never throws on bad input.
 *
 * - `module`: string 1–64 chars, a known Kazoo callflow module (`say` is accepted as an alias of
 *   `tts` in lenient mode and rewritten to `tts`).
 * - `data`: object (a missing `data` becomes `{}`), checked against the module's field specs below;
 *   unknown extra fields are kept.
 * - `children`: object whose values are actions or `{}` (which ends the call).
 * - Lenient: numeric strings are accepted for integer fields; `ring_group.endpoints` may be id strings.
 */

import { ConferenceConfigError, parseConferenceConfig } from './conference-config.js';

export type Compat = 'lenient' | 'strict';

/** `{}`: an empty child, which ends the call when reached. */
export type EmptyNode = Record<string, never>;

export interface CallflowNode {
  module: string;
  data: Record<string, unknown>;
  children?: Record<string, CallflowNode | EmptyNode>;
}

export interface ValidationIssue {
  /** JSON-pointer-like path, e.g. `/children/_/data/text`. */
  readonly path: string;
  readonly message: string;
}

export type ValidationResult =
  | { readonly ok: true; readonly flow: CallflowNode }
  | { readonly ok: false; readonly errors: readonly ValidationIssue[] };

export interface ValidateOptions {
  compat: Compat;
  /** Maximum nesting of children (default 64). */
  maxDepth?: number;
  /** Maximum number of nodes in one flow (default 2000). */
  maxNodes?: number;
}

export const DTMF_KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '*', '#'] as const;
const DTMF_RE = /^[0-9*#A-Da-d]$/;

export function isCallflowNode(n: CallflowNode | EmptyNode | undefined | null): n is CallflowNode {
  return !!n && typeof (n as { module?: unknown }).module === 'string';
}

// ---------------------------------------------------------------------------------------------
// Field specs (a tiny subset of JSON schema: enough for the Kazoo callflow schemas we check)

type FieldSpec =
  | { type: 'string'; required?: boolean; default?: string; minLength?: number; maxLength?: number; pattern?: RegExp; enum?: readonly string[]; caseInsensitive?: boolean }
  | { type: 'integer'; required?: boolean; default?: number; min?: number; max?: number }
  | { type: 'boolean'; required?: boolean; default?: boolean }
  | { type: 'object'; required?: boolean }
  /** An ad-hoc conference (`conference` node `config`): Kazoo `conferences` fields, see conference-config.ts. */
  | { type: 'conference'; required?: boolean }
  | { type: 'dtmf' ; required?: boolean; default?: string }
  | { type: 'dtmf[]'; required?: boolean; default?: readonly string[]; unique?: boolean }
  | { type: 'string[]'; required?: boolean; default?: readonly string[] }
  | { type: 'endpoints'; required?: boolean };

type ModuleSpec = Readonly<Record<string, FieldSpec>>;

const URL_RE = /^https?:\/\//i;

/** Field specs of the modules Hookline checks in detail. Other known modules only get the generic checks. */
const SPECS: Readonly<Record<string, ModuleSpec>> = {
  pivot: {
    voice_url: { type: 'string', required: true, pattern: URL_RE, maxLength: 4096 },
    method: { type: 'string', enum: ['get', 'post'], caseInsensitive: true, default: 'get' },
    req_format: { type: 'string', enum: ['kazoo', 'twiml'], caseInsensitive: true, default: 'kazoo' },
    req_body_format: { type: 'string', enum: ['form', 'json'], caseInsensitive: true, default: 'form' },
    req_timeout_ms: { type: 'integer', min: 1 },
    cdr_url: { type: 'string', pattern: URL_RE, maxLength: 4096 },
    debug: { type: 'boolean', default: false },
    custom_request_headers: { type: 'object' },
    // Hookline extension (beyond Kazoo): tried when voice_url fails.
    fallback_url: { type: 'string', pattern: URL_RE, maxLength: 4096 },
  },
  tts: {
    text: { type: 'string', required: true, minLength: 1, maxLength: 1000 },
    // No default written: an absent voice means the TTS service's default (itself `female`, the schema default).
    voice: { type: 'string', maxLength: 128 },
    language: { type: 'string', maxLength: 32 },
    engine: { type: 'string', maxLength: 64 },
    terminators: { type: 'dtmf[]', default: DTMF_KEYS },
    endless_playback: { type: 'boolean' },
  },
  play: {
    id: { type: 'string', maxLength: 4096 },
    terminators: { type: 'dtmf[]', default: DTMF_KEYS },
    loop_count: { type: 'integer', min: 1 },
    endless_playback: { type: 'boolean', default: false },
    answer: { type: 'boolean' },
  },
  collect_dtmf: {
    max_digits: { type: 'integer', min: 1, default: 1 },
    timeout: { type: 'integer', min: 1, default: 5000 },
    interdigit_timeout: { type: 'integer', min: 1, default: 2000 },
    // `terminator` gets its default only when `terminators` is absent (see applyDefaults).
    terminator: { type: 'dtmf' },
    terminators: { type: 'dtmf[]', unique: true },
    collection_name: { type: 'string', minLength: 1, maxLength: 128, default: 'default' },
  },
  hangup: {},
  answer: {},
  noop: {},
  wait_for_hangup: {},
  sleep: {
    duration: { type: 'integer', min: 0, max: 86_400_000, default: 0 },
    unit: { type: 'string', enum: ['ms', 's', 'm', 'h'], default: 's' },
  },
  response: {
    code: { type: 'integer', min: 100, max: 699, default: 486 },
    message: { type: 'string', maxLength: 256 },
    media: { type: 'string', maxLength: 2048 },
  },
  language: {
    language: { type: 'string', required: true, pattern: /^[A-Za-z]{2}(-[A-Za-z]{2})?$/ },
  },
  flush_dtmf: {
    collection_name: { type: 'string', minLength: 1, maxLength: 128, default: 'default' },
  },
  set_cid: {
    caller_id_name: { type: 'string', maxLength: 256, default: '' },
    caller_id_number: { type: 'string', maxLength: 256, default: '' },
  },
  prepend_cid: {
    action: { type: 'string', enum: ['prepend', 'reset'], default: 'prepend' },
    caller_id_name_prefix: { type: 'string', maxLength: 256, default: '' },
    caller_id_number_prefix: { type: 'string', maxLength: 256, default: '' },
    apply_to: { type: 'string', enum: ['original', 'current'], default: 'current' },
  },
  send_dtmf: {
    digits: { type: 'string', required: true, minLength: 1, maxLength: 256, pattern: /^[0-9*#A-Da-dwW]+$/ },
    duration_ms: { type: 'integer', min: 1, default: 2000 },
  },
  // Later issues: only what makes a reply valid or invalid.
  device: { id: { type: 'string' }, timeout: { type: 'integer', min: 0 }, delay: { type: 'integer', min: 0, default: 0 } },
  user: { id: { type: 'string' }, timeout: { type: 'integer', min: 0 }, delay: { type: 'integer', min: 0, default: 0 } },
  ring_group: {
    endpoints: { type: 'endpoints', required: true },
    strategy: { type: 'string', enum: ['simultaneous', 'single', 'weighted_random'], default: 'simultaneous' },
    timeout: { type: 'integer', min: 0, default: 20 },
    repeats: { type: 'integer', min: 1, default: 1 },
  },
  // No schema default for timeout: a stored group's own ring time applies when the module gives none.
  group: { id: { type: 'string' }, timeout: { type: 'integer', min: 0 } },
  resources: { to_did: { type: 'string' }, use_local_resources: { type: 'boolean', default: true }, timeout: { type: 'integer', min: 0 } },
  offnet: { to_did: { type: 'string' }, use_local_resources: { type: 'boolean', default: true }, timeout: { type: 'integer', min: 0 } },
  conference: {
    id: { type: 'string', minLength: 1, maxLength: 128 }, config: { type: 'conference' }, moderator: { type: 'boolean', default: false },
    welcome_prompt: { type: 'object' },
  },
  menu: { id: { type: 'string' }, interdigit_timeout: { type: 'integer', min: 1 } },
  record_call: {
    action: { type: 'string', enum: ['start', 'stop'], default: 'start' },
    format: { type: 'string', enum: ['mp3', 'wav'] },
    url: { type: 'string' },
    method: { type: 'string', enum: ['put', 'post'], caseInsensitive: true, default: 'put' },
    time_limit: { type: 'integer', min: 5, max: 10800, default: 3600 },
    record_on_answer: { type: 'boolean', default: false },
    record_on_bridge: { type: 'boolean', default: false },
    record_min_sec: { type: 'integer', min: 0, max: 10800 },
    record_sample_rate: { type: 'integer', min: 8000, max: 48000 },
    should_follow_transfer: { type: 'boolean', default: true },
    label: { type: 'string', maxLength: 256 },
    media_name: { type: 'string', minLength: 1, maxLength: 256, pattern: /^[^/\\?#]+$/ },
  },
  record_caller: {
    url: { type: 'string' },
    format: { type: 'string', enum: ['mp3', 'wav'] },
    method: { type: 'string', enum: ['put', 'post'], caseInsensitive: true, default: 'put' },
    time_limit: { type: 'integer', min: 5, max: 10800, default: 3600 },
    // Hookline extensions: keys that stop the recording (default: every key), seconds of silence that stop it (0 = off).
    terminators: { type: 'dtmf[]' },
    silence_timeout: { type: 'integer', min: 0, max: 10800 },
  },
  temporal_route: {
    rules: { type: 'string[]', default: [] },
    rule_set: { type: 'string' },
    timezone: { type: 'string', maxLength: 64 },
    action: { type: 'string', enum: ['menu', 'enable', 'disable', 'reset'] },
    interdigit_timeout: { type: 'integer', min: 1 },
  },
  webhook: {
    uri: { type: 'string', required: true, pattern: URL_RE, maxLength: 4096 },
    http_verb: { type: 'string', enum: ['get', 'post'], caseInsensitive: true, default: 'post' },
    retries: { type: 'integer', min: 0, max: 4, default: 2 },
    custom_data: { type: 'object' },
  },
  voicemail: { id: { type: 'string' }, action: { type: 'string', enum: ['compose', 'check'], default: 'compose' } },
  manual_presence: { presence_id: { type: 'string', required: true }, status: { type: 'string', enum: ['idle', 'ringing', 'busy'], default: 'idle' } },
  branch_variable: { variable: { type: 'string', required: true } },
  callflow: { id: { type: 'string' } },
};

/** Known Kazoo callflow modules without a detailed spec here (generic checks only). */
const OTHER_KNOWN = [
  'audio_macro', 'park', 'transfer', 'page_group', 'intercom', 'eavesdrop', 'receive_fax', 'faxbox',
  'dynamic_cid', 'set_variable', 'set_variables', 'set', 'set_alert_info', 'check_cid',
  'cidlistmatch', 'route_to_cid', 'lookupcidname', 'privacy', 'fax_detect', 'call_forward',
  'do_not_disturb', 'branch_bnumber', 'nomorobo', 'directory', 'disa', 'hotdesk', 'intercept',
  'camper', 'call_waiting', 'ring_group_toggle', 'dialplan', 'missed_call_alert', 'group_pickup',
  'group_pickup_feature', 'move', 'qubicle', 'acdc_member', 'acdc_agent', 'acdc_queue',
  'agent_availability', 'agent_pause', 'agent_resume', 'agent_login', 'agent_logout',
] as const;

const KNOWN = new Set<string>([...Object.keys(SPECS), ...OTHER_KNOWN]);

/** True when `name` is a module the validator accepts (`say` only in lenient mode). */
export function isKnownModule(name: string, compat: Compat): boolean {
  return KNOWN.has(name) || (compat === 'lenient' && name === 'say');
}

// ---------------------------------------------------------------------------------------------

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

interface Walk {
  compat: Compat;
  errors: ValidationIssue[];
  nodes: number;
  maxDepth: number;
  maxNodes: number;
}

function toInteger(v: unknown, compat: Compat): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (compat === 'lenient' && typeof v === 'string' && /^-?\d{1,15}$/.test(v.trim())) return Number(v.trim());
  return undefined;
}

function checkField(name: string, spec: FieldSpec, data: Record<string, unknown>, path: string, w: Walk): void {
  const p = `${path}/${name}`;
  const v = data[name];
  const err = (message: string): void => { w.errors.push({ path: p, message }); };
  if (v === undefined || v === null) {
    if (spec.type !== 'object' && spec.type !== 'endpoints' && spec.type !== 'conference' && spec.default !== undefined) {
      data[name] = Array.isArray(spec.default) ? [...spec.default] : spec.default;
    } else if (spec.required) {
      err('required field is missing');
    } else if (v === null) {
      delete data[name];
    }
    return;
  }
  switch (spec.type) {
    case 'string': {
      if (typeof v !== 'string') { err(`expected string, got ${describe(v)}`); return; }
      let s = v;
      if (spec.caseInsensitive) s = s.toLowerCase();
      if (spec.minLength !== undefined && s.length < spec.minLength) err(`shorter than ${spec.minLength} characters`);
      if (spec.maxLength !== undefined && s.length > spec.maxLength) err(`longer than ${spec.maxLength} characters`);
      if (spec.pattern && !spec.pattern.test(s)) err(`does not match ${spec.pattern.source}`);
      if (spec.enum && !spec.enum.includes(s)) err(`must be one of ${spec.enum.join(', ')}`);
      data[name] = s;
      return;
    }
    case 'integer': {
      const n = toInteger(v, w.compat);
      if (n === undefined) { err(`expected integer, got ${describe(v)}`); return; }
      if (spec.min !== undefined && n < spec.min) err(`must be >= ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) err(`must be <= ${spec.max}`);
      data[name] = n;
      return;
    }
    case 'boolean':
      if (typeof v !== 'boolean') err(`expected boolean, got ${describe(v)}`);
      return;
    case 'object':
      if (!isPlainObject(v)) err(`expected object, got ${describe(v)}`);
      return;
    case 'conference':
      try {
        parseConferenceConfig(v, name);
      } catch (e) {
        if (!(e instanceof ConferenceConfigError)) throw e;
        w.errors.push({ path: `${path}/${e.field.split('.').join('/')}`, message: e.message.slice(e.field.length + 2) });
      }
      return;
    case 'dtmf':
      if (typeof v !== 'string' || !DTMF_RE.test(v)) err('expected one DTMF key (0-9, *, #, A-D)');
      else data[name] = v.toUpperCase();
      return;
    case 'dtmf[]': {
      if (!Array.isArray(v)) { err(`expected array, got ${describe(v)}`); return; }
      const out: string[] = [];
      v.forEach((k: unknown, i) => {
        if (typeof k !== 'string' || !DTMF_RE.test(k)) w.errors.push({ path: `${p}/${i}`, message: 'expected one DTMF key (0-9, *, #, A-D)' });
        else out.push(k.toUpperCase());
      });
      if (spec.unique && new Set(out).size !== out.length) err('items must be unique');
      data[name] = out;
      return;
    }
    case 'string[]':
      if (!Array.isArray(v)) { err(`expected array, got ${describe(v)}`); return; }
      v.forEach((k: unknown, i) => { if (typeof k !== 'string') w.errors.push({ path: `${p}/${i}`, message: 'expected string' }); });
      return;
    case 'endpoints': {
      if (!Array.isArray(v) || v.length === 0) { err('expected a non-empty array of endpoints'); return; }
      const out: unknown[] = [];
      v.forEach((e: unknown, i) => {
        const ep = `${p}/${i}`;
        if (typeof e === 'string' && w.compat === 'lenient') { out.push({ id: e, endpoint_type: 'device' }); return; }
        if (!isPlainObject(e)) { w.errors.push({ path: ep, message: 'expected endpoint object' }); return; }
        if (typeof e.id !== 'string') w.errors.push({ path: `${ep}/id`, message: 'required string' });
        if (e.endpoint_type !== 'device' && e.endpoint_type !== 'user' && e.endpoint_type !== 'group') {
          w.errors.push({ path: `${ep}/endpoint_type`, message: 'must be one of device, user, group' });
        }
        out.push({ ...e });
      });
      data[name] = out;
      return;
    }
  }
}

function walk(input: unknown, path: string, depth: number, w: Walk): CallflowNode | undefined {
  if (!isPlainObject(input)) {
    w.errors.push({ path: path || '/', message: `expected a callflow action object, got ${describe(input)}` });
    return undefined;
  }
  if (++w.nodes > w.maxNodes) {
    if (w.nodes === w.maxNodes + 1) w.errors.push({ path: path || '/', message: `more than ${w.maxNodes} nodes` });
    return undefined;
  }
  if (depth > w.maxDepth) {
    w.errors.push({ path: path || '/', message: `nested deeper than ${w.maxDepth}` });
    return undefined;
  }
  let ok = true;
  const mod = input.module;
  let moduleName = '';
  if (typeof mod !== 'string' || mod.length < 1 || mod.length > 64) {
    w.errors.push({ path: `${path}/module`, message: 'module must be a string of 1-64 characters' });
    ok = false;
  } else if (!isKnownModule(mod, w.compat)) {
    w.errors.push({ path: `${path}/module`, message: `unknown module "${mod}"` });
    ok = false;
  } else {
    moduleName = mod === 'say' ? 'tts' : mod;
  }

  let data: Record<string, unknown> = {};
  if (input.data === undefined) {
    data = {};
  } else if (!isPlainObject(input.data)) {
    w.errors.push({ path: `${path}/data`, message: `data must be an object, got ${describe(input.data)}` });
    ok = false;
  } else {
    data = { ...input.data };
  }

  if (ok) {
    const spec = SPECS[moduleName];
    if (typeof data.skip_module !== 'undefined' && typeof data.skip_module !== 'boolean') {
      w.errors.push({ path: `${path}/data/skip_module`, message: 'expected boolean' });
    }
    if (spec) {
      for (const [field, fs] of Object.entries(spec)) checkField(field, fs, data, `${path}/data`, w);
    }
    if (moduleName === 'collect_dtmf' && data.terminator === undefined && data.terminators === undefined) {
      data.terminator = '#';
    }
  }

  let children: Record<string, CallflowNode | EmptyNode> | undefined;
  if (input.children !== undefined) {
    if (!isPlainObject(input.children)) {
      w.errors.push({ path: `${path}/children`, message: `children must be an object, got ${describe(input.children)}` });
      ok = false;
    } else {
      children = {};
      for (const [key, child] of Object.entries(input.children)) {
        const cp = `${path}/children/${key}`;
        if (isPlainObject(child) && Object.keys(child).length === 0) { children[key] = {}; continue; }
        const c = walk(child, cp, depth + 1, w);
        if (c) children[key] = c; else ok = false;
      }
    }
  }
  if (!ok) return undefined;
  const node: CallflowNode = { module: moduleName, data };
  if (children) node.children = children;
  return node;
}

/** Validate one callflow action (a parsed web-script reply or a stored flow); defaults written in. */
export function validateCallflow(input: unknown, opts: ValidateOptions): ValidationResult {
  const w: Walk = { compat: opts.compat, errors: [], nodes: 0, maxDepth: opts.maxDepth ?? 64, maxNodes: opts.maxNodes ?? 2000 };
  const flow = walk(input, '', 0, w);
  if (!flow || w.errors.length > 0) return { ok: false, errors: w.errors };
  return { ok: true, flow };
}
