import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStrategy, type ResultAccumulator } from '../../src/core/aggregate/index.js';
import { generateIdentity, sealUpdate, type Identity } from '../../src/core/crypto/index.js';
import { encodeFrame } from '../../src/core/protocol/frame.js';
import { acceptUpdate, Attempt, type AcceptContext } from '../../server/attempt.js';
import { parseServerConfig } from '../../server/config.js';
import { ParallelSum, settleAccumulator } from '../../server/ingest.js';
import { startIngestWorkers, stopIngestWorkers, type IngestPool } from '../../server/ingest-pool.js';
import { roundSettings, signRoundStart } from '../../server/round-start.js';
import { updatePolicy } from '../../server/update-policy.js';

const LENGTH = 20_000;
const FEDERATION = 'ingest-test';
const ROUND = 1;
const ATTEMPT = 'a1';
// DP off: example-count weights (capped) and the adaptive norm bound, so weights and clipping both vary.
const CONFIG = parseServerConfig({ aggregation: { maxUpdateNorm: 5, maxExamplesPerClient: 100 } });

interface Client {
  id: string;
  identity: Identity;
}

let server: Identity;
let pool: IngestPool;
const clients: Client[] = [];

/** Deterministic values without Math.random: a scaled sine per client. */
function values(seed: number, scale: number): Float32Array {
  const v = new Float32Array(LENGTH);
  for (let i = 0; i < LENGTH; i++) v[i] = scale * Math.sin(seed * 1.7 + i * 0.013) * (1 + (i % 7));
  return v;
}

async function seal(client: Client, plaintext: Uint8Array): Promise<Uint8Array> {
  return sealUpdate({
    plaintext,
    context: { federationId: FEDERATION, round: ROUND, attemptId: ATTEMPT, clientId: client.id },
    sender: client.identity,
    recipientBoxPublicKey: server.boxPublicKey,
  });
}

const frame = (v: Float32Array, numExamples: number) => encodeFrame({ kind: 'update', round: ROUND, numExamples, values: v });

async function openAttempt(accumulator: ResultAccumulator): Promise<{ attempt: Attempt; ctx: AcceptContext }> {
  const weightsFrame = encodeFrame({ kind: 'global', round: ROUND, numExamples: 0, values: new Float32Array(LENGTH) });
  const start = await signRoundStart(
    server,
    { federationId: FEDERATION, round: ROUND, attemptId: ATTEMPT, deadline: Date.now() + 60_000, settings: roundSettings(CONFIG) },
    weightsFrame,
  );
  const attempt = new Attempt({
    round: ROUND,
    attemptId: ATTEMPT,
    cohort: clients.map((c) => c.id),
    accumulator,
    policy: updatePolicy(CONFIG, LENGTH, { declaredExamples: clients.map((_, i) => 40 + i * 10), lastMedianNorm: null }),
    federatedEval: null,
    deadline: start.deadline,
    start,
    weightsFrame,
    stopping: () => false,
  });
  attempt.collecting = true;
  const members = new Map(clients.map((c) => [c.id, { clientId: c.id, boxPublicKey: c.identity.boxPublicKey }]));
  const ctx: AcceptContext = {
    attempt: () => attempt,
    completedRound: () => ROUND - 1,
    member: (id) => members.get(id),
    federationId: FEDERATION,
    server,
    modelLength: LENGTH,
  };
  return { attempt, ctx };
}

const header = (client: Client) => ({ federationId: FEDERATION, round: ROUND, attemptId: ATTEMPT, clientId: client.id });

/** Sends every payload (all in flight at once) and returns the acks in client order, then the round's sum. */
async function ingest(accumulator: ResultAccumulator, payloads: Uint8Array[]) {
  const { attempt, ctx } = await openAttempt(accumulator);
  const outcomes = await Promise.all(payloads.map((p, i) => acceptUpdate(ctx, clients[i].id, header(clients[i]), p)));
  await settleAccumulator(attempt.accumulator);
  const aggregate = attempt.accumulator.finish();
  if (aggregate.kind !== 'sum') throw new Error('expected a sum');
  return { outcomes, aggregate, norms: attempt.acceptedNorms };
}

beforeAll(async () => {
  server = await generateIdentity();
  for (let i = 0; i < 9; i++) clients.push({ id: `c${i}`, identity: await generateIdentity() });
  pool = await startIngestWorkers(2);
}, 120_000);

afterAll(async () => {
  await stopIngestWorkers();
});

describe('parallel ingest (ingest workers, partial float64 sums)', () => {
  it('sums like the single-thread path within 1e-9 of Σ|w·u| per coordinate, with the same acks and rejections', async () => {
    const good = (i: number) => frame(values(i, i % 3 === 0 ? 0.2 : 0.0005), 30 + 20 * i);
    const payloads: Uint8Array[] = [];
    for (let i = 0; i < clients.length; i++) payloads.push(await seal(clients[i], good(i)));
    // Rejected ones, each for its own reason: tampered (envelope), wrong length, non-finite.
    payloads[2] = payloads[2].slice();
    payloads[2][100] ^= 1;
    payloads[4] = await seal(clients[4], frame(new Float32Array(LENGTH - 1), 10));
    const nan = values(5, 0.001);
    nan[17] = Number.NaN;
    payloads[5] = await seal(clients[5], frame(nan, 10));

    const single = await ingest(createStrategy(CONFIG.strategy).configureRound(LENGTH), payloads);
    const parallel = await ingest(new ParallelSum(LENGTH, pool), payloads);

    const acks = (r: typeof single) => r.outcomes.map((o) => (o.kind === 'accepted' ? 'accepted' : o.reason));
    expect(acks(single)).toEqual(['accepted', 'accepted', 'envelope', 'accepted', 'wrong-shape', 'non-finite', 'accepted', 'accepted', 'accepted']);
    expect(acks(parallel)).toEqual(acks(single));
    expect(parallel.outcomes.map((o) => o.ack)).toEqual(single.outcomes.map((o) => o.ack));
    expect([...parallel.norms].sort()).toEqual([...single.norms].sort());
    // Some updates were clipped (scale 0.2 ones), some not: both paths agree on which.
    const clipped = (r: typeof single) => r.outcomes.map((o) => (o.kind === 'accepted' ? o.clipped : null));
    expect(clipped(parallel)).toEqual(clipped(single));
    expect(clipped(single)).toContain(true);
    expect(clipped(single)).toContain(false);
    expect(parallel.aggregate.totalWeight).toBe(single.aggregate.totalWeight);

    // Σ|w·u| per coordinate, from the single-thread sum's own terms: recompute with absolute values.
    const magnitude = new Float64Array(LENGTH);
    const { maxWeight } = updatePolicy(CONFIG, LENGTH, { declaredExamples: clients.map((_, i) => 40 + i * 10), lastMedianNorm: null });
    for (const [i, o] of single.outcomes.entries()) {
      if (o.kind !== 'accepted') continue;
      const v = values(i, i % 3 === 0 ? 0.2 : 0.0005);
      const scale = o.clipped ? o.normBound / o.norm : 1;
      const weight = Math.min(maxWeight ?? Infinity, 30 + 20 * i);
      for (let j = 0; j < LENGTH; j++) magnitude[j] += Math.abs(weight * v[j] * scale);
    }
    let worst = 0;
    let nonzero = 0;
    for (let j = 0; j < LENGTH; j++) {
      const a = parallel.aggregate.sum[j];
      const b = single.aggregate.sum[j];
      if (b !== 0) nonzero++;
      worst = Math.max(worst, Math.abs(a - b) / (magnitude[j] || 1));
    }
    expect(nonzero).toBeGreaterThan(LENGTH / 2);
    expect(worst).toBeLessThanOrEqual(1e-9);
  }, 120_000);

  it('leaves the sum untouched when every update is rejected', async () => {
    const payloads: Uint8Array[] = [];
    for (let i = 0; i < 3; i++) payloads.push(await seal(clients[i], frame(new Float32Array(i === 0 ? LENGTH + 1 : LENGTH - i), 10)));
    const { outcomes, aggregate } = await ingest(new ParallelSum(LENGTH, pool), payloads);
    expect(outcomes.map((o) => (o.kind === 'rejected' ? o.reason : o.kind))).toEqual(['oversized', 'wrong-shape', 'wrong-shape']);
    expect(aggregate.totalWeight).toBe(0);
    expect(aggregate.sum.every((x) => x === 0)).toBe(true);
  }, 120_000);

  it("discards an update whose round closed while a worker was opening it ('round-closed')", async () => {
    const accumulator = new ParallelSum(LENGTH, pool);
    const { attempt, ctx } = await openAttempt(accumulator);
    const sealed = await seal(clients[0], frame(values(0, 0.001), 50));
    const pending = acceptUpdate(ctx, clients[0].id, header(clients[0]), sealed);
    attempt.collecting = false;
    const outcome = await pending;
    expect(outcome.kind === 'rejected' && outcome.reason).toBe('round-closed');
    await settleAccumulator(accumulator);
    expect(accumulator.contributions).toBe(0);
    const closed = accumulator.finish();
    expect(closed.kind === 'sum' && closed.sum.every((x) => x === 0)).toBe(true);

    // The worker is free again: the next round's update is opened and added.
    const next = new ParallelSum(LENGTH, pool);
    const reopened = await openAttempt(next);
    const ok = await acceptUpdate(reopened.ctx, clients[1].id, header(clients[1]), await seal(clients[1], frame(values(1, 0.001), 50)));
    expect(ok.kind).toBe('accepted');
    await settleAccumulator(next);
    expect(next.contributions).toBe(1);
    // finish merges the partials once: a second call returns the same sum.
    const first = next.finish();
    const once = first.kind === 'sum' ? Float64Array.from(first.sum) : null;
    const again = next.finish();
    expect(again.kind === 'sum' && again.sum).toEqual(once);
    expect(once?.some((x) => x !== 0)).toBe(true);
  }, 120_000);
});
