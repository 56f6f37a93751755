/**
 * The process logger. Machines get JSON lines (one object per line, ISO time, level
 * names as EMQX writes them) so log shippers need no parser; people at a terminal get
 * pino-pretty. pino-pretty runs as a synchronous stream in this thread rather than as a
 * worker transport: no extra thread, and nothing is lost when the process exits
 * right after logging (e.g. a ListenError at start).
 */
import { pino, type Level, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { VireoConfig } from './config-schema.js';

type LogLevel = VireoConfig['log']['level'];

/** EMQX (syslog) level names to pino's. */
export const PINO_LEVEL: Readonly<Record<LogLevel, Level>> = {
  debug: 'debug',
  info: 'info',
  notice: 'info',
  warning: 'warn',
  error: 'error',
  critical: 'fatal',
  alert: 'fatal',
  emergency: 'fatal',
};

export interface LoggerOptions {
  node: string;
  level: LogLevel;
  format: VireoConfig['log']['format'];
  /** Where lines go; stdout by default. Tests pass a stream. */
  destination?: NodeJS.WritableStream & { isTTY?: boolean };
}

export function usesPretty(format: LoggerOptions['format'], isTTY: boolean | undefined): boolean {
  return format === 'text' || (format === 'auto' && isTTY === true);
}

export function createLogger(options: LoggerOptions): Logger {
  const out = options.destination ?? process.stdout;
  const base = { node: options.node, pid: process.pid };
  const level = PINO_LEVEL[options.level];
  if (usesPretty(options.format, out.isTTY)) {
    const stream = pretty({
      destination: out === process.stdout ? 1 : out,
      sync: true,
      colorize: out.isTTY === true,
      translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
      // A terminal shows one node; its name on every line would be noise.
      ignore: 'pid,hostname,node',
    });
    return pino({ level, base }, stream);
  }
  return pino(
    {
      level,
      base,
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names rather than numbers: readable in any log viewer.
      formatters: { level: (label) => ({ level: label }) },
    },
    out === process.stdout ? pino.destination({ dest: 1, sync: true }) : out,
  );
}
