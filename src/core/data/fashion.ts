/** Fashion-MNIST (Xiao et al. 2017) as installed by Debian's `dataset-fashion-mnist` package. */
import { stat } from 'node:fs/promises';
import type { Dataset } from './dataset.js';
import { DataError } from './errors.js';
import { type IdxSplit, loadIdxDataset } from './idx.js';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Loads the 60,000-image `train` or 10,000-image `t10k` split from `dir` (default: Debian's folder). */
export async function loadFashionMnist(split: IdxSplit, dir: string = FASHION_MNIST_DIR): Promise<Dataset> {
  const isFolder = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isFolder) {
    throw new DataError(
      dir,
      'Fashion-MNIST is not installed here; install the Debian package dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist)',
    );
  }
  return loadIdxDataset(dir, split);
}
