/**
 * Namespaced structured logging (pino). Library code takes a `Logger` and never uses `console`.
 * Subsystem tags: `sip`, `rtp`, `media`, `tts`, `dtmf`, `pivot`, `call`, `cli`.
 */
import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = LevelWithSilent;

let root: PinoLogger = pino({ level: process.env.HOOKLINE_LOG_LEVEL ?? 'silent', base: undefined });

/** Replace the root logger (done once by the CLI from the config's `log.level`). */
export function configureLogging(level: LogLevel, destination?: NodeJS.WritableStream): void {
  root = destination ? pino({ level, base: undefined }, destination) : pino({ level, base: undefined });
}

/** A child logger tagged with its subsystem: `getLogger('sip').debug(...)`. */
export function getLogger(subsystem: string): Logger {
  return root.child({ sub: subsystem });
}

/** A logger that drops everything (tests, benches). */
export const silentLogger: Logger = pino({ level: 'silent' });
