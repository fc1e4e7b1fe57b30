import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../src/core/data/errors.js';
import { writeIdxDataset } from '../../src/core/data/idx.js';
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

  it('loads the embedded digits for "mnist"', async () => {
    const d = await loadDataPath('mnist');
    expect(describeDataset(d)).toEqual(describeDataset(mnist));
  });

  it('loads a client partition written as IDX files, preferring train over t10k', async () => {
    const folder = join(dir, 'client-0');
    const train = subset(mnist, [0, 1500, 3000, 9999]);
    const test = subset(mnist, [42, 43]);
    await writeIdxDataset(folder, 't10k', test);
    expect((await loadDataPath(folder)).count).toBe(2); // only t10k present: fall back to it
    await writeIdxDataset(folder, 'train', train);
    const loaded = await loadDataPath(folder);
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
    expect(describeDataset(await loadDataPath(path))).toEqual({ count: 2, numClasses: 2, classCounts: [1, 1], inputShape: [3] });
    expect(describeDataset(await loadDataPath(path, { labelColumn: 'kind' })).classCounts).toEqual([1, 0, 1]);
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
