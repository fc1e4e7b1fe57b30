import { describe, expect, it } from 'vitest';
import { defaultNeighbours, isFullGraph, neighbourGraph, shareThreshold } from '../../src/core/secagg/index.js';
import { clientId, randomSeed } from './secagg-harness.js';

const ids = (n: number) => Array.from({ length: n }, (_, i) => clientId(i));
const round = async (k: number | null, graphSeed?: string) => ({ neighbours: k, graphSeed: graphSeed ?? (await randomSeed()), threshold: 3 });

function edges(graph: Map<string, string[]>): string[] {
  return [...graph].flatMap(([a, ns]) => ns.map((b) => `${a}>${b}`)).sort();
}

describe('neighbourGraph (SecAgg+ Harary graph)', () => {
  it('is deterministic per seed, whatever the order of the advertisers', async () => {
    const r = await round(6);
    const a = await neighbourGraph(ids(40), r);
    const b = await neighbourGraph([...ids(40)].reverse(), r);
    expect(edges(b)).toEqual(edges(a));
    expect([...a.keys()].sort()).toEqual(ids(40));
  });

  it('differs between seeds', async () => {
    const graphs = await Promise.all([1, 2, 3].map(async () => edges(await neighbourGraph(ids(40), await round(6)))));
    expect(new Set(graphs.map((g) => g.join())).size).toBe(3);
  });

  it.each([
    [20, 2],
    [40, 6],
    [100, 14],
    [17, 14],
  ])('is symmetric and k-regular with |U1| = %i > k + 1, k = %i', async (n, k) => {
    const graph = await neighbourGraph(ids(n), await round(k));
    for (const [id, neighbours] of graph) {
      expect(neighbours).toHaveLength(k);
      expect(new Set(neighbours).size).toBe(k);
      expect(neighbours).not.toContain(id);
      for (const other of neighbours) expect(graph.get(other)).toContain(id);
    }
    expect(isFullGraph({ neighbours: k }, n)).toBe(false);
  });

  it('is a ring under the permutation: walking from one client reaches all (connected)', async () => {
    const graph = await neighbourGraph(ids(60), await round(4));
    const seen = new Set([clientId(0)]);
    const queue = [clientId(0)];
    while (queue.length)
      for (const next of graph.get(queue.pop()!)!) {
        if (!seen.has(next)) {
          seen.add(next);
          queue.push(next);
        }
      }
    expect(seen.size).toBe(60);
  });

  it('is the full graph when k ≥ |U1| − 1 or k is null', async () => {
    for (const [n, k] of [
      [10, null],
      [10, 10],
      [9, 8],
      [3, 2],
    ] as const) {
      const graph = await neighbourGraph(ids(n), await round(k));
      expect(isFullGraph({ neighbours: k }, n)).toBe(true);
      for (const [id, neighbours] of graph) expect(neighbours).toEqual(ids(n).filter((x) => x !== id));
    }
  });

  it('rejects an odd k, a bad seed and duplicate advertisers', async () => {
    await expect(neighbourGraph(ids(20), await round(5))).rejects.toThrow(/even/);
    await expect(neighbourGraph(ids(20), { neighbours: 4, graphSeed: 'AAAA' })).rejects.toThrow(/graphSeed/);
    await expect(neighbourGraph([clientId(1), clientId(1), clientId(2)], await round(null))).rejects.toThrow(/twice/);
  });

  it('places every client in every ring position about equally often (the shuffle is not biased to the sort order)', async () => {
    // With k = 2 a client's neighbours are its two ring neighbours: over many seeds, client 0 should
    // neighbour every other client about 2/(n−1) of the time.
    const n = 8;
    const counts = new Map(ids(n).map((id) => [id, 0]));
    const trials = 700;
    for (let i = 0; i < trials; i++) {
      const graph = await neighbourGraph(ids(n), await round(2));
      for (const other of graph.get(clientId(0))!) counts.set(other, counts.get(other)! + 1);
    }
    const expected = (trials * 2) / (n - 1); // 200
    for (const [id, count] of counts) {
      if (id === clientId(0)) expect(count).toBe(0);
      else expect(Math.abs(count - expected)).toBeLessThan(5 * Math.sqrt(expected)); // ±5σ
    }
  });
});

describe('shareThreshold and defaultNeighbours', () => {
  it('is t on the full graph and a strict majority of the holders in SecAgg+', () => {
    expect(shareThreshold({ neighbours: null, threshold: 7 }, 10)).toBe(7);
    expect(() => shareThreshold({ neighbours: null, threshold: 11 }, 10)).toThrow(/exceeds/);
    expect(shareThreshold({ neighbours: 14, threshold: 67 }, 15)).toBe(8);
    expect(shareThreshold({ neighbours: 6, threshold: 20 }, 7)).toBe(4);
    expect(shareThreshold({ neighbours: 2, threshold: 2 }, 3)).toBe(2);
    expect(shareThreshold({ neighbours: 2, threshold: 2 }, 2)).toBe(2);
    expect(shareThreshold({ neighbours: 4, threshold: 2 }, 4)).toBe(3);
  });

  it('is the full graph up to 32 clients, then the even k ≥ 2·log2(n)', () => {
    expect(defaultNeighbours(10)).toBeNull();
    expect(defaultNeighbours(32)).toBeNull();
    expect(defaultNeighbours(33)).toBe(12);
    expect(defaultNeighbours(64)).toBe(12);
    expect(defaultNeighbours(100)).toBe(14);
    expect(defaultNeighbours(1000)).toBe(20);
    expect(defaultNeighbours(10_000)).toBe(28);
  });
});
