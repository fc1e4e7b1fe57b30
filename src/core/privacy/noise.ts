import { getSodium } from '../crypto/sodium.js';
import { uniforms } from './csprng.js';

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

export type NoiseMode = 'central' | 'distributed' | 'local' | 'off';

/**
 * Noise std per placement (DESIGN.md, DP-FedAvg), in the units of the clipped update:
 * - central: the server adds z·C to the sum of clipped updates;
 * - distributed: each client adds z·C/√t, so the sum over at least t survivors carries at least (z·C)²
 *   (the float view: the client really adds a discrete Gaussian in the quantized domain, see discrete-gaussian.ts);
 * - local: each client adds z·C to its own clipped update;
 * - off: no noise.
 * `survivorThreshold` (t, the fewest masked inputs a round accepts) is required in distributed mode only.
 */
export function noiseStd(
  mode: NoiseMode,
  noiseMultiplier: number,
  clipNorm: number,
  survivorThreshold?: number,
): { clientStd: number; serverStd: number } {
  if (!Number.isFinite(noiseMultiplier) || noiseMultiplier < 0) throw new RangeError(`noiseMultiplier must be finite and >= 0, got ${noiseMultiplier}`);
  if (!Number.isFinite(clipNorm) || clipNorm <= 0) throw new RangeError(`clipNorm must be finite and > 0, got ${clipNorm}`);
  const std = noiseMultiplier * clipNorm;
  switch (mode) {
    case 'central':
      return { clientStd: 0, serverStd: std };
    case 'distributed':
      if (survivorThreshold === undefined || !Number.isSafeInteger(survivorThreshold) || survivorThreshold < 1) {
        throw new RangeError(`distributed noise needs the survivor threshold t, an integer >= 1, got ${survivorThreshold}`);
      }
      return { clientStd: std / Math.sqrt(survivorThreshold), serverStd: 0 };
    case 'local':
      return { clientStd: std, serverStd: 0 };
    case 'off':
      return { clientStd: 0, serverStd: 0 };
  }
}
