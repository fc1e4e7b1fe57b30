/** Structured log: one event name and fields. JSON lines by default, a readable form for humans. */
export type LogLevel = 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, event: string, fields?: Record<string, unknown>) => void;

export function createLogger(opts: { json: boolean; write?: (line: string) => void; name?: string }): Logger {
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  return (level, event, fields = {}) => {
    if (opts.json) {
      write(JSON.stringify({ time: new Date().toISOString(), level, name: opts.name ?? 'covey', event, ...fields }));
    } else {
      const extras = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      write(`[${opts.name ?? 'covey'}] ${level === 'info' ? '' : level.toUpperCase() + ' '}${event}${extras ? ' ' + extras : ''}`);
    }
  };
}

export const silentLogger: Logger = () => {};
