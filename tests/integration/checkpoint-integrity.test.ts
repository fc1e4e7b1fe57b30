import Database from 'better-sqlite3';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { checkpointDir } from '../../server/checkpoints.js';
import { parseServerConfig } from '../../server/config.js';
import { FederationDb } from '../../server/db.js';
import { createLogger, silentLogger } from '../../server/logger.js';
import { nonNegativeInt, positiveInt } from '../../src/cli/options.js';
import { FederationClient } from '../../src/client/federation-client.js';
import { generateIdentity } from '../../src/core/crypto/index.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { writeClientPartitions } from '../helpers/federation-data.js';
import { exitCode, spawnCovey } from '../helpers/processes.js';
import { stringMatching } from '../helpers/matchers.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

describe('checkpoint integrity and export (finding 7)', () => {
  it('a restart or export refuses a changed checkpoint; export refuses --out inside stateDir and a non-decimal --round', { timeout: 300_000 }, async () => {
    const { root, parts } = await writeClientPartitions(2, 100, 4);
    cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
    const stateDir = join(root, 'server');
    const config = parseServerConfig({
      federationId: 'integrity',
      port: 0,
      model: 'logreg',
      rounds: 2,
      seed: 5,
      cohort: { minClients: 2, roundTimeoutSeconds: 60, waitForClientsSeconds: 60 },
      stateDir,
    });
    const server = await Aggregator.create({ config, logger: silentLogger });
    const url = await server.listen();
    const clients = await Promise.all(
      parts.map(async (data, i) => {
        const client = new FederationClient({
          serverUrl: url,
          stateDir: join(root, `client-${i}`),
          invite: parseInvite(server.inviteCode),
          identity: await generateIdentity(),
          data,
          trainSeed: i,
        });
        await client.connect();
        return client;
      }),
    );
    expect((await server.run()).completedRound).toBe(2);
    clients.forEach((c) => c.close());
    await server.close();

    // Round 2's weights changed on disk: the restart names the file and does not start.
    const weightsPath = join(checkpointDir(stateDir, 2), 'weights.bin');
    const original = await readFile(weightsPath);
    const tampered = Buffer.from(original);
    tampered.writeFloatLE(tampered.readFloatLE(40) + 0.5, 40);
    await writeFile(weightsPath, tampered);
    await expect(Aggregator.create({ config, logger: silentLogger })).rejects.toThrow(
      new RegExp(`checkpoint ${checkpointDir(stateDir, 2).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not match the SHA-256 recorded`),
    );
    const exportTampered = spawnCovey(['server', 'export', '--round', '2', '--out', join(root, 'export-tampered'), '--state-dir', stateDir]);
    expect(await exitCode(exportTampered, 60_000)).not.toBe(0);
    expect(exportTampered.output()).toMatch(/round-2 does not match the SHA-256/);

    // Restored: it starts again, and exports.
    await writeFile(weightsPath, original);
    await (await Aggregator.create({ config, logger: silentLogger })).close();
    const exported = spawnCovey(['server', 'export', '--round', '2', '--out', join(root, 'export'), '--state-dir', stateDir]);
    expect(await exitCode(exported, 60_000), exported.output()).toBe(0);
    expect(await readFile(join(root, 'export', 'weights.bin'))).toEqual(original);

    // Export never writes into the state folder, and --round is plain decimal digits.
    const inside = spawnCovey(['server', 'export', '--round', '1', '--out', checkpointDir(stateDir, 2), '--state-dir', stateDir]);
    expect(await exitCode(inside, 60_000)).not.toBe(0);
    expect(inside.output()).toMatch(/is inside the server's state folder/);
    expect(await readFile(weightsPath)).toEqual(original);
    const hex = spawnCovey(['server', 'export', '--round', '0x1', '--out', join(root, 'export-hex'), '--state-dir', stateDir]);
    expect(await exitCode(hex, 60_000)).not.toBe(0);
    expect(hex.output()).toMatch(/expected a non-negative integer \(plain decimal digits\), got '0x1'/);
    for (const bad of ['0x1e', '1e1', '-1', '3.5', ' 7', '']) {
      expect(() => nonNegativeInt(bad), bad).toThrow(/plain decimal digits/);
    }
    expect(nonNegativeInt('30')).toBe(30);
    expect(nonNegativeInt('0')).toBe(0);
    expect(() => positiveInt('0')).toThrow(/positive integer/);

    // A stored round result that is not one is an error, not a cast.
    const raw = new Database(join(stateDir, 'covey.db'));
    raw.prepare(`UPDATE rounds SET result = ? WHERE round = 1`).run(JSON.stringify({ round: 'one', participants: 2 }));
    raw.close();
    const db = FederationDb.open(stateDir);
    expect(() => db.results()).toThrow(/round/);
    db.close();
  });

  it(
    'state from before digests (schema 1) is migrated: digests recorded at first read with a warning, verified from then on',
    { timeout: 120_000 },
    async () => {
      const { root } = await writeClientPartitions(1, 10, 4);
      cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
      const stateDir = join(root, 'server');
      const config = parseServerConfig({ federationId: 'legacy', port: 0, model: 'logreg', rounds: 1, seed: 5, stateDir });
      await (await Aggregator.create({ config, logger: silentLogger })).close();
      // What a version-1 database looks like: no checkpoints or attempts table, an accountant table.
      const raw = new Database(join(stateDir, 'covey.db'));
      raw.exec(`DROP TABLE checkpoints; DROP TABLE attempts;
      CREATE TABLE accountant (round INTEGER PRIMARY KEY REFERENCES rounds(round), noise_multiplier REAL NOT NULL, sampling_rate REAL NOT NULL);
      UPDATE meta SET value = '1' WHERE key = 'schema_version'`);
      raw.close();

      const logs: { level: string; event: string; message?: string }[] = [];
      await (
        await Aggregator.create({ config, logger: createLogger({ json: true, write: (line) => logs.push(JSON.parse(line) as (typeof logs)[number]) }) })
      ).close();
      expect(logs).toContainEqual(
        expect.objectContaining({ level: 'warn', event: 'checkpoint digest recorded', message: stringMatching(/round-0 predates checkpoint digests/) }),
      );
      const db = FederationDb.open(stateDir);
      expect(db.checkpointSha256(0)).toMatch(/^[0-9a-f]{64}$/);
      db.close();

      const weightsPath = join(checkpointDir(stateDir, 0), 'weights.bin');
      const bytes = await readFile(weightsPath);
      bytes[3] ^= 0x40;
      await writeFile(weightsPath, bytes);
      await expect(Aggregator.create({ config, logger: silentLogger })).rejects.toThrow(/round-0 does not match the SHA-256/);
    },
  );
});
