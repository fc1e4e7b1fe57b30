import { describe, expect, it } from 'vitest';
import { coordinateMedian, krumScores, multiKrum, trimmedMean } from '../../src/core/aggregate/robust.js';
import { serverStep, type ServerOptimizerSettings } from '../../src/core/aggregate/server-optimizer.js';

const f32 = (...values: number[]) => new Float32Array(values);

describe('robust rules against hand-computed values', () => {
  it('coordinate-wise median (Yin et al. 2018, Def. 1): the middle value, or the mean of the two middle ones', () => {
    // Odd n: coordinate 0 is med{1, 5, 3} = 3, coordinate 1 med{-2, 7, 0} = 0.
    expect([...coordinateMedian([f32(1, -2), f32(5, 7), f32(3, 0)])]).toEqual([3, 0]);
    // Even n: med{1, 2, 3, 10} = (2 + 3)/2 = 2.5; one huge value does not move it.
    expect([...coordinateMedian([f32(1), f32(10), f32(3), f32(2)])]).toEqual([2.5]);
    expect([...coordinateMedian([f32(1), f32(1e30), f32(3), f32(2)])]).toEqual([2.5]);
  });

  it('trimmed mean (Yin et al. 2018, Def. 2): drops ⌊βn⌋ from each end of each coordinate, averages the rest', () => {
    // n = 4, β = 0.25: k = 1; {1, 2, 3, 100} → (2 + 3)/2 = 2.5.
    expect([...trimmedMean([f32(100), f32(1), f32(3), f32(2)], 0.25)]).toEqual([2.5]);
    // n = 5, β = 0.2: k = 1; {−50, 1, 2, 3, 4} → (1 + 2 + 3)/3 = 2; per coordinate: {0, 0, 0, 9, −9} → 0.
    expect([...trimmedMean([f32(-50, 0), f32(1, 0), f32(2, 9), f32(3, -9), f32(4, 0)], 0.2)]).toEqual([2, 0]);
    // β = 0: the plain unweighted mean (1 + 2 + 6)/3 = 3.
    expect([...trimmedMean([f32(1), f32(2), f32(6)], 0)]).toEqual([3]);
    expect(() => trimmedMean([f32(1)], 0.5)).toThrow(/β/);
  });

  it('Krum (Blanchard et al. 2017, Sec. 4): s(i) = Σ over the n − f − 2 nearest of ‖u_i − u_j‖², lowest wins', () => {
    // 1-D updates {0, 1, 2, 100}, f = 0, so the 2 nearest: s(0) = 1 + 4 = 5, s(1) = 1 + 1 = 2, s(2) = 1 + 4 = 5,
    // s(100) = 98² + 99² = 19405.
    const updates = [f32(0), f32(1), f32(2), f32(100)];
    expect(krumScores(updates, 0)).toEqual([5, 2, 5, 19405]);
    expect([...multiKrum(updates, 0, 1)]).toEqual([1]);
    // Multi-Krum, m = 3: the mean of the three best-scored, (1 + 0 + 2)/3 = 1.
    expect([...multiKrum(updates, 0, 3)]).toEqual([1]);
    // Squared distances over every coordinate: (0,0), (3,4), (0,1): s with n − f − 2 = 1 nearest = 1, 18, 1 → the first of the tie.
    expect(krumScores([f32(0, 0), f32(3, 4), f32(0, 1)], 0)).toEqual([1, 18, 1]);
    expect([...multiKrum([f32(0, 0), f32(3, 4), f32(0, 1)], 0, 1)]).toEqual([0, 0]);
    // f = 1 needs n ≥ 2f + 3 = 5.
    expect(() => krumScores(updates, 1)).toThrow(/2f \+ 3/);
  });

  it('every rule refuses updates of different lengths and an empty round', () => {
    expect(() => coordinateMedian([f32(1), f32(1, 2)])).toThrow(/length/);
    expect(() => trimmedMean([], 0.1)).toThrow(/at least one/);
  });
});

describe('server optimizers against hand-computed values (Reddi et al. 2021, Algorithm 2; Hsu et al. 2019)', () => {
  const base: ServerOptimizerSettings = { optimizer: 'sgd', serverLr: 0.01, serverMomentum: 0.9, beta1: 0.9, beta2: 0.99, tau: 1e-3 };
  const start = { steps: 0, m: null, v: null };
  const x = f32(1);
  const delta = f32(0.5);

  it('sgd: x + ηΔ (FedAvg)', () => {
    const { next, state } = serverStep({ ...base, serverLr: 2 }, x, delta, start);
    expect([...next]).toEqual([2]);
    expect(state).toEqual({ steps: 1, m: null, v: null });
  });

  it('momentum: m_t = β m_{t−1} + Δ_t, x + η m_t', () => {
    const s = { ...base, optimizer: 'momentum' as const, serverLr: 0.1 };
    const one = serverStep(s, x, delta, start);
    // m_0 = 0.5, x_1 = 1 + 0.1·0.5 = 1.05
    expect(one.next[0]).toBeCloseTo(1.05, 6);
    const two = serverStep(s, one.next, f32(0.25), one.state);
    // m_1 = 0.9·0.5 + 0.25 = 0.7, x_2 = 1.05 + 0.1·0.7 = 1.12
    expect(two.state.m![0]).toBeCloseTo(0.7, 6);
    expect(two.next[0]).toBeCloseTo(1.12, 6);
  });

  it('adam: m = 0.1·0.5 = 0.05, v = 0.99·τ² + 0.01·0.25 = 0.00250099, x + η m/(√v + τ) = 1.0098020', () => {
    const { next, state } = serverStep({ ...base, optimizer: 'adam' }, x, delta, start);
    expect(state.m![0]).toBeCloseTo(0.05, 7);
    expect(state.v![0]).toBeCloseTo(0.00250099, 9);
    expect(next[0]).toBeCloseTo(1.009802019, 6);
  });

  it('yogi: v = τ² − 0.01·0.25·sign(τ² − 0.25) = 0.002501, then v shrinks by (1 − β₂)Δ² when v > Δ²', () => {
    const s = { ...base, optimizer: 'yogi' as const };
    const one = serverStep(s, x, delta, start);
    expect(one.state.v![0]).toBeCloseTo(0.002501, 9);
    expect(one.next[0]).toBeCloseTo(1.0098019998, 6);
    // Δ = 0.01: sign(0.002501 − 0.0001) = +1, v = 0.002501 − 0.01·0.0001 = 0.0025; m = 0.9·0.05 + 0.1·0.01 = 0.046.
    const two = serverStep(s, one.next, f32(0.01), one.state);
    expect(two.state.v![0]).toBeCloseTo(0.0025, 9);
    expect(two.state.m![0]).toBeCloseTo(0.046, 7);
  });

  it('adagrad: v = τ² + Δ² = 0.250001, x + 0.01·0.05/(√0.250001 + τ) = 1.000998', () => {
    const { next, state } = serverStep({ ...base, optimizer: 'adagrad' }, x, delta, start);
    expect(state.v![0]).toBeCloseTo(0.250001, 7);
    expect(next[0]).toBeCloseTo(1.000998002, 6);
  });

  it('never mutates its inputs and refuses a state of the wrong length', () => {
    const s = { ...base, optimizer: 'adam' as const };
    const one = serverStep(s, x, delta, start);
    const m = Float32Array.from(one.state.m!);
    serverStep(s, one.next, delta, one.state);
    expect(one.state.m).toEqual(m);
    expect(() => serverStep(s, f32(1, 2), f32(1, 2), one.state)).toThrow(/state has 1 values/);
  });
});
