import pino from 'pino';
import pretty from 'pino-pretty';

/** Structured log: an event name and fields. JSON lines (pino) by default, a readable form for people. */
export type LogLevel = 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, event: string, fields?: Record<string, unknown>) => void;

export function createLogger(opts: { json: boolean; write?: (line: string) => void; name?: string }): Logger {
  const destination = opts.write
    ? { write: (line: string) => opts.write!(line.trimEnd()) }
    : opts.json
      ? pino.destination(2)
      : pretty({ destination: 2, colorize: false, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', messageKey: 'event' });
  const log = pino(
    {
      name: opts.name ?? 'covey',
      messageKey: 'event',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  return (level, event, fields = {}) => log[level](fields, event);
}

export const silentLogger: Logger = () => {};
