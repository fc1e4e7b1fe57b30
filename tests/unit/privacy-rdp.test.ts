import { describe, expect, it } from 'vitest';
import { accountant, DEFAULT_ORDERS, computeEpsilon, computeRdp, epsilonFromRdp, rdpSubsampledGaussian } from '../../src/core/privacy/index.js';

const eps = (noiseMultiplier: number, samplingRate: number, rounds: number, delta = 1e-5): number =>
  computeEpsilon({ noiseMultiplier, samplingRate, rounds, delta }).epsilon;

const relErr = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

describe('DEFAULT_ORDERS', () => {
  it('is 1.1..10.9 step 0.1 then 12..63, without float drift', () => {
    expect(DEFAULT_ORDERS).toHaveLength(99 + 52);
    expect(DEFAULT_ORDERS.slice(0, 3)).toEqual([1.1, 1.2, 1.3]);
    expect(DEFAULT_ORDERS[98]).toBe(10.9);
    expect(DEFAULT_ORDERS[99]).toBe(12);
    expect(DEFAULT_ORDERS.at(-1)).toBe(63);
    expect(DEFAULT_ORDERS).not.toContain(11);
    expect(DEFAULT_ORDERS).toContain(5.4);
    expect(DEFAULT_ORDERS).toContain(8.1);
  });
});

describe('computeEpsilon reference values', () => {
  it('q=1, z=1, T=1, δ=1e-5 gives ε = 4.72850706722 at order 5.4', () => {
    const r = computeEpsilon({ noiseMultiplier: 1, samplingRate: 1, rounds: 1, delta: 1e-5 });
    expect(relErr(r.epsilon, 4.72850706722)).toBeLessThan(1e-9);
    expect(r.order).toBe(5.4);
    expect(r.accountant).toBe('rdp');
  });

  it('TF Privacy MNIST setting (q=256/60000, z=1.1, T=14062, δ=1e-5) gives ε = 2.5966', () => {
    const r = computeEpsilon({ noiseMultiplier: 1.1, samplingRate: 256 / 60000, rounds: 14062, delta: 1e-5 });
    expect(r.epsilon).toBeCloseTo(2.5966, 4);
  });
});

describe('rdpSubsampledGaussian', () => {
  it('q=1 is exactly order/(2z²) per round and T rounds T times that', () => {
    for (const z of [0.5, 0.8, 1, 1.1, 3, 10]) {
      for (const a of [1.1, 2, 2.5, 5.4, 12, 63]) {
        const one = rdpSubsampledGaussian(1, z, a);
        expect(one).toBe(a / (2 * z * z));
        const [total] = computeRdp([{ noiseMultiplier: z, samplingRate: 1, rounds: 250 }], [a]);
        expect(total).toBe(250 * (a / (2 * z * z)));
      }
    }
  });

  it('handles q=0 and z=0', () => {
    expect(rdpSubsampledGaussian(0, 1, 3)).toBe(0);
    expect(rdpSubsampledGaussian(0.1, 0, 3)).toBe(Infinity);
  });

  it('integer and fractional code paths agree around an integer order', () => {
    for (const [q, z] of [
      [0.01, 1.1],
      [256 / 60000, 1.1],
      [0.1, 0.8],
      [0.3, 2],
    ]) {
      const at5 = rdpSubsampledGaussian(q, z, 5);
      const below = rdpSubsampledGaussian(q, z, 4.999999);
      const above = rdpSubsampledGaussian(q, z, 5.000001);
      expect(relErr(below, at5)).toBeLessThan(1e-5);
      expect(relErr(above, at5)).toBeLessThan(1e-5);
      expect(below).toBeLessThan(at5);
      expect(above).toBeGreaterThan(at5);
      // The midpoint cancels the first-order slope: the two paths must then agree very closely.
      expect(relErr((below + above) / 2, at5)).toBeLessThan(1e-9);
    }
  });

  it('order 2 equals the closed form log(1 + q²(e^{1/z²} − 1))', () => {
    for (const q of [0.01, 0.005, 0.001]) {
      for (const z of [0.7, 1, 1.3, 4]) {
        const exact = Math.log1p(q * q * Math.expm1(1 / (z * z)));
        expect(relErr(rdpSubsampledGaussian(q, z, 2), exact)).toBeLessThan(1e-12);
      }
    }
  });

  it('rejects invalid inputs with RangeError', () => {
    expect(() => rdpSubsampledGaussian(-0.1, 1, 2)).toThrow(RangeError);
    expect(() => rdpSubsampledGaussian(1.1, 1, 2)).toThrow(RangeError);
    expect(() => rdpSubsampledGaussian(Number.NaN, 1, 2)).toThrow(RangeError);
    expect(() => rdpSubsampledGaussian(0.1, -1, 2)).toThrow(RangeError);
    expect(() => rdpSubsampledGaussian(0.1, Infinity, 2)).toThrow(RangeError);
    expect(() => rdpSubsampledGaussian(0.1, 1, 1)).toThrow(RangeError);
    expect(() => rdpSubsampledGaussian(0.1, 1, Infinity)).toThrow(RangeError);
  });
});

describe('monotonicity of ε', () => {
  const strictlyIncreasing = (xs: number[]): void => {
    for (let i = 1; i < xs.length; i++) expect(xs[i]).toBeGreaterThan(xs[i - 1]);
  };

  it('grows with the number of rounds', () => {
    strictlyIncreasing([1, 10, 100, 1000, 10000].map((t) => eps(1.1, 0.01, t)));
  });

  it('grows with the sampling rate', () => {
    strictlyIncreasing([0.001, 0.01, 0.05, 0.2, 0.5, 1].map((q) => eps(1.1, q, 100)));
  });

  it('falls as the noise multiplier grows', () => {
    const xs = [0.6, 0.8, 1, 1.5, 3, 10].map((z) => eps(z, 0.02, 100));
    for (let i = 1; i < xs.length; i++) expect(xs[i]).toBeLessThan(xs[i - 1]);
  });
});

describe('edge cases stay finite and positive', () => {
  for (const q of [0.001, 1]) {
    for (const z of [0.5, 10]) {
      for (const t of [1, 1e5]) {
        for (const delta of [1e-8, 1e-3]) {
          it(`q=${q} z=${z} T=${t} δ=${delta}`, () => {
            const r = computeEpsilon({ noiseMultiplier: z, samplingRate: q, rounds: t, delta });
            expect(Number.isFinite(r.epsilon)).toBe(true);
            expect(r.epsilon).toBeGreaterThan(0);
            expect(DEFAULT_ORDERS).toContain(r.order);
          });
        }
      }
    }
  }
});

describe('epsilonFromRdp', () => {
  it('applies Balle et al. 2020 Thm 21 at the best order', () => {
    const orders = [2, 4, 8];
    const rdp = [0.5, 1, 3];
    const delta = 1e-5;
    const each = orders.map((a, k) => rdp[k] + Math.log((a - 1) / a) - (Math.log(delta) + Math.log(a)) / (a - 1));
    const best = Math.min(...each);
    expect(epsilonFromRdp(orders, rdp, delta)).toEqual({ epsilon: best, order: orders[each.indexOf(best)] });
  });

  it('ignores NaN entries and clamps ε at 0', () => {
    expect(epsilonFromRdp([2, 3], [Number.NaN, 0.1], 1e-5).order).toBe(3);
    expect(epsilonFromRdp([63], [0], 0.5).epsilon).toBe(0);
  });

  it('gives ε = 0 when nothing was released (no rounds, or q = 0)', () => {
    expect(computeEpsilon({ noiseMultiplier: 1, samplingRate: 0.1, rounds: 0, delta: 1e-5 }).epsilon).toBe(0);
    expect(computeEpsilon({ noiseMultiplier: 1, samplingRate: 0, rounds: 100, delta: 1e-5 }).epsilon).toBe(0);
    expect(accountant('rdp').epsilon([], 1e-5)).toBe(0);
  });

  it('returns Infinity when no order gives a finite bound', () => {
    expect(epsilonFromRdp([2, 3], [Infinity, Number.NaN], 1e-5).epsilon).toBe(Infinity);
  });

  it('rejects bad delta and mismatched lengths', () => {
    expect(() => epsilonFromRdp([2], [1], 0)).toThrow(RangeError);
    expect(() => epsilonFromRdp([2], [1], 1)).toThrow(RangeError);
    expect(() => epsilonFromRdp([2, 3], [1], 1e-5)).toThrow(RangeError);
  });
});

describe('computeRdp and the RDP accountant', () => {
  it('sums heterogeneous rounds order by order', () => {
    const a = { noiseMultiplier: 1.1, samplingRate: 0.01, rounds: 30 };
    const b = { noiseMultiplier: 2, samplingRate: 0.05 };
    const both = computeRdp([a, b]);
    const ra = computeRdp([a]);
    const rb = computeRdp([b]);
    both.forEach((r, k) => expect(r).toBeCloseTo(ra[k] + rb[k], 14));
  });

  it('the RDP accountant matches computeEpsilon over a list of rounds, one record per round or one with a count', () => {
    const rdp = accountant('rdp');
    const direct = computeEpsilon({ noiseMultiplier: 1.1, samplingRate: 0.02, rounds: 50, delta: 1e-5 });
    const perRound = Array.from({ length: 50 }, () => ({ noiseMultiplier: 1.1, samplingRate: 0.02 }));
    expect(rdp.name).toBe('rdp');
    expect(relErr(rdp.epsilon(perRound, 1e-5), direct.epsilon)).toBeLessThan(1e-12);
    expect(rdp.epsilon([{ noiseMultiplier: 1.1, samplingRate: 0.02, rounds: 50 }], 1e-5)).toBe(direct.epsilon);
  });

  it('the RDP accountant rejects an invalid round', () => {
    expect(() => accountant('rdp').epsilon([{ noiseMultiplier: 1, samplingRate: 2 }], 1e-5)).toThrow(RangeError);
  });
});
