import { describe, expect, it } from 'vitest';
import { decodeOptimizerState, encodeOptimizerState, OptimizerStateError } from '../../src/core/aggregate/optimizer-state.js';
import { INITIAL_OPTIMIZER_STATE, type OptimizerState } from '../../src/core/aggregate/server-optimizer.js';
import {
  createStrategy,
  STRATEGY_NAMES,
  StrategySettingsSchema,
  strategyConflicts,
  type RoundAggregate,
  type Strategy,
} from '../../src/core/aggregate/strategy.js';
import { Rng } from '../../src/core/data/rng.js';

/** One contract, run over every strategy (as DISCO runs one suite over its aggregators). */
const LENGTH = 33;

function updates(seed: number, count: number): Float32Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => Float32Array.from({ length: LENGTH }, () => 0.1 * rng.normal()));
}

/** The round's aggregate update as the server computes it with DP off (sum / total weight, or the robust output). */
function aggregateOf(aggregate: RoundAggregate): Float32Array {
  return aggregate.kind === 'sum' ? Float32Array.from(aggregate.sum, (s) => s / aggregate.totalWeight) : aggregate.update;
}

function runRound(strategy: Strategy, global: Float32Array, state: OptimizerState, round: Float32Array[]) {
  const accumulator = strategy.configureRound(LENGTH);
  round.forEach((u, i) => accumulator.add(u, 1 + i));
  return strategy.finish(global, aggregateOf(accumulator.finish()), state);
}

describe.each(STRATEGY_NAMES)('strategy %s: the contract every strategy keeps', (name) => {
  const strategy = createStrategy(StrategySettingsSchema.parse({ name, byzantine: 1 }));
  const global = Float32Array.from({ length: LENGTH }, (_, i) => Math.sin(i));

  it('configures a round whose accumulator counts contributions and refuses bad input', () => {
    const accumulator = strategy.configureRound(LENGTH);
    expect(accumulator.contributions).toBe(0);
    for (const u of updates(1, 5)) accumulator.add(u, 2);
    expect(accumulator.contributions).toBe(5);
    expect(accumulator.totalWeight).toBe(10);
    expect(() => accumulator.add(new Float32Array(LENGTH + 1), 1)).toThrow(/values/);
    expect(() => accumulator.add(new Float32Array(LENGTH), 0)).toThrow(/weight/);
    expect(accumulator.finish().kind).toBe(strategy.linear ? 'sum' : 'robust');
  });

  it('aggregates identical updates to that update', () => {
    const u = updates(2, 1)[0];
    const accumulator = strategy.configureRound(LENGTH);
    for (let i = 0; i < 5; i++) accumulator.add(u, 1 + i);
    const aggregate = aggregateOf(accumulator.finish());
    for (let j = 0; j < LENGTH; j++) expect(aggregate[j]).toBeCloseTo(u[j], 6);
  });

  it('moves the global in the direction of a common update, coordinate by coordinate', () => {
    const u = updates(3, 1)[0];
    const { next } = runRound(strategy, global, INITIAL_OPTIMIZER_STATE, [u, u, u, u, u]);
    for (let j = 0; j < LENGTH; j++) expect(Math.sign(next[j] - global[j])).toBe(Math.sign(u[j]));
  });

  it('is deterministic, finite, leaves its inputs alone, and does not depend on the arrival order of equal-weight updates', () => {
    const round = updates(4, 5);
    const copies = round.map((u) => Float32Array.from(u));
    const globalCopy = Float32Array.from(global);
    const a = runRound(strategy, global, INITIAL_OPTIMIZER_STATE, round);
    const b = runRound(strategy, global, INITIAL_OPTIMIZER_STATE, round);
    expect(a.next).toEqual(b.next);
    expect(a.next.every(Number.isFinite)).toBe(true);
    expect(round).toEqual(copies);
    expect(global).toEqual(globalCopy);
    const accumulate = (order: Float32Array[]) => {
      const acc = strategy.configureRound(LENGTH);
      order.forEach((u) => acc.add(u, 1));
      return aggregateOf(acc.finish());
    };
    const forward = accumulate(round);
    const backward = accumulate([...round].reverse());
    for (let j = 0; j < LENGTH; j++) expect(backward[j]).toBeCloseTo(forward[j], 6);
  });

  it('checkpoints its state: a run restored from the encoded state after round 2 equals the uninterrupted run bit for bit', () => {
    const rounds = [updates(5, 5), updates(6, 5), updates(7, 5)];
    let x: Float32Array = global;
    let state = INITIAL_OPTIMIZER_STATE;
    const trail: { x: Float32Array; state: OptimizerState }[] = [];
    for (const round of rounds) {
      ({ next: x, state } = runRound(strategy, x, state, round));
      trail.push({ x, state });
    }
    const saved = encodeOptimizerState(strategy.optimizer, LENGTH, trail[1].state);
    const restored = decodeOptimizerState(saved, strategy.optimizer, LENGTH);
    expect(restored).toEqual(trail[1].state);
    const resumed = runRound(strategy, trail[1].x, restored, rounds[2]);
    expect(resumed.next).toEqual(trail[2].x);
    expect(decodeOptimizerState(encodeOptimizerState(strategy.optimizer, LENGTH, INITIAL_OPTIMIZER_STATE), strategy.optimizer, LENGTH)).toEqual(
      INITIAL_OPTIMIZER_STATE,
    );
  });

  it('says whether it can run with secure aggregation and DP', () => {
    const secure = strategyConflicts(strategy.settings, { dpMode: 'off', secureAggregation: true, minClients: 5 });
    const central = strategyConflicts(strategy.settings, { dpMode: 'central', secureAggregation: false, minClients: 5 });
    expect(secure.length === 0).toBe(strategy.linear);
    expect(central.length === 0).toBe(strategy.linear);
    expect(strategyConflicts(strategy.settings, { dpMode: 'off', secureAggregation: false, minClients: 5 })).toEqual([]);
  });
});

describe('strategy settings', () => {
  it('default to FedAvg with η = 1, and give each optimizer its own default η', () => {
    expect(StrategySettingsSchema.parse({})).toMatchObject({ name: 'fedavg', serverLr: 1 });
    expect(StrategySettingsSchema.parse({ name: 'fedadam' }).serverLr).toBe(0.03);
    expect(StrategySettingsSchema.parse({ name: 'fedavgm' }).serverLr).toBe(1);
    expect(StrategySettingsSchema.parse({ name: 'fedadam', serverLr: 0.3 }).serverLr).toBe(0.3);
    expect(StrategySettingsSchema.safeParse({ name: 'bulyan' }).success).toBe(false);
    expect(StrategySettingsSchema.safeParse({ trimBeta: 0.5 }).success).toBe(false);
  });

  it('explain why a robust rule cannot run with secure aggregation or DP, and Krum below 2f + 3 updates', () => {
    const median = StrategySettingsSchema.parse({ name: 'median' });
    expect(strategyConflicts(median, { dpMode: 'off', secureAggregation: true, minClients: 3 })[0].message).toMatch(/only their sum/);
    expect(strategyConflicts(median, { dpMode: 'local', secureAggregation: false, minClients: 3 })[0].message).toMatch(/sensitivity/);
    const krum = StrategySettingsSchema.parse({ name: 'krum', byzantine: 2 });
    expect(strategyConflicts(krum, { dpMode: 'off', secureAggregation: false, minClients: 6 })[0]).toMatchObject({ field: 'byzantine' });
    expect(strategyConflicts(krum, { dpMode: 'off', secureAggregation: false, minClients: 7 })).toEqual([]);
  });

  it('a stored state of another optimizer, model size or shape is refused with a reason', () => {
    const state = { steps: 1, m: new Float32Array(3), v: new Float32Array(3).fill(1) };
    const bytes = encodeOptimizerState('adam', 3, state);
    expect(() => decodeOptimizerState(bytes, 'yogi', 3)).toThrow(/belongs to 'adam'/);
    expect(() => decodeOptimizerState(bytes, 'adam', 4)).toThrow(OptimizerStateError);
    expect(() => decodeOptimizerState(bytes.subarray(0, bytes.length - 4), 'adam', 3)).toThrow(/bytes/);
    expect(() => encodeOptimizerState('adam', 3, { steps: 1, m: new Float32Array(3), v: null })).toThrow(/needs moment v/);
  });
});
