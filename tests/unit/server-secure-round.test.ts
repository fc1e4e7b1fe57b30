import { describe, expect, it } from 'vitest';
import { parseServerConfig } from '../../server/config.js';
import { secAggRoundFor } from '../../server/secure-round.js';

const cohort = (n: number) => Array.from({ length: n }, (_, i) => `c-${String(i).padStart(4, '0')}`);
const config = (secureAggregation: Record<string, unknown>, minClients = 2) =>
  parseServerConfig({ cohort: { minClients }, secureAggregation: { enabled: true, ...secureAggregation } });

describe('secAggRoundFor', () => {
  it('defaults t to ⌊2n/3⌋+1 (t > 2n/3), never below minClients', () => {
    expect(secAggRoundFor(config({}), cohort(20), 'seed')).toMatchObject({ threshold: 14, neighbours: null });
    expect(secAggRoundFor(config({}), cohort(3), 'seed')).toMatchObject({ threshold: 3 });
    expect(secAggRoundFor(config({}, 9), cohort(10), 'seed')).toMatchObject({ threshold: 9 });
    expect(secAggRoundFor(config({ threshold: 5 }), cohort(10), 'seed')).toMatchObject({ threshold: 5 });
  });

  it('uses the full graph up to 32 clients, SecAgg+ with an even k ≈ 2·log₂ n above, and rounds an odd k up', () => {
    expect(secAggRoundFor(config({}), cohort(32), 's')).toMatchObject({ neighbours: null });
    expect(secAggRoundFor(config({}), cohort(100), 's')).toMatchObject({ neighbours: 14 });
    expect(secAggRoundFor(config({ neighbours: 5 }), cohort(40), 's')).toMatchObject({ neighbours: 6 });
    expect(secAggRoundFor(config({ neighbours: 'all' }), cohort(40), 's')).toMatchObject({ neighbours: null });
    expect(secAggRoundFor(config({ neighbours: 12 }), cohort(10), 's')).toMatchObject({ neighbours: null });
  });

  it('signs the cohort in a canonical order', () => {
    const round = secAggRoundFor(config({}), ['c-b', 'c-c', 'c-a'], 's');
    expect(round).toMatchObject({ cohort: ['c-a', 'c-b', 'c-c'] });
  });

  it('refuses a cohort below t, and a full graph with more than 255 share holders', () => {
    expect(secAggRoundFor(config({ threshold: 8 }), cohort(7), 's')).toEqual(new Error('cohort of 7 is below the secure-aggregation threshold of 8'));
    const tooMany = secAggRoundFor(config({ neighbours: 'all' }), cohort(300), 's');
    expect(tooMany).toBeInstanceOf(Error);
    expect((tooMany as Error).message).toMatch(/300 holders per secret .* exceed the 255/);
    expect(secAggRoundFor(config({}), cohort(300), 's')).toMatchObject({ neighbours: 18 });
  });
});
