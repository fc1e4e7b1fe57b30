/**
 * The SecAgg+ neighbour graph (Bell et al. 2020, "Secure Single-Server Aggregation with
 * (Poly)Logarithmic Overhead", §3: a Harary graph H(n, k) under a random permutation). The
 * advertisers U1 are sorted, shuffled by Fisher–Yates driven by libsodium's deterministic
 * ChaCha20 stream over the round's public graph seed, and placed on a ring; each client's
 * neighbours are the k/2 clients on either side. Every client and the server derive the same
 * graph from U1 and the seed. With k ≥ |U1| − 1 (or k = null) it is the full graph of
 * Bonawitz et al. 2017.
 */
import { getSodium, type Sodium } from '../crypto/sodium.js';
import { fromBase64, KEY_BYTES } from './keys.js';
import type { SecAggRound } from './messages.js';
import { MAX_SHARES } from './shamir.js';

/** Full graph (null) up to this cohort size; beyond it, SecAgg+ with about 2·log2(n) neighbours. */
const FULL_GRAPH_UP_TO = 32;

/** null (the full graph) for n ≤ 32, else the smallest even k ≥ 2·log2(n) (n = 100 → 14, n = 1000 → 20). */
export function defaultNeighbours(cohortSize: number): number | null {
  if (!Number.isSafeInteger(cohortSize) || cohortSize < 2) throw new RangeError(`cohort size must be an integer ≥ 2, got ${cohortSize}`);
  if (cohortSize <= FULL_GRAPH_UP_TO) return null;
  const k = Math.ceil(2 * Math.log2(cohortSize));
  return k % 2 === 0 ? k : k + 1;
}

/** Whether the graph over `advertisers` clients is the full graph. */
export function isFullGraph(round: Pick<SecAggRound, 'neighbours'>, advertisers: number): boolean {
  return round.neighbours === null || round.neighbours >= advertisers - 1;
}

/**
 * Shamir threshold for one client's shares among its `holders` (itself and its neighbours). Full
 * graph (k = null): the round's t. SecAgg+: a strict majority of the holders, ⌊holders/2⌋ + 1,
 * never below 2 nor above holders. (A SecAgg+ round whose graph degenerates to the full graph
 * because |U1| ≤ k + 1 keeps the majority rule: the rule depends on the round, not on U1.)
 */
export function shareThreshold(round: Pick<SecAggRound, 'neighbours' | 'threshold'>, holders: number): number {
  if (!Number.isSafeInteger(holders) || holders < 2) throw new RangeError(`a secret needs at least 2 holders, got ${holders}`);
  if (round.neighbours === null) {
    if (round.threshold > holders) throw new RangeError(`threshold ${round.threshold} exceeds the ${holders} holders of the shares`);
    return round.threshold;
  }
  return Math.min(holders, Math.max(2, Math.floor(holders / 2) + 1));
}

/**
 * Checks the parts of a round the graph and the shares depend on; returns a reason it cannot
 * work, or null. (The schema already requires t ≥ 2, k ≥ 2 and a cohort of at least 2.)
 */
export function roundProblem(round: SecAggRound): string | null {
  if (new Set(round.cohort).size !== round.cohort.length) return 'the cohort lists a client twice';
  if (round.threshold > round.cohort.length) return `threshold ${round.threshold} exceeds the cohort of ${round.cohort.length}`;
  if (round.neighbours !== null && round.neighbours % 2 !== 0) return `neighbours (k = ${round.neighbours}) must be even`;
  const holders = round.neighbours === null ? round.cohort.length : Math.min(round.neighbours + 1, round.cohort.length);
  if (holders > MAX_SHARES) {
    return `a client's shares would have ${holders} holders; GF(256) Shamir sharing allows ${MAX_SHARES}: use SecAgg+ (neighbours) for a cohort this large`;
  }
  if (fromBase64(round.graphSeed, KEY_BYTES) === null) return `graphSeed must be ${KEY_BYTES} bytes of base64url`;
  return null;
}

/** Uniform integers below a bound from libsodium's deterministic stream, by rejection sampling (no modulo bias). */
class SeededUniform {
  private bytes: Uint8Array;
  private view: DataView;
  private offset = 0;

  constructor(
    private readonly sodium: Sodium,
    private readonly seed: Uint8Array,
    initialBytes: number,
  ) {
    this.bytes = sodium.randombytes_buf_deterministic(initialBytes, seed);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  private nextUint32(): number {
    if (this.offset + 4 > this.bytes.length) {
      // The stream is a prefix-stable ChaCha20 keystream: regenerate it longer and read on.
      this.bytes = this.sodium.randombytes_buf_deterministic(this.bytes.length * 2, this.seed);
      this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    }
    const value = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return value;
  }

  /** Uniform in [0, bound): reject draws at or above the largest multiple of bound below 2^32. */
  below(bound: number): number {
    const limit = 2 ** 32 - (2 ** 32 % bound);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % bound;
    }
  }
}

/** neighbourGraph with libsodium already initialised (the server's synchronous stage closers use it). */
export function neighbourGraphSync(
  sodium: Sodium,
  advertisers: readonly string[],
  round: Pick<SecAggRound, 'neighbours' | 'graphSeed'>,
): Map<string, string[]> {
  const sorted = [...advertisers].sort();
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) throw new RangeError(`advertiser ${sorted[i]} is listed twice`);
  }
  const n = sorted.length;
  const graph = new Map<string, string[]>();
  if (isFullGraph(round, n)) {
    for (const id of sorted)
      graph.set(
        id,
        sorted.filter((other) => other !== id),
      );
    return graph;
  }
  const k = round.neighbours!;
  if (k % 2 !== 0) throw new RangeError(`neighbours (k = ${k}) must be even`);
  const seed = fromBase64(round.graphSeed, KEY_BYTES);
  if (seed === null) throw new RangeError(`graphSeed must be ${KEY_BYTES} bytes of base64url`);
  // Fisher–Yates (Durstenfeld): for i = n−1 … 1 swap position i with a uniform j ∈ [0, i].
  const ring = sorted.slice();
  const uniform = new SeededUniform(sodium, seed, 4 * (2 * n + 16));
  for (let i = n - 1; i > 0; i--) {
    const j = uniform.below(i + 1);
    const held = ring[i];
    ring[i] = ring[j];
    ring[j] = held;
  }
  const half = k / 2;
  for (let p = 0; p < n; p++) {
    const around: string[] = [];
    for (let o = 1; o <= half; o++) around.push(ring[(p + o) % n], ring[(p - o + n) % n]);
    graph.set(ring[p], around.sort());
  }
  return graph;
}

/** Each advertiser's neighbours (not itself), sorted; the same for every party given U1 and the round. */
export async function neighbourGraph(advertisers: readonly string[], round: Pick<SecAggRound, 'neighbours' | 'graphSeed'>): Promise<Map<string, string[]>> {
  return neighbourGraphSync(await getSodium(), advertisers, round);
}
