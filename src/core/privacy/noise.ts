import { getSodium } from '../crypto/sodium.js';

/** Bytes per ChaCha20 stream, each keyed by a fresh 256-bit seed (a multiple of 8). */
const CHUNK_BYTES = 1 << 22;
/** randombytes_SEEDBYTES in libsodium (not exported by libsodium-wrappers). */
const SEED_BYTES = 32;
const TWO_POW_32 = 2 ** 32;
const TWO_POW_MINUS_53 = 2 ** -53;

/**
 * `n` uniforms in (0, 1) with 53 random bits each, never Math.random. libsodium.js's randombytes_buf
 * costs one OS call per 4 bytes (~6 s/MiB), so each chunk is libsodium's ChaCha20 stream
 * (randombytes_buf_deterministic) under a fresh, secret, single-use 256-bit key from randombytes_buf:
 * the same key-expansion construction as libsodium's own randombytes_internal.
 */
async function uniforms(n: number): Promise<Float64Array> {
  const sodium = await getSodium();
  const out = new Float64Array(n);
  let filled = 0;
  while (filled < n) {
    const key = sodium.randombytes_buf(SEED_BYTES);
    const bytes = sodium.randombytes_buf_deterministic(Math.min(CHUNK_BYTES, 8 * (n - filled)), key);
    sodium.memzero(key);
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
    for (let w = 0; w + 1 < words.length && filled < n; w += 2) {
      // 21 high bits of one word and 32 of the next make k in [0, 2^53); u = k·2^-53 is exact.
      const k = (words[w] >>> 11) * TWO_POW_32 + words[w + 1];
      if (k !== 0) out[filled++] = k * TWO_POW_MINUS_53; // reject 0 so u is in (0, 1)
    }
    bytes.fill(0);
  }
  return out;
}

function checkStd(std: number): void {
  if (!Number.isFinite(std) || std < 0) throw new RangeError(`noise std must be finite and >= 0, got ${std}`);
}

/** `n` independent N(0, std²) samples by the Box–Muller transform (Box & Muller 1958) over CSPRNG uniforms. */
export async function gaussianSamples(n: number, std: number): Promise<Float64Array> {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`sample count must be a non-negative integer, got ${n}`);
  checkStd(std);
  const out = new Float64Array(n);
  if (n === 0 || std === 0) return out;
  const u = await uniforms(2 * Math.ceil(n / 2));
  for (let i = 0; i < n; i += 2) {
    const r = std * Math.sqrt(-2 * Math.log(u[i]));
    const theta = 2 * Math.PI * u[i + 1];
    out[i] = r * Math.cos(theta);
    if (i + 1 < n) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}

/** A new array: `v` plus independent N(0, std²) noise in each coordinate; `v` is left untouched. */
export async function addGaussianNoise(v: Float32Array, std: number): Promise<Float32Array> {
  const noise = await gaussianSamples(v.length, std);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] + noise[i];
  return out;
}

export type NoiseMode = 'central' | 'local' | 'off';

/**
 * Noise std per placement (DESIGN.md, DP-FedAvg): central — the server adds z·C to the sum of clipped
 * updates; local — each client adds z·C to its own clipped update; off — no noise.
 */
export function noiseStd(mode: NoiseMode, noiseMultiplier: number, clipNorm: number): { clientStd: number; serverStd: number } {
  if (!Number.isFinite(noiseMultiplier) || noiseMultiplier < 0) throw new RangeError(`noiseMultiplier must be finite and >= 0, got ${noiseMultiplier}`);
  if (!Number.isFinite(clipNorm) || clipNorm <= 0) throw new RangeError(`clipNorm must be finite and > 0, got ${clipNorm}`);
  const std = noiseMultiplier * clipNorm;
  switch (mode) {
    case 'central':
      return { clientStd: 0, serverStd: std };
    case 'local':
      return { clientStd: std, serverStd: 0 };
    case 'off':
      return { clientStd: 0, serverStd: 0 };
  }
}
