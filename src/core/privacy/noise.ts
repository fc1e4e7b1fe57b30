import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { RandomStream } from './csprng.js';
import type { DpMode } from '../protocol/messages.js';

function checkStd(std: number): void {
  if (!Number.isFinite(std) || std < 0) throw new RangeError(`noise std must be finite and >= 0, got ${std}`);
}

/** Bytes of randomness per pair of samples: two 53-bit uniforms of two 32-bit words each. */
const BYTES_PER_PAIR = 16;
/** Samples drawn between yields to the event loop (~10 ms of work), so a large draw never stalls sockets and timers. */
export const SAMPLES_PER_SLICE = 1 << 18;

/**
 * Adds independent N(0, std²) samples to each entry of `out` in place: the Box–Muller transform (Box & Muller 1958)
 * over 53-bit CSPRNG uniforms read straight from the random stream (no staging array). Yields to the event loop
 * every SAMPLES_PER_SLICE samples.
 */
async function addSamples(out: Float32Array | Float64Array, std: number): Promise<void> {
  const n = out.length;
  const stream = new RandomStream(BYTES_PER_PAIR * Math.ceil(n / 2));
  try {
    for (let start = 0; start < n; start += SAMPLES_PER_SLICE) {
      if (start > 0) await yieldToEventLoop();
      const end = Math.min(n, start + SAMPLES_PER_SLICE);
      for (let i = start; i < end; i += 2) {
        const r = std * Math.sqrt(-2 * Math.log(stream.uniform()));
        const theta = 2 * Math.PI * stream.uniform();
        out[i] += r * Math.cos(theta);
        if (i + 1 < end) out[i + 1] += r * Math.sin(theta);
      }
    }
  } finally {
    stream.dispose();
  }
}

/** `n` independent N(0, std²) samples. */
export async function gaussianSamples(n: number, std: number): Promise<Float64Array> {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`sample count must be a non-negative integer, got ${n}`);
  checkStd(std);
  const out = new Float64Array(n);
  if (n > 0 && std > 0) await addSamples(out, std);
  return out;
}

/** Adds independent N(0, std²) noise to each coordinate of `v` in place (the sum rounded once to float32); returns `v`. */
export async function addGaussianNoiseInPlace(v: Float32Array, std: number): Promise<Float32Array> {
  checkStd(std);
  if (v.length > 0 && std > 0) await addSamples(v, std);
  return v;
}

/** A new array: `v` plus independent N(0, std²) noise in each coordinate; `v` is left untouched. */
export async function addGaussianNoise(v: Float32Array, std: number): Promise<Float32Array> {
  return addGaussianNoiseInPlace(v.slice(), std);
}

/** Where DP noise is added: the protocol's DP mode. */
export type NoiseMode = DpMode;
