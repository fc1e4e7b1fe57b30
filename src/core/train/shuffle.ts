/**
 * Seeded example order for local training (reproducibility, not secrecy: never use it for
 * privacy noise or masks).
 */

/** mulberry32: a tiny 32-bit generator, uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A permutation of 0..n-1 fixed by (seed, epoch): Fisher–Yates over mulberry32. */
export function shuffledIndices(n: number, seed: number, epoch: number): Uint32Array {
  const random = mulberry32(seed ^ Math.imul(epoch + 1, 0x9e3779b9));
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}
