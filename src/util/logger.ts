/**
 * Namespaced structured logging (pino). Library code takes a `Logger` and never uses `console`.
 * Subsystem tags: `sip`, `rtp`, `media`, `tts`, `dtmf`, `pivot`, `call`, `cli`.
 *
 * pino is loaded on first need: a thread whose logging is silent (the media and TTS worker threads unless
 * HOOKLINE_LOG_LEVEL is set) gets a silent logger without loading it, which saves about 3 MB of RSS per
 * worker thread (pino and its dependencies through the CommonJS loader).
 */
import { createRequire } from 'node:module';
import type { Logger as PinoLogger, LevelWithSilent, pino as PinoFactory } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = LevelWithSilent;

type Pino = typeof PinoFactory;
let pinoFactory: Pino | undefined;
function loadPino(): Pino {
  pinoFactory ??= (createRequire(import.meta.url)('pino') as { pino: Pino }).pino;
  return pinoFactory;
}

/**
 * A logger that drops everything, made without pino: what a pino logger at level `silent` does for the
 * calls Hookline makes (the level methods, child, isLevelEnabled, bindings, flush). A child of it is itself,
 * as a pino child of a silent logger is silent.
 */
function silentStub(): Logger {
  const noop = (): void => undefined;
  const stub = {
    level: 'silent',
    levelVal: Infinity,
    fatal: noop, error: noop, warn: noop, info: noop, debug: noop, trace: noop, silent: noop,
    child: (): Logger => logger,
    isLevelEnabled: (): boolean => false,
    bindings: (): Record<string, unknown> => ({}),
    flush: noop,
  };
  const logger = stub as unknown as Logger;
  return logger;
}

const SILENT = silentStub();

function make(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  if (level === 'silent') return SILENT;
  const pino = loadPino();
  return destination ? pino({ level, base: undefined }, destination) : pino({ level, base: undefined });
}

const LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** HOOKLINE_LOG_LEVEL (unset or empty: silent); an unknown value is refused by name, not crashed on inside pino. */
function envLevel(): LogLevel {
  const v = process.env.HOOKLINE_LOG_LEVEL;
  if (v === undefined || v === '') return 'silent';
  if (!LEVELS.includes(v)) throw new Error(`HOOKLINE_LOG_LEVEL: unknown level "${v}" (one of ${LEVELS.join(', ')})`);
  return v as LogLevel;
}

let root: Logger = make(envLevel());

/** Bumped by configureLogging(): subsystem loggers re-derive their child from the new root. */
let generation = 0;

/** Replace the root logger (done once by the CLI from the config's `log.level`). */
export function configureLogging(level: LogLevel, destination?: NodeJS.WritableStream): void {
  root = make(level, destination);
  generation++;
}

type LogFn = (...args: unknown[]) => void;

/**
 * A subsystem logger that follows the root: most are made at import time, before the CLI has read the config
 * and called configureLogging(); a plain child made then would stay a child of the start-up root (silent) for
 * good. Each call forwards to a child of the current root, re-derived only when the root changed. Children
 * made from it (`.child({ callId })`) are ordinary loggers of the root current at that time.
 */
class SubsystemLogger {
  private gen = -1;
  private cur: Logger = SILENT;
  constructor(private readonly subsystem: string) {}
  private target(): Logger {
    if (this.gen !== generation) { this.cur = root.child({ sub: this.subsystem }); this.gen = generation; }
    return this.cur;
  }
  get level(): string { return this.target().level; }
  fatal(...a: unknown[]): void { (this.target().fatal as LogFn)(...a); }
  error(...a: unknown[]): void { (this.target().error as LogFn)(...a); }
  warn(...a: unknown[]): void { (this.target().warn as LogFn)(...a); }
  info(...a: unknown[]): void { (this.target().info as LogFn)(...a); }
  debug(...a: unknown[]): void { (this.target().debug as LogFn)(...a); }
  trace(...a: unknown[]): void { (this.target().trace as LogFn)(...a); }
  silent(): void { /* nothing */ }
  child(bindings: Record<string, unknown>, options?: Record<string, unknown>): Logger {
    return options ? this.target().child(bindings, options) : this.target().child(bindings);
  }
  isLevelEnabled(level: string): boolean { return this.target().isLevelEnabled(level); }
  bindings(): Record<string, unknown> { return this.target().bindings(); }
  flush(): void { this.target().flush(); }
}

/**
 * A child logger made only when something is logged through it. A pino child costs about 15 µs (its bindings are
 * serialised at once), and every call made two (the call's and its Pivot session's) that usually log nothing at the
 * default level: measurable at hundreds of calls a second. Levels are checked on the parent first.
 */
class LazyChild {
  private real: Logger | undefined;
  constructor(private readonly parent: Logger, private readonly b: Record<string, unknown>) {}
  /** The real pino child (made from the parent's real logger when the parent is lazy too). */
  t(): Logger {
    if (!this.real) {
      const p = this.parent as unknown;
      this.real = (p instanceof LazyChild ? p.t() : this.parent).child(this.b);
    }
    return this.real;
  }
  get level(): string { return (this.real ?? this.parent).level; }
  fatal(...a: unknown[]): void { if (this.parent.isLevelEnabled('fatal')) (this.t().fatal as LogFn)(...a); }
  error(...a: unknown[]): void { if (this.parent.isLevelEnabled('error')) (this.t().error as LogFn)(...a); }
  warn(...a: unknown[]): void { if (this.parent.isLevelEnabled('warn')) (this.t().warn as LogFn)(...a); }
  info(...a: unknown[]): void { if (this.parent.isLevelEnabled('info')) (this.t().info as LogFn)(...a); }
  debug(...a: unknown[]): void { if (this.parent.isLevelEnabled('debug')) (this.t().debug as LogFn)(...a); }
  trace(...a: unknown[]): void { if (this.parent.isLevelEnabled('trace')) (this.t().trace as LogFn)(...a); }
  silent(): void { /* nothing */ }
  child(bindings: Record<string, unknown>): Logger { return lazyChild(this as unknown as Logger, bindings); }
  isLevelEnabled(level: string): boolean { return (this.real ?? this.parent).isLevelEnabled(level); }
  bindings(): Record<string, unknown> { return this.real ? this.real.bindings() : { ...this.parent.bindings(), ...this.b }; }
  flush(): void { this.parent.flush(); }
}

/** `parent.child(bindings)`, made only when first used to log (see LazyChild): for per-call loggers. */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  return new LazyChild(parent, bindings) as unknown as Logger;
}

/** A logger tagged with its subsystem: `getLogger('sip').debug(...)`; follows configureLogging(). */
export function getLogger(subsystem: string): Logger {
  return new SubsystemLogger(subsystem) as unknown as Logger;
}

/** A logger that drops everything (tests, benches). */
export const silentLogger: Logger = SILENT;
