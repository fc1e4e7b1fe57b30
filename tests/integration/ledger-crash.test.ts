import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { parseServerConfig } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import { FederationClient } from '../../src/client/federation-client.js';
import { generateIdentity } from '../../src/core/crypto/index.js';
import { LedgerFile, ledgerPath } from '../../src/core/privacy/ledger-file.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { writeClientPartitions } from '../helpers/federation-data.js';
import { spawnCovey, type CoveyProcess } from '../helpers/processes.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

describe('ledger survives SIGKILL', () => {
  it('never shows fewer contributions than the server received from a client killed at random points', async () => {
    const { root, dirs, parts } = await writeClientPartitions(2, 300, 17);
    cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
    const accepted: { clientId: string; round: number }[] = [];
    const logger = createLogger({
      json: true,
      write: (line) => {
        const entry = JSON.parse(line) as { event: string; clientId?: string; round?: number };
        if (entry.event === 'update accepted') accepted.push({ clientId: entry.clientId!, round: entry.round! });
      },
    });
    const server = await Aggregator.create({
      config: parseServerConfig({
        federationId: 'crashy',
        port: 0,
        model: 'logreg',
        rounds: 10,
        seed: 3,
        training: { epochs: 4, batchSize: 8, learningRate: 0.05 },
        cohort: { minClients: 1, minConnected: 2, expectedClients: 2, roundTimeoutSeconds: 4, waitForClientsSeconds: 60, maxAttemptsPerRound: 20 },
        dp: { mode: 'central', noiseMultiplier: 1, clipNorm: 1, delta: 1e-5 },
        stateDir: join(root, 'server'),
      }),
      logger,
    });
    const url = await server.listen();
    cleanup.push(() => server.close());

    const steady = new FederationClient({
      serverUrl: url,
      invite: parseInvite(server.inviteCode),
      identity: await generateIdentity(),
      data: parts[0],
      stateDir: join(root, 'steady'),
    });
    let steadyId = '';
    steady.on('event', (e) => {
      if (e.type === 'joined') steadyId = e.clientId;
    });
    await steady.connect();
    cleanup.push(() => steady.close());

    const flakyDir = dirs[1];
    const spawnFlaky = () => spawnCovey(['join', url, '--invite', server.inviteCode, '--data', flakyDir, '--state-dir', flakyDir, '--seed', '2']);
    const kills: number[] = [];
    let flaky: CoveyProcess = spawnFlaky();
    const running = server.run();
    let done = false;
    void running.then(() => (done = true));
    // Each kill lands at a random point of a round the flaky client was selected for: while it
    // trains, writes its ledger or sends. Tying kills to rounds (not to wall time) keeps a fast
    // machine from finishing all rounds before the kills happen.
    for (let k = 0; k < 3 && !done; k++) {
      const selected = flaky.waitForLine(/round \d+: selected/, 60_000).then(
        () => true,
        () => false,
      );
      if (!(await Promise.race([selected, running.then(() => false)]))) break;
      const delay = Math.floor(Math.random() * 800);
      kills.push(delay);
      await new Promise((r) => setTimeout(r, delay));
      flaky.child.kill('SIGKILL');
      await flaky.exited;
      flaky = spawnFlaky();
    }
    const state = await running;
    cleanup.push(() => void flaky.child.kill('SIGKILL'));
    expect(state.completedRound).toBe(10);
    expect(kills.length).toBe(3);

    const flakyRounds = accepted.filter((a) => a.clientId !== steadyId).map((a) => a.round);
    const ledger = await LedgerFile.open(ledgerPath(flakyDir, server.serverFingerprint));
    const recorded = new Set(ledger.entries.filter((e) => e.kind === 'contribution').map((e) => e.round));
    const missing = flakyRounds.filter((r) => !recorded.has(r));
    expect(missing, `kills ${kills.join(', ')} ms into a round; server accepted ${flakyRounds.join(',')}; ledger ${[...recorded].join(',')}`).toEqual([]);
    expect(flakyRounds.length, `kills ${kills.join(', ')} ms into a round`).toBeGreaterThan(0);
  });
});
