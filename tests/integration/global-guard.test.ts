import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { checkpointDir } from '../../server/checkpoints.js';
import { parseServerConfig } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import { FederationClient } from '../../src/client/federation-client.js';
import { SecureRoundParticipant } from '../../src/client/secure-round.js';
import { generateIdentity, type Identity } from '../../src/core/crypto/index.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { writeClientPartitions } from '../helpers/federation-data.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

/**
 * The new-global guard on a real federation: with secure aggregation the server cannot clip one
 * update, so a member whose masked input is out of the honest range (here: every coordinate at the
 * top of the fixed-point range, through the real masking, sharing and unmasking) is caught only by
 * the guard. Its attempt aborts with the reason, and nothing is applied or checkpointed.
 */
describe('new-global guard (finding 2)', () => {
  it('aborts a secure central-DP round whose sum is out of range, and lets the honest one through', { timeout: 240_000 }, async () => {
    const { root, parts } = await writeClientPartitions(3, 120, 13);
    cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
    const honestSetInput = Object.getOwnPropertyDescriptor(SecureRoundParticipant.prototype, 'setInput')!.value as SecureRoundParticipant['setInput'];
    let attacker: Identity | null = null;
    // The attacker's own client code, changed: its quantized input is replaced before masking.
    SecureRoundParticipant.prototype.setInput = function (this: SecureRoundParticipant, values: Uint32Array) {
      const poisoned = (this as unknown as { identity: Identity }).identity === attacker;
      honestSetInput.call(this, poisoned ? values.map(() => 0x7fffffff) : values);
    };
    cleanup.push(() => void (SecureRoundParticipant.prototype.setInput = honestSetInput));

    async function federation(name: string, withAttacker: boolean) {
      const stateDir = join(root, name);
      const logs: { event: string; reason?: string }[] = [];
      const server = await Aggregator.create({
        config: parseServerConfig({
          federationId: name,
          port: 0,
          model: 'logreg',
          rounds: 1,
          seed: 3,
          cohort: { minClients: 3, expectedClients: 3, roundTimeoutSeconds: 60, waitForClientsSeconds: 60, maxAttemptsPerRound: 1 },
          dp: { mode: 'central', noiseMultiplier: 0.5, clipNorm: 1, delta: 1e-5 },
          secureAggregation: { enabled: true, stageTimeoutSeconds: 20 },
          stateDir,
        }),
        logger: createLogger({ json: true, write: (line) => logs.push(JSON.parse(line) as (typeof logs)[number]) }),
      });
      const url = await server.listen();
      cleanup.push(() => server.close());
      const initial = server.globalWeights.slice();
      const aborts: string[] = [];
      server.on('abort', ({ reason }) => aborts.push(reason));
      const clients = await Promise.all(
        parts.map(async (data, i) => {
          const identity = await generateIdentity();
          if (withAttacker && i === 0) attacker = identity;
          const client = new FederationClient({
            serverUrl: url,
            stateDir: join(stateDir, `client-${i}`),
            invite: parseInvite(server.inviteCode),
            identity,
            data,
            trainSeed: i,
          });
          await client.connect();
          return client;
        }),
      );
      const state = await server.run();
      clients.forEach((c) => c.close());
      const final = server.globalWeights.slice();
      await server.close();
      return { state, aborts, initial, final, stateDir };
    }

    const honest = await federation('guard-honest', false);
    expect(honest.aborts).toEqual([]);
    expect(honest.state.completedRound).toBe(1);

    const attacked = await federation('guard-attacked', true);
    process.stdout.write(`[global-guard] ${attacked.aborts.join('; ')}\n`);
    expect(attacked.aborts).toHaveLength(1);
    expect(attacked.aborts[0]).toMatch(/the round's aggregate update has norm .* more than the bound .*: not applied/);
    expect(attacked.state.completedRound).toBe(0);
    expect(attacked.final).toEqual(attacked.initial);
    await expect(stat(checkpointDir(attacked.stateDir, 1))).rejects.toThrow(/ENOENT/);
  });
});
