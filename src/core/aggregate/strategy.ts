import { z } from 'zod';
import type { DpMode } from '../protocol/messages.js';
import { createAccumulator } from './fedavg.js';
import { coordinateMedian, multiKrum, trimmedMean } from './robust.js';
import { serverStep, type OptimizerState, type ServerOptimizerName, type ServerOptimizerSettings } from './server-optimizer.js';

/**
 * The server's aggregation policy, in the shape of Flower's Strategy: configure a round (a fresh
 * accumulator), accept each client result into it, finish with the new global weights. A strategy
 * is an aggregation rule (the weighted mean, or a robust rule) followed by a server optimizer; its
 * only state is the optimizer's (OptimizerState), passed in and returned, never held.
 *
 * DP and secure aggregation are not part of a strategy: they wrap the linear ones, whose round
 * aggregate is a weighted sum (noise is added to it, it is divided by the fixed denominator, it can
 * be computed under masks). Robust rules need every update in the clear and are refused with either
 * (strategyConflicts).
 */
export const STRATEGY_NAMES = ['fedavg', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad', 'median', 'trimmed-mean', 'krum'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

const RULES = {
  fedavg: { rule: 'mean', optimizer: 'sgd' },
  fedavgm: { rule: 'mean', optimizer: 'momentum' },
  fedadam: { rule: 'mean', optimizer: 'adam' },
  fedyogi: { rule: 'mean', optimizer: 'yogi' },
  fedadagrad: { rule: 'mean', optimizer: 'adagrad' },
  median: { rule: 'median', optimizer: 'sgd' },
  'trimmed-mean': { rule: 'trimmed-mean', optimizer: 'sgd' },
  krum: { rule: 'krum', optimizer: 'sgd' },
} as const satisfies Record<StrategyName, { rule: string; optimizer: ServerOptimizerName }>;

/**
 * The default server learning rate η: 1 for plain steps (FedAvg's) and with server momentum (as in
 * Flower's FedAvgM); 0.03 for the adaptive optimizers, whose step is about η per coordinate
 * (Reddi et al. 2021 tune η per task on a log grid). Measured with `covey sim`
 * (MNIST MLP, 5 clients, Dirichlet(0.1), seed 3, round 4 accuracy): FedAvg 0.849; FedAvgM η = 1:
 * 0.897, η = 0.1: 0.431; FedAdam η = 0.03: 0.910, 0.01: 0.647, 0.003: 0.510; FedYogi η = 0.03: 0.910, 0.01: 0.648.
 */
const DEFAULT_SERVER_LR: Record<ServerOptimizerName, number> = { sgd: 1, momentum: 1, adam: 0.03, yogi: 0.03, adagrad: 0.03 };

/** The `strategy` block of the server config. */
export const StrategySettingsSchema = z
  .object({
    name: z.enum(STRATEGY_NAMES).default('fedavg'),
    /** η; default by optimizer (DEFAULT_SERVER_LR). */
    serverLr: z.number().finite().positive().optional(),
    serverMomentum: z.number().min(0).lt(1).default(0.9),
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.99),
    tau: z.number().finite().positive().default(1e-3),
    /** Trimmed mean: the fraction β trimmed from each end of every coordinate. */
    trimBeta: z.number().min(0).lt(0.5).default(0.1),
    /** Krum: f, the number of Byzantine members tolerated (needs at least 2f + 3 updates a round). */
    byzantine: z.number().int().min(0).default(0),
    /** Multi-Krum: m, how many of the best-scored updates are averaged (1: Krum). */
    krumSelect: z.number().int().min(1).default(1),
  })
  .strict()
  .transform((s) => ({ ...s, serverLr: s.serverLr ?? DEFAULT_SERVER_LR[RULES[s.name].optimizer] }));
export type StrategySettings = z.output<typeof StrategySettingsSchema>;
export type StrategySettingsInput = z.input<typeof StrategySettingsSchema>;

/** A round's aggregate before DP noise and the server step. */
export type RoundAggregate =
  /** Linear rules: the weighted sum, to be noised (central DP) and divided by the round's denominator. */
  | { kind: 'sum'; sum: Float64Array | Float32Array; totalWeight: number }
  /**
   * Robust rules: the aggregate update itself. ‖update‖ ≤ normFactor × the longest input: √n for a
   * coordinate-wise rule (each coordinate lies between the inputs', so ‖a‖² ≤ Σ_j max_i u_ij² ≤ Σ_i ‖u_i‖²),
   * 1 for (Multi-)Krum (a mean of inputs).
   */
  | { kind: 'robust'; update: Float32Array; totalWeight: number; normFactor: number };

/** Accepts each client result of one round. */
export interface ResultAccumulator {
  add(update: Float32Array, weight: number): void;
  readonly contributions: number;
  readonly totalWeight: number;
  finish(): RoundAggregate;
}

export interface Strategy {
  readonly settings: StrategySettings;
  /** True when the round aggregate is a weighted sum (DP noise and secure aggregation can wrap it). */
  readonly linear: boolean;
  readonly optimizer: ServerOptimizerName;
  /** Configure a round: an empty accumulator for updates of `length` values. */
  configureRound(length: number): ResultAccumulator;
  /** Finish a round: the server optimizer's step from `global` by the round's aggregate update. */
  finish(global: Float32Array, update: Float32Array, state: OptimizerState): { next: Float32Array; state: OptimizerState };
}

export function createStrategy(settings: StrategySettings): Strategy {
  const { rule, optimizer } = RULES[settings.name];
  const optimizerSettings: ServerOptimizerSettings = { optimizer, ...settings };
  return {
    settings,
    linear: rule === 'mean',
    optimizer,
    configureRound: (length) => (rule === 'mean' ? sumAccumulator(length) : robustAccumulator(length, settings)),
    finish: (global, update, state) => serverStep(optimizerSettings, global, update, state),
  };
}

function sumAccumulator(length: number): ResultAccumulator {
  const accumulator = createAccumulator(length);
  return {
    add: (update, weight) => accumulator.add(update, weight),
    get contributions() {
      return accumulator.contributions;
    },
    get totalWeight() {
      return accumulator.totalWeight;
    },
    finish: () => ({ kind: 'sum', sum: accumulator.sum, totalWeight: accumulator.totalWeight }),
  };
}

/** Holds every update of the round (robust rules cannot stream), in order of arrival. */
function robustAccumulator(length: number, settings: StrategySettings): ResultAccumulator {
  const updates: Float32Array[] = [];
  let totalWeight = 0;
  return {
    add(update, weight) {
      if (update.length !== length) throw new RangeError(`update has ${update.length} values, expected ${length}`);
      if (!(weight > 0) || !Number.isFinite(weight)) throw new RangeError(`aggregation weight must be positive, got ${weight}`);
      updates.push(Float32Array.from(update));
      totalWeight += weight;
    },
    get contributions() {
      return updates.length;
    },
    get totalWeight() {
      return totalWeight;
    },
    finish() {
      const n = updates.length;
      if (settings.name === 'krum') return { kind: 'robust', update: multiKrum(updates, settings.byzantine, settings.krumSelect), totalWeight, normFactor: 1 };
      const update = settings.name === 'median' ? coordinateMedian(updates) : trimmedMean(updates, settings.trimBeta);
      return { kind: 'robust', update, totalWeight, normFactor: Math.sqrt(n) };
    },
  };
}

/** What a strategy needs to know of the rest of the federation's settings to say whether it can work. */
export interface StrategyContext {
  dpMode: DpMode;
  secureAggregation: boolean;
  /** The fewest updates a round may aggregate (DP off). */
  minClients: number;
}

/** Why these settings cannot work together, one message per problem (empty: they can). */
export function strategyConflicts(settings: StrategySettings, context: StrategyContext): { field: string; message: string }[] {
  const problems: { field: string; message: string }[] = [];
  if (RULES[settings.name].rule === 'mean') return problems;
  if (context.secureAggregation) {
    problems.push({
      field: 'name',
      message: `${settings.name} needs every update in the clear, but secure aggregation shows the server only their sum: use a linear strategy (fedavg, fedavgm, fedadam, fedyogi, fedadagrad)`,
    });
  }
  if (context.dpMode !== 'off') {
    problems.push({
      field: 'name',
      message: `${settings.name} with DP ${context.dpMode}: the DP accounting covers the noised sum of updates clipped to C (sensitivity C), not a median, trimmed mean or Krum selection, whose sensitivity it does not bound`,
    });
  }
  if (settings.name === 'krum' && context.minClients < 2 * settings.byzantine + 3) {
    problems.push({
      field: 'byzantine',
      message: `Krum tolerating f = ${settings.byzantine} needs at least 2f + 3 = ${2 * settings.byzantine + 3} updates a round (Blanchard et al. 2017): raise cohort.minClients to that`,
    });
  }
  return problems;
}
