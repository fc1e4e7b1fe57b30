/**
 * Plain-update ingest: open → decode → shape/finite → bound → accumulate, on the calling thread or,
 * for a linear strategy and a large model, on the ingest workers (ingest-pool.ts), each adding into
 * its own partial float64 sum, merged when the round finishes. Memory: one partial sum and one held
 * update per worker, O(model × workers), whatever the cohort size.
 *
 * Reproducibility: every update is added as weight × value in float64 exactly as the single-thread
 * accumulator does (fedavg.ts); only the order of the additions differs (each partial sums its own
 * updates in arrival order, the partials are added in worker order). Per coordinate the two results
 * differ by at most (n − 1)·2⁻⁵³·Σ_i |w_i u_i| for n updates (Higham 2002, "Accuracy and Stability of
 * Numerical Algorithms", §4.2, recursive summation), far below 1e-9 of Σ_i |w_i u_i|.
 */
import { createAccumulator, type ResultAccumulator, type RoundAggregate, type Strategy } from '../src/core/aggregate/index.js';
import { ingestPool, type IngestPool } from './ingest-pool.js';
import { boundUpdate, type UpdatePolicy } from './update-policy.js';
import { openAndDecodeUpdate, UpdateRejection } from './updates.js';

/**
 * Models shorter than this are ingested on the calling thread: a worker round trip (copying the
 * sealed bytes in, a commit message) costs more than it saves there.
 */
export const PARALLEL_INGEST_MIN_LENGTH = 100_000;

/** A linear round's sum, spread over the ingest workers' partial sums (and this thread's, for adds made here). */
export class ParallelSum implements ResultAccumulator {
  private readonly local;
  private readonly partials: (SharedArrayBuffer | null)[];
  private committed = 0;
  private committedWeight = 0;

  constructor(
    readonly length: number,
    readonly pool: IngestPool,
  ) {
    this.local = createAccumulator(length);
    this.partials = Array.from({ length: pool.size }, () => null);
  }

  /** An update opened on this thread (the workers stopped mid-round). */
  add(update: Float32Array, weight: number): void {
    this.local.add(update, weight);
  }

  /** The partial sum worker `index` commits into, made on its first commit. */
  partial(index: number, weight: number): SharedArrayBuffer {
    this.committed += 1;
    this.committedWeight += weight;
    return (this.partials[index] ??= new SharedArrayBuffer(8 * this.length));
  }

  get contributions(): number {
    return this.local.contributions + this.committed;
  }

  get totalWeight(): number {
    return this.local.totalWeight + this.committedWeight;
  }

  /** Call after `settle` (settleAccumulator): the partials are added in worker order, once (later calls return the same sum). */
  finish(): RoundAggregate {
    const sum = this.local.sum;
    for (const [index, partial] of this.partials.entries()) {
      if (!partial) continue;
      const part = new Float64Array(partial);
      for (let i = 0; i < sum.length; i++) sum[i] += part[i];
      this.partials[index] = null;
    }
    return { kind: 'sum', sum, totalWeight: this.totalWeight };
  }
}

const parallelIngest = (strategy: Strategy, length: number) => strategy.linear && length >= PARALLEL_INGEST_MIN_LENGTH;

/** Starts the ingest workers in the background when rounds of this strategy and model length will use them. */
export function warmIngest(strategy: Strategy, length: number): void {
  if (parallelIngest(strategy, length)) ingestPool();
}

/** The round's accumulator: a ParallelSum for a linear strategy over a large model when the workers run, else the strategy's own. */
export function roundAccumulator(strategy: Strategy, length: number): ResultAccumulator {
  const pool = parallelIngest(strategy, length) ? ingestPool() : null;
  return pool ? new ParallelSum(length, pool) : strategy.configureRound(length);
}

/** Waits until every update committed to `accumulator` was added (a no-op unless it is a ParallelSum). */
export async function settleAccumulator(accumulator: ResultAccumulator): Promise<void> {
  if (accumulator instanceof ParallelSum) await accumulator.pool.flush();
}

export interface OpenedUpdate {
  norm: number;
  normBound: number;
  clipped: boolean;
  /** The member's federated evaluation counts as sent (parsed JSON, unchecked), when it sent any. */
  evaluation?: unknown;
  /** Adds the bounded update into the accumulator; call at most once, and not after `discard`. */
  commit(): void;
  /** Drops it; the accumulator is untouched. */
  discard(): void;
}

export interface IngestArgs {
  sealed: Uint8Array;
  context: { federationId: string; round: number; attemptId: string; clientId: string };
  server: { boxPublicKey: Uint8Array; boxSecretKey: Uint8Array };
  clientBoxPublicKey: Uint8Array;
  modelLength: number;
  /** The round asks for federated evaluation counts, which may follow the update frame. */
  federatedEval: boolean;
}

/**
 * Opens, decodes and bounds one update for `accumulator`; throws UpdateRejection (the sender's fault)
 * or another error (a bug) as openAndDecodeUpdate does. The caller commits or discards it.
 */
export async function openForAccumulator(args: IngestArgs, policy: UpdatePolicy, accumulator: ResultAccumulator): Promise<OpenedUpdate> {
  if (accumulator instanceof ParallelSum && !accumulator.pool.broken) {
    const { worker, reply, settle } = await accumulator.pool.open({ ...args, policy: { maxWeight: policy.maxWeight, normBound: policy.normBound } });
    if (reply.type === 'rejected') {
      settle(null);
      throw new UpdateRejection(reply.reason, reply.message);
    }
    if (reply.type === 'failed') {
      settle(null);
      throw new Error(reply.message);
    }
    return {
      norm: reply.norm,
      normBound: reply.normBound,
      clipped: reply.clipped,
      evaluation: reply.evaluation,
      commit: () => settle(accumulator.partial(worker, reply.weight)),
      discard: () => settle(null),
    };
  }
  const update = await openAndDecodeUpdate(args);
  const bounded = boundUpdate(update, policy);
  return {
    norm: bounded.norm,
    normBound: bounded.normBound,
    clipped: bounded.clipped,
    evaluation: update.evaluation,
    commit: () => accumulator.add(bounded.values, bounded.weight),
    discard: () => {},
  };
}
