import { subset, type Dataset } from './dataset.js';
import { Rng } from './rng.js';

/** Fixed: a member's held-out examples are the same every round (and after a restart), so none is ever trained on. */
const HOLDOUT_SEED = 0x686f6c64;

/** How many of `count` local examples federated evaluation holds out at `fraction`: ⌊count × fraction⌋. */
export function holdoutSize(count: number, fraction: number): number {
  return Math.floor(count * fraction);
}

/**
 * Splits a member's local data for federated evaluation: `holdoutSize(count, fraction)` examples
 * drawn by a fixed-seed permutation (never trained on), the rest, in their own order, to train on.
 */
export function holdoutSplit(dataset: Dataset, fraction: number): { train: Dataset; holdout: Dataset } {
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`holdoutSplit: fraction must be in [0, 1), got ${fraction}`);
  const order = new Rng(HOLDOUT_SEED).shuffle(Array.from({ length: dataset.count }, (_, i) => i));
  const held = order.slice(0, holdoutSize(dataset.count, fraction));
  const isHeld = new Uint8Array(dataset.count);
  for (const i of held) isHeld[i] = 1;
  const train = Array.from({ length: dataset.count }, (_, i) => i).filter((i) => !isHeld[i]);
  return { train: subset(dataset, train), holdout: subset(dataset, held) };
}
