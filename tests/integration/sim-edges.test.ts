import { afterAll, describe, expect, it } from 'vitest';
import { runSimulation, type SimulationOptions } from '../../src/cli/simulation.js';
import { skipWithoutRedis } from '../helpers/redis.js';

/**
 * `covey sim --edges K`: a local redis-server, the aggregator as coordinator, K edges. The same seed gives
 * the same federation whether the clients connect to one server or through one or two edges.
 */
const SETUP: SimulationOptions = {
  clients: 4,
  rounds: 2,
  dataset: 'mnist',
  model: 'mlp',
  partition: 'iid',
  dp: 'off',
  noiseMultiplier: 1,
  clipNorm: 1,
  samplingRate: 1,
  delta: 1e-5,
  epochs: 1,
  batchSize: 16,
  learningRate: 0.05,
  roundTimeoutSeconds: 120,
  seed: 7,
};

interface Run {
  accuracies: (number | null)[];
  participants: number[];
  weights: Float32Array;
  edges: number;
}

async function simulate(options: SimulationOptions): Promise<Run> {
  const accuracies: (number | null)[] = [];
  const participants: number[] = [];
  let weights: Float32Array | null = null;
  const summary = await runSimulation(options, {
    onRound: (r) => {
      accuracies.push(r.accuracy);
      participants.push(r.participants);
    },
    onFinished: (w) => (weights = Float32Array.from(w)),
  });
  expect(summary.rounds).toBe(options.rounds);
  return { accuracies, participants, weights: weights!, edges: summary.edges };
}

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

const figures: string[] = [];
afterAll(() => console.log(figures.join('\n')));

describe.skipIf(skipWithoutRedis)('a federation through edges is the federation on one server', () => {
  it('plain rounds: the same per-round accuracy and global weights within 1e-6 with 0, 1 and 2 edges', { timeout: 600_000 }, async () => {
    const single = await simulate(SETUP);
    expect(single.edges).toBe(0);
    for (const edges of [1, 2]) {
      const through = await simulate({ ...SETUP, edges });
      expect(through.edges).toBe(edges);
      expect(through.participants).toEqual(single.participants);
      expect(through.accuracies).toEqual(single.accuracies);
      const difference = maxAbsDifference(through.weights, single.weights);
      figures.push(`plain, ${edges} edge(s): accuracies ${through.accuracies.join(', ')}; max |Δw| ${difference.toExponential(2)}`);
      expect(difference).toBeLessThanOrEqual(1e-6);
    }
  });

  it('secure aggregation with a member lost after the shares stage: the same rounds with 2 edges', { timeout: 600_000 }, async () => {
    // Five members, threshold 4: each round one member vanishes after sending its shares and is unmasked by the others.
    const options: SimulationOptions = { ...SETUP, model: 'logreg', clients: 5, secureAggregation: { dropAfter: { stage: 'share-keys', count: 1 } } };
    const single = await simulate(options);
    const through = await simulate({ ...options, edges: 2 });
    expect(single.participants).toEqual([4, 4]);
    expect(through.participants).toEqual(single.participants);
    expect(through.accuracies).toEqual(single.accuracies);
    const difference = maxAbsDifference(through.weights, single.weights);
    figures.push(`secure aggregation, 2 edges: accuracies ${through.accuracies.join(', ')}; max |Δw| ${difference.toExponential(2)}`);
    expect(difference).toBeLessThanOrEqual(1e-6);
  });

  it('central DP: the noise on the released model has std z·C/n̄ with 2 edges (within 5%)', { timeout: 600_000 }, async () => {
    const options: SimulationOptions = { ...SETUP, model: 'logreg', rounds: 1, dp: 'central', noiseMultiplier: 1, clipNorm: 1 };
    const single = await simulate(options);
    const through = await simulate({ ...options, edges: 2 });
    // Same seed, same clipped updates: the two releases differ only by their two independent N(0, (zC/n̄)²) draws.
    let squares = 0;
    for (let i = 0; i < single.weights.length; i++) squares += (through.weights[i] - single.weights[i]) ** 2;
    const std = Math.sqrt(squares / single.weights.length) / Math.SQRT2;
    const expected = (options.noiseMultiplier * options.clipNorm) / (options.clients * options.samplingRate);
    figures.push(`central DP, 2 edges: noise std ${std.toFixed(5)} (z·C/n̄ = ${expected}) over ${single.weights.length} weights`);
    // 7,850 weights: the std estimate's relative standard error is 1/√(2·7850) ≈ 0.8%.
    expect(Math.abs(std / expected - 1)).toBeLessThan(0.05);
  });
});
