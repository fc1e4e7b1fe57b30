import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { parseServerConfig } from '../../server/config.js';
import { silentLogger } from '../../server/logger.js';
import { generateIdentity } from '../../src/core/crypto/index.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { writeClientPartitions } from '../helpers/federation-data.js';
import { RecordingClient } from '../helpers/recording-client.js';
import { startWireTap, websocketPayloads } from '../helpers/wire-tap.js';

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

/** Samples `count` windows of `size` bytes spread over `bytes`. */
function windows(bytes: Uint8Array, size: number, count: number): Buffer[] {
  const out: Buffer[] = [];
  for (let k = 0; k < count; k++) {
    const start = Math.floor(((bytes.length - size) * k) / Math.max(1, count - 1));
    out.push(Buffer.from(bytes.subarray(start, start + size)));
  }
  return out;
}

describe('what crosses the wire', () => {
  for (const secure of [false, true]) {
    it(
      secure
        ? 'with secure aggregation, carries only masked, sealed inputs: no window of any quantized update travels'
        : 'carries every update sealed: no plaintext update bytes travel, while the tap does see raw payloads',
      async () => {
        const { root, parts } = await writeClientPartitions(secure ? 3 : 2, 300, 21);
        cleanup.push(() => rm(root, { recursive: true, force: true }));
        const config = parseServerConfig({
          federationId: 'wire',
          port: 0,
          model: 'mlp',
          rounds: 1,
          seed: 9,
          training: { epochs: 1, batchSize: 32, learningRate: 0.05 },
          cohort: { minClients: 2, roundTimeoutSeconds: 60, waitForClientsSeconds: 60 },
          stateDir: join(root, 'server'),
          ...(secure && { secureAggregation: { enabled: true } }),
        });
        const server = await Aggregator.create({ config, logger: silentLogger });
        const url = new URL(await server.listen());
        cleanup.push(() => server.close());
        const tap = await startWireTap({ host: url.hostname, port: Number(url.port) });
        cleanup.push(() => tap.close());

        const clients = await Promise.all(
          parts.map(async (data, i) => {
            const client = new RecordingClient({
              serverUrl: tap.url,
              stateDir: join(root, `state-${i}`),
              invite: parseInvite(server.inviteCode),
              identity: await generateIdentity(),
              data,
              trainSeed: i,
            });
            await client.connect();
            return client;
          }),
        );
        const globalBefore = server.globalWeights.slice();
        await server.run();
        await Promise.all(clients.map((c) => c.untilDone()));
        clients.forEach((c) => c.close());
        const plaintexts = clients.flatMap((c) => c.plaintexts);
        expect(plaintexts).toHaveLength(parts.length);

        const up = Buffer.concat(tap.connections.flatMap((c) => websocketPayloads(Buffer.concat(c.up))));
        const down = Buffer.concat(tap.connections.flatMap((c) => websocketPayloads(Buffer.concat(c.down))));
        // The decoder works: the update headers (JSON) and a binary attachment of at least one model's size are visible.
        expect(up.includes(secure ? '"cipherPublicKey"' : '"federationId":"wire"')).toBe(true);
        expect(up.length).toBeGreaterThan(parts.length * 4 * server.modelLength);
        // Positive control: the global weights the server broadcasts are not secret, and the tap sees them raw.
        const globalBytes = new Uint8Array(globalBefore.buffer);
        expect(windows(globalBytes, 32, 16).every((w) => down.includes(w))).toBe(true);
        // No window of any client's plaintext update frame appears in what the clients sent.
        for (const plaintext of plaintexts) {
          const leaked = windows(plaintext.subarray(20), 32, 256).filter((w) => up.includes(w));
          expect(leaked).toHaveLength(0);
        }
      },
    );
  }
});
