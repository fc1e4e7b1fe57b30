import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/core/data/dataset.js';
import { DataError } from '../../src/core/data/errors.js';
import { writeIdxDataset } from '../../src/core/data/idx.js';
import { isBuiltInDataset, loadEvaluationData, loadTrainingData, loadTrainTest } from '../../src/core/data/catalog.js';
import { describeDataset, loadDataPath } from '../../src/core/data/load.js';
import { loadEmbeddedMnist } from '../../src/core/data/mnist.js';
import { subset } from '../../src/core/data/partition.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covey-load-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function loadError(path: string): Promise<DataError> {
  const error = await loadDataPath(path).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DataError);
  return error as DataError;
}

describe('loadDataPath', () => {
  const mnist = loadEmbeddedMnist();

  it('reads "mnist" as a path, never as the catalog name', async () => {
    expect((await loadError('mnist')).message).toMatch(/cannot open/);
  });

  it('loads a client partition written as IDX files, preferring train over t10k', async () => {
    const folder = join(dir, 'client-0');
    const train = subset(mnist, [0, 1500, 3000, 9999]);
    const test = subset(mnist, [42, 43]);
    await writeIdxDataset(folder, 't10k', test);
    expect((await loadDataPath(folder)).dataset.count).toBe(2); // only t10k present: fall back to it
    await writeIdxDataset(folder, 'train', train);
    const { dataset: loaded, format } = await loadDataPath(folder);
    expect(format).toBe('idx');
    expect(loaded).toEqual(train);
    expect(describeDataset(loaded)).toEqual({
      count: 4,
      numClasses: 10,
      classCounts: describeDataset(train).classCounts,
      inputShape: [28, 28, 1],
    });
  });

  it('loads a .csv file with the default or a named label column', async () => {
    const path = join(dir, 'table.CSV');
    await writeFile(path, 'x,y,label,kind\n0.5,1,1,0\n-3,2,0,2\n');
    const loaded = await loadDataPath(path);
    expect(loaded.format).toBe('csv');
    expect(describeDataset(loaded.dataset)).toEqual({ count: 2, numClasses: 2, classCounts: [1, 1], inputShape: [3] });
    expect(describeDataset((await loadDataPath(path, { labelColumn: 'kind' })).dataset).classCounts).toEqual([1, 0, 1]);
  });

  it('explains missing paths, folders without IDX files and unsupported files', async () => {
    expect((await loadError(join(dir, 'absent'))).message).toMatch(/cannot open: no such file or folder/);
    const empty = join(dir, 'empty');
    await mkdir(empty);
    expect((await loadError(empty)).message).toMatch(/no IDX images file in this folder/);
    const other = join(dir, 'notes.txt');
    await writeFile(other, 'hello');
    const error = await loadError(other);
    expect(error.path).toBe(other);
    expect(error.message).toMatch(/unsupported data file/);
  });
});

describe('the data catalog', () => {
  const mnist = loadEmbeddedMnist();
  const digest = (bytes: Float32Array | Uint8Array) => createHash('sha256').update(bytes).digest('hex');
  const key = (d: Dataset, i: number) => digest(d.features.subarray(i * 784, (i + 1) * 784));
  const same = (a: Dataset, b: Dataset) => [digest(a.features), digest(a.labels)].join() === [digest(b.features), digest(b.labels)].join();

  it('gives "mnist" one meaning: 8,000 training digits, 2,000 held out, disjoint, together the 10,000', async () => {
    const training = await loadTrainingData('mnist');
    const held = await loadEvaluationData('mnist');
    expect([training.format, held.format]).toEqual(['embedded-mnist', 'embedded-mnist']);
    expect([training.dataset.count, held.dataset.count]).toEqual([8000, 2000]);
    const { train, test } = await loadTrainTest('mnist');
    expect(same(training.dataset, train) && same(held.dataset, test)).toBe(true);
    const trainKeys = new Set(Array.from({ length: train.count }, (_, i) => key(train, i)));
    const all = new Set(Array.from({ length: mnist.count }, (_, i) => key(mnist, i)));
    const leaked = Array.from({ length: test.count }, (_, i) => key(test, i)).filter((k) => trainKeys.has(k));
    // The package holds a few byte-identical digits; only those may appear on both sides.
    expect(leaked.length).toBeLessThanOrEqual(mnist.count - all.size);
    const perClass = describeDataset(train).classCounts.map((n, c) => n + describeDataset(test).classCounts[c]);
    expect(perClass).toEqual(describeDataset(mnist).classCounts);
  });

  it('reads any other source as a path', async () => {
    expect(isBuiltInDataset('mnist') && isBuiltInDataset('fashion-mnist') && !isBuiltInDataset('./mnist')).toBe(true);
    const path = join(dir, 'eval.csv');
    await writeFile(path, 'x,label\n1,0\n2,1\n');
    expect((await loadTrainingData(path)).dataset.count).toBe(2);
    expect((await loadEvaluationData(path)).format).toBe('csv');
  });
});
