import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { describeDataset } from '../../src/core/data/load.js';
import { loadEmbeddedMnist, splitTrainTest } from '../../src/core/data/mnist.js';

function digest(a: ArrayBufferView): string {
  return createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');
}

const mnist = loadEmbeddedMnist();

describe('loadEmbeddedMnist', () => {
  it('holds 10,000 28x28 digits over 10 classes of 800..1300 each', () => {
    expect(mnist.count).toBe(10_000);
    expect(mnist.inputShape).toEqual([28, 28, 1]);
    expect(mnist.features.length).toBe(10_000 * 784);
    expect(mnist.labels.length).toBe(10_000);
    const { numClasses, classCounts } = describeDataset(mnist);
    expect(numClasses).toBe(10);
    for (const count of classCounts) {
      expect(count).toBeGreaterThanOrEqual(800);
      expect(count).toBeLessThanOrEqual(1300);
    }
  });

  it('has pixel values k/255 in [0, 1], with real ink in every image', () => {
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < mnist.features.length; i++) {
      min = Math.min(min, mnist.features[i]);
      max = Math.max(max, mnist.features[i]);
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
    for (let i = 0; i < mnist.features.length; i += 997) {
      const k = Math.round(mnist.features[i] * 255);
      expect(mnist.features[i]).toBe(Math.fround(k / 255));
    }
    for (let n = 0; n < mnist.count; n += 250) {
      const ink = mnist.features.subarray(n * 784, (n + 1) * 784).reduce((a, b) => a + b, 0);
      expect(ink).toBeGreaterThan(20); // a digit, not a blank or padded image
    }
  });

  it('loads the same data in the same order every time', () => {
    const again = loadEmbeddedMnist();
    expect(digest(again.features)).toBe(digest(mnist.features));
    expect(digest(again.labels)).toBe(digest(mnist.labels));
  });
});

describe('splitTrainTest', () => {
  it('splits disjointly, stratified by class, reproducibly per seed', () => {
    const { train, test } = splitTrainTest(mnist, 0.2, 1);
    expect(train.count + test.count).toBe(10_000);
    expect(test.count).toBeGreaterThan(1990);
    expect(test.count).toBeLessThan(2010);
    const all = describeDataset(mnist).classCounts;
    describeDataset(test).classCounts.forEach((c, label) => expect(c).toBe(Math.round(all[label] * 0.2)));

    const again = splitTrainTest(mnist, 0.2, 1);
    expect(digest(again.test.features)).toBe(digest(test.features));
    expect(digest(splitTrainTest(mnist, 0.2, 2).test.features)).not.toBe(digest(test.features));

    // Disjoint and complete: the multiset of image digests is unchanged.
    const key = (d: typeof mnist, i: number) => digest(d.features.subarray(i * 784, (i + 1) * 784));
    const before = new Map<string, number>();
    for (let i = 0; i < mnist.count; i++) before.set(key(mnist, i), (before.get(key(mnist, i)) ?? 0) + 1);
    for (const part of [train, test]) {
      for (let i = 0; i < part.count; i++) before.set(key(part, i), before.get(key(part, i))! - 1);
    }
    expect([...before.values()].every((c) => c === 0)).toBe(true);
  });

  it('is not grouped by class after the split', () => {
    const { test } = splitTrainTest(mnist, 0.1, 9);
    expect(new Set(test.labels.subarray(0, 50)).size).toBeGreaterThan(5);
  });

  it('rejects fractions outside (0, 1)', () => {
    expect(() => splitTrainTest(mnist, 0, 1)).toThrow(/strictly between 0 and 1/);
    expect(() => splitTrainTest(mnist, 1, 1)).toThrow(/strictly between 0 and 1/);
  });
});
