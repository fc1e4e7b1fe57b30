import { describe, expect, it } from 'vitest';
import { createAccumulator, meanUpdate } from '../../src/core/aggregate/fedavg.js';
import { INITIAL_OPTIMIZER_STATE, serverStep, type ServerOptimizerSettings } from '../../src/core/aggregate/server-optimizer.js';
import { Rng } from '../../src/core/data/rng.js';

function randomUpdate(rng: Rng, length: number, scale = 1): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = scale * rng.normal();
  return out;
}

describe('FedAvg accumulator', () => {
  it('gives the example-weighted mean, matching an independent float64 computation', () => {
    const rng = new Rng(2024);
    const length = 257;
    const clients = 13;
    const updates = Array.from({ length: clients }, () => randomUpdate(rng, length, 0.3));
    const weights = Array.from({ length: clients }, () => 1 + rng.nextInt(5000));

    const acc = createAccumulator(length);
    updates.forEach((u, k) => acc.add(u, weights[k]));
    const mean = meanUpdate(acc.sum, acc.totalWeight);

    // Reference: Σ_k w_k u_k / Σ_k w_k in plain float64, computed column by column.
    const W = weights.reduce((a, b) => a + b, 0);
    expect(acc.totalWeight).toBe(W);
    expect(acc.contributions).toBe(clients);
    expect(mean).toBeInstanceOf(Float32Array);
    expect(mean.length).toBe(length);
    let maxErr = 0;
    for (let j = 0; j < length; j++) {
      let s = 0;
      for (let k = 0; k < clients; k++) s += weights[k] * updates[k][j];
      maxErr = Math.max(maxErr, Math.abs(mean[j] - s / W));
    }
    expect(maxErr).toBeLessThan(1e-6);
  });

  it('weights clients by their weight, not equally', () => {
    const acc = createAccumulator(2);
    acc.add(new Float32Array([1, 10]), 3);
    acc.add(new Float32Array([5, -2]), 1);
    expect(Array.from(acc.sum)).toEqual([8, 28]);
    expect(Array.from(meanUpdate(acc.sum, acc.totalWeight))).toEqual([2, 7]);
  });

  it('with equal weights and a fixed denominator (DP-FedAvg) divides by the denominator, not the count', () => {
    const rng = new Rng(7);
    const length = 50;
    const expectedCohort = 10;
    const arrived = 7;
    const acc = createAccumulator(length);
    const updates = Array.from({ length: arrived }, () => randomUpdate(rng, length));
    for (const u of updates) acc.add(u, 1);
    expect(acc.contributions).toBe(arrived);
    expect(acc.totalWeight).toBe(arrived);

    const mean = meanUpdate(acc.sum, expectedCohort);
    for (let j = 0; j < length; j++) {
      let s = 0;
      for (const u of updates) s += u[j];
      expect(mean[j]).toBeCloseTo(s / expectedCohort, 6);
      if (Math.abs(s) > 1e-3) expect(Math.abs(mean[j] - s / arrived)).toBeGreaterThan(1e-5);
    }
  });

  it('meanUpdate rejects a non-positive or NaN denominator', () => {
    const sum = new Float64Array([1, 2]);
    for (const d of [0, -1, NaN]) expect(() => meanUpdate(sum, d)).toThrow(RangeError);
  });

  it('add() rejects the wrong length and leaves the sum untouched', () => {
    const acc = createAccumulator(4);
    expect(() => acc.add(new Float32Array(3), 1)).toThrow(RangeError);
    expect(() => acc.add(new Float32Array(5), 1)).toThrow(/5 values, expected 4/);
    expect(() => acc.add(new Float32Array(0), 1)).toThrow(RangeError);
    expect(acc.contributions).toBe(0);
    expect(acc.totalWeight).toBe(0);
    expect(Array.from(acc.sum)).toEqual([0, 0, 0, 0]);
  });

  it('add() rejects zero, negative, NaN and infinite weights and leaves the sum untouched', () => {
    const acc = createAccumulator(3);
    acc.add(new Float32Array([1, 2, 3]), 2);
    for (const w of [0, -0, -1, -1e-9, NaN, Infinity, -Infinity]) {
      expect(() => acc.add(new Float32Array([9, 9, 9]), w), String(w)).toThrow(RangeError);
    }
    expect(acc.contributions).toBe(1);
    expect(acc.totalWeight).toBe(2);
    expect(Array.from(acc.sum)).toEqual([2, 4, 6]);
    acc.add(new Float32Array([1, 1, 1]), 0.5);
    expect(Array.from(acc.sum)).toEqual([2.5, 4.5, 6.5]);
  });

  it('streams: after 100 adds the sum is still one model-sized float64 vector and no update is retained', () => {
    const length = 1000;
    const acc = createAccumulator(length);
    const sumRef = acc.sum;
    expect(sumRef).toBeInstanceOf(Float64Array);
    const rng = new Rng(99);
    const expected = new Float64Array(length);
    for (let c = 0; c < 100; c++) {
      const u = randomUpdate(rng, length);
      acc.add(u, 2);
      for (let j = 0; j < length; j++) expected[j] += 2 * u[j];
      // Reusing the client's buffer afterwards must not change the aggregate.
      u.fill(1e6);
    }
    expect(acc.contributions).toBe(100);
    expect(acc.totalWeight).toBe(200);
    expect(acc.sum).toBe(sumRef);
    expect(acc.sum.length).toBe(length);
    expect(acc.sum.byteLength).toBe(8 * length);
    let maxErr = 0;
    for (let j = 0; j < length; j++) maxErr = Math.max(maxErr, Math.abs(acc.sum[j] - expected[j]));
    expect(maxErr).toBeLessThan(1e-9);
  });
});

/** FedAvg's server step: the 'sgd' server optimizer, x + ηΔ. */
function applyUpdate(global: Float32Array, mean: Float32Array, serverLr = 1): Float32Array {
  const sgd: ServerOptimizerSettings = { optimizer: 'sgd', serverLr, serverMomentum: 0, beta1: 0, beta2: 0, tau: 1 };
  return serverStep(sgd, global, mean, INITIAL_OPTIMIZER_STATE).next;
}

describe("FedAvg's server step (sgd)", () => {
  it('adds the mean update to the global model, scaled by the server learning rate', () => {
    const global = new Float32Array([1, -2, 0.5, 0]);
    const mean = new Float32Array([0.5, 0.5, -1, 4]);
    expect(Array.from(applyUpdate(global, mean))).toEqual([1.5, -1.5, -0.5, 4]);
    expect(Array.from(applyUpdate(global, mean, 0.5))).toEqual([1.25, -1.75, 0, 2]);
    expect(Array.from(applyUpdate(global, mean, 0))).toEqual([1, -2, 0.5, 0]);
    expect(Array.from(applyUpdate(global, mean, 2))).toEqual([2, -1, -1.5, 8]);
    // Inputs are not modified.
    expect(Array.from(global)).toEqual([1, -2, 0.5, 0]);
    expect(Array.from(mean)).toEqual([0.5, 0.5, -1, 4]);
  });

  it('rejects a mean of another length', () => {
    expect(() => applyUpdate(new Float32Array(3), new Float32Array(4))).toThrow(RangeError);
  });

  it('one FedAvg round end to end: global + lr · weighted mean', () => {
    const global = new Float32Array([0.1, 0.2, 0.3]);
    const acc = createAccumulator(3);
    acc.add(new Float32Array([0.3, 0, -0.3]), 100);
    acc.add(new Float32Array([-0.1, 0.4, 0.1]), 300);
    const next = applyUpdate(global, meanUpdate(acc.sum, acc.totalWeight), 0.8);
    const ref = [0.1 + 0.8 * ((100 * 0.3 + 300 * -0.1) / 400), 0.2 + 0.8 * ((300 * 0.4) / 400), 0.3 + 0.8 * ((100 * -0.3 + 300 * 0.1) / 400)];
    for (let j = 0; j < 3; j++) expect(next[j]).toBeCloseTo(ref[j], 6);
  });
});
