/**
 * A small seeded pseudo-random generator (sfc32, Chris Doty-Humphrey's "small fast counting"
 * generator) for simulation only: data partitions, shuffles, cohort sampling in simulated runs,
 * where the same seed must give the same run.
 *
 * NOT for privacy noise, masks or keys: it is predictable by design. Differential-privacy noise and
 * secure-aggregation masks come from libsodium's CSPRNG (see src/core/privacy and src/core/crypto).
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `seed` is any safe integer; its low and high 32 bits both seed the state. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Rng: seed must be a safe integer, got ${seed}`);
    // PractRand's sfc32 seeding: (0, low, high, counter 1), then discard the first outputs.
    this.a = 0;
    this.b = seed >>> 0;
    this.c = Math.floor(seed / 2 ** 32) >>> 0;
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniform float in [0, 1) with 32 bits of resolution. */
  nextFloat(): number {
    return this.nextUint32() / 2 ** 32;
  }

  /** A uniform integer in [0, n), without modulo bias. */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) {
      throw new RangeError(`Rng.nextInt: n must be an integer in 1..2^32, got ${n}`);
    }
    const limit = 2 ** 32 - (2 ** 32 % n); // largest multiple of n that fits: reject above it
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** Shuffles `array` in place (Fisher–Yates) and returns it. */
  shuffle<T>(array: T[]): T[] {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /** A standard normal variate (Marsaglia's polar method). */
  normal(): number {
    for (;;) {
      const u = 2 * this.nextFloat() - 1;
      const v = 2 * this.nextFloat() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) return u * Math.sqrt((-2 * Math.log(s)) / s);
    }
  }

  /** A Gamma(shape, 1) variate (Marsaglia & Tsang 2000; shape < 1 boosted via Gamma(shape + 1) · U^(1/shape)). */
  gamma(shape: number): number {
    return Math.exp(this.logGamma(shape));
  }

  /**
   * A draw from the symmetric Dirichlet(alpha, ..., alpha) over `k` categories. Computed from
   * log-Gamma variates so that a small alpha (where U^(1/alpha) underflows to 0) still gives
   * proportions that sum to 1.
   */
  dirichlet(alpha: number, k: number): number[] {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`Rng.dirichlet: k must be a positive integer, got ${k}`);
    const logs = Array.from({ length: k }, () => this.logGamma(alpha));
    const max = Math.max(...logs);
    const weights = logs.map((l) => Math.exp(l - max));
    const sum = weights.reduce((a, b) => a + b, 0);
    return weights.map((w) => w / sum);
  }

  /** log of a Gamma(shape, 1) variate. */
  private logGamma(shape: number): number {
    if (!(shape > 0) || !Number.isFinite(shape)) {
      throw new RangeError(`Rng.gamma: shape must be a positive finite number, got ${shape}`);
    }
    if (shape < 1) {
      const u = 1 - this.nextFloat(); // in (0, 1]
      return this.logGamma(shape + 1) + Math.log(u) / shape;
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = 1 - this.nextFloat();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return Math.log(d * v);
    }
  }
}
