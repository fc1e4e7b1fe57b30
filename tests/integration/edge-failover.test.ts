import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { startLocalRedis, type LocalRedis } from '../../server/cluster/local-redis.js';
import { parseServerConfig } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { connectThroughEdges } from '../helpers/edge-clients.js';
import { writeClientPartitions } from '../helpers/federation-data.js';
import { spawnCovey, type CoveyProcess } from '../helpers/processes.js';
import { skipWithoutRedis } from '../helpers/redis.js';

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

type LogLine = Record<string, unknown> & { event: string };

describe.skipIf(skipWithoutRedis)('an edge killed mid-round', () => {
  it(
    'its participants reconnect through the other edge and the federation finishes, each round counting each member at most once',
    { timeout: 300_000 },
    async () => {
      let redis: LocalRedis | null = await startLocalRedis();
      cleanup.push(() => redis?.stop());
      const { root, parts } = await writeClientPartitions(4, 100, 3);
      cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
      const stateDir = join(root, 'server');
      const shared = { federationId: 'edge-failover', model: 'logreg', rounds: 3, seed: 5, stateDir, cluster: { redis: redis.url, partialTimeoutSeconds: 20 } };
      const logs: LogLine[] = [];
      const edges: CoveyProcess[] = [];
      let killed = false;
      const server = await Aggregator.create({
        config: parseServerConfig({ ...shared, port: 0, cohort: { minClients: 1, minConnected: 4, roundTimeoutSeconds: 60, waitForClientsSeconds: 120 } }),
        logger: createLogger({
          json: true,
          write: (line) => {
            const entry = JSON.parse(line) as LogLine;
            logs.push(entry);
            // Edge A dies right after the coordinator granted it a round-2 update: that update is in no partial.
            if (!killed && entry.event === 'update accepted' && entry.round === 2 && entry.edge === 'edge-a') {
              killed = true;
              edges[0].child.kill('SIGKILL');
            }
          },
        }),
      });
      const url = await server.listen();
      cleanup.push(() => server.close());

      // Two edges as their own processes (`covey server --role edge`), with the coordinator's identity file.
      const edgeConfig = join(root, 'edge.json');
      await writeFile(edgeConfig, JSON.stringify({ ...shared, host: '127.0.0.1', port: 0 }));
      for (const id of ['edge-a', 'edge-b']) {
        const edge = spawnCovey(['server', '--role', 'edge', '-c', edgeConfig, '--coordinator', url, '--edge-id', id]);
        cleanup.push(() => edge.child.kill('SIGKILL'));
        edges.push(edge);
      }
      const [edgeA, edgeB] = await Promise.all(edges.map(async (e) => (await e.waitForLine(/ at (http:\/\/[^\s,]+), coordinator/))[1]));

      // Members 0 and 1 start on edge A, 2 and 3 on edge B; each fails over to the other.
      const invite = parseInvite(server.inviteCode);
      const clients = await connectThroughEdges({
        parts,
        root,
        invite,
        urls: (i) => (i < 2 ? [edgeA, edgeB] : [edgeB, edgeA]),
        track: (client) => cleanup.push(() => client.close()),
      });
      expect(clients).toHaveLength(4);

      const state = await server.run();
      expect(killed).toBe(true);
      expect(state.completedRound).toBe(3);
      const accepted = (round: number, edge: string) => logs.filter((l) => l.event === 'update accepted' && l.round === round && l.edge === edge).length;
      const participants = state.results.map((r) => r.participants);
      // Round 1: everyone, through both edges. Round 2: edge A's granted updates died with it; the others count once.
      expect(participants[0]).toBe(4);
      expect(accepted(1, 'edge-a') + accepted(1, 'edge-b')).toBe(4);
      expect(accepted(2, 'edge-a')).toBeGreaterThanOrEqual(1);
      expect(participants[1]).toBe(accepted(2, 'edge-b'));
      expect(participants[1]).toBeLessThanOrEqual(4 - accepted(2, 'edge-a'));
      expect(logs.some((l) => l.event === 'edge lost before handing in its partial: its members do not count' && l.edgeId === 'edge-a' && l.round === 2)).toBe(
        true,
      );
      // Round 3: all four again, every one through edge B.
      expect(participants[2]).toBe(4);
      expect(accepted(3, 'edge-b')).toBe(4);
      expect(accepted(3, 'edge-a')).toBe(0);
      // Every member is behind an edge: the edges attached the global weights, the coordinator sent none.
      expect((await server.metrics.registry.getSingleMetric('covey_bytes_sent_total')?.get())?.values[0]?.value).toBe(0);
      console.log(
        `edge failover: participants per round ${participants.join(', ')}; round 2 granted via edge A ${accepted(2, 'edge-a')}, via edge B ${accepted(2, 'edge-b')}`,
      );
      await redis.stop();
      redis = null;
    },
  );
});
