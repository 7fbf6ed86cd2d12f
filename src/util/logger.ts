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

let root: Logger = make((process.env.HOOKLINE_LOG_LEVEL as LogLevel | undefined) ?? 'silent');

/** Replace the root logger (done once by the CLI from the config's `log.level`). */
export function configureLogging(level: LogLevel, destination?: NodeJS.WritableStream): void {
  root = make(level, destination);
}

/** A child logger tagged with its subsystem: `getLogger('sip').debug(...)`. */
export function getLogger(subsystem: string): Logger {
  return root.child({ sub: subsystem });
}

/** A logger that drops everything (tests, benches). */
export const silentLogger: Logger = SILENT;
