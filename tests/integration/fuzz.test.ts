import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { writeClientPartitions } from '../helpers/federation-data.js';
import { Fuzzer } from '../helpers/fuzzer.js';
import { exitCode, spawnCovey, type CoveyProcess } from '../helpers/processes.js';

const spawned: CoveyProcess[] = [];
const roots: string[] = [];
afterAll(async () => {
  for (const p of spawned) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  for (const r of roots) await rm(r, { recursive: true, force: true, maxRetries: 3 });
});

const MESSAGES = 4000;

describe('protocol fuzz against a live `covey server`', () => {
  it(`survives ${MESSAGES} mutated messages while an honest federation of 2 completes its rounds`, { timeout: 120_000 }, async () => {
    const { root, dirs } = await writeClientPartitions(2, 1500, 5);
    roots.push(root);
    const configPath = join(root, 'server.json');
    await writeFile(
      configPath,
      JSON.stringify({
        federationId: 'fuzz',
        port: 0,
        model: 'mlp',
        rounds: 3,
        seed: 2,
        training: { epochs: 1, batchSize: 16, learningRate: 0.1 },
        cohort: { minClients: 2, roundTimeoutSeconds: 60, waitForClientsSeconds: 60 },
        evaluation: { data: 'mnist' },
        connections: { maxUnauthenticated: 64, maxUnauthenticatedPerAddress: 64 },
        stateDir: join(root, 'server'),
      }),
    );
    const server = spawnCovey(['server', '--config', configPath, '--json-logs', '--exit-when-done']);
    spawned.push(server);
    const [, url, invite] = await server.waitForLine(/^Join with: covey join (\S+) --invite (\S+)/, 60_000);
    let serverExited = false;
    void server.exited.then(() => (serverExited = true));

    // /metrics keeps answering throughout.
    const metricsStatuses: number[] = [];
    const probe = setInterval(() => {
      if (!serverExited)
        void fetch(`${url}/metrics`).then(
          (r) => metricsStatuses.push(r.status),
          () => serverExited || metricsStatuses.push(0),
        );
    }, 500);

    const clients = dirs.map((dir, i) => {
      const p = spawnCovey(['join', url, '--invite', invite, '--data', dir, '--state-dir', join(dir, 'state'), '--seed', String(i)]);
      spawned.push(p);
      return p;
    });
    const fuzzer = new Fuzzer(url, parseInvite(invite).fingerprintHex, 20261201);
    const stats = await fuzzer.run({ total: MESSAGES, concurrency: 6, stop: () => serverExited });
    console.log(`fuzz: ${JSON.stringify(stats)}`);
    expect(serverExited, server.output()).toBe(false);
    expect(stats.sent).toBeGreaterThanOrEqual(MESSAGES);
    clearInterval(probe);
    expect((await fetch(`${url}/metrics`)).status).toBe(200);

    expect(await exitCode(server, 90_000), server.output()).toBe(0);
    for (const c of clients) expect(await exitCode(c, 30_000), c.output()).toBe(0);
    const rounds = server.lines.map((l) => /^round (\d+): (\d+) participants, accuracy ([\d.]+)/.exec(l)).filter((m) => m !== null);
    expect(
      rounds.map((m) => [Number(m[1]), Number(m[2])]),
      server.output(),
    ).toEqual([
      [1, 2],
      [2, 2],
      [3, 2],
    ]);
    expect(Number(rounds[2][3])).toBeGreaterThan(0.8);
    expect(metricsStatuses.length).toBeGreaterThan(0);
    expect(metricsStatuses.every((s) => s === 200)).toBe(true);
    // Nothing escaped a handler, and the log stayed small: rejections are sampled per connection.
    const logLines = server
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'));
    expect(logLines.filter((l) => /"level":"error"/.test(l))).toEqual([]);
    expect(logLines.length).toBeLessThan(stats.connections * 6 + 200);
  });
});
