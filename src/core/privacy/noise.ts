import { getSodium } from '../crypto/sodium.js';
import { uniforms } from './csprng.js';
import type { DpMode } from '../protocol/messages.js';

function checkStd(std: number): void {
  if (!Number.isFinite(std) || std < 0) throw new RangeError(`noise std must be finite and >= 0, got ${std}`);
}

/** `n` independent N(0, std²) samples by the Box–Muller transform (Box & Muller 1958) over CSPRNG uniforms. */
export async function gaussianSamples(n: number, std: number): Promise<Float64Array> {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`sample count must be a non-negative integer, got ${n}`);
  checkStd(std);
  const out = new Float64Array(n);
  if (n === 0 || std === 0) return out;
  const u = uniforms(await getSodium(), 2 * Math.ceil(n / 2));
  for (let i = 0; i < n; i += 2) {
    const r = std * Math.sqrt(-2 * Math.log(u[i]));
    const theta = 2 * Math.PI * u[i + 1];
    out[i] = r * Math.cos(theta);
    if (i + 1 < n) out[i + 1] = r * Math.sin(theta);
  }
  u.fill(0);
  return out;
}

/** A new array: `v` plus independent N(0, std²) noise in each coordinate; `v` is left untouched. */
export async function addGaussianNoise(v: Float32Array, std: number): Promise<Float32Array> {
  const noise = await gaussianSamples(v.length, std);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] + noise[i];
  return out;
}

/** Where DP noise is added: the protocol's DP mode. */
export type NoiseMode = DpMode;
