/**
 * Streaming federated averaging (McMahan et al. 2017): updates are added one at a time into a
 * float64 running sum, so server memory is O(model size) whatever the cohort size.
 */
export interface Accumulator {
  /** Adds one client's update with its aggregation weight. */
  add(update: Float32Array, weight: number): void;
  readonly contributions: number;
  /** The weighted sum so far (float64). */
  readonly sum: Float64Array;
  readonly totalWeight: number;
}

export function createAccumulator(length: number): Accumulator {
  const sum = new Float64Array(length);
  let contributions = 0;
  let totalWeight = 0;
  return {
    add(update, weight) {
      if (update.length !== length) throw new RangeError(`update has ${update.length} values, expected ${length}`);
      if (!(weight > 0) || !Number.isFinite(weight)) throw new RangeError(`aggregation weight must be positive, got ${weight}`);
      for (let i = 0; i < length; i++) sum[i] += weight * update[i];
      contributions += 1;
      totalWeight += weight;
    },
    get contributions() {
      return contributions;
    },
    get sum() {
      return sum;
    },
    get totalWeight() {
      return totalWeight;
    },
  };
}

/**
 * Mean update: sum / denominator. Without DP the denominator is the total example count (FedAvg);
 * with DP it is fixed in advance (expected cohort size), as DP-FedAvg requires (McMahan et al. 2018,
 * Alg. 1): weighting by example counts would change the sensitivity.
 */
export function meanUpdate(sum: Float64Array | Float32Array, denominator: number): Float32Array {
  if (!(denominator > 0)) throw new RangeError(`denominator must be positive, got ${denominator}`);
  const out = new Float32Array(sum.length);
  for (let i = 0; i < sum.length; i++) out[i] = sum[i] / denominator;
  return out;
}
