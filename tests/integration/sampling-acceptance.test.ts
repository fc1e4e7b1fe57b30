/**
 * Issue 11's acceptance measurement: in a real federation (3 participants, q = 0.3, 24 rounds,
 * the server's own secure cohort sampling), each participant contributes to the attempts its
 * promised view charges at rate q. Pooled over the participants, the number of contributions
 * must lie in the central 99.99% region of Binomial(charged attempts, q): a server that redraws or
 * skips small cohorts conditions the draw on its size and includes members far more often than
 * q (0.3 / (1 − 0.7³) ≈ 0.457 when empty draws are skipped).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { parseServerConfig } from '../../server/config.js';
import { silentLogger } from '../../server/logger.js';
import { FederationClient } from '../../src/client/federation-client.js';
import { generateIdentity } from '../../src/core/crypto/index.js';
import { LedgerFile, ledgerPath } from '../../src/core/privacy/ledger-file.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { writeClientPartitions } from '../helpers/federation-data.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

/** The central (1 − level) acceptance region [lo, hi] of Binomial(n, p): each tail outside it has probability ≤ (1 − level)/2. */
function binomialRegion(n: number, p: number, level: number): [number, number] {
  const logPmf = (k: number) => lgammaInt(n + 1) - lgammaInt(k + 1) - lgammaInt(n - k + 1) + k * Math.log(p) + (n - k) * Math.log1p(-p);
  const pmf = Array.from({ length: n + 1 }, (_, k) => Math.exp(logPmf(k)));
  const tail = (1 - level) / 2;
  let lo = 0;
  for (let below = 0; below + pmf[lo] <= tail; lo++) below += pmf[lo];
  let hi = n;
  for (let above = 0; above + pmf[hi] <= tail; hi--) above += pmf[hi];
  return [lo, hi];
}

/** log((m − 1)!) for a positive integer m, summed exactly (n here is at most a few hundred). */
function lgammaInt(m: number): number {
  let sum = 0;
  for (let i = 2; i < m; i++) sum += Math.log(i);
  return sum;
}

describe('sampling that matches the promised view', () => {
  it('3 participants, q = 0.3, 24 rounds: contributions over charged attempts are Binomial(charged, 0.3) (pooled, 99.99%)', async () => {
    const q = 0.3;
    const { root, parts } = await writeClientPartitions(3, 100, 51);
    cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
    const server = await Aggregator.create({
      config: parseServerConfig({
        federationId: 'acceptance',
        port: 0,
        model: 'logreg',
        rounds: 24,
        training: { epochs: 1, batchSize: 50, learningRate: 0.05 },
        cohort: {
          samplingRate: q,
          expectedClients: 3 * q,
          minClients: 1,
          minConnected: 3,
          roundTimeoutSeconds: 60,
          waitForClientsSeconds: 60,
          maxAttemptsPerRound: 100,
        },
        dp: { mode: 'central', noiseMultiplier: 1, clipNorm: 1, delta: 1e-5 },
        stateDir: join(root, 'server'),
      }),
      logger: silentLogger,
    });
    const url = await server.listen();
    cleanup.push(() => server.close());
    const stateDirs = parts.map((_, i) => join(root, `state-${i}`));
    const clients = await Promise.all(
      parts.map(async (data, i) => {
        const client = new FederationClient({
          serverUrl: url,
          invite: parseInvite(server.inviteCode),
          identity: await generateIdentity(),
          data,
          stateDir: stateDirs[i],
          trainSeed: i,
        });
        cleanup.push(() => client.close());
        await client.connect();
        return client;
      }),
    );
    const state = await server.run();
    expect(state.completedRound).toBe(24);
    await new Promise((r) => setTimeout(r, 300));
    clients.forEach((c) => c.close());

    let charged = 0;
    let contributed = 0;
    const perParticipant: string[] = [];
    for (const dir of stateDirs) {
      const entries = (await LedgerFile.open(ledgerPath(dir, server.serverFingerprint))).entries;
      const attempts = new Set(entries.flatMap((e) => (e.kind === 'announced' ? [`${e.round}/${e.attemptId}`] : [])));
      const sent = new Set(
        entries.flatMap((e) => (e.kind === 'contribution' && attempts.has(`${e.round}/${e.attemptId}`) ? [`${e.round}/${e.attemptId}`] : [])),
      );
      charged += attempts.size;
      contributed += sent.size;
      perParticipant.push(`${sent.size}/${attempts.size}`);
    }
    const [lo, hi] = binomialRegion(charged, q, 0.9999);
    const measured = `contributions/charged attempts per participant ${perParticipant.join(', ')}; pooled ${contributed}/${charged} = ${(contributed / charged).toFixed(3)}; 99.99% region for q = ${q}: [${lo}, ${hi}]`;
    console.log(measured);
    expect(charged).toBeGreaterThanOrEqual(3 * 24);
    expect(contributed, measured).toBeGreaterThanOrEqual(lo);
    expect(contributed, measured).toBeLessThanOrEqual(hi);
  });
});
