import { describe, expect, it } from 'vitest';
import { median } from '../../src/core/stats.js';

describe('median', () => {
  it('is the middle value, or the mean of the middle two, of unsorted input it leaves alone', () => {
    const values = [9, 1, 5];
    expect(median(values)).toBe(5);
    expect(values).toEqual([9, 1, 5]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(median([10, 2, 1])).toBe(2); // numeric order, not string order
  });

  it('refuses an empty list', () => {
    expect(() => median([])).toThrow(RangeError);
  });
});
