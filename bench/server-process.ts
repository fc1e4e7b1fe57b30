/**
 * A `covey server` child process for the loopback benches (load.ts, scale.ts): started from a
 * config file with JSON logs, its join line read from stdout, its "round complete" lines from
 * stderr, and its resident memory sampled from its own /metrics endpoint every 250 ms.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RoundResultSchema } from '../src/core/protocol/messages.js';

/** The fields of the server's "round complete" log line that the benches report. */
const RoundLineSchema = RoundResultSchema.pick({ round: true, participants: true, seconds: true, accuracy: true, bytesUp: true });
export type RoundLine = ReturnType<typeof RoundLineSchema.parse>;

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../bin/covey.js');

export interface ServerProcess {
  url: string;
  invite: string;
  /** The completed rounds so far, as the server logged them. */
  rounds: RoundLine[];
  /** The largest resident set the server reported so far, bytes. */
  peakRss(): number;
  /** Resolves with the server's exit code (it runs with --exit-when-done). */
  exited: Promise<number | null>;
  /** Stops sampling; kills the server if it still runs. */
  stop(): void;
}

export async function startServer(root: string, config: Record<string, unknown>, onRound: (line: RoundLine) => void): Promise<ServerProcess> {
  const configPath = join(root, 'server.json');
  await writeFile(configPath, JSON.stringify(config));
  const server = spawn(process.execPath, [BIN, 'server', '--config', configPath, '--json-logs', '--exit-when-done'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const rounds: RoundLine[] = [];
  let stdout = '';
  const exited = new Promise<number | null>((r) => server.on('exit', (code) => r(code)));
  const joinLine = new Promise<{ url: string; invite: string }>((resolveJoin, reject) => {
    server.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const m = stdout.match(/^Join with: covey join (\S+) --invite (\S+)/m);
      if (m) resolveJoin({ url: m[1], invite: m[2] });
    });
    void exited.then((code) => reject(new Error(`the server exited (code ${code}) before it printed its join line`)));
  });
  let stderrTail = '';
  server.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (stderrTail + chunk).split('\n');
    stderrTail = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.includes('"round complete"')) continue;
      const parsed = RoundLineSchema.parse(JSON.parse(line));
      rounds.push(parsed);
      onRound(parsed);
    }
  });
  const { url, invite } = await joinLine;

  let peakRss = 0;
  const sample = async () => {
    try {
      const text = await (await fetch(`${url}/metrics`)).text();
      const rss = Number(text.match(/^process_resident_memory_bytes (\S+)$/m)?.[1]);
      if (rss > peakRss) peakRss = rss;
    } catch {
      /* the server may be closing */
    }
  };
  const sampler = setInterval(() => void sample(), 250);
  return {
    url,
    invite,
    rounds,
    peakRss: () => peakRss,
    exited,
    stop: () => {
      clearInterval(sampler);
      if (server.exitCode === null) server.kill();
    },
  };
}
