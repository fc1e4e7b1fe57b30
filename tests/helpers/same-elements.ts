import { expect } from 'vitest';

type NumberArray = Uint8Array | Uint32Array | Int32Array | Float32Array | Float64Array;

/**
 * Asserts that two typed arrays of the same type hold the same elements, bit for bit. Equivalent
 * to `expect(actual).toEqual(expected)` for integer arrays, but takes milliseconds where vitest's
 * deep equality takes about 15 s per million elements. A mismatch names the first differing index.
 */
export function expectSameElements(actual: NumberArray, expected: NumberArray): void {
  expect(actual.constructor).toBe(expected.constructor);
  expect(actual.length).toBe(expected.length);
  const bytes = (a: NumberArray) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  if (Buffer.compare(bytes(actual), bytes(expected)) === 0) return;
  const index = actual.findIndex((value: number, i: number) => !Object.is(value, expected[i]));
  expect({ index, value: actual[index] }).toEqual({ index, value: expected[index] });
}
