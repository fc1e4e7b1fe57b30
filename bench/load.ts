/**
 * Load test on loopback: one `covey server` process and N simulated participants of the 2NN MLP
 * (real FederationClients: real training on a few real digits, real sealing, real socket.io),
 * for R rounds. Reports rounds completed, round durations and the server's peak resident memory
 * (sampled from its own /metrics endpoint), as JSON.
 *
 *   npx tsx bench/load.ts [--clients 100] [--rounds 5] [--out FILE]
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FederationClient } from '../src/client/federation-client.js';
import { loadTrainTest } from '../src/core/data/catalog.js';
import { generateIdentity } from '../src/core/crypto/index.js';
import { partition, subset } from '../src/core/data/index.js';
import { parseInvite } from '../src/core/protocol/invite.js';
import { selectBackend } from '../src/core/train/index.js';
import { machineInfo } from './machine.js';
import { startServer } from './server-process.js';
import { median } from '../src/core/stats.js';

const HERE = dirname(fileURLToPath(import.meta.url));

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const clients = arg('clients', 100);
  const rounds = arg('rounds', 5);
  const outIndex = process.argv.indexOf('--out');
  const out = outIndex >= 0 ? process.argv[outIndex + 1] : join(HERE, 'results', 'load.json');
  const root = await mkdtemp(join(tmpdir(), 'covey-load-'));
  const backend = await selectBackend();
  const { train } = await loadTrainTest('mnist');
  const parts = partition(train.labels, clients, { kind: 'iid' }, 1).map((idx) => subset(train, idx.slice(0, 40)));
  const config = {
    federationId: 'load',
    port: 0,
    model: 'mlp',
    rounds,
    seed: 1,
    training: { epochs: 1, batchSize: 20, learningRate: 0.05 },
    cohort: { minClients: clients, roundTimeoutSeconds: 300, waitForClientsSeconds: 600 },
    evaluation: { data: 'mnist' },
    stateDir: join(root, 'server'),
  };
  const server = await startServer(root, config, (e) => process.stderr.write(`round ${e.round}: ${e.participants} participants, ${e.seconds.toFixed(1)} s\n`));
  const { url, invite } = server;

  const started = performance.now();
  const participants = await Promise.all(
    parts.map(async (data, i) => {
      const stateDir = join(root, `client-${i}`);
      await mkdir(stateDir, { recursive: true });
      const client = new FederationClient({ serverUrl: url, invite: parseInvite(invite), identity: await generateIdentity(), data, stateDir, trainSeed: i });
      await client.connect();
      return client;
    }),
  );
  process.stderr.write(`${clients} clients connected in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  await Promise.all(participants.map((c) => c.untilDone()));
  participants.forEach((c) => c.close());
  const code = await server.exited;
  server.stop();
  const roundLines = server.rounds;
  await rm(root, { recursive: true, force: true });

  const report = {
    bench: 'load',
    date: new Date().toISOString(),
    machine: machineInfo(),
    setup: { clients, rounds, model: 'mlp', examplesPerClient: 40, clientBackend: backend.label, clientsInOneProcess: true, serverExit: code },
    roundsCompleted: roundLines.length,
    roundSeconds: roundLines.map((r) => r.seconds),
    medianRoundSeconds: median(roundLines.map((r) => r.seconds)),
    participantsPerRound: roundLines.map((r) => r.participants),
    finalAccuracy: roundLines.at(-1)?.accuracy ?? null,
    serverPeakRssMiB: Math.round((server.peakRss() / 2 ** 20) * 10) / 10,
  };
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  process.exit(0);
}

await main();
