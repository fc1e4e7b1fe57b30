import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

const BIN = resolve(import.meta.dirname, '../../bin/covey.js');

export interface CoveyProcess {
  child: ChildProcess;
  lines: string[];
  output: () => string;
  waitForLine: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
}

/** Runs `covey <args>` as a real child process and records its output line by line. */
export function spawnCovey(args: string[], env: Record<string, string> = {}): CoveyProcess {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const lines: string[] = [];
  const stderr: string[] = [];
  const waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  // Lines of both streams are matched by waitForLine; stdout's are also kept in `lines`.
  const splitter = (onLine: (line: string) => void) => {
    let buffered = '';
    return (chunk: string) => {
      buffered += chunk;
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      parts.forEach(onLine);
    };
  };
  const match = (line: string) => {
    for (const w of [...waiters]) {
      const m = line.match(w.pattern);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  const errLines: string[] = [];
  child.stdout.setEncoding('utf8').on(
    'data',
    splitter((line) => (lines.push(line), match(line))),
  );
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  child.stderr.on(
    'data',
    splitter((line) => (errLines.push(line), match(line))),
  );
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const output = () => `--- stdout ---\n${lines.join('\n')}\n--- stderr ---\n${stderr.join('').slice(-100_000)}`;
  return {
    child,
    lines,
    output,
    exited,
    waitForLine(pattern, timeoutMs = 60_000) {
      const seen = [...lines, ...errLines].map((l) => l.match(pattern)).find(Boolean);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolveLine, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}\n${output()}`)), timeoutMs);
        waiters.push({
          pattern,
          resolve: (m) => {
            clearTimeout(timer);
            resolveLine(m);
          },
        });
        void exited.then(() => setTimeout(() => reject(new Error(`process exited before ${pattern}\n${output()}`)), 100));
      });
    },
  };
}

export async function exitCode(p: CoveyProcess, timeoutMs: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`process did not exit within ${timeoutMs} ms\n${p.output()}`)), timeoutMs);
  });
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
