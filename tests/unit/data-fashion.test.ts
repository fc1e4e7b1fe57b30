import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../src/core/data/errors.js';
import { FASHION_MNIST_DIR, loadFashionMnist } from '../../src/core/data/fashion.js';
import { describeDataset } from '../../src/core/data/load.js';

describe('loadFashionMnist', () => {
  it('names the Debian package when the folder is missing', async () => {
    const missing = join(tmpdir(), 'covey-no-fashion-mnist');
    const error = await loadFashionMnist('train', missing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as DataError).path).toBe(missing);
    expect((error as DataError).message).toMatch(/apt-get install dataset-fashion-mnist/);
  });

  it('reports a present but empty folder with the file names it expected', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'covey-fashion-'));
    try {
      const error = await loadFashionMnist('t10k', empty).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DataError);
      expect((error as DataError).message).toMatch(/no t10k images file: expected one of t10k-images-idx3-ubyte/);
    } finally {
      await rm(empty, { recursive: true });
    }
  });

  // Where Debian's dataset-fashion-mnist is installed, load the real thing; elsewhere the default
  // folder must fail with the install hint.
  it(`loads the real 60,000 + 10,000 images from ${FASHION_MNIST_DIR}, or explains how to install them`, async () => {
    if (!existsSync(FASHION_MNIST_DIR)) {
      await expect(loadFashionMnist('train')).rejects.toThrow(/dataset-fashion-mnist/);
      return;
    }
    const train = await loadFashionMnist('train');
    expect(train.count).toBe(60_000);
    expect(train.inputShape).toEqual([28, 28, 1]);
    expect(describeDataset(train).classCounts).toEqual(new Array(10).fill(6000));
    let max = 0;
    for (let i = 0; i < train.features.length; i++) max = Math.max(max, train.features[i]);
    expect(max).toBe(1);
    const test = await loadFashionMnist('t10k');
    expect(test.count).toBe(10_000);
    expect(describeDataset(test).classCounts).toEqual(new Array(10).fill(1000));
  });
});
