import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/data/rng.js';
import { decodeUpdateFrame, encodeFrame, encodeInt8Frame, FrameError, frameBytes, int8FrameBytes } from '../../src/core/protocol/frame.js';
import { dequantizeInt8, INT8_BLOCK, quantizeInt8 } from '../../src/core/protocol/int8.js';

function gaussianish(rng: Rng, n: number, scale: number): Float32Array {
  // Sum of uniforms: bell-shaped, with a few larger values per block.
  return Float32Array.from({ length: n }, () => scale * (rng.nextFloat() + rng.nextFloat() + rng.nextFloat() - 1.5));
}

describe('8-bit stochastic quantization', () => {
  it('is unbiased: the mean of many draws converges to the values', () => {
    const rng = new Rng(11);
    const values = gaussianish(rng, 2 * INT8_BLOCK + 37, 0.01); // two full blocks and a short one
    const draws = 4000;
    const sum = new Float64Array(values.length);
    let step = 0;
    for (let d = 0; d < draws; d++) {
      const q = quantizeInt8(values, () => rng.nextFloat());
      step = Math.max(step, ...q.scale);
      dequantizeInt8(q).forEach((v, i) => (sum[i] += v));
    }
    // Each draw errs by less than one step, with variance at most step²/4: 5 standard errors of the mean.
    const tolerance = (5 * step) / 2 / Math.sqrt(draws);
    let worst = 0;
    let meanError = 0;
    values.forEach((v, i) => {
      worst = Math.max(worst, Math.abs(sum[i] / draws - v));
      meanError += (sum[i] / draws - v) / values.length;
    });
    expect(worst).toBeLessThan(tolerance);
    expect(Math.abs(meanError)).toBeLessThan(tolerance / 10);
    // With u fixed at 1/2 (round to nearest) the error is the same in every draw: biased.
    const nearest = dequantizeInt8(quantizeInt8(values, () => 0.5));
    const nearestWorst = Math.max(...values.map((v, i) => Math.abs(nearest[i] - v)));
    expect(nearestWorst).toBeGreaterThan(4 * tolerance);
  });

  it('keeps every value within one step of its block, with the block ends exact', () => {
    const rng = new Rng(3);
    const values = gaussianish(rng, 1000, 2);
    values[5] = 0; // constant blocks and zeros are fine too
    const q = quantizeInt8(values, () => rng.nextFloat());
    const decoded = dequantizeInt8(q);
    values.forEach((v, i) => expect(Math.abs(decoded[i] - v)).toBeLessThanOrEqual(q.scale[Math.floor(i / INT8_BLOCK)] * 1.0001));
    const constant = quantizeInt8(new Float32Array(10).fill(0.25), () => rng.nextFloat());
    expect(Array.from(dequantizeInt8(constant))).toEqual(new Array(10).fill(0.25));
    expect(() => quantizeInt8(Float32Array.from([1, Number.NaN]), () => 0)).toThrow(/non-finite/);
  });
});

describe('int8 update frames', () => {
  it('round-trip through decodeUpdateFrame at about a quarter of the float32 size', () => {
    const rng = new Rng(5);
    const values = gaussianish(rng, 100_000, 0.1);
    const q = quantizeInt8(values, () => rng.nextFloat());
    const frame = encodeInt8Frame(7, 123, q);
    expect(frame.byteLength).toBe(int8FrameBytes(values.length));
    expect(frameBytes(values.length) / frame.byteLength).toBeGreaterThan(3.8);
    const decoded = decodeUpdateFrame(frame, { length: values.length, round: 7 });
    expect(decoded).toMatchObject({ kind: 'update', round: 7, numExamples: 123 });
    expect(decoded.values).toEqual(dequantizeInt8(q));
    // float32 frames still decode (a member may send either).
    const plain = decodeUpdateFrame(encodeFrame({ kind: 'update', round: 7, numExamples: 1, values }), { length: values.length });
    expect(plain.values).toEqual(values);
  });

  it('refuses a wrong length, a wrong round and a non-finite block range', () => {
    const q = quantizeInt8(Float32Array.from([0.1, -0.2, 0.3]), () => 0.5);
    const frame = encodeInt8Frame(2, 1, q);
    expect(() => decodeUpdateFrame(frame, { length: 4 })).toThrow(FrameError);
    expect(() => decodeUpdateFrame(frame, { length: 3, round: 3 })).toThrow(/round/);
    expect(() => decodeUpdateFrame(frame.subarray(0, frame.byteLength - 1), { length: 3 })).toThrow(/bytes/);
    const tampered = frame.slice();
    new DataView(tampered.buffer).setFloat32(20, Number.NaN, true);
    expect(() => decodeUpdateFrame(tampered, { length: 3 })).toThrow(/non-finite/);
  });
});
