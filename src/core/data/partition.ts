/**
 * Splitting one dataset's examples among simulated clients: IID, label-skewed Dirichlet
 * (Hsu, Qi & Brown 2019) and pathological label shards (McMahan et al. 2017). Seeded: the same
 * labels, client count, spec and seed always give the same partition.
 */
import { Rng } from './rng.js';

export { subset } from './dataset.js';

export type PartitionSpec = { kind: 'iid' } | { kind: 'dirichlet'; alpha: number } | { kind: 'shards'; shardsPerClient: number };

/**
 * With Dirichlet partitions, a client the draw left with fewer than this many examples (or with
 * fewer than `floor(count / numClients)` when that is smaller) is topped up with random examples
 * moved from the currently largest client. Moving (rather than re-drawing until no client is short)
 * always terminates, even for tiny alpha with many clients, and changes few assignments.
 */
export const DIRICHLET_MIN_EXAMPLES = 10;

const SPEC_HELP = 'expected iid, dirichlet:<alpha> (e.g. dirichlet:0.5) or shards:<k> (e.g. shards:2)';

/** Parses `iid`, `dirichlet:<alpha>` (alpha > 0) or `shards:<k>` (integer k >= 1). */
export function parsePartitionSpec(s: string): PartitionSpec {
  const text = s.trim();
  if (text === 'iid') return { kind: 'iid' };
  const match = /^(dirichlet|shards):(.*)$/.exec(text);
  if (!match) throw new Error(`unknown partition "${s}": ${SPEC_HELP}`);
  const [, kind, arg] = match;
  const value = arg.trim() === '' ? Number.NaN : Number(arg);
  if (kind === 'dirichlet') {
    if (!(value > 0) || !Number.isFinite(value)) {
      throw new Error(`partition "${s}": the Dirichlet alpha must be a positive number, got "${arg}"`);
    }
    return { kind: 'dirichlet', alpha: value };
  }
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`partition "${s}": the shards per client must be a positive integer, got "${arg}"`);
  }
  return { kind: 'shards', shardsPerClient: value };
}

/**
 * Example indices for each of `numClients` clients. Every index appears exactly once, every client
 * gets at least one example, and each client's indices are sorted ascending.
 */
export function partition(labels: Uint8Array, numClients: number, spec: PartitionSpec, seed: number): number[][] {
  if (!Number.isInteger(numClients) || numClients < 1) {
    throw new RangeError(`partition: the number of clients must be a positive integer, got ${numClients}`);
  }
  if (labels.length < numClients) {
    throw new RangeError(`partition: ${labels.length} examples cannot give each of ${numClients} clients at least one`);
  }
  const rng = new Rng(seed);
  let clients: number[][];
  switch (spec.kind) {
    case 'iid':
      clients = iid(labels.length, numClients, rng);
      break;
    case 'dirichlet':
      clients = dirichlet(labels, numClients, spec.alpha, rng);
      break;
    case 'shards':
      clients = shards(labels, numClients, spec.shardsPerClient, rng);
      break;
  }
  for (const indices of clients) indices.sort((a, b) => a - b);
  return clients;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Cuts `items` into `parts` contiguous pieces whose sizes differ by at most one. */
function cut<T>(items: T[], parts: number): T[][] {
  return range(parts).map((p) => items.slice(Math.floor((p * items.length) / parts), Math.floor(((p + 1) * items.length) / parts)));
}

function iid(count: number, numClients: number, rng: Rng): number[][] {
  return cut(rng.shuffle(range(count)), numClients);
}

function dirichlet(labels: Uint8Array, numClients: number, alpha: number, rng: Rng): number[][] {
  if (!(alpha > 0) || !Number.isFinite(alpha)) {
    throw new RangeError(`partition: the Dirichlet alpha must be a positive number, got ${alpha}`);
  }
  const byClass = new Map<number, number[]>();
  labels.forEach((label, index) => {
    const list = byClass.get(label);
    if (list) list.push(index);
    else byClass.set(label, [index]);
  });
  const clients: number[][] = range(numClients).map(() => []);
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const indices = rng.shuffle(byClass.get(label)!);
    const proportions = rng.dirichlet(alpha, numClients);
    let cumulative = 0;
    let start = 0;
    proportions.forEach((p, client) => {
      cumulative += p;
      const end = client === numClients - 1 ? indices.length : Math.round(cumulative * indices.length);
      for (let i = start; i < end; i++) clients[client].push(indices[i]);
      start = end;
    });
  }
  topUp(clients, Math.min(DIRICHLET_MIN_EXAMPLES, Math.floor(labels.length / numClients)), rng);
  return clients;
}

/** Moves random examples from the largest client to any client holding fewer than `minimum`. */
function topUp(clients: number[][], minimum: number, rng: Rng): void {
  for (const short of clients) {
    while (short.length < minimum) {
      // Some client holds more than `minimum` while another holds fewer, since the total is at least
      // numClients * minimum; so the donor stays at or above the minimum.
      const donor = clients.reduce((largest, c) => (c.length > largest.length ? c : largest));
      const pick = rng.nextInt(donor.length);
      short.push(donor[pick]);
      donor[pick] = donor[donor.length - 1];
      donor.pop();
    }
  }
}

function shards(labels: Uint8Array, numClients: number, shardsPerClient: number, rng: Rng): number[][] {
  if (!Number.isInteger(shardsPerClient) || shardsPerClient < 1) {
    throw new RangeError(`partition: the shards per client must be a positive integer, got ${shardsPerClient}`);
  }
  const numShards = numClients * shardsPerClient;
  if (labels.length < numShards) {
    throw new RangeError(`partition: ${labels.length} examples are too few for ${numClients} clients x ${shardsPerClient} shards`);
  }
  // Shuffle first so that, within one label, which examples share a shard depends on the seed.
  const sorted = rng.shuffle(range(labels.length));
  sorted.sort((a, b) => labels[a] - labels[b]);
  const pieces = cut(sorted, numShards);
  const order = rng.shuffle(range(numShards));
  return range(numClients).map((client) => order.slice(client * shardsPerClient, (client + 1) * shardsPerClient).flatMap((shard) => pieces[shard]));
}
