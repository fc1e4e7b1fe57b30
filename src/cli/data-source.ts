import type { Dataset } from '../core/data/dataset.js';
import { loadDataPath, loadEmbeddedMnist, loadFashionMnist, loadIdxDataset, splitTrainTest } from '../core/data/index.js';

/** The embedded digits are split once, with a fixed seed, into 8,000 for training and 2,000 held out. */
const EMBEDDED_SPLIT_SEED = 20170217;
const EMBEDDED_TEST_FRACTION = 0.2;

export interface TrainTest {
  train: Dataset;
  test: Dataset;
}

/** `mnist` (embedded), `fashion-mnist` (Debian package) or a folder of IDX files with train and t10k splits. */
export async function loadSimulationData(name: string): Promise<TrainTest> {
  if (name === 'mnist') return splitTrainTest(loadEmbeddedMnist(), EMBEDDED_TEST_FRACTION, EMBEDDED_SPLIT_SEED);
  if (name === 'fashion-mnist') return { train: await loadFashionMnist('train'), test: await loadFashionMnist('t10k') };
  return { train: await loadIdxDataset(name, 'train'), test: await loadIdxDataset(name, 't10k') };
}

/** Held-out data for the server: `mnist` means the embedded held-out 2,000 digits. */
export async function loadEvaluationData(spec: { data: string; labelColumn?: string }): Promise<Dataset> {
  if (spec.data === 'mnist') return (await loadSimulationData('mnist')).test;
  if (spec.data === 'fashion-mnist') return loadFashionMnist('t10k');
  return loadDataPath(spec.data, { labelColumn: spec.labelColumn });
}

/** Training data for `covey join --data`: `mnist` means the embedded 8,000 training digits. */
export async function loadParticipantData(path: string, labelColumn?: string): Promise<Dataset> {
  if (path === 'mnist') return (await loadSimulationData('mnist')).train;
  return loadDataPath(path, { labelColumn });
}
