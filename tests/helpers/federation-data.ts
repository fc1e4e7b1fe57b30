import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateIdentity } from '../../src/core/crypto/index.js';
import { loadTrainTest } from '../../src/core/data/catalog.js';
import type { Dataset } from '../../src/core/data/dataset.js';
import { partition, subset, writeIdxDataset } from '../../src/core/data/index.js';

/** Real MNIST digits split IID over `clients`, each client's share written as IDX files in its own folder. */
export async function writeClientPartitions(
  clients: number,
  perClient: number,
  seed = 7,
): Promise<{ root: string; dirs: string[]; parts: Dataset[]; test: Dataset }> {
  const { train, test } = await loadTrainTest('mnist');
  const indices = partition(train.labels, clients, { kind: 'iid' }, seed);
  const root = await mkdtemp(join(tmpdir(), 'covey-it-'));
  const dirs: string[] = [];
  const parts: Dataset[] = [];
  for (let i = 0; i < clients; i++) {
    const dir = join(root, `client-${i}`);
    const part = subset(train, indices[i].slice(0, perClient));
    await writeIdxDataset(dir, 'train', part);
    dirs.push(dir);
    parts.push(part);
  }
  return { root, dirs, parts, test };
}

/** `count` participants on 100-example partitions under one temporary root: data, a fresh identity and a state folder each. */
export async function writeParticipants(count: number, seed: number) {
  const { root, parts } = await writeClientPartitions(count, 100, seed);
  const participants = await Promise.all(
    parts.map(async (data, i) => ({ data, identity: await generateIdentity(), stateDir: join(root, `state-${i}`), root })),
  );
  return { root, participants };
}
