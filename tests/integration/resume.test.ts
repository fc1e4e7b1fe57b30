import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { FederationDb } from '../../server/db.js';
import { parseServerConfig, type ServerConfigInput } from '../../server/config.js';
import { silentLogger } from '../../server/logger.js';
import { FederationClient } from '../../src/client/federation-client.js';
import { generateIdentity, type Identity } from '../../src/core/crypto/index.js';
import type { Dataset } from '../../src/core/data/dataset.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { writeClientPartitions } from '../helpers/federation-data.js';

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function runFederation(config: ServerConfigInput, parts: Dataset[], identities: Identity[], root: string, inviteCode?: string) {
  const server = await Aggregator.create({ config: parseServerConfig(config), logger: silentLogger });
  const url = await server.listen();
  const before = server.serverState.completedRound;
  const invite = inviteCode ?? server.inviteCode;
  const hadStartupInvite = server.hasStartupInvite;
  const fingerprint = server.serverFingerprint;
  const weightsAtStart = server.globalWeights.slice();
  const clients = await Promise.all(
    parts.map(async (data, i) => {
      const client = new FederationClient({
        serverUrl: url,
        stateDir: join(root, `state-${i}`),
        invite: parseInvite(invite),
        identity: identities[i],
        data,
        trainSeed: i,
      });
      await client.connect();
      return client;
    }),
  );
  const state = await server.run();
  clients.forEach((c) => c.close());
  const weightsAtEnd = server.globalWeights.slice();
  await server.close();
  return { before, state, weightsAtStart, weightsAtEnd, invite, hadStartupInvite, fingerprint };
}

describe('restart at the last completed round', () => {
  it('resumes with the same keys, members, model and privacy accountant after the server stops', async () => {
    const { root, parts } = await writeClientPartitions(2, 200, 5);
    cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
    const identities = [await generateIdentity(), await generateIdentity()];
    const config = {
      federationId: 'resume',
      port: 0,
      model: 'logreg' as const,
      seed: 2,
      cohort: { minClients: 2, expectedClients: 2, roundTimeoutSeconds: 60, waitForClientsSeconds: 60 },
      dp: { mode: 'central' as const, noiseMultiplier: 2, clipNorm: 1, delta: 1e-5 },
      stateDir: join(root, 'server'),
    };
    const first = await runFederation({ ...config, rounds: 1 }, parts, identities, root);
    expect(first.before).toBe(0);
    expect(first.state.completedRound).toBe(1);
    expect(first.state.accountant).toHaveLength(1);

    const second = await runFederation({ ...config, rounds: 2 }, parts, identities, root, first.invite);
    // Same keys; the invite token is stored hashed, so a restart makes no new invite and members need none.
    expect(second.fingerprint).toBe(first.fingerprint);
    expect(first.hadStartupInvite).toBe(true);
    expect(second.hadStartupInvite).toBe(false);
    expect(second.before).toBe(1);
    expect(Buffer.from(second.weightsAtStart.buffer).equals(Buffer.from(first.weightsAtEnd.buffer))).toBe(true);
    expect(second.state.completedRound).toBe(2);
    expect(second.state.results.map((r) => r.round)).toEqual([1, 2]);
    // The federation's ε composes both rounds exactly once.
    expect(second.state.accountant).toHaveLength(2);
    expect(second.state.results[1].epsilon!).toBeGreaterThan(second.state.results[0].epsilon!);
    const db = FederationDb.open(join(root, 'server'));
    expect(db.completedRound()).toBe(2);
    expect(db.accountant()).toHaveLength(2);
    db.close();

    // A state folder from another federation is refused, not silently reused.
    await expect(Aggregator.create({ config: parseServerConfig({ ...config, federationId: 'other' }), logger: silentLogger })).rejects.toThrow(
      /belongs to federation resume/,
    );
  });
});
