/**
 * Where parallel ingest starts to pay (PARALLEL_INGEST_MIN_LENGTH, server/ingest.ts): for several model
 * lengths, the real accept path (acceptUpdate) over `updates` sealed updates, single-thread (one after
 * another, the strategy's own accumulator) against the ingest workers (all in flight, a ParallelSum),
 * interleaved, median wall time of `passes` each. Prints JSON: `npx tsx bench/ingest-threshold.ts`.
 */
import os from 'node:os';
import { createStrategy, type ResultAccumulator } from '../src/core/aggregate/index.js';
import { generateIdentity, sealUpdate } from '../src/core/crypto/index.js';
import { encodeFrame } from '../src/core/protocol/frame.js';
import { acceptUpdate, Attempt, type AcceptContext } from '../server/attempt.js';
import { parseServerConfig } from '../server/config.js';
import { ParallelSum, settleAccumulator } from '../server/ingest.js';
import { startIngestWorkers, stopIngestWorkers } from '../server/ingest-pool.js';
import { roundSettings, signRoundStart } from '../server/round-start.js';
import { updatePolicy } from '../server/update-policy.js';
import { machineInfo } from './machine.js';
import { summarize } from './pipeline.js';

const LENGTHS = [10_000, 30_000, 100_000, 300_000, 1_000_000];
const UPDATES = 20;
const PASSES = 5;
const CONFIG = parseServerConfig({ dp: { mode: 'central', noiseMultiplier: 1, clipNorm: 1, delta: 1e-5 }, cohort: { expectedClients: UPDATES } });
const ROUND = { federationId: 'threshold', round: 1, attemptId: 'a' };

const server = await generateIdentity();
const pool = await startIngestWorkers();
const clients = await Promise.all(Array.from({ length: UPDATES }, async (_, i) => ({ id: `c${i}`, identity: await generateIdentity() })));
const loadBefore = os.loadavg();
const rows = [];
for (const length of LENGTHS) {
  const sealed: Uint8Array[] = [];
  for (const [i, c] of clients.entries()) {
    const values = new Float32Array(length).map((_, j) => Math.sin(i + j) * 1e-3);
    const plaintext = encodeFrame({ kind: 'update', round: ROUND.round, numExamples: 10, values });
    sealed.push(await sealUpdate({ plaintext, context: { ...ROUND, clientId: c.id }, sender: c.identity, recipientBoxPublicKey: server.boxPublicKey }));
  }
  const weightsFrame = encodeFrame({ kind: 'global', round: ROUND.round, numExamples: 0, values: new Float32Array(length) });
  const start = await signRoundStart(server, { ...ROUND, deadline: Date.now() + 3_600_000, settings: roundSettings(CONFIG) }, weightsFrame);
  const members = new Map(clients.map((c) => [c.id, { clientId: c.id, boxPublicKey: c.identity.boxPublicKey }]));
  const pass = async (parallel: boolean): Promise<number> => {
    const accumulator: ResultAccumulator = parallel ? new ParallelSum(length, pool) : createStrategy(CONFIG.strategy).configureRound(length);
    const policy = updatePolicy(CONFIG, length, { declaredExamples: [], lastMedianNorm: null });
    const attempt = new Attempt({
      ...ROUND,
      cohort: [...members.keys()],
      accumulator,
      policy,
      federatedEval: null,
      deadline: start.deadline,
      start,
      weightsFrame,
      stopping: () => false,
    });
    attempt.collecting = true;
    const ctx: AcceptContext = {
      attempt: () => attempt,
      completedRound: () => 0,
      member: (id) => members.get(id),
      federationId: ROUND.federationId,
      server,
      modelLength: length,
    };
    const send = (i: number) => acceptUpdate(ctx, clients[i].id, { ...ROUND, clientId: clients[i].id }, sealed[i]);
    const t0 = performance.now();
    if (parallel) await Promise.all(sealed.map((_, i) => send(i)));
    else for (let i = 0; i < sealed.length; i++) await send(i);
    await settleAccumulator(accumulator);
    accumulator.finish();
    const ms = performance.now() - t0;
    if (accumulator.contributions !== UPDATES) throw new Error(`only ${accumulator.contributions} of ${UPDATES} updates were added`);
    return ms;
  };
  await pass(false);
  await pass(true);
  const single: number[] = [];
  const workers: number[] = [];
  for (let p = 0; p < PASSES; p++) {
    single.push(await pass(false));
    workers.push(await pass(true));
  }
  const s = summarize(single).median;
  const w = summarize(workers).median;
  rows.push({ length, singleThreadMs: Math.round(s * 10) / 10, workersMs: Math.round(w * 10) / 10, speedup: Math.round((s / w) * 100) / 100 });
}
await stopIngestWorkers();
console.log(
  JSON.stringify(
    {
      bench: 'ingest-threshold',
      machine: machineInfo(),
      loadAvg: { before: loadBefore, after: os.loadavg() },
      updates: UPDATES,
      passes: PASSES,
      workers: pool.size,
      rows,
    },
    null,
    2,
  ),
);
