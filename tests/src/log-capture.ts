/** A pino logger that keeps its JSON lines in memory, for tests that assert on log lines. */
import pino from 'pino';
import type { Logger } from 'pino';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface CapturedLog {
  logger: Logger;
  lines: LogLine[];
  /** Lines whose message contains `text`. */
  find(text: string): LogLine[];
}

export function captureLog(level: pino.Level = 'debug'): CapturedLog {
  const lines: LogLine[] = [];
  const stream = {
    write(s: string) {
      for (const l of s.split('\n')) if (l.trim()) lines.push(JSON.parse(l) as LogLine);
    },
  };
  const logger = pino({ level }, stream);
  return { logger, lines, find: (text) => lines.filter((l) => typeof l.msg === 'string' && l.msg.includes(text)) };
}
