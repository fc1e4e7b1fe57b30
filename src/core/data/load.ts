/** The one entry point for a user's `--data <path>`, and a summary of what was loaded. */
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { loadCsvDataset } from './csv.js';
import type { Dataset } from './dataset.js';
import { DataError, describeFsError } from './errors.js';
import { listIdxSplits, loadIdxDataset } from './idx.js';

/** The label column a CSV file is read with when none is given. */
export const DEFAULT_LABEL_COLUMN = 'label';

/** How a dataset was stored: the embedded MNIST digits, IDX files, or a CSV table. */
export type DataFormat = 'embedded-mnist' | 'idx' | 'csv';

/** A dataset and the format it was read from. */
export interface LoadedData {
  dataset: Dataset;
  format: DataFormat;
}

/**
 * Loads the file or folder at `path` (always a path: dataset names such as `mnist` are the
 * catalog's, see catalog.ts): a folder of IDX files (its `train` split, or `t10k` when that is
 * the only one), or a `.csv` file (label column `opts.labelColumn`, default "label").
 */
export async function loadDataPath(path: string, opts: { labelColumn?: string } = {}): Promise<LoadedData> {
  let isFolder: boolean;
  try {
    isFolder = (await stat(path)).isDirectory();
  } catch (error) {
    throw new DataError(path, `cannot open: ${describeFsError(error)}`, { cause: error });
  }
  if (isFolder) {
    const [split] = await listIdxSplits(path);
    if (split === undefined) {
      throw new DataError(path, 'no IDX images file in this folder: expected train-images-idx3-ubyte[.gz] or t10k-images-idx3-ubyte[.gz] with its labels file');
    }
    return { dataset: await loadIdxDataset(path, split), format: 'idx' };
  }
  if (extname(path).toLowerCase() === '.csv') {
    return { dataset: await loadCsvDataset(path, { labelColumn: opts.labelColumn ?? DEFAULT_LABEL_COLUMN }), format: 'csv' };
  }
  throw new DataError(path, "unsupported data file: give a folder of IDX files, a .csv file, 'mnist' or 'fashion-mnist'");
}

/** Example count, class count, examples per class and example shape. */
export function describeDataset(d: Dataset): {
  count: number;
  numClasses: number;
  classCounts: number[];
  inputShape: number[];
} {
  const classCounts = new Array<number>(d.numClasses).fill(0);
  for (const label of d.labels) classCounts[label]++;
  return { count: d.count, numClasses: d.numClasses, classCounts, inputShape: [...d.inputShape] };
}
