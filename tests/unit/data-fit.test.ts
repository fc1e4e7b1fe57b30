import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeColumns, loadCsvDataset } from '../../src/core/data/csv.js';
import type { Dataset } from '../../src/core/data/dataset.js';
import { fitToInputShape } from '../../src/core/data/fit.js';
import { writeMnistCsv } from '../helpers/mnist-csv.js';
import { mnistDigits } from '../helpers/mnist-digits.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covey-fit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function flat(values: number[], width: number): Dataset {
  const count = values.length / width;
  return { features: Float32Array.from(values), labels: new Uint8Array(count), count, inputShape: [width], numClasses: 1 };
}

describe('describeColumns', () => {
  it('names the first few columns and gives the count', () => {
    const columns = ['label', ...Array.from({ length: 784 }, (_, i) => `p${i}`)];
    expect(describeColumns(columns)).toBe('"label", "p0", "p1", "p2", "p3", "p4", … (785 columns)');
    expect(describeColumns(['a', 'b'])).toBe('"a", "b" (2 columns)');
  });
});

describe('fitToInputShape', () => {
  it('gives flat rows of the input size the model shape, and scales 8-bit pixels to [0, 1]', () => {
    const fitted = fitToInputShape(flat([0, 255, 51, 0, 0, 102, 1, 3], 4), [2, 2, 1]);
    expect(fitted).not.toBeNull();
    expect(fitted!.reshaped).toBe(true);
    expect(fitted!.rescaled).toBe(true);
    expect(fitted!.dataset.inputShape).toEqual([2, 2, 1]);
    expect(Array.from(fitted!.dataset.features)).toEqual([0, 1, 0.2, 0, 0, 0.4, 1 / 255, 3 / 255].map(Math.fround));
  });

  it('keeps grey values already in [0, 1], and a flat model input as it is', () => {
    const greys = flat([0, 0.5, 1, 0.25], 4);
    const image = fitToInputShape(greys, [2, 2]);
    expect(image!.rescaled).toBe(false);
    expect(image!.dataset.features).toBe(greys.features);
    const table = flat([0, 200, 3, 4], 4);
    const same = fitToInputShape(table, [4]);
    expect(same).toEqual({ dataset: table, reshaped: false, rescaled: false });
    // Reshaped to another flat shape never counts as an image.
    expect(fitToInputShape(flat([0, 200, 3, 4], 2), [2])!.rescaled).toBe(false);
  });

  it('refuses examples of another size, and an already shaped dataset of another shape', () => {
    expect(fitToInputShape(flat([1, 2, 3], 3), [2, 2, 1])).toBeNull();
    const digits = mnistDigits(0, 1);
    expect(fitToInputShape(digits, [784, 1])).toBeNull();
  });

  it('reads a 785-column MNIST CSV (label + 784 pixels 0..255) as the same [28, 28, 1] digits', async () => {
    const digits = mnistDigits(0, 20);
    const path = join(dir, 'mnist.csv');
    await writeMnistCsv(path, digits);
    const table = await loadCsvDataset(path, { labelColumn: 'label' });
    expect(table.inputShape).toEqual([784]);
    const fitted = fitToInputShape(table, [28, 28, 1])!;
    expect(fitted).toMatchObject({ reshaped: true, rescaled: true });
    expect(fitted.dataset.inputShape).toEqual([28, 28, 1]);
    expect(Array.from(fitted.dataset.labels)).toEqual(Array.from(digits.labels));
    let worst = 0;
    for (let i = 0; i < digits.features.length; i++) worst = Math.max(worst, Math.abs(fitted.dataset.features[i] - digits.features[i]));
    expect(worst).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
    // A wrong label column lists a few columns and the count, not all 785.
    const error = await loadCsvDataset(path, { labelColumn: 'digit' }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/no label column "digit" in the header; the columns are: "label", "1x1", "1x2", "1x3", "1x4", "1x5", … \(785 columns\)$/);
  });
});
