import { beforeAll, describe, expect, it } from 'vitest';
import { generateIdentity, type Identity } from '../../src/core/crypto/index.js';
import { decodePartial, encodePartial, type Partial } from '../../server/cluster/bus.js';
import { EDGE_HEADER, edgeHeaders, edgeOrigin, TOKEN_LIFETIME_SECONDS } from '../../server/cluster/edge-auth.js';
import { mergePartials } from '../../server/cluster/partials.js';
import type { Logger } from '../../server/logger.js';
import { parseServerConfig } from '../../server/config.js';

let identity: Identity;
let stranger: Identity;
beforeAll(async () => {
  identity = await generateIdentity();
  stranger = await generateIdentity();
});

describe('edge link headers', () => {
  const NOW = 1_800_000_000_000;

  it('verify for the federation identity that made them, with the forwarded address', () => {
    const headers = edgeHeaders(identity, 'fed', 'edge-1', '10.0.0.7', NOW);
    expect(edgeOrigin(identity, 'fed', { headers }, NOW + 5_000)).toEqual({ edgeId: 'edge-1', address: '10.0.0.7' });
  });

  it('are refused under another key, federation, address, edge id, or once stale', () => {
    const headers = edgeHeaders(identity, 'fed', 'edge-1', '10.0.0.7', NOW);
    expect(edgeOrigin(stranger, 'fed', { headers }, NOW)).toBeNull();
    expect(edgeOrigin(identity, 'other', { headers }, NOW)).toBeNull();
    expect(edgeOrigin(identity, 'fed', { headers: { ...headers, 'x-covey-forwarded-for': '10.0.0.8' } }, NOW)).toBeNull();
    const renamed = headers[EDGE_HEADER].replace(/^edge-1/, 'edge-2');
    expect(edgeOrigin(identity, 'fed', { headers: { ...headers, [EDGE_HEADER]: renamed } }, NOW)).toBeNull();
    expect(edgeOrigin(identity, 'fed', { headers }, NOW + (TOKEN_LIFETIME_SECONDS + 1) * 1000)).toBeNull();
    expect(edgeOrigin(identity, 'fed', { headers: {} }, NOW)).toBeNull();
    expect(edgeOrigin(identity, 'fed', { headers: { ...headers, [EDGE_HEADER]: 'a.b.c.d' } }, NOW)).toBeNull();
  });
});

describe('partials', () => {
  const partial = (edgeId: string, survivors: string[], sum: number[], totalWeight = survivors.length): Partial => ({
    edgeId,
    attemptId: 'att',
    survivors,
    totalWeight,
    sum: Float64Array.from(sum),
  });

  it('round-trip through their wire form exactly, and a truncated one is an error', () => {
    const p = partial('edge-0', ['a', 'b'], [0.1, -2.5e-300, 3], 7.5);
    const decoded = decodePartial(encodePartial(p));
    expect(decoded).toEqual(p);
    const bytes = encodePartial(p);
    expect(decodePartial(bytes.subarray(0, bytes.length - 3))).toBeInstanceOf(Error);
    expect(decodePartial(Buffer.from([1, 0]))).toBeInstanceOf(Error);
  });

  const claims = new Map([
    ['a', 'edge-0'],
    ['b', 'edge-0'],
    ['c', 'edge-1'],
    ['d', 'edge-1'],
  ]);
  const open = { attemptId: 'att', claims, policy: { maxWeight: 10, normBound: 1 } };
  const errors: string[] = [];
  const log: Logger = (level, _event, fields) => void (level === 'error' && errors.push(String(fields?.problem)));
  const own = { aggregate: { kind: 'sum' as const, sum: Float64Array.from([1, 1]), totalWeight: 2 }, survivors: ['x'] };

  it('add to the coordinator sum in edge order, each member once', () => {
    const merged = mergePartials(own, [partial('edge-1', ['c', 'd'], [10, 20], 3), partial('edge-0', ['a', 'b'], [100, 200], 4)], open, log);
    expect(Array.from(merged.aggregate.sum)).toEqual([111, 221]);
    expect(merged.aggregate.totalWeight).toBe(9);
    expect(merged.survivors).toEqual(['x', 'a', 'b', 'c', 'd']);
  });

  it('refuse a member granted elsewhere, counted twice, too much weight, a wrong length or a non-finite sum', () => {
    errors.length = 0;
    const refused = [
      partial('edge-0', ['a', 'c'], [1, 1]),
      partial('edge-0', ['a', 'a'], [1, 1]),
      partial('edge-0', ['a', 'b'], [1, 1], 21),
      partial('edge-0', ['a'], [1, 1, 1]),
      partial('edge-0', ['a'], [Number.NaN, 1]),
      { ...partial('edge-0', ['a'], [1, 1]), attemptId: 'old' },
    ];
    for (const p of refused) {
      const merged = mergePartials(own, [p], open, log);
      expect(merged.survivors).toEqual(['x']);
      expect(Array.from(merged.aggregate.sum)).toEqual([1, 1]);
    }
    expect(errors).toHaveLength(refused.length);
    // One edge's partial naming a member already counted directly is refused as a double count.
    const direct = { ...own, survivors: ['a'] };
    expect(mergePartials(direct, [partial('edge-0', ['a'], [5, 5])], open, log).survivors).toEqual(['a']);
  });
});

describe('a coordinator config', () => {
  const cluster = { redis: 'redis://127.0.0.1:6379' };

  it('takes a Redis URL and waits 30 s for partials by default', () => {
    expect(parseServerConfig({ cluster }).cluster).toEqual({ redis: 'redis://127.0.0.1:6379', partialTimeoutSeconds: 30 });
  });

  it('refuses what edges cannot do: a rule that needs every update, or federated evaluation', () => {
    expect(() => parseServerConfig({ cluster, strategy: { name: 'trimmed-mean' } })).toThrow(/edges hand in sums/);
    expect(() => parseServerConfig({ cluster, evaluation: { federated: { holdoutFraction: 0.2 } } })).toThrow(/not with edges/);
  });
});
