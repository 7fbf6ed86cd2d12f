/**
 * Hookline configuration: one YAML or JSON file, validated once at start.
 * Every error names the field it is about (`sip.port: expected an integer 1-65535, got "abc"`).
 * This is the only module (with the CLI) that reads files.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { CallflowNode } from '../pivot/callflow.js';

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
}

export interface PivotConfig {
  compat: 'lenient' | 'strict';
  apiVersion: string;
  /** Upper bound for `req_timeout_ms`. Default 5000. */
  maxReqTimeoutMs: number;
}

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
  /** Longest call, seconds; then BYE. Default 14400 (4 h). */
  maxDurationSeconds: number;
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

/** Validate a parsed config object, filling defaults. Throws ConfigError naming the field. */
export function validateConfig(input: unknown): HooklineConfig {
  if (input === undefined || input === null) input = {};
  if (!isObj(input)) throw new ConfigError('(root)', 'expected an object');
  checkKeys(input, '', ['sip', 'rtp', 'tts', 'pivot', 'calls', 'accounts', 'numbers', 'log']);

  const s = section(input, 'sip');
  checkKeys(s, 'sip', ['listen', 'port', 'transports', 'advertise', 'userAgent']);
  const sip: SipConfig = {
    listen: address(s, 'listen', 'sip', '0.0.0.0')!,
    port: int(s, 'port', 'sip', 5060, 0, 65535),
    transports: listOf(s, 'transports', 'sip', ['udp', 'tcp'] as const, ['udp', 'tcp']),
    advertise: address(s, 'advertise', 'sip'),
    userAgent: str(s, 'userAgent', 'sip', 'Hookline/0.1'),
  };

  const r = section(input, 'rtp');
  checkKeys(r, 'rtp', ['address', 'advertise', 'portMin', 'portMax', 'timeoutSeconds', 'workers', 'codecs']);
  const rtp: RtpConfig = {
    address: address(r, 'address', 'rtp', '0.0.0.0')!,
    advertise: address(r, 'advertise', 'rtp'),
    portMin: int(r, 'portMin', 'rtp', 16384, 1024, 65534),
    portMax: int(r, 'portMax', 'rtp', 32766, 1024, 65534),
    timeoutSeconds: int(r, 'timeoutSeconds', 'rtp', 60, 0, 86400),
    workers: int(r, 'workers', 'rtp', 0, 0, 64),
    codecs: listOf(r, 'codecs', 'rtp', ['PCMU', 'PCMA'] as const, ['PCMU', 'PCMA']),
  };
  if (rtp.portMin % 2 !== 0) throw new ConfigError('rtp.portMin', `must be even (RTP uses even ports), got ${rtp.portMin}`);
  if (rtp.portMax <= rtp.portMin) throw new ConfigError('rtp.portMax', `must be greater than rtp.portMin (${rtp.portMin})`);

  const tt = section(input, 'tts');
  checkKeys(tt, 'tts', ['voice', 'language', 'workers', 'queueLimit', 'cacheEntries', 'cacheDir']);
  const tts: TtsConfig = {
    voice: str(tt, 'voice', 'tts', 'female'),
    language: str(tt, 'language', 'tts', 'en-us'),
    workers: int(tt, 'workers', 'tts', 1, 1, 16),
    queueLimit: int(tt, 'queueLimit', 'tts', 256, 1, 100000),
    cacheEntries: int(tt, 'cacheEntries', 'tts', 512, 0, 1000000),
    cacheDir: optStr(tt, 'cacheDir', 'tts'),
  };

  const p = section(input, 'pivot');
  checkKeys(p, 'pivot', ['compat', 'apiVersion', 'maxReqTimeoutMs']);
  const pivot: PivotConfig = {
    compat: oneOf(p, 'compat', 'pivot', ['lenient', 'strict'] as const, 'lenient'),
    apiVersion: str(p, 'apiVersion', 'pivot', '2015-03-01'),
    maxReqTimeoutMs: int(p, 'maxReqTimeoutMs', 'pivot', 5000, 100, 120000),
  };

  const c = section(input, 'calls');
  checkKeys(c, 'calls', ['maxConcurrent', 'maxDurationSeconds']);
  const calls: CallsConfig = {
    maxConcurrent: int(c, 'maxConcurrent', 'calls', 5000, 1, 1000000),
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

  return { sip, rtp, tts, pivot, calls, accounts, numbers, log };
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
  return validateConfig(parsed);
}

/** The route for a dialled number: exact match first, then `*`. */
export function routeFor(config: HooklineConfig, number: string): NumberRoute | undefined {
  return config.numbers[number] ?? config.numbers['*'];
}
