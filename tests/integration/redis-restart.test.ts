import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { startEdge, type EdgeServer } from '../../server/cluster/edge.js';
import { startLocalRedis, type LocalRedis } from '../../server/cluster/local-redis.js';
import { parseServerConfig } from '../../server/config.js';
import { silentLogger } from '../../server/logger.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { connectThroughEdges } from '../helpers/edge-clients.js';
import { writeClientPartitions } from '../helpers/federation-data.js';
import { skipWithoutRedis } from '../helpers/redis.js';

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

describe.skipIf(skipWithoutRedis)('Redis restarted during a federation with edges', () => {
  it('the coordinator and the edges reconnect and the federation finishes', { timeout: 300_000 }, async () => {
    let redis: LocalRedis = await startLocalRedis();
    cleanup.push(() => redis.stop());
    const { root, parts } = await writeClientPartitions(4, 100, 11);
    cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
    const config = parseServerConfig({
      federationId: 'redis-restart',
      port: 0,
      model: 'logreg',
      rounds: 3,
      seed: 5,
      stateDir: join(root, 'server'),
      cluster: { redis: redis.url, partialTimeoutSeconds: 10 },
      cohort: { minClients: 1, minConnected: 4, roundTimeoutSeconds: 30, waitForClientsSeconds: 120 },
    });
    const server = await Aggregator.create({ config, logger: silentLogger });
    const url = await server.listen();
    cleanup.push(() => server.close());
    const edges: EdgeServer[] = [];
    for (const edgeId of ['edge-a', 'edge-b']) {
      const edge = await startEdge({ config: { ...config, host: '127.0.0.1', port: 0 }, coordinatorUrl: url, edgeId, logger: silentLogger });
      cleanup.push(() => edge.close());
      edges.push(edge);
    }
    const invite = parseInvite(server.inviteCode);
    await connectThroughEdges({
      parts,
      root,
      invite,
      urls: (i) => [edges[i % 2].serverUrl, edges[(i + 1) % 2].serverUrl],
      track: (client) => cleanup.push(() => client.close()),
    });
    // Redis goes away as round 1 completes and comes back on the same port 1.5 s later, empty.
    const restart: { done: Promise<void> | null } = { done: null };
    server.on('round', (r) => {
      if (r.round !== 1) return;
      restart.done = (async () => {
        await redis.stop();
        await new Promise((resolve) => setTimeout(resolve, 1500));
        redis = await startLocalRedis(redis.port);
      })();
    });
    const state = await server.run();
    expect(restart.done).not.toBeNull();
    await restart.done;
    expect(state.completedRound).toBe(3);
    // Nothing of round 2 is lost: the close is said again until every edge hands in, and an edge whose
    // liveness key the restart emptied is waited for, not dropped.
    expect(state.results.map((r) => r.participants)).toEqual([4, 4, 4]);
    console.log(`Redis restart: participants per round ${state.results.map((r) => r.participants).join(', ')}`);
  });
});
