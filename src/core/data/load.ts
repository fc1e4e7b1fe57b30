/** The one entry point for a user's `--data <path>`, and a summary of what was loaded. */
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { loadCsvDataset } from './csv.js';
import type { Dataset } from './dataset.js';
import { DataError, describeFsError } from './errors.js';
import { loadFashionMnist } from './fashion.js';
import { listIdxSplits, loadIdxDataset } from './idx.js';
import { loadEmbeddedMnist } from './mnist.js';

/** The label column a CSV file is read with when none is given. */
export const DEFAULT_LABEL_COLUMN = 'label';

/**
 * Loads `path`: the literal `mnist` (the embedded 10,000 digits) or `fashion-mnist` (Debian's
 * training split) — write `./mnist` for a folder of that name — a folder of IDX files (its `train`
 * split, or `t10k` when that is the only one), or a `.csv` file (label column `opts.labelColumn`,
 * default "label").
 */
export async function loadDataPath(path: string, opts: { labelColumn?: string } = {}): Promise<Dataset> {
  if (path === 'mnist') return loadEmbeddedMnist();
  if (path === 'fashion-mnist') return loadFashionMnist('train');
  let isFolder: boolean;
  try {
    isFolder = (await stat(path)).isDirectory();
  } catch (error) {
    throw new DataError(path, `cannot open: ${describeFsError(error)}`, { cause: error });
  }
  if (isFolder) {
    const [split] = await listIdxSplits(path);
    if (split === undefined) {
      throw new DataError(
        path,
        'no IDX images file in this folder: expected train-images-idx3-ubyte[.gz] or t10k-images-idx3-ubyte[.gz] with its labels file',
      );
    }
    return loadIdxDataset(path, split);
  }
  if (extname(path).toLowerCase() === '.csv') {
    return loadCsvDataset(path, { labelColumn: opts.labelColumn ?? DEFAULT_LABEL_COLUMN });
  }
  throw new DataError(
    path,
    "unsupported data file: give a folder of IDX files, a .csv file, 'mnist' or 'fashion-mnist'",
  );
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
