import { describe, expect, it } from 'vitest';
import { loadEmbeddedMnist } from '../../src/core/data/mnist.js';
import { type PartitionSpec, parsePartitionSpec, partition, subset } from '../../src/core/data/partition.js';

const mnist = loadEmbeddedMnist();

const SPECS: PartitionSpec[] = [
  { kind: 'iid' },
  { kind: 'dirichlet', alpha: 0.1 },
  { kind: 'dirichlet', alpha: 0.01 },
  { kind: 'dirichlet', alpha: 100 },
  { kind: 'shards', shardsPerClient: 2 },
];

/** Mean over clients of the Shannon entropy (bits) of each client's label histogram. */
function meanLabelEntropy(clients: number[][], labels: Uint8Array): number {
  const entropies = clients.map((indices) => {
    const counts = new Map<number, number>();
    for (const i of indices) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
    let h = 0;
    for (const c of counts.values()) h -= (c / indices.length) * Math.log2(c / indices.length);
    return h;
  });
  return entropies.reduce((a, b) => a + b, 0) / entropies.length;
}

describe('parsePartitionSpec', () => {
  it('parses iid, dirichlet:<alpha> and shards:<k>', () => {
    expect(parsePartitionSpec('iid')).toEqual({ kind: 'iid' });
    expect(parsePartitionSpec(' dirichlet:0.5 ')).toEqual({ kind: 'dirichlet', alpha: 0.5 });
    expect(parsePartitionSpec('shards:2')).toEqual({ kind: 'shards', shardsPerClient: 2 });
  });

  it('explains what it expected', () => {
    expect(() => parsePartitionSpec('random')).toThrow(/unknown partition "random": expected iid, dirichlet:<alpha>/);
    expect(() => parsePartitionSpec('dirichlet:')).toThrow(/alpha must be a positive number, got ""/);
    expect(() => parsePartitionSpec('dirichlet:-1')).toThrow(/alpha must be a positive number/);
    expect(() => parsePartitionSpec('dirichlet:abc')).toThrow(/alpha must be a positive number/);
    expect(() => parsePartitionSpec('shards:1.5')).toThrow(/shards per client must be a positive integer/);
    expect(() => parsePartitionSpec('shards:0')).toThrow(/shards per client must be a positive integer/);
  });
});

describe('partition', () => {
  for (const spec of SPECS) {
    it(`${JSON.stringify(spec)}: covers every index once, leaves no client empty, is seeded`, () => {
      const clients = partition(mnist.labels, 50, spec, 1);
      expect(clients).toHaveLength(50);
      const seen = new Uint8Array(mnist.count);
      for (const indices of clients) {
        expect(indices.length).toBeGreaterThan(0);
        for (const i of indices) seen[i]++;
        expect(indices).toEqual([...indices].sort((a, b) => a - b));
      }
      expect(seen.every((n) => n === 1)).toBe(true);
      expect(partition(mnist.labels, 50, spec, 1)).toEqual(clients);
      expect(partition(mnist.labels, 50, spec, 2)).not.toEqual(clients);
    });
  }

  it('iid gives equal shares and near-uniform labels', () => {
    const clients = partition(mnist.labels, 30, { kind: 'iid' }, 4);
    const sizes = clients.map((c) => c.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(meanLabelEntropy(clients, mnist.labels)).toBeGreaterThan(3);
  });

  it('dirichlet alpha=0.1 is far more label-skewed than alpha=100', () => {
    const skewed = meanLabelEntropy(partition(mnist.labels, 20, { kind: 'dirichlet', alpha: 0.1 }, 7), mnist.labels);
    const even = meanLabelEntropy(partition(mnist.labels, 20, { kind: 'dirichlet', alpha: 100 }, 7), mnist.labels);
    expect(even).toBeGreaterThan(3.2); // log2(10) = 3.32 is perfectly even
    expect(skewed).toBeLessThan(1.6);
    expect(even - skewed).toBeGreaterThan(1.5);
  });

  it('dirichlet tops up clients a tiny alpha left short, even with many clients', () => {
    const clients = partition(mnist.labels, 200, { kind: 'dirichlet', alpha: 0.001 }, 3);
    expect(Math.min(...clients.map((c) => c.length))).toBeGreaterThanOrEqual(10);
    expect(clients.reduce((n, c) => n + c.length, 0)).toBe(mnist.count);
  });

  it('shards:2 gives each client at most a handful of labels', () => {
    const clients = partition(mnist.labels, 100, { kind: 'shards', shardsPerClient: 2 }, 5);
    const distinct = clients.map((c) => new Set(c.map((i) => mnist.labels[i])).size);
    expect(Math.max(...distinct)).toBeLessThanOrEqual(4); // each shard of 50 spans at most 2 labels
    expect(distinct.reduce((a, b) => a + b, 0) / distinct.length).toBeLessThan(2.5);
    expect(clients.every((c) => c.length === 100)).toBe(true);
  });

  it('rejects more clients than examples and bad arguments', () => {
    const labels = Uint8Array.from([0, 1, 2]);
    expect(() => partition(labels, 4, { kind: 'iid' }, 1)).toThrow(/3 examples cannot give each of 4 clients/);
    expect(() => partition(labels, 0, { kind: 'iid' }, 1)).toThrow(/positive integer/);
    expect(() => partition(labels, 2, { kind: 'shards', shardsPerClient: 2 }, 1)).toThrow(/too few for 2 clients x 2 shards/);
    expect(() => partition(labels, 2, { kind: 'dirichlet', alpha: 0 }, 1)).toThrow(/alpha must be a positive number/);
  });
});

describe('subset', () => {
  it('copies the chosen examples in order', () => {
    const part = subset(mnist, [9999, 0, 5000]);
    expect(part.count).toBe(3);
    expect(part.inputShape).toEqual([28, 28, 1]);
    expect(part.numClasses).toBe(10);
    expect([...part.labels]).toEqual([mnist.labels[9999], mnist.labels[0], mnist.labels[5000]]);
    expect(part.features.subarray(784, 1568)).toEqual(mnist.features.subarray(0, 784));
    expect(part.features.subarray(0, 784)).toEqual(mnist.features.subarray(9999 * 784, 10000 * 784));
    expect(() => subset(mnist, [10_000])).toThrow(/outside the dataset/);
  });
});
