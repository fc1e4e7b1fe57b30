import { writeFile } from 'node:fs/promises';
import type { Dataset } from '../../src/core/data/dataset.js';

/**
 * Writes digits as the common MNIST CSV: a header `label,1x1,1x2,…,28x28`, then one row per
 * example with its label and 784 pixel values as integers 0..255 (785 columns).
 */
export async function writeMnistCsv(path: string, digits: Dataset): Promise<void> {
  const size = 28 * 28;
  const header = ['label', ...Array.from({ length: size }, (_, i) => `${Math.floor(i / 28) + 1}x${(i % 28) + 1}`)].join(',');
  const lines = [header];
  for (let i = 0; i < digits.count; i++) {
    const pixels = Array.from(digits.features.subarray(i * size, (i + 1) * size), (v) => Math.round(v * 255));
    lines.push(`${digits.labels[i]},${pixels.join(',')}`);
  }
  await writeFile(path, lines.join('\n') + '\n');
}
