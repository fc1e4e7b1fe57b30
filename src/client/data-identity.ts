import { createHash } from 'node:crypto';
import type { Dataset } from '../core/data/dataset.js';

/**
 * "The same data", for the participant-wide privacy cap: SHA-256 over the examples themselves
 * (shape, labels, feature bytes), so the same examples loaded from another path, or in another
 * federation, count against one cap; a changed example is different data.
 */
export function dataDigest(data: Dataset): string {
  const hash = createHash('sha256');
  hash.update(`covey/data/v1:${data.inputShape.join('x')}:${data.count}:`);
  hash.update(data.labels);
  hash.update(new Uint8Array(data.features.buffer, data.features.byteOffset, data.features.byteLength));
  return hash.digest('hex');
}
