import { describe, expect, it } from 'vitest';
import { DpModeSchema, type DpMode } from '../../src/core/protocol/messages.js';
import { NOISE_PLACEMENT, noisePlan, type NoisePlacement } from '../../src/core/privacy/index.js';

const dp = (mode: DpMode) => ({ mode, noiseMultiplier: 1.5, clipNorm: 2, delta: 1e-5 });

/** DESIGN.md "Differential privacy: the semantics to get right" and PRIVACY-MATH.md "Noise placement", one row at a time. */
const EXPECTED: { mode: DpMode; secure: boolean; row: NoisePlacement | null; why: string }[] = [
  {
    mode: 'off',
    secure: false,
    row: {
      clientBound: 'none',
      clientNoise: 'none',
      serverNoise: false,
      serverReclip: 'adaptive',
      weights: 'examples',
      denominator: 'total-weight',
      charge: 'none',
    },
    why: 'no privacy claim: FedAvg by (capped) example counts; the server bounds each update adaptively (bounded influence); nothing is charged',
  },
  {
    mode: 'off',
    secure: true,
    row: { clientBound: 'clamp', clientNoise: 'none', serverNoise: false, serverReclip: 'none', weights: 'equal', denominator: 'total-weight', charge: 'none' },
    why: 'the client clamps each coordinate to ±C only for the fixed-point range; the server sees only the sum, so it averages unweighted over the survivors',
  },
  {
    mode: 'central',
    secure: false,
    row: {
      clientBound: 'clip',
      clientNoise: 'none',
      serverNoise: true,
      serverReclip: 'clip-norm',
      weights: 'equal',
      denominator: 'expected-clients',
      charge: 'sampled',
    },
    why: 'the server adds N(0, z²C²) after aggregation and re-clips to C, so one member’s sensitivity is C whatever it sent; fixed weights and the fixed denominator n̄',
  },
  {
    mode: 'central',
    secure: true,
    row: {
      clientBound: 'clip',
      clientNoise: 'none',
      serverNoise: true,
      serverReclip: 'none',
      weights: 'equal',
      denominator: 'expected-clients',
      charge: 'sampled',
    },
    why: 'the server still adds the full noise to the unmasked sum; it cannot re-clip what it never sees',
  },
  {
    mode: 'local',
    secure: false,
    row: {
      clientBound: 'clip',
      clientNoise: 'full',
      serverNoise: false,
      serverReclip: 'clip-norm-plus-noise',
      weights: 'equal',
      denominator: 'expected-clients',
      charge: 'unsampled',
    },
    why: 'each client adds the full N(0, z²C²) itself; the server re-clips to C plus an honest client’s noise norm; it knows who sent, so no amplification (q = 1)',
  },
  {
    mode: 'local',
    secure: true,
    row: {
      clientBound: 'clip',
      clientNoise: 'full',
      serverNoise: false,
      serverReclip: 'none',
      weights: 'equal',
      denominator: 'expected-clients',
      charge: 'unsampled',
    },
    why: 'the client’s own full noise, inside the masked sum; the server knows the cohort, so still q = 1 against it',
  },
  {
    mode: 'distributed',
    secure: false,
    row: null,
    why: 'each client adds only a share of the noise: without secure aggregation the server would see one update with a fraction of it',
  },
  {
    mode: 'distributed',
    secure: true,
    row: {
      clientBound: 'clip',
      clientNoise: 'share',
      serverNoise: false,
      serverReclip: 'none',
      weights: 'equal',
      denominator: 'expected-clients',
      charge: 'sampled',
    },
    why: 'each client adds z·Δ/√t on the grid so t survivors carry the full noise; the server adds none and sees only the sum',
  },
];

describe('NOISE_PLACEMENT: where the noise goes, per DP mode and secure aggregation', () => {
  it('lists every DP mode of the protocol, plain and secure', () => {
    expect(Object.keys(NOISE_PLACEMENT).sort()).toEqual([...DpModeSchema.options].sort());
    expect(EXPECTED).toHaveLength(2 * DpModeSchema.options.length);
  });

  for (const { mode, secure, row, why } of EXPECTED) {
    it(`${mode}, ${secure ? 'secure aggregation' : 'plain'}: ${why}`, () => {
      expect(NOISE_PLACEMENT[mode][secure ? 'secure' : 'plain']).toEqual(row);
    });
  }

  it('every DP mode puts the full noise z·C in exactly one place, and DP off puts none anywhere', () => {
    for (const { mode, row } of EXPECTED) {
      if (row === null) continue;
      const places = (row.serverNoise ? 1 : 0) + (row.clientNoise !== 'none' ? 1 : 0);
      expect(places).toBe(mode === 'off' ? 0 : 1);
    }
  });

  it('with DP on the denominator is the fixed n̄ and every update weighs 1 (weighting by examples changes the sensitivity)', () => {
    for (const { mode, row } of EXPECTED) {
      if (row === null || mode === 'off') continue;
      expect([row.denominator, row.weights, row.clientBound]).toEqual(['expected-clients', 'equal', 'clip']);
    }
  });

  it('the server re-clips exactly the updates it sees: plain ones', () => {
    for (const { secure, row } of EXPECTED) {
      if (row !== null) expect(row.serverReclip === 'none').toBe(secure);
    }
  });
});

describe('noisePlan: the row with its numbers', () => {
  it('local: the client noise std is z·C; central: the server’s; DP off carries z = 0 whatever was configured', () => {
    expect(noisePlan(dp('local'), false)).toMatchObject({ clientNoise: 'full', clientNoiseStd: 3, noiseMultiplier: 1.5, clipNorm: 2, mode: 'local' });
    expect(noisePlan(dp('central'), true)).toMatchObject({ serverNoise: true, clientNoiseStd: 0, noiseMultiplier: 1.5, secureAggregation: true });
    expect(noisePlan(dp('distributed'), true)).toMatchObject({ clientNoise: 'share', clientNoiseStd: 0 });
    expect(noisePlan(dp('off'), false)).toMatchObject({ noiseMultiplier: 0, clientNoiseStd: 0, serverNoise: false });
  });

  it('refuses distributed DP without secure aggregation, with the reason', () => {
    expect(() => noisePlan(dp('distributed'), false)).toThrow(/needs secure aggregation/);
  });
});
