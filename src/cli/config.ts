/**
 * Hookline configuration: one YAML or JSON file, validated once at start.
 * Every error names the field it is about (`sip.port: expected an integer 1-65535, got "abc"`).
 * This is the only module (with the CLI) that reads files.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve as resolvePath } from 'node:path';
import { createRequire } from 'node:module';
import type { parse as YamlParse } from 'yaml';

/** The YAML parser (about 3 MB of RSS) is loaded for a YAML config file only, not for JSON ones. */
function parseYaml(text: string): unknown {
  return (createRequire(import.meta.url)('yaml') as { parse: typeof YamlParse }).parse(text);
}
import type { CallflowNode } from '../pivot/callflow.js';
import type { StoredMedia, StoredMenu, StoredTemporalRule } from '../pivot/stored.js';
import { isValidTimeZone } from '../pivot/temporal.js';
import { parseConferenceConfig, ConferenceConfigError, type ConferenceSettings } from '../pivot/conference-config.js';
import type { AdminConfig } from '../pbx/admin.js';

export type LogLevelName = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface SipConfig {
  /** Address to listen on. Default `0.0.0.0`. */
  listen: string;
  /** Port for both UDP and TCP. Default 5060. 0 = any free port. */
  port: number;
  /** Transports to listen on. Default both. */
  transports: Array<'udp' | 'tcp'>;
  /** Address written into Contact and Via (default: the listen address, or 127.0.0.1 when listening on 0.0.0.0). */
  advertise?: string;
  /** User-Agent / Server header. */
  userAgent: string;
  /** DNS servers for gateway host names (`ip` or `ip:port`); default the system's. */
  dnsServers?: string[];
}

export interface RtpConfig {
  /** Address RTP sockets bind to. Default `0.0.0.0`. */
  address: string;
  /** Address written into SDP (default: sip.advertise, else the bind address, else 127.0.0.1). */
  advertise?: string;
  /** Even port range for RTP (RTCP uses port+1). Default 16384-32766. */
  portMin: number;
  portMax: number;
  /** A call with no RTP received for this long is ended with a BYE. Seconds, default 60. 0 disables. */
  timeoutSeconds: number;
  /** Media worker threads. Default 0 = one per core. */
  workers: number;
  /** Codecs we accept, in our order of preference when we offer. Default PCMU, PCMA. */
  codecs: Array<'PCMU' | 'PCMA'>;
  /**
   * Nice value of the media worker threads (Linux, -20..19). Default -10: RTP pacing runs above signalling,
   * webhooks and other programs when the CPUs are busy. Below 0 needs root or CAP_SYS_NICE (else a warning and
   * normal priority). 0 leaves the threads as they are.
   */
  niceness: number;
}

export interface TtsConfig {
  /** Default voice: `female`, `male`, or an engine voice name (flite: slt, kal16, rms). */
  voice: string;
  language: string;
  /** TTS worker threads. Default 1. */
  workers: number;
  /** Maximum synthesis requests waiting; more are refused. Default 256. */
  queueLimit: number;
  /** In-memory cache size, entries. Default 512. */
  cacheEntries: number;
  /** Optional folder for a persistent cache. */
  cacheDir?: string;
  /** Folder of Piper voices (`<name>.onnx` + `<name>.onnx.json`); none by default (no Piper engine). */
  voicesDir?: string;
  /** Piper worker threads (each keeps its loaded voice models). Default 1. */
  piperWorkers: number;
  /** ONNX Runtime threads per Piper inference. Default 1. */
  piperThreads: number;
  /** Per-sentence-batch Piper synthesis budget, ms (a worker that overruns is replaced). Default 30000. */
  piperTimeoutMs: number;
  /** flite workers stop after this long without calls or syntheses, s (they start again with the next call); 0 = never. Default 300. */
  idleSeconds: number;
  /** Start the flite workers at startup rather than when the first call arrives. Default false. */
  warmAtStart: boolean;
}

export interface PivotConfig {
  compat: 'lenient' | 'strict';
  apiVersion: string;
  /** Upper bound for `req_timeout_ms`. Default 5000. */
  maxReqTimeoutMs: number;
  /**
   * Where TwiML `<Record>` stores its recordings (PUT `<recordingUrl>/<CallSid>-<n>.wav`); the stored file's URL is
   * reported as `RecordingUrl`. Without it `<Record>` is skipped.
   */
  recordingUrl?: string;
}

export type { AdminConfig };

export interface AccountConfig { id: string; name?: string; realm?: string }

export interface NumberRoute {
  /** Account the call belongs to (Account-ID in webhooks). */
  account: string;
  /** The callflow run for calls to this number, usually one `pivot` node. */
  flow: CallflowNode;
}

export interface CallsConfig {
  /** Most calls at once; more get 503. Default 5000. */
  maxConcurrent: number;
  /**
   * Most calls in setup at once (INVITE received, not yet answered or ended); more get 503 with Retry-After.
   * Bounds the calls that pile up unanswered (a slow web script, many calls ringing); `overloadGuard` handles INVITEs
   * that pile up unread. Default 1000.
   */
  maxInSetup: number;
  /**
   * Overload guard: while INVITEs wait over 250 ms in the SIP UDP receive queue, refuse a growing share of new calls
   * with a stateless 503 (Retry-After), so that a switch offered more calls than it can set up keeps setting up the
   * ones it takes (src/pbx/overload.ts). Default true.
   */
  overloadGuard: boolean;
  /** Longest call, seconds; then BYE. Default 14400 (4 h). */
  maxDurationSeconds: number;
}

/** One gateway (SIP server) of a carrier. */
export interface GatewayConfig {
  host: string;
  /** Default 5060. */
  port: number;
  /** A host name given without a port: located by DNS SRV (`_sip._udp`/`_sip._tcp`), RFC 3263. */
  srv: boolean;
  transport: 'udp' | 'tcp';
  /** Digest credentials answering the gateway's 401/407 challenges (optional). */
  username?: string;
  password?: string;
  /** Only answer challenges for this realm (default: every realm). */
  realm?: string;
  /** Put in front of / after the number in the Request-URI. */
  prefix: string;
  suffix: string;
  /** REGISTER to the gateway with the credentials (refreshed before expiry, removed at shutdown). Default false. */
  register: boolean;
  /** Expires asked for in the REGISTER, seconds. Default 3600. */
  registerExpires: number;
  /**
   * No reply at all (not even 100 Trying) to an INVITE within this many seconds: the gateway counts as down and
   * the next one is tried (instead of waiting for Timer B, 64*T1 = 32 s). Default 5; 0 = wait for Timer B.
   */
  replyTimeout: number;
}

/** An outbound trunk (`resources`): without `account` it is global (use_local_resources false), else the account's. */
export interface CarrierConfig {
  id: string;
  account?: string;
  /** Lower first. Default 1. */
  priority: number;
  /** Regexes of which the E.164 number must match at least one; default: every number. */
  rules: string[];
  /** The carrier serves `outbound_flags` that are all in this list. */
  flags: string[];
  /** How the number goes out: e164 (+14155550000), npan (4155550000), 1npan (14155550000), international (0014155550000 style: `00` instead of `+`). Default e164. */
  format: 'e164' | 'npan' | '1npan' | 'international';
  /** Caller-ID number format in From / P-Asserted-Identity: e164 or asis. Default asis. */
  callerIdFormat: 'e164' | 'asis';
  /** Gateways tried in order: the next on 408, 5xx, 503 or no answer from the transport. */
  gateways: GatewayConfig[];
}

/** A SIP phone that registers with Hookline (digest auth). */
export interface DeviceConfig {
  id: string;
  /** SIP username (the AOR user and digest username). */
  username: string;
  password: string;
  /** Digest realm; default the registrar realm. */
  realm?: string;
  /** Owning user id (`user` rings all of a user's devices). */
  owner?: string;
  callerIdName?: string;
  callerIdNumber?: string;
  /** Dialling this number from anywhere reaches the device (when no `numbers` entry matches first). */
  extension?: string;
}

export interface UserConfig { id: string; name?: string; extension?: string }

export interface RingGroupConfig {
  id: string;
  endpoints: Array<{ id: string; type: 'device' | 'user'; delay: number; timeout: number }>;
  strategy: 'simultaneous' | 'single';
  timeout: number;
}

export interface RegistrarConfig {
  /** Digest realm for devices without one. Default `hookline`. */
  realm: string;
  /** Expires bounds (RFC 3261 10.3: shorter than min → 423). Seconds. Defaults 60, 3600, 3600. */
  minExpires: number;
  maxExpires: number;
  defaultExpires: number;
  /** Contacts kept per AOR; the oldest goes beyond. Default 5. */
  maxContacts: number;
}

export interface CdrConfig {
  /** Form POST of every record to this URL (besides a pivot node's `cdr_url`). */
  url?: string;
  /** Append records as JSON lines to this file. */
  file?: string;
  /** Records kept in memory for queries. Default 1000. */
  maxRecords: number;
}

export interface HooklineConfig {
  sip: SipConfig;
  rtp: RtpConfig;
  tts: TtsConfig;
  pivot: PivotConfig;
  calls: CallsConfig;
  accounts: AccountConfig[];
  /** Dialled number (Request-URI user) → route. The key `*` catches every other number. */
  numbers: Record<string, NumberRoute>;
  log: { level: LogLevelName };
  carriers: CarrierConfig[];
  devices: DeviceConfig[];
  users: UserConfig[];
  ringGroups: RingGroupConfig[];
  registrar: RegistrarConfig;
  cdr: CdrConfig;
  /** Stored media by id (`play`, menu prompts, `response.media`): `{ url | file | tts }`. */
  media: Record<string, StoredMedia>;
  /** Stored menus by id (`menu` module). */
  menus: Record<string, StoredMenu>;
  /** Stored temporal rules (and rule sets) by id (`temporal_route`). */
  temporalRules: Record<string, StoredTemporalRule>;
  /** Stored conferences by id (`conference` module's `id`), Kazoo `conferences` fields. */
  conferences: Record<string, ConferenceSettings>;
  /** Read-only admin HTTP endpoint (debug records, CDRs, stats); off unless `admin.port` is set. */
  admin: AdminConfig;
  /** Bounds of the media loader behind `play` URLs and stored media (downloads, decoding, cache). */
  mediaFetch: MediaFetchConfig;
}

export interface MediaFetchConfig {
  /** Largest download or file, bytes. Default 20 MiB. */
  maxBytes: number;
  /** Whole request (headers and body), ms. Default 10000. */
  timeoutMs: number;
  /** Longest decoded audio, seconds. Default 600. */
  maxSeconds: number;
  /** Cache: most entries (default 128) and most bytes of decoded audio (default 64 MiB). */
  cacheEntries: number;
  cacheBytes: number;
  /** Freshness of a cached file without Cache-Control max-age from its server, seconds. Default 60. */
  maxAgeSeconds: number;
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v));

function section(root: Obj, key: string): Obj {
  const v = root[key];
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new ConfigError(key, `expected an object, got ${show(v)}`);
  return v;
}

function checkKeys(o: Obj, path: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new ConfigError(path ? `${path}.${k}` : k, `unknown field (expected one of: ${allowed.join(', ')})`);
  }
}

function str(o: Obj, key: string, path: string, def?: string): string {
  const v = o[key];
  if (v === undefined || v === null) {
    if (def === undefined) throw new ConfigError(`${path}.${key}`, 'required');
    return def;
  }
  if (typeof v !== 'string' || v.length === 0) throw new ConfigError(`${path}.${key}`, `expected a non-empty string, got ${show(v)}`);
  return v;
}

function optStr(o: Obj, key: string, path: string): string | undefined {
  if (o[key] === undefined || o[key] === null) return undefined;
  return str(o, key, path);
}

function int(o: Obj, key: string, path: string, def: number, min: number, max: number): number {
  const v = o[key];
  if (v === undefined || v === null) return def;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${path}.${key}`, `expected an integer ${min}-${max}, got ${show(v)}`);
  }
  return n;
}

function flag(o: Obj, key: string, path: string, def: boolean): boolean {
  const v = o[key];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'boolean') throw new ConfigError(`${path}.${key}`, `expected true or false, got ${show(v)}`);
  return v;
}

function oneOf<T extends string>(o: Obj, key: string, path: string, allowed: readonly T[], def: T): T {
  const v = o[key];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new ConfigError(`${path}.${key}`, `expected one of ${allowed.join(', ')}, got ${show(v)}`);
  }
  return v as T;
}

function listOf<T extends string>(o: Obj, key: string, path: string, allowed: readonly T[], def: T[]): T[] {
  const v = o[key];
  if (v === undefined || v === null) return def;
  if (!Array.isArray(v) || v.length === 0) throw new ConfigError(`${path}.${key}`, `expected a non-empty list of ${allowed.join(', ')}`);
  return v.map((x, i) => {
    if (typeof x !== 'string' || !(allowed as readonly string[]).includes(x)) {
      throw new ConfigError(`${path}.${key}[${i}]`, `expected one of ${allowed.join(', ')}, got ${show(x)}`);
    }
    return x as T;
  });
}

const IP_RE = /^(\d{1,3}\.){3}\d{1,3}$|^[0-9a-fA-F:]+$|^localhost$/;
function address(o: Obj, key: string, path: string, def?: string): string | undefined {
  const v = def === undefined ? optStr(o, key, path) : str(o, key, path, def);
  if (v !== undefined && !IP_RE.test(v)) throw new ConfigError(`${path}.${key}`, `expected an IP address, got ${show(v)}`);
  return v;
}

function flowNode(v: unknown, path: string): CallflowNode {
  if (!isObj(v)) throw new ConfigError(path, `expected a callflow node object {module, data, children}, got ${show(v)}`);
  if (typeof v.module !== 'string' || v.module.length === 0) throw new ConfigError(`${path}.module`, 'expected a module name');
  if (v.data !== undefined && !isObj(v.data)) throw new ConfigError(`${path}.data`, 'expected an object');
  const node: CallflowNode = { module: v.module, data: (v.data as Obj | undefined) ?? {} };
  if (v.children !== undefined) {
    if (!isObj(v.children)) throw new ConfigError(`${path}.children`, 'expected an object of child nodes');
    const children: Record<string, CallflowNode | Record<string, never>> = {};
    for (const [k, c] of Object.entries(v.children)) {
      children[k] = isObj(c) && Object.keys(c).length === 0 ? {} : flowNode(c, `${path}.children.${k}`);
    }
    node.children = children;
  }
  if (node.module === 'pivot') {
    const url = node.data.voice_url;
    if (typeof url !== 'string' || !/^https?:\/\//.test(url)) {
      throw new ConfigError(`${path}.data.voice_url`, `expected an http(s) URL, got ${show(url)}`);
    }
  }
  return node;
}

function list(root: Obj, key: string): Obj[] {
  const v = root[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ConfigError(key, `expected a list, got ${show(v)}`);
  return v.map((x, i) => {
    if (!isObj(x)) throw new ConfigError(`${key}[${i}]`, `expected an object, got ${show(x)}`);
    return x;
  });
}

function strings(o: Obj, key: string, path: string): string[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ConfigError(`${path}.${key}`, `expected a list of strings, got ${show(v)}`);
  return v.map((x, i) => {
    if (typeof x !== 'string') throw new ConfigError(`${path}.${key}[${i}]`, `expected a string, got ${show(x)}`);
    return x;
  });
}

const HOST_RE = /^[A-Za-z0-9.\-:[\]]+$/;

function uniqueIds(items: Array<{ id: string }>, key: string): Set<string> {
  const seen = new Set<string>();
  for (const [i, it] of items.entries()) {
    if (seen.has(it.id)) throw new ConfigError(`${key}[${i}].id`, `duplicate id ${show(it.id)}`);
    seen.add(it.id);
  }
  return seen;
}

/** carriers, devices, users, ringGroups, registrar, cdr (the bridging issue's sections). */
function bridgingSections(input: Obj, accountIds: Set<string>): Pick<HooklineConfig, 'carriers' | 'devices' | 'users' | 'ringGroups' | 'registrar' | 'cdr'> {
  const carriers: CarrierConfig[] = list(input, 'carriers').map((c, i) => {
    const path = `carriers[${i}]`;
    checkKeys(c, path, ['id', 'account', 'priority', 'rules', 'flags', 'format', 'callerIdFormat', 'gateways']);
    const account = optStr(c, 'account', path);
    if (account !== undefined && !accountIds.has(account)) throw new ConfigError(`${path}.account`, `unknown account ${show(account)} (define it under accounts)`);
    const rules = strings(c, 'rules', path);
    for (const [j, r] of rules.entries()) {
      try { new RegExp(r); } catch { throw new ConfigError(`${path}.rules[${j}]`, `not a valid regular expression: ${show(r)}`); }
    }
    const gws = c.gateways;
    if (!Array.isArray(gws) || gws.length === 0) throw new ConfigError(`${path}.gateways`, 'expected a non-empty list of {host, port, transport, username, password}');
    const gateways: GatewayConfig[] = gws.map((g, j) => {
      const gp = `${path}.gateways[${j}]`;
      if (!isObj(g)) throw new ConfigError(gp, `expected an object, got ${show(g)}`);
      checkKeys(g, gp, ['host', 'port', 'transport', 'username', 'password', 'realm', 'prefix', 'suffix', 'register', 'registerExpires', 'replyTimeout']);
      const host = str(g, 'host', gp);
      if (!HOST_RE.test(host)) throw new ConfigError(`${gp}.host`, `expected a host name or IP address, got ${show(host)}`);
      const gw: GatewayConfig = {
        host, port: int(g, 'port', gp, 5060, 1, 65535), srv: g.port === undefined && !IP_RE.test(host),
        transport: oneOf(g, 'transport', gp, ['udp', 'tcp'] as const, 'udp'),
        prefix: typeof g.prefix === 'string' ? g.prefix : '', suffix: typeof g.suffix === 'string' ? g.suffix : '',
        register: false, registerExpires: int(g, 'registerExpires', gp, 3600, 30, 86400),
        replyTimeout: int(g, 'replyTimeout', gp, 5, 0, 60),
      };
      if (g.register !== undefined && typeof g.register !== 'boolean') throw new ConfigError(`${gp}.register`, `expected true or false, got ${show(g.register)}`);
      gw.register = g.register === true;
      const username = optStr(g, 'username', gp);
      const password = g.password === undefined || g.password === null ? undefined : typeof g.password === 'string' ? g.password : undefined;
      if (g.password !== undefined && g.password !== null && typeof g.password !== 'string') throw new ConfigError(`${gp}.password`, 'expected a string');
      if ((username === undefined) !== (password === undefined)) throw new ConfigError(`${gp}.${username === undefined ? 'username' : 'password'}`, 'username and password go together');
      if (username !== undefined) gw.username = username;
      if (password !== undefined) gw.password = password;
      const realm = optStr(g, 'realm', gp);
      if (realm !== undefined) gw.realm = realm;
      if (gw.register && gw.username === undefined) throw new ConfigError(`${gp}.register`, 'registering needs username and password');
      return gw;
    });
    const carrier: CarrierConfig = {
      id: str(c, 'id', path), priority: int(c, 'priority', path, 1, 0, 1000000), rules, flags: strings(c, 'flags', path),
      format: oneOf(c, 'format', path, ['e164', 'npan', '1npan', 'international'] as const, 'e164'),
      callerIdFormat: oneOf(c, 'callerIdFormat', path, ['e164', 'asis'] as const, 'asis'), gateways,
    };
    if (account !== undefined) carrier.account = account;
    return carrier;
  });
  uniqueIds(carriers, 'carriers');

  const users: UserConfig[] = list(input, 'users').map((u, i) => {
    const path = `users[${i}]`;
    checkKeys(u, path, ['id', 'name', 'extension']);
    const user: UserConfig = { id: str(u, 'id', path) };
    const name = optStr(u, 'name', path);
    if (name !== undefined) user.name = name;
    const ext = optStr(u, 'extension', path);
    if (ext !== undefined) user.extension = ext;
    return user;
  });
  const userIds = uniqueIds(users, 'users');

  const devices: DeviceConfig[] = list(input, 'devices').map((d, i) => {
    const path = `devices[${i}]`;
    checkKeys(d, path, ['id', 'username', 'password', 'realm', 'owner', 'callerIdName', 'callerIdNumber', 'extension']);
    const username = str(d, 'username', path);
    if (!/^[A-Za-z0-9._!~*'()&=+$,;?/%-]+$/.test(username)) throw new ConfigError(`${path}.username`, `not a valid SIP user part: ${show(username)}`);
    const dev: DeviceConfig = { id: str(d, 'id', path), username, password: str(d, 'password', path) };
    for (const k of ['realm', 'callerIdName', 'callerIdNumber', 'extension'] as const) {
      const v = optStr(d, k, path);
      if (v !== undefined) dev[k] = v;
    }
    const owner = optStr(d, 'owner', path);
    if (owner !== undefined) {
      if (!userIds.has(owner)) throw new ConfigError(`${path}.owner`, `unknown user ${show(owner)} (define it under users)`);
      dev.owner = owner;
    }
    return dev;
  });
  const deviceIds = uniqueIds(devices, 'devices');
  const usernames = new Set<string>();
  for (const [i, d] of devices.entries()) {
    if (usernames.has(d.username)) throw new ConfigError(`devices[${i}].username`, `duplicate SIP username ${show(d.username)}`);
    usernames.add(d.username);
  }

  const ringGroups: RingGroupConfig[] = list(input, 'ringGroups').map((g, i) => {
    const path = `ringGroups[${i}]`;
    checkKeys(g, path, ['id', 'endpoints', 'strategy', 'timeout']);
    const eps = g.endpoints;
    if (!Array.isArray(eps) || eps.length === 0) throw new ConfigError(`${path}.endpoints`, 'expected a non-empty list of {id, type}');
    const endpoints = eps.map((e, j) => {
      const ep = `${path}.endpoints[${j}]`;
      if (!isObj(e)) throw new ConfigError(ep, `expected an object {id, type}, got ${show(e)}`);
      checkKeys(e, ep, ['id', 'type', 'delay', 'timeout']);
      const type = oneOf(e, 'type', ep, ['device', 'user'] as const, 'device');
      const id = str(e, 'id', ep);
      if (!(type === 'device' ? deviceIds : userIds).has(id)) throw new ConfigError(`${ep}.id`, `unknown ${type} ${show(id)}`);
      return { id, type, delay: int(e, 'delay', ep, 0, 0, 600), timeout: int(e, 'timeout', ep, 20, 1, 600) };
    });
    return {
      id: str(g, 'id', path), endpoints, strategy: oneOf(g, 'strategy', path, ['simultaneous', 'single'] as const, 'simultaneous'),
      timeout: int(g, 'timeout', path, 20, 1, 600),
    };
  });
  uniqueIds(ringGroups, 'ringGroups');

  const r = section(input, 'registrar');
  checkKeys(r, 'registrar', ['realm', 'minExpires', 'maxExpires', 'defaultExpires', 'maxContacts']);
  const registrar: RegistrarConfig = {
    realm: str(r, 'realm', 'registrar', 'hookline'),
    minExpires: int(r, 'minExpires', 'registrar', 60, 1, 86400),
    maxExpires: int(r, 'maxExpires', 'registrar', 3600, 1, 7 * 86400),
    defaultExpires: int(r, 'defaultExpires', 'registrar', 3600, 1, 7 * 86400),
    maxContacts: int(r, 'maxContacts', 'registrar', 5, 1, 100),
  };
  if (registrar.maxExpires < registrar.minExpires) throw new ConfigError('registrar.maxExpires', `must be at least registrar.minExpires (${registrar.minExpires})`);

  const c = section(input, 'cdr');
  checkKeys(c, 'cdr', ['url', 'file', 'maxRecords']);
  const cdr: CdrConfig = { maxRecords: int(c, 'maxRecords', 'cdr', 1000, 0, 1000000) };
  const url = optStr(c, 'url', 'cdr');
  if (url !== undefined) {
    if (!/^https?:\/\//.test(url)) throw new ConfigError('cdr.url', `expected an http(s) URL, got ${show(url)}`);
    cdr.url = url;
  }
  const file = optStr(c, 'file', 'cdr');
  if (file !== undefined) cdr.file = file;

  return { carriers, devices, users, ringGroups, registrar, cdr };
}

/** Validate a parsed config object, filling defaults. Throws ConfigError naming the field. */
export function validateConfig(input: unknown): HooklineConfig {
  if (input === undefined || input === null) input = {};
  if (!isObj(input)) throw new ConfigError('(root)', 'expected an object');
  checkKeys(input, '', ['sip', 'rtp', 'tts', 'pivot', 'calls', 'accounts', 'numbers', 'log', 'carriers', 'devices', 'users', 'ringGroups', 'registrar', 'cdr', 'media', 'menus', 'temporalRules', 'admin', 'mediaFetch', 'conferences']);

  const s = section(input, 'sip');
  checkKeys(s, 'sip', ['listen', 'port', 'transports', 'advertise', 'userAgent', 'dnsServers']);
  const sip: SipConfig = {
    listen: address(s, 'listen', 'sip', '0.0.0.0')!,
    port: int(s, 'port', 'sip', 5060, 0, 65535),
    transports: listOf(s, 'transports', 'sip', ['udp', 'tcp'] as const, ['udp', 'tcp']),
    advertise: address(s, 'advertise', 'sip'),
    userAgent: str(s, 'userAgent', 'sip', 'Hookline/0.1'),
  };
  if (s.dnsServers !== undefined) {
    if (!Array.isArray(s.dnsServers) || s.dnsServers.some((v) => typeof v !== 'string' || !/^(\[[0-9A-Fa-f:.]+\]|[0-9.]+|[0-9A-Fa-f:]+)(:\d{1,5})?$/.test(v))) {
      throw new ConfigError('sip.dnsServers', `expected a list of IP addresses (optionally ip:port), got ${show(s.dnsServers)}`);
    }
    sip.dnsServers = s.dnsServers as string[];
  }

  const r = section(input, 'rtp');
  checkKeys(r, 'rtp', ['address', 'advertise', 'portMin', 'portMax', 'timeoutSeconds', 'workers', 'codecs', 'niceness']);
  const rtp: RtpConfig = {
    address: address(r, 'address', 'rtp', '0.0.0.0')!,
    advertise: address(r, 'advertise', 'rtp'),
    portMin: int(r, 'portMin', 'rtp', 16384, 1024, 65534),
    portMax: int(r, 'portMax', 'rtp', 32766, 1024, 65534),
    timeoutSeconds: int(r, 'timeoutSeconds', 'rtp', 60, 0, 86400),
    workers: int(r, 'workers', 'rtp', 0, 0, 64),
    codecs: listOf(r, 'codecs', 'rtp', ['PCMU', 'PCMA'] as const, ['PCMU', 'PCMA']),
    niceness: int(r, 'niceness', 'rtp', -10, -20, 19),
  };
  if (rtp.portMin % 2 !== 0) throw new ConfigError('rtp.portMin', `must be even (RTP uses even ports), got ${rtp.portMin}`);
  if (rtp.portMax <= rtp.portMin) throw new ConfigError('rtp.portMax', `must be greater than rtp.portMin (${rtp.portMin})`);

  const tt = section(input, 'tts');
  checkKeys(tt, 'tts', ['voice', 'language', 'workers', 'queueLimit', 'cacheEntries', 'cacheDir', 'voicesDir', 'piperWorkers', 'piperThreads', 'piperTimeoutMs', 'idleSeconds', 'warmAtStart']);
  const tts: TtsConfig = {
    voice: str(tt, 'voice', 'tts', 'female'),
    language: str(tt, 'language', 'tts', 'en-us'),
    workers: int(tt, 'workers', 'tts', 1, 1, 16),
    queueLimit: int(tt, 'queueLimit', 'tts', 256, 1, 100000),
    cacheEntries: int(tt, 'cacheEntries', 'tts', 512, 0, 1000000),
    cacheDir: optStr(tt, 'cacheDir', 'tts'),
    voicesDir: optStr(tt, 'voicesDir', 'tts'),
    piperWorkers: int(tt, 'piperWorkers', 'tts', 1, 1, 16),
    piperThreads: int(tt, 'piperThreads', 'tts', 1, 1, 64),
    piperTimeoutMs: int(tt, 'piperTimeoutMs', 'tts', 30000, 100, 600000),
    idleSeconds: int(tt, 'idleSeconds', 'tts', 300, 0, 86400),
    warmAtStart: flag(tt, 'warmAtStart', 'tts', false),
  };

  const p = section(input, 'pivot');
  checkKeys(p, 'pivot', ['compat', 'apiVersion', 'maxReqTimeoutMs', 'recordingUrl']);
  const pivot: PivotConfig = {
    compat: oneOf(p, 'compat', 'pivot', ['lenient', 'strict'] as const, 'lenient'),
    apiVersion: str(p, 'apiVersion', 'pivot', '2015-03-01'),
    maxReqTimeoutMs: int(p, 'maxReqTimeoutMs', 'pivot', 5000, 100, 120000),
  };
  const recordingUrl = optStr(p, 'recordingUrl', 'pivot');
  if (recordingUrl !== undefined) {
    if (!/^https?:\/\/[^/?#]+/.test(recordingUrl)) throw new ConfigError('pivot.recordingUrl', `expected an http(s) URL, got ${show(recordingUrl)}`);
    pivot.recordingUrl = recordingUrl;
  }

  const c = section(input, 'calls');
  checkKeys(c, 'calls', ['maxConcurrent', 'maxInSetup', 'overloadGuard', 'maxDurationSeconds']);
  const calls: CallsConfig = {
    maxConcurrent: int(c, 'maxConcurrent', 'calls', 5000, 1, 1000000),
    maxInSetup: int(c, 'maxInSetup', 'calls', 1000, 1, 1000000),
    overloadGuard: flag(c, 'overloadGuard', 'calls', true),
    maxDurationSeconds: int(c, 'maxDurationSeconds', 'calls', 14400, 1, 7 * 86400),
  };

  const accRaw = input.accounts ?? [{ id: 'default' }];
  if (!Array.isArray(accRaw)) throw new ConfigError('accounts', 'expected a list of {id, name, realm}');
  const accounts: AccountConfig[] = accRaw.map((a, i) => {
    if (!isObj(a)) throw new ConfigError(`accounts[${i}]`, 'expected an object {id, name, realm}');
    checkKeys(a, `accounts[${i}]`, ['id', 'name', 'realm']);
    return { id: str(a, 'id', `accounts[${i}]`), name: optStr(a, 'name', `accounts[${i}]`), realm: optStr(a, 'realm', `accounts[${i}]`) };
  });
  const ids = new Set<string>();
  for (const [i, a] of accounts.entries()) {
    if (ids.has(a.id)) throw new ConfigError(`accounts[${i}].id`, `duplicate account id ${show(a.id)}`);
    ids.add(a.id);
  }

  const n = section(input, 'numbers');
  const numbers: Record<string, NumberRoute> = {};
  for (const [num, route] of Object.entries(n)) {
    const path = `numbers.${num}`;
    if (!isObj(route)) throw new ConfigError(path, 'expected {account, flow}');
    checkKeys(route, path, ['account', 'flow']);
    const account = str(route, 'account', path, accounts[0]?.id ?? 'default');
    if (!ids.has(account)) throw new ConfigError(`${path}.account`, `unknown account ${show(account)} (define it under accounts)`);
    if (route.flow === undefined) throw new ConfigError(`${path}.flow`, 'required');
    numbers[num] = { account, flow: flowNode(route.flow, `${path}.flow`) };
  }

  const l = section(input, 'log');
  checkKeys(l, 'log', ['level']);
  const log = { level: oneOf(l, 'level', 'log', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info') };

  const bridging = bridgingSections(input, ids);

  const ad = section(input, 'admin');
  checkKeys(ad, 'admin', ['listen', 'port', 'token']);
  const admin: AdminConfig = { listen: address(ad, 'listen', 'admin', '127.0.0.1')! };
  if (ad.port !== undefined) admin.port = int(ad, 'port', 'admin', 0, 0, 65535);
  const token = optStr(ad, 'token', 'admin');
  if (token !== undefined) {
    if (token.length < 16) throw new ConfigError('admin.token', 'expected at least 16 characters');
    admin.token = token;
  }
  const mf = section(input, 'mediaFetch');
  checkKeys(mf, 'mediaFetch', ['maxBytes', 'timeoutMs', 'maxSeconds', 'cacheEntries', 'cacheBytes', 'maxAgeSeconds']);
  const mediaFetch: MediaFetchConfig = {
    maxBytes: int(mf, 'maxBytes', 'mediaFetch', 20 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    timeoutMs: int(mf, 'timeoutMs', 'mediaFetch', 10000, 100, 600000),
    maxSeconds: int(mf, 'maxSeconds', 'mediaFetch', 600, 1, 86400),
    cacheEntries: int(mf, 'cacheEntries', 'mediaFetch', 128, 0, 100000),
    cacheBytes: int(mf, 'cacheBytes', 'mediaFetch', 64 * 1024 * 1024, 0, 16 * 1024 * 1024 * 1024),
    maxAgeSeconds: int(mf, 'maxAgeSeconds', 'mediaFetch', 60, 0, 86400 * 30),
  };
  return { sip, rtp, tts, pivot, calls, accounts, numbers, log, ...bridging, ...storedSections(input), admin, mediaFetch, conferences: conferencesSection(input) };
}

/** Read and validate a config file (YAML or JSON by extension; YAML parses JSON too). */
export function loadConfigFile(file: string): HooklineConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError('(file)', `cannot read ${file}: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ConfigError('(file)', `${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
  }
  const config = validateConfig(parsed);
  // A relative `media.<id>.file` is relative to the config file's folder.
  for (const [id, m] of Object.entries(config.media)) {
    if (m.file !== undefined && !isAbsolute(m.file)) config.media[id] = { file: resolvePath(dirname(file), m.file) };
  }
  // So is `tts.voicesDir`.
  if (config.tts.voicesDir !== undefined && !isAbsolute(config.tts.voicesDir)) config.tts.voicesDir = resolvePath(dirname(file), config.tts.voicesDir);
  return config;
}

/** The route for a dialled number: exact match first, then `*`. */
export function routeFor(config: HooklineConfig, number: string): NumberRoute | undefined {
  return config.numbers[number] ?? config.numbers['*'];
}

// ---------------------------------------------------------------- media, menus, temporalRules

const WDAY_NAMES: Readonly<Record<string, number>> = {
  sunday: 0, sun: 0, monday: 1, mon: 1, tuesday: 2, tue: 2, wednesday: 3, wensday: 3, wed: 3,
  thursday: 4, thu: 4, friday: 5, fri: 5, saturday: 6, sat: 6,
};
const MEDIA_ID_RE = /^[A-Za-z0-9_.:@+-]{1,128}$/;
const DATE_RE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const MONTH_DAY_RE = /^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

/** Seconds since midnight from an integer (0-86400) or "HH:MM[:SS]". */
function timeOfDay(o: Obj, key: string, path: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 86400) return v;
  if (typeof v === 'string') {
    const m = /^(\d{1,2}):([0-5]\d)(?::([0-5]\d))?$/.exec(v);
    if (m) {
      const secs = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3] ?? 0);
      if (secs <= 86400) return secs;
    }
  }
  throw new ConfigError(`${path}.${key}`, `expected "HH:MM" or seconds since midnight 0-86400, got ${show(v)}`);
}

/** A prompt reference: an http(s) URL, tts://text, or a media id defined under `media`. */
function promptRef(o: Obj, key: string, path: string, mediaIds: ReadonlySet<string>, allowFalse: boolean): string | false | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (v === false && allowFalse) return false;
  if (typeof v !== 'string' || v.trim() === '') throw new ConfigError(`${path}.${key}`, `expected a media id, an http(s) URL or tts://text${allowFalse ? ', or false' : ''}, got ${show(v)}`);
  if (/^https?:\/\/./i.test(v) || /^tts:\/\/./i.test(v)) return v;
  if (!mediaIds.has(v)) throw new ConfigError(`${path}.${key}`, `unknown media id ${show(v)} (define it under media, or use an http(s) URL or tts://text)`);
  return v;
}

function storedSections(input: Obj): Pick<HooklineConfig, 'media' | 'menus' | 'temporalRules'> {
  const media: Record<string, StoredMedia> = {};
  for (const [id, m] of Object.entries(section(input, 'media'))) {
    const path = `media.${id}`;
    if (!MEDIA_ID_RE.test(id)) throw new ConfigError(path, 'a media id is 1-128 characters of A-Z a-z 0-9 _ . : @ + -');
    if (!isObj(m)) throw new ConfigError(path, 'expected { url } or { file } or { tts }');
    checkKeys(m, path, ['url', 'file', 'tts', 'name']);
    const url = optStr(m, 'url', path);
    const file = optStr(m, 'file', path);
    const tts = optStr(m, 'tts', path);
    if ([url, file, tts].filter((x) => x !== undefined).length !== 1) throw new ConfigError(path, 'expected exactly one of url, file, tts');
    if (url !== undefined && !/^https?:\/\/./i.test(url)) throw new ConfigError(`${path}.url`, `expected an http(s) URL, got ${show(url)}`);
    if (tts !== undefined && tts.length > 1000) throw new ConfigError(`${path}.tts`, 'longer than 1000 characters');
    media[id] = url !== undefined ? { url } : file !== undefined ? { file } : { tts: tts ?? '' };
  }
  const mediaIds = new Set(Object.keys(media));

  const menus: Record<string, StoredMenu> = {};
  for (const [id, m] of Object.entries(section(input, 'menus'))) {
    const path = `menus.${id}`;
    if (!isObj(m)) throw new ConfigError(path, 'expected a menu object {retries, timeout, max_extension_length, media}');
    checkKeys(m, path, ['name', 'retries', 'timeout', 'interdigit_timeout', 'max_extension_length', 'media']);
    const mm = section(m, 'media');
    if (m.media !== undefined && m.media !== null && !isObj(m.media)) throw new ConfigError(`${path}.media`, 'expected an object');
    checkKeys(mm, `${path}.media`, ['greeting', 'invalid_media', 'exit_media']);
    const name = optStr(m, 'name', path);
    const greeting = promptRef(mm, 'greeting', `${path}.media`, mediaIds, false);
    const invalid = promptRef(mm, 'invalid_media', `${path}.media`, mediaIds, true);
    const exit = promptRef(mm, 'exit_media', `${path}.media`, mediaIds, true);
    menus[id] = {
      ...(name !== undefined ? { name } : {}),
      retries: int(m, 'retries', path, 3, 1, 20),
      timeout: int(m, 'timeout', path, 10000, 100, 3_600_000),
      interdigitTimeout: int(m, 'interdigit_timeout', path, 2000, 100, 3_600_000),
      maxExtensionLength: int(m, 'max_extension_length', path, 4, 1, 32),
      ...(typeof greeting === 'string' ? { greeting } : {}),
      ...(invalid !== undefined ? { invalidMedia: invalid } : {}),
      ...(exit !== undefined ? { exitMedia: exit } : {}),
    };
  }

  const temporalRules: Record<string, StoredTemporalRule> = {};
  const rawRules = section(input, 'temporalRules');
  for (const [id, r] of Object.entries(rawRules)) {
    const path = `temporalRules.${id}`;
    if (!isObj(r)) throw new ConfigError(path, 'expected a rule object {wdays, time_window_start, time_window_stop, dates, timezone}');
    checkKeys(r, path, ['name', 'timezone', 'wdays', 'time_window_start', 'time_window_stop', 'dates', 'start_date', 'end_date', 'enabled', 'temporal_rules']);
    const name = optStr(r, 'name', path);
    const timezone = optStr(r, 'timezone', path);
    if (timezone !== undefined && !isValidTimeZone(timezone)) throw new ConfigError(`${path}.timezone`, `unknown time zone ${show(timezone)} (an IANA name such as America/New_York)`);
    let wdays: number[] | undefined;
    if (r.wdays !== undefined && r.wdays !== null) {
      if (!Array.isArray(r.wdays)) throw new ConfigError(`${path}.wdays`, 'expected a list of weekday names (monday … sunday)');
      wdays = r.wdays.map((d: unknown, i) => {
        const n = typeof d === 'string' ? WDAY_NAMES[d.toLowerCase()] : undefined;
        if (n === undefined) throw new ConfigError(`${path}.wdays[${i}]`, `expected a weekday name (monday … sunday), got ${show(d)}`);
        return n;
      });
    }
    let dates: string[] | undefined;
    if (r.dates !== undefined && r.dates !== null) {
      if (!Array.isArray(r.dates)) throw new ConfigError(`${path}.dates`, 'expected a list of "YYYY-MM-DD" or "MM-DD"');
      dates = r.dates.map((d: unknown, i) => {
        if (typeof d !== 'string' || !(DATE_RE.test(d) || MONTH_DAY_RE.test(d))) throw new ConfigError(`${path}.dates[${i}]`, `expected "YYYY-MM-DD" or "MM-DD", got ${show(d)}`);
        return d;
      });
    }
    const dateField = (key: string): string | undefined => {
      const d = optStr(r, key, path);
      if (d !== undefined && !DATE_RE.test(d)) throw new ConfigError(`${path}.${key}`, `expected "YYYY-MM-DD", got ${show(d)}`);
      return d;
    };
    const startDate = dateField('start_date');
    const endDate = dateField('end_date');
    if (r.enabled !== undefined && r.enabled !== null && typeof r.enabled !== 'boolean') throw new ConfigError(`${path}.enabled`, `expected true or false, got ${show(r.enabled)}`);
    const start = timeOfDay(r, 'time_window_start', path);
    const stop = timeOfDay(r, 'time_window_stop', path);
    let set: string[] | undefined;
    if (r.temporal_rules !== undefined && r.temporal_rules !== null) {
      if (!Array.isArray(r.temporal_rules) || r.temporal_rules.length === 0) throw new ConfigError(`${path}.temporal_rules`, 'expected a non-empty list of rule ids');
      set = r.temporal_rules.map((x: unknown, i) => {
        if (typeof x !== 'string' || !Object.prototype.hasOwnProperty.call(rawRules, x) || x === id) {
          throw new ConfigError(`${path}.temporal_rules[${i}]`, `expected the id of another rule under temporalRules, got ${show(x)}`);
        }
        return x;
      });
    }
    temporalRules[id] = {
      ...(name !== undefined ? { name } : {}),
      ...(timezone !== undefined ? { timezone } : {}),
      ...(wdays ? { wdays } : {}),
      ...(start !== undefined ? { timeWindowStart: start } : {}),
      ...(stop !== undefined ? { timeWindowStop: stop } : {}),
      ...(dates ? { dates } : {}),
      ...(startDate !== undefined ? { startDate } : {}),
      ...(endDate !== undefined ? { endDate } : {}),
      ...(typeof r.enabled === 'boolean' ? { enabled: r.enabled } : {}),
      ...(set ? { temporalRules: set } : {}),
    };
  }
  return { media, menus, temporalRules };
}

// ---------------------------------------------------------------- conferences

/** `conferences: { <id>: { name, member, moderator, play_entry_tone, ... } }` (Kazoo `conferences` fields). */
function conferencesSection(input: Obj): Record<string, ConferenceSettings> {
  const out: Record<string, ConferenceSettings> = {};
  for (const [id, c] of Object.entries(section(input, 'conferences'))) {
    if (!MEDIA_ID_RE.test(id)) throw new ConfigError(`conferences.${id}`, 'a conference id is 1-128 characters of A-Z a-z 0-9 _ . : @ + -');
    try {
      out[id] = parseConferenceConfig(c, `conferences.${id}`, id);
    } catch (err) {
      if (err instanceof ConferenceConfigError) throw new ConfigError(err.field, err.message.slice(err.field.length + 2));
      throw err;
    }
  }
  return out;
}
