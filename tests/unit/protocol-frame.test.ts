import { describe, expect, it } from 'vitest';
import {
  FRAME_HEADER_BYTES,
  FRAME_VERSION,
  FrameError,
  decodeFrame,
  decodeMaskedFrame,
  encodeFrame,
  encodeMaskedFrame,
  frameBytes,
  type FrameErrorCode,
  type FrameKind,
} from '../../src/core/protocol/frame.js';

/** Float32 values built from exact bit patterns, so the test does not depend on decimal parsing. */
function fromBits(bits: number[]): Float32Array {
  return new Float32Array(new Uint32Array(bits).buffer);
}

function bitsOf(values: Float32Array): number[] {
  return Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
}

const EDGE_BITS = [
  0x00000000, // +0
  0x80000000, // -0
  0x00000001, // smallest positive subnormal
  0x80000001, // smallest negative subnormal
  0x007fffff, // largest subnormal
  0x00800000, // smallest normal
  0x7f7fffff, // largest finite (3.4028235e38)
  0xff7fffff, // most negative finite
  0x3f800000, // 1
  0xbf800000, // -1
  0x3eaaaaab, // 1/3 rounded
];

function expectFrameError(fn: () => unknown, code: FrameErrorCode, message?: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(FrameError);
  const fe = caught as FrameError;
  expect(fe.name).toBe('FrameError');
  expect(fe.code).toBe(code);
  if (message) expect(fe.message).toMatch(message);
}

function sample(kind: FrameKind, n = 6, round = 3): { bytes: Uint8Array; values: Float32Array } {
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = (i - n / 2) * 0.25;
  return { bytes: encodeFrame({ kind, round, numExamples: 17, values }), values };
}

function patchValueBits(bytes: Uint8Array, index: number, bits: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(FRAME_HEADER_BYTES + 4 * index, bits, true);
  return copy;
}

describe('frame round trip', () => {
  for (const kind of ['update', 'global'] as const) {
    it(`preserves ${kind} frames bit-exactly, including -0, subnormals and the float32 extremes`, () => {
      const values = fromBits(EDGE_BITS);
      // Also the ±3.4e38 the brief names, as decimals rounded to float32.
      const withDecimals = new Float32Array([...values, 3.4e38, -3.4e38]);
      const bytes = encodeFrame({ kind, round: 42, numExamples: 1234, values: withDecimals });
      const decoded = decodeFrame(bytes, { kind, length: withDecimals.length, round: 42 });
      expect(decoded.kind).toBe(kind);
      expect(decoded.round).toBe(42);
      expect(decoded.numExamples).toBe(1234);
      expect(bitsOf(decoded.values)).toEqual(bitsOf(withDecimals));
      expect(Object.is(decoded.values[1], -0)).toBe(true);
      expect(Object.is(decoded.values[0], 0)).toBe(true);
      expect(decoded.values[2]).toBe(2 ** -149);
      expect(decoded.values[decoded.values.length - 2]).toBe(Math.fround(3.4e38));
      expect(decoded.values[decoded.values.length - 1]).toBe(-Math.fround(3.4e38));
    });
  }

  it('has size 20 + 4·n and writes the documented header layout', () => {
    for (const n of [0, 1, 7, 1000]) {
      const bytes = encodeFrame({ kind: 'update', round: 1, numExamples: 0, values: new Float32Array(n) });
      expect(bytes.byteLength).toBe(20 + 4 * n);
      expect(frameBytes(n)).toBe(20 + 4 * n);
    }
    expect(FRAME_HEADER_BYTES).toBe(20);

    const bytes = encodeFrame({ kind: 'global', round: 0x01020304, numExamples: 9, values: new Float32Array([1.5]) });
    const view = new DataView(bytes.buffer);
    expect(String.fromCharCode(...bytes.subarray(0, 4))).toBe('CVYG');
    expect(view.getUint8(4)).toBe(FRAME_VERSION);
    expect(Array.from(bytes.subarray(5, 8))).toEqual([0, 0, 0]);
    expect(view.getUint32(8, true)).toBe(0x01020304);
    expect(view.getUint32(12, true)).toBe(9);
    expect(view.getUint32(16, true)).toBe(1);
    expect(view.getFloat32(20, true)).toBe(1.5);
    const update = encodeFrame({ kind: 'update', round: 1, numExamples: 0, values: new Float32Array(0) });
    expect(String.fromCharCode(...update.subarray(0, 4))).toBe('CVYU');
  });

  it('round-trips an empty frame and the largest u32 round and example count', () => {
    const bytes = encodeFrame({ kind: 'update', round: 2 ** 32 - 1, numExamples: 2 ** 32 - 1, values: new Float32Array(0) });
    const decoded = decodeFrame(bytes, { kind: 'update', length: 0 });
    expect(decoded.values.length).toBe(0);
    expect(decoded.round).toBe(2 ** 32 - 1);
    expect(decoded.numExamples).toBe(2 ** 32 - 1);
  });

  it('accepts any round when the receiver does not pin one', () => {
    const { bytes, values } = sample('global', 4, 99);
    const decoded = decodeFrame(bytes, { kind: 'global', length: 4 });
    expect(decoded.round).toBe(99);
    expect(Array.from(decoded.values)).toEqual(Array.from(values));
  });
});

describe('frame decoding rejects bad input', () => {
  it('rejects a frame shorter than the header', () => {
    for (const n of [0, 1, 19]) {
      expectFrameError(() => decodeFrame(new Uint8Array(n), { kind: 'update', length: 0 }), 'malformed', /too short/);
    }
  });

  it('rejects the wrong magic: a global frame is not an update, and vice versa', () => {
    const global = sample('global').bytes;
    expectFrameError(() => decodeFrame(global, { kind: 'update', length: 6 }), 'malformed', /not a update frame/);
    const update = sample('update').bytes;
    expectFrameError(() => decodeFrame(update, { kind: 'global', length: 6 }), 'malformed', /not a global frame/);
    const junk = update.slice();
    junk[0] ^= 0xff;
    expectFrameError(() => decodeFrame(junk, { kind: 'update', length: 6 }), 'malformed');
  });

  it('rejects an unsupported version byte', () => {
    for (const version of [0, 2, 255]) {
      const bytes = sample('update').bytes.slice();
      bytes[4] = version;
      expectFrameError(() => decodeFrame(bytes, { kind: 'update', length: 6 }), 'malformed', new RegExp(`version ${version}`));
    }
  });

  it("rejects a length that differs from the model's with 'wrong-shape'", () => {
    const { bytes } = sample('update', 6);
    expectFrameError(() => decodeFrame(bytes, { kind: 'update', length: 5 }), 'wrong-shape', /6 values, model has 5/);
    expectFrameError(() => decodeFrame(bytes, { kind: 'update', length: 7 }), 'wrong-shape');
  });

  it('rejects trailing and missing bytes', () => {
    const { bytes } = sample('update', 6);
    const longer = new Uint8Array(bytes.byteLength + 4);
    longer.set(bytes);
    expectFrameError(() => decodeFrame(longer, { kind: 'update', length: 6 }), 'wrong-shape', /bytes/);
    const oneExtra = new Uint8Array(bytes.byteLength + 1);
    oneExtra.set(bytes);
    expectFrameError(() => decodeFrame(oneExtra, { kind: 'update', length: 6 }), 'wrong-shape');
    expectFrameError(() => decodeFrame(bytes.subarray(0, bytes.byteLength - 1), { kind: 'update', length: 6 }), 'wrong-shape');
    expectFrameError(() => decodeFrame(bytes.subarray(0, bytes.byteLength - 4), { kind: 'update', length: 6 }), 'wrong-shape');
    // Header only, no values at all.
    expectFrameError(() => decodeFrame(bytes.subarray(0, FRAME_HEADER_BYTES), { kind: 'update', length: 6 }), 'wrong-shape');
  });

  it("rejects a frame for another round with 'wrong-round'", () => {
    const { bytes } = sample('update', 6, 3);
    expectFrameError(() => decodeFrame(bytes, { kind: 'update', length: 6, round: 4 }), 'wrong-round', /round 3, expected round 4/);
    expectFrameError(() => decodeFrame(bytes, { kind: 'update', length: 6, round: 0 }), 'wrong-round');
    expect(decodeFrame(bytes, { kind: 'update', length: 6, round: 3 }).round).toBe(3);
  });

  it("rejects NaN, +Inf and -Inf anywhere with 'non-finite'", () => {
    const bad = {
      NaN: 0x7fc00000,
      'negative NaN': 0xffc00000,
      'signalling NaN': 0x7f800001,
      '+Inf': 0x7f800000,
      '-Inf': 0xff800000,
    };
    const { bytes } = sample('update', 6);
    for (const [name, bits] of Object.entries(bad)) {
      for (const index of [0, 3, 5]) {
        const patched = patchValueBits(bytes, index, bits);
        expectFrameError(() => decodeFrame(patched, { kind: 'update', length: 6 }), 'non-finite', new RegExp(`at index ${index}$`));
        void name;
      }
    }
    // The same frame unpatched is fine, so it is the value that is rejected.
    expect(decodeFrame(bytes, { kind: 'update', length: 6 }).values.length).toBe(6);
  });
});

describe('frame decoding from a slice of a larger buffer', () => {
  it('decodes a frame at an odd byteOffset and copies the values out', () => {
    const values = fromBits(EDGE_BITS);
    const frame = encodeFrame({ kind: 'update', round: 8, numExamples: 5, values });
    for (const offset of [1, 3, 7]) {
      const big = new Uint8Array(offset + frame.byteLength + 5).fill(0xee);
      big.set(frame, offset);
      const slice = big.subarray(offset, offset + frame.byteLength);
      expect(slice.byteOffset % 4).not.toBe(0);
      const decoded = decodeFrame(slice, { kind: 'update', length: values.length, round: 8 });
      expect(bitsOf(decoded.values)).toEqual(bitsOf(values));
      expect(decoded.numExamples).toBe(5);
      expect(decoded.values.byteOffset).toBe(0);
      expect(decoded.values.buffer).not.toBe(big.buffer);
      // A copy: reusing the socket buffer afterwards must not change what was decoded.
      big.fill(0);
      expect(bitsOf(decoded.values)).toEqual(bitsOf(values));
    }
  });

  it('checks magic and lengths relative to the slice, not the underlying buffer', () => {
    const frame = sample('global', 3).bytes;
    const big = new Uint8Array(frame.byteLength + 10);
    big.set(frame, 5);
    // The slice is one byte too long; the whole buffer must not be mistaken for it either way.
    expectFrameError(() => decodeFrame(big.subarray(5, 5 + frame.byteLength + 1), { kind: 'global', length: 3 }), 'wrong-shape');
    expectFrameError(() => decodeFrame(big.subarray(4, 4 + frame.byteLength), { kind: 'global', length: 3 }), 'malformed');
    expect(decodeFrame(big.subarray(5, 5 + frame.byteLength), { kind: 'global', length: 3 }).values.length).toBe(3);
  });
});

describe('encodeFrame refuses header values that would not survive uint32', () => {
  it('throws RangeError for a negative, fractional or too large round or example count', () => {
    const values = new Float32Array(2);
    expect(() => encodeFrame({ kind: 'update', round: -1, numExamples: 1, values })).toThrow(RangeError);
    expect(() => encodeFrame({ kind: 'update', round: 2 ** 32 + 5, numExamples: 1, values })).toThrow(RangeError);
    expect(() => encodeFrame({ kind: 'update', round: 1, numExamples: 2.7, values })).toThrow(RangeError);
  });
});

describe('masked frames (secure aggregation)', () => {
  it('carry every uint32 bit pattern, including ones that would be NaN or Infinity as float32', () => {
    const values = Uint32Array.of(0, 1, 0x7fc00000, 0x7f800000, 0xffffffff, 0x80000000, 123456789);
    const bytes = encodeMaskedFrame(9, values);
    expect(bytes.byteLength).toBe(frameBytes(values.length));
    expect(Array.from(decodeMaskedFrame(bytes, { length: values.length, round: 9 }))).toEqual(Array.from(values));
  });

  it('is never mistaken for an update frame, nor an update frame for a masked one', () => {
    const masked = encodeMaskedFrame(1, new Uint32Array(4));
    const update = encodeFrame({ kind: 'update', round: 1, numExamples: 3, values: new Float32Array(4) });
    expect(() => decodeFrame(masked, { kind: 'update', length: 4 })).toThrow(/not a update frame/);
    expect(() => decodeMaskedFrame(update, { length: 4, round: 1 })).toThrow(/not a masked frame/);
  });

  it('rejects a wrong length, a wrong round and a truncated body', () => {
    const bytes = encodeMaskedFrame(2, new Uint32Array(8));
    expect(() => decodeMaskedFrame(bytes, { length: 9, round: 2 })).toThrow(FrameError);
    expect(() => decodeMaskedFrame(bytes, { length: 8, round: 3 })).toThrow(/round 2, expected round 3/);
    expect(() => decodeMaskedFrame(bytes.subarray(0, bytes.length - 4), { length: 8, round: 2 })).toThrow(/bytes, header says/);
  });
});
