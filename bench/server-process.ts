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
  /** The server's /metrics text now. */
  metrics(): Promise<string>;
  /** Resolves with the server's exit code (it runs with --exit-when-done). */
  exited: Promise<number | null>;
  /** Stops sampling; kills the server if it still runs. */
  stop(): void;
}

/** `exitWhenDone: false` keeps the server (and its /metrics) up after its last round, until `stop`. */
export async function startServer(
  root: string,
  config: Record<string, unknown>,
  onRound: (line: RoundLine) => void,
  { exitWhenDone = true } = {},
): Promise<ServerProcess> {
  const configPath = join(root, 'server.json');
  await writeFile(configPath, JSON.stringify(config));
  const server = spawn(process.execPath, [BIN, 'server', '--config', configPath, '--json-logs', ...(exitWhenDone ? ['--exit-when-done'] : [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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

  const metrics = async () => (await fetch(`${url}/metrics`)).text();
  const rss = sampleRss(metrics);
  return {
    url,
    invite,
    rounds,
    peakRss: rss.peak,
    metrics,
    exited,
    stop: () => {
      rss.stop();
      if (server.exitCode === null) server.kill();
    },
  };
}

/** One unlabelled sample of a Prometheus text exposition (0 when absent). */
export function metricValue(text: string, name: string): number {
  const value = Number(text.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1]);
  return Number.isFinite(value) ? value : 0;
}

/** The largest process_resident_memory_bytes a process's /metrics reports, read every 250 ms until `stop`. */
function sampleRss(metrics: () => Promise<string>): { peak: () => number; stop: () => void } {
  let peak = 0;
  const sampler = setInterval(
    () =>
      void metrics().then(
        (text) => (peak = Math.max(peak, metricValue(text, 'process_resident_memory_bytes'))),
        () => undefined, // the process may be closing
      ),
    250,
  );
  return { peak: () => peak, stop: () => clearInterval(sampler) };
}

export interface EdgeProcess {
  url: string;
  /** The largest resident set the edge reported so far, bytes. */
  peakRss(): number;
  metrics(): Promise<string>;
  stop(): void;
}

/** A `covey server --role edge` child process of the coordinator at `coordinatorUrl` (config: the coordinator's, with its own port). */
export async function startEdgeProcess(root: string, config: Record<string, unknown>, coordinatorUrl: string, edgeId: string): Promise<EdgeProcess> {
  const configPath = join(root, `${edgeId}.json`);
  await writeFile(configPath, JSON.stringify({ ...config, host: '127.0.0.1', port: 0 }));
  const edge = spawn(process.execPath, [BIN, 'server', '--role', 'edge', '--config', configPath, '--coordinator', coordinatorUrl, '--edge-id', edgeId], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  edge.stderr.resume();
  let stdout = '';
  const url = await new Promise<string>((resolveUrl, reject) => {
    edge.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const m = stdout.match(/ at (http:\/\/[^\s,]+), coordinator/);
      if (m) resolveUrl(m[1]);
    });
    edge.once('exit', (code) => reject(new Error(`edge ${edgeId} exited (code ${code}) before it listened`)));
  });
  const metrics = async () => (await fetch(`${url}/metrics`)).text();
  const rss = sampleRss(metrics);
  return {
    url,
    peakRss: rss.peak,
    metrics,
    stop: () => {
      rss.stop();
      if (edge.exitCode === null) edge.kill();
    },
  };
}
