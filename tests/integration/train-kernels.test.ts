import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/core/train/index.js';

/**
 * The wasm kernels Covey replaces for training (src/core/train/wasm-kernels.ts) against tfjs's own
 * kernels on the cpu backend: matrix products with every combination of transposes (the replacement
 * reorders them into plain products), and the max-pool gradient (including ties, where the first
 * largest input of a window takes the gradient).
 */

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(b.length).toBe(a.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

async function onBoth<T extends tf.Tensor>(f: () => T): Promise<[Float32Array, Float32Array]> {
  await selectBackend('cpu');
  const cpu = tf.tidy(() => f().dataSync() as Float32Array);
  await selectBackend('wasm');
  const wasm = tf.tidy(() => f().dataSync() as Float32Array);
  return [cpu, wasm];
}

describe('wasm matrix products', () => {
  const shapes: [number, number, number][] = [
    [32, 3136, 512], // the CNN's dense layer: x·W, dy·Wᵀ and xᵀ·dy
    [7, 5, 3],
    [1, 9, 4],
  ];
  for (const [m, k, n] of shapes) {
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      it(`[${m}×${k}]·[${k}×${n}], transposeA ${ta}, transposeB ${tb}, matches the cpu backend`, async () => {
        const [cpu, wasm] = await onBoth(() => {
          const a = tf.randomNormal(ta ? [k, m] : [m, k], 0, 1, 'float32', 1);
          const b = tf.randomNormal(tb ? [n, k] : [k, n], 0, 1, 'float32', 2);
          // The same right operand twice: the second product takes XNNPACK's cached path (as inference does).
          return tf.concat([tf.matMul(a, b, ta, tb).flatten(), tf.matMul(a, b, ta, tb).flatten()]);
        });
        expect(maxAbsDiff(cpu, wasm)).toBeLessThan(1e-3 * Math.sqrt(k));
      });
    }
  }

  it('keeps batched and fused products right', async () => {
    const [cpu, wasm] = await onBoth(() => {
      const a = tf.randomNormal([3, 4, 5], 0, 1, 'float32', 3);
      const b = tf.randomNormal([3, 6, 5], 0, 1, 'float32', 4);
      const bias = tf.randomNormal([6], 0, 1, 'float32', 5);
      return tf.concat([
        tf.matMul(a, b, false, true).flatten(),
        tf.fused.matMul({ a: a.slice([0], [1]), b: b.slice([0], [1]), transposeB: true, bias, activation: 'relu' }).flatten(),
      ]);
    });
    expect(maxAbsDiff(cpu, wasm)).toBeLessThan(1e-4);
  });
});

describe('wasm max-pool gradient', () => {
  const cases: { x: [number, number, number, number]; size: number | [number, number]; strides: number | [number, number]; pad: 'valid' | 'same' }[] = [
    { x: [2, 28, 28, 3], size: 2, strides: 2, pad: 'valid' }, // the CNN's pools (fast path)
    { x: [2, 7, 9, 2], size: 2, strides: 2, pad: 'valid' }, // odd sizes: the last row/column is dropped
    { x: [1, 9, 8, 2], size: 3, strides: 2, pad: 'same' }, // overlapping windows, padding
    { x: [2, 6, 6, 1], size: [2, 3], strides: [1, 2], pad: 'valid' },
  ];
  for (const c of cases) {
    it(`pool ${JSON.stringify(c.size)} stride ${JSON.stringify(c.strides)} ${c.pad} on ${JSON.stringify(c.x)}, with ties`, async () => {
      const [cpu, wasm] = await onBoth(() => {
        // Rounded values: many windows hold equal maxima, as ReLU outputs over blank image regions do.
        const x = tf.round(tf.mul(tf.randomUniform(c.x, 0, 1, 'float32', 7), 3));
        const dy = tf.randomNormal(tf.maxPool(x as tf.Tensor4D, c.size, c.strides, c.pad).shape, 0, 1, 'float32', 8);
        return tf.grad((input: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(input as tf.Tensor4D, c.size, c.strides, c.pad), dy)))(x);
      });
      expect(maxAbsDiff(cpu, wasm)).toBeLessThan(1e-6);
    });
  }
});
