/**
 * Protocol fuzz bench: a live `covey server` (its own process) with an honest federation of two
 * `covey join` clients, and N mutated messages from the fuzzer of tests/helpers/fuzzer.ts. Reports
 * crashes, the server's RSS before / peak / after, honest rounds completed and aborted while the
 * fuzzer ran, and /metrics latency. Then the pinning attack of issue 10 (binary headers announcing
 * 10 attachments of ~850 kB, 9 sent, never the last) from 120 sockets, against a CNN federation
 * whose frame limit lets 850 kB through: RSS added, and how many of those sockets the server closed.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import WebSocket from 'ws';
import { parseInvite } from '../src/core/protocol/invite.js';
import { writeClientPartitions } from '../tests/helpers/federation-data.js';
import { Fuzzer, rssMb } from '../tests/helpers/fuzzer.js';
import { spawnCovey, type CoveyProcess } from '../tests/helpers/processes.js';

export interface FuzzBenchOptions {
  messages: number;
  log: (line: string) => void;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? null : s[Math.floor(s.length / 2)];
};

async function startServer(root: string, name: string, config: Record<string, unknown>): Promise<{ server: CoveyProcess; url: string; invite: string }> {
  const configPath = join(root, `${name}.json`);
  await writeFile(configPath, JSON.stringify({ federationId: name, port: 0, stateDir: join(root, name), ...config }));
  const server = spawnCovey(['server', '--config', configPath, '--json-logs']);
  const [, url, invite] = await server.waitForLine(/^Join with: covey join (\S+) --invite (\S+)/, 120_000);
  return { server, url, invite };
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.e+-]+)$`, 'm').exec(text)?.[1] ?? 0);
}

async function stop(p: CoveyProcess): Promise<void> {
  if (p.child.exitCode !== null) return;
  p.child.kill('SIGINT');
  await Promise.race([p.exited, new Promise((r) => setTimeout(r, 5000))]);
  if (p.child.exitCode === null) p.child.kill('SIGKILL');
}

export async function runFuzzBench(opts: FuzzBenchOptions): Promise<unknown> {
  const { root, dirs } = await writeClientPartitions(2, 1500, 5);
  const processes: CoveyProcess[] = [];
  try {
    // ---- fuzz alongside an honest federation ----
    const { server, url, invite } = await startServer(root, 'fuzz', {
      model: 'mlp',
      rounds: 100_000,
      seed: 2,
      training: { epochs: 1, batchSize: 16, learningRate: 0.1 },
      cohort: { minClients: 2, roundTimeoutSeconds: 60, waitForClientsSeconds: 60 },
      evaluation: { data: 'mnist' },
      connections: { maxUnauthenticated: 64, maxUnauthenticatedPerAddress: 64 },
    });
    processes.push(server);
    const pid = server.child.pid!;
    let crashed = false;
    void server.exited.then(() => (crashed = true));
    for (const [i, dir] of dirs.entries()) {
      processes.push(spawnCovey(['join', url, '--invite', invite, '--data', dir, '--state-dir', join(dir, 'state'), '--seed', String(i)]));
    }
    await server.waitForLine(/^round 2: /, 180_000);
    const rssBefore = await rssMb(pid);
    const roundsBefore = await metric(url, 'covey_rounds_completed_total');
    const abortsBefore = await metric(url, 'covey_rounds_aborted_total');
    opts.log(`fuzz: server up, RSS ${rssBefore.toFixed(0)} MB, ${roundsBefore} rounds done; sending ${opts.messages} messages`);

    let rssPeak = rssBefore;
    const latencies: number[] = [];
    const sampler = setInterval(() => {
      if (crashed) return;
      void rssMb(pid).then(
        (r) => (rssPeak = Math.max(rssPeak, r)),
        () => {},
      );
      const t0 = performance.now();
      void fetch(`${url}/metrics`)
        .then((r) => r.text())
        .then(
          () => latencies.push(performance.now() - t0),
          () => {},
        );
    }, 250);
    const started = performance.now();
    let lastReport = 0;
    const fuzzer = new Fuzzer(url, parseInvite(invite).fingerprintHex, 20261201);
    const stats = await fuzzer.run({
      total: opts.messages,
      concurrency: 6,
      stop: () => {
        if (fuzzer.stats.sent - lastReport >= 10_000) {
          lastReport = fuzzer.stats.sent;
          opts.log(`fuzz: ${lastReport} messages sent`);
        }
        return crashed;
      },
    });
    const fuzzSeconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    // Let the last connections close and the heap settle.
    await new Promise((r) => setTimeout(r, 10_000));
    const rssAfter = crashed ? null : await rssMb(pid);
    const roundsAfter = crashed ? null : await metric(url, 'covey_rounds_completed_total');
    const abortsAfter = crashed ? null : await metric(url, 'covey_rounds_aborted_total');
    const accuracy = [...server.lines]
      .reverse()
      .map((l) => /accuracy ([\d.]+)/.exec(l)?.[1])
      .find(Boolean);
    const errorLines = server
      .output()
      .split('\n')
      .filter((l) => /"level":"error"/.test(l)).length;
    const crashes = crashed ? 1 : 0;
    for (const p of processes.splice(0)) await stop(p);

    // ---- pinning: 120 sockets, 9 of 10 announced attachments of ~850 kB, never the last ----
    // Caps raised so that all 120 get in: this measures the byte bound, not the connection cap.
    const pinning = await startServer(root, 'pinning', {
      model: 'cnn',
      rounds: 1,
      connections: { maxUnauthenticated: 256, maxUnauthenticatedPerAddress: 256 },
    });
    processes.push(pinning.server);
    const pinPid = pinning.server.child.pid!;
    const pinBefore = await rssMb(pinPid);
    let pinPeak = pinBefore;
    const pinSampler = setInterval(
      () =>
        void rssMb(pinPid).then(
          (r) => (pinPeak = Math.max(pinPeak, r)),
          () => {},
        ),
      100,
    );
    const attachment = new Uint8Array(850 * 1024).fill(7);
    const sockets = await Promise.all(
      Array.from({ length: 120 }, async () => {
        const ws = new WebSocket(`${pinning.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
        ws.on('error', () => {});
        const closed = new Promise<boolean>((r) => ws.once('close', () => r(true)));
        if (!(await Promise.race([new Promise<boolean>((r) => ws.once('open', () => r(true))), closed.then(() => false)])))
          return { ws, closed, refused: true };
        ws.send('40');
        ws.send('4510-["update",{},{"_placeholder":true,"num":0}]');
        for (let i = 0; i < 9 && ws.readyState === ws.OPEN; i++) ws.send(attachment);
        return { ws, closed, refused: false };
      }),
    );
    await new Promise((r) => setTimeout(r, 5000));
    clearInterval(pinSampler);
    const pinHeld = await rssMb(pinPid);
    let closedByServer = 0;
    for (const s of sockets) if (s.ws.readyState === s.ws.CLOSED) closedByServer += 1;
    sockets.forEach((s) => s.ws.terminate());
    for (const p of processes.splice(0)) await stop(p);

    return {
      setup: {
        server: '`covey server` process, MLP on MNIST, DP off, 2 honest `covey join` clients of 1,500 digits, rounds of 1 epoch',
        fuzzer: 'tests/helpers/fuzzer.ts, seed 20261201, 6 concurrent connections (1 in 5 long-polling), up to 20 messages per connection',
        messages: opts.messages,
      },
      figures: {
        messagesSent: stats.sent,
        byKind: stats.byKind,
        connections: stats.connections,
        refusedConnections: stats.refusedConnections,
        fuzzSeconds: Number(fuzzSeconds.toFixed(1)),
        crashes,
        errorLogLines: errorLines,
        rssMb: { before: Number(rssBefore.toFixed(1)), peak: Number(rssPeak.toFixed(1)), after: rssAfter === null ? null : Number(rssAfter.toFixed(1)) },
        honestRounds: {
          completedDuringFuzz: roundsAfter === null ? null : roundsAfter - roundsBefore,
          abortedDuringFuzz: abortsAfter === null ? null : abortsAfter - abortsBefore,
          lastAccuracy: accuracy === undefined ? null : Number(accuracy),
        },
        metricsLatencyMs: { median: median(latencies), samples: latencies.length },
        pinning: {
          sockets: 120,
          rssMb: { before: Number(pinBefore.toFixed(1)), peak: Number(pinPeak.toFixed(1)), held: Number(pinHeld.toFixed(1)) },
          addedMb: Number((pinHeld - pinBefore).toFixed(1)),
          closedByServer,
          refused: sockets.filter((s) => s.refused).length,
        },
      },
    };
  } finally {
    for (const p of processes) await stop(p);
    await rm(root, { recursive: true, force: true, maxRetries: 3 });
  }
}
