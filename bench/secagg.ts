/**
 * Secure-aggregation benchmark (src/core/secagg): one attempt per run, every client and the
 * server in this process, messages passed by hand (no sockets). For each configuration:
 *  - client time per round: the sum of one client's own calls (advertise + shareKeys + maskInput
 *    + consistency + unmask), for every client, summarized over clients and runs;
 *  - server time of finish() (reconstruct the seeds and keys, expand and remove the masks) with
 *    10% of the cohort dropping out after sending its shares, before its masked input — the
 *    costly case, where each dropout's pairwise masks with its surviving neighbours must be
 *    removed besides every survivor's self mask;
 *  - bytes each client sends (JSON for the small messages, the masked input as a sealed
 *    envelope of a frame, like a plain update), against a plain sealed update.
 * Inputs are uniform uint32 vectors drawn per client just before masking (never all held at
 * once); each run checks the unmasked sum against the plain sum of the survivors' inputs.
 * The mask worker pool is started (and its cold start timed) before the runs.
 */
import { randomFillSync } from 'node:crypto';
import os from 'node:os';
import { toBase64Url } from '../src/core/crypto/base64url.js';
import { generateIdentity, type Identity } from '../src/core/crypto/identity.js';
import { getSodium } from '../src/core/crypto/sodium.js';
import { defaultNeighbours, maskPrg, SecAggClient, SecAggServer, type SecAggContext, type SecAggRound } from '../src/core/secagg/index.js';
import { startMaskWorkers, stopMaskWorkers } from '../src/core/secagg/mask-pool.js';
import { sealedUpdateBytes } from '../server/updates.js';
import { machineInfo, type MachineInfo } from './machine.js';
import { median } from '../src/core/stats.js';

export interface SecAggConfig {
  clients: number;
  length: number;
  /** k, or null for the full graph. */
  neighbours: number | null;
  threshold: number;
  runs: number;
}

export interface Stats {
  median: number;
  p90: number;
  min: number;
  max: number;
}

export interface SecAggConfigResult {
  clients: number;
  length: number;
  graph: string;
  neighbours: number | null;
  threshold: number;
  dropouts: number;
  runs: number;
  /** Per client per round, ms: the five steps together, and each step (medians over clients and runs). */
  clientMs: Stats;
  clientStepMs: Record<'advertise' | 'shareKeys' | 'maskInput' | 'consistency' | 'unmask', number>;
  /** Server finish(), ms, one sample per run. */
  finishMs: Stats;
  /** Server time in all other calls of a run (adverts, shares, summing masked inputs, signatures, reveals), ms. */
  serverOtherMs: Stats;
  /** Mask expansions finish() performed (survivors' self masks + dropouts' pairwise masks), per run. */
  finishExpansions: number;
  bytesSent: {
    advert: number;
    shares: number;
    maskedInput: number;
    consistency: number;
    reveal: number;
    total: number;
    plainSealedUpdate: number;
    /** total / plainSealedUpdate − 1 */
    overheadRatio: number;
  };
  /** Bytes the server sends one client (U1's adverts, its share ciphertexts, survivors, unmask request), median. */
  bytesReceived: number;
  exact: boolean;
}

export interface SecAggBenchResult {
  bench: 'secagg';
  machine: MachineInfo;
  loadAvg: { before: number[]; after: number[] };
  setup: {
    prg: string;
    workers: string;
    workerColdStartMs: number | null;
    dropoutStage: string;
    dropoutFraction: number;
    threshold: string;
    inputs: string;
    targets: { clientSeconds: number; finishSeconds: number; at: string };
  };
  headline: { config: string; clientSeconds: number; finishSeconds: number; clientTargetMet: boolean; finishTargetMet: boolean } | null;
  results: SecAggConfigResult[];
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

function stats(samples: readonly number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { median: round2(median(s)), p90: round2(at(0.9)), min: round2(s[0]), max: round2(s[s.length - 1]) };
}

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

async function timed<T>(into: number[], f: () => Promise<T> | T): Promise<T> {
  const t0 = performance.now();
  const value = await f();
  into.push(performance.now() - t0);
  return value;
}

interface RunResult {
  clientTotals: number[];
  steps: Record<keyof SecAggConfigResult['clientStepMs'], number[]>;
  finishMs: number;
  serverOtherMs: number;
  expansions: number;
  sent: { advert: number[]; shares: number[]; consistency: number[]; reveal: number[] };
  received: number[];
  exact: boolean;
}

async function runOnce(config: SecAggConfig, identities: Identity[], run: number): Promise<RunResult> {
  const sodium = await getSodium();
  const n = config.clients;
  const d = config.length;
  const ids = Array.from({ length: n }, (_, i) => `client-${String(i).padStart(3, '0')}`);
  const context: SecAggContext = { federationId: 'bench-federation', round: 1, attemptId: `bench-${run}` };
  const round: SecAggRound = { threshold: config.threshold, neighbours: config.neighbours, graphSeed: toBase64Url(sodium.randombytes_buf(32)), cohort: ids };
  const signPublicKeys = new Map(ids.map((id, i) => [id, toBase64Url(identities[i].signPublicKey)]));
  const clients = await Promise.all(ids.map((id, i) => SecAggClient.create({ context, clientId: id, identity: identities[i], round, length: d })));
  const server = new SecAggServer({ context, round, length: d, signPublicKeys });
  const perClient = new Map(ids.map((id) => [id, 0]));
  const steps: RunResult['steps'] = { advertise: [], shareKeys: [], maskInput: [], consistency: [], unmask: [] };
  const sent: RunResult['sent'] = { advert: [], shares: [], consistency: [], reveal: [] };
  const received = new Map(ids.map((id) => [id, 0]));
  const serverMs: number[] = [];
  const clientStep = async <T>(step: keyof RunResult['steps'], id: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const value = await f();
    const ms = performance.now() - t0;
    steps[step].push(ms);
    perClient.set(id, perClient.get(id)! + ms);
    return value;
  };

  // 10% vanish after sending their shares (spread over the ring), before their masked inputs.
  const dropouts = new Set(ids.filter((_, i) => i % 10 === 5).slice(0, Math.round(n / 10)));

  for (let i = 0; i < n; i++) {
    const advert = await clientStep('advertise', ids[i], () => clients[i].advertise());
    sent.advert.push(jsonBytes(advert));
    await timed(serverMs, () => server.addAdvert(advert));
  }
  const u1 = await timed(serverMs, () => server.closeAdverts());
  const u1Bytes = jsonBytes(u1);
  for (let i = 0; i < n; i++) {
    const bundle = await clientStep('shareKeys', ids[i], () => clients[i].shareKeys(u1));
    sent.shares.push(jsonBytes(bundle));
    received.set(ids[i], received.get(ids[i])! + u1Bytes);
    await timed(serverMs, () => server.addShares(ids[i], bundle));
  }
  const inbox = await timed(serverMs, () => server.closeShares());

  const expected = new Uint32Array(d);
  const input = new Uint32Array(d);
  for (let i = 0; i < n; i++) {
    if (dropouts.has(ids[i])) continue;
    randomFillSync(input);
    for (let j = 0; j < d; j++) expected[j] = (expected[j] + input[j]) >>> 0;
    const shares = inbox.get(ids[i])!;
    received.set(ids[i], received.get(ids[i])! + jsonBytes(shares));
    const masked = await clientStep('maskInput', ids[i], () => clients[i].maskInput(shares, input));
    await timed(serverMs, () => server.addMaskedInput(ids[i], masked));
  }
  const survivors = await timed(serverMs, () => server.closeMaskedInputs());
  const live = ids.map((id, i) => ({ id, client: clients[i] })).filter((c) => !dropouts.has(c.id));
  for (const { id, client } of live) {
    received.set(id, received.get(id)! + jsonBytes(survivors));
    const consistency = await clientStep('consistency', id, () => client.consistency(survivors));
    sent.consistency.push(jsonBytes(consistency));
    await timed(serverMs, () => server.addConsistency(consistency));
  }
  const request = await timed(serverMs, () => server.closeConsistency());
  const requestBytes = jsonBytes(request);
  for (const { id, client } of live) {
    received.set(id, received.get(id)! + requestBytes);
    const reveal = await clientStep('unmask', id, () => client.unmask(request));
    sent.reveal.push(jsonBytes(reveal));
    await timed(serverMs, () => server.addReveal(id, reveal));
  }
  // Expansions finish() performs: every survivor's self mask, plus each dropout's masks with its surviving neighbours.
  let expansions = survivors.length;
  for (const j of dropouts) expansions += server.neighboursOf(j).filter((i) => !dropouts.has(i)).length;
  const t0 = performance.now();
  const { sum } = await server.finish();
  const finishMs = performance.now() - t0;
  let exact = sum.length === d;
  for (let j = 0; exact && j < d; j++) if (sum[j] !== expected[j]) exact = false;
  return {
    clientTotals: live.map(({ id }) => perClient.get(id)!),
    steps,
    finishMs,
    serverOtherMs: serverMs.reduce((a, b) => a + b, 0),
    expansions,
    sent,
    received: live.map(({ id }) => received.get(id)!),
    exact,
  };
}

export async function runSecAggBench(opts: { configs?: SecAggConfig[]; log?: (line: string) => void } = {}): Promise<SecAggBenchResult> {
  const log = opts.log ?? (() => undefined);
  const loadBefore = os.loadavg().map(round2);
  const prg = await maskPrg();
  let workerColdStartMs: number | null = null;
  let workers: string;
  try {
    const t0 = performance.now();
    const backend = await startMaskWorkers();
    workerColdStartMs = round2(performance.now() - t0);
    workers = `pool of ${Math.max(1, Math.min(os.availableParallelism(), 4))} (${backend})`;
  } catch (error) {
    workers = `unavailable: ${(error as Error).message}`;
  }
  log(`secagg: mask generator ${prg.backend}, workers ${workers}${workerColdStartMs === null ? '' : ` (cold start ${workerColdStartMs} ms)`}`);

  const configs = opts.configs ?? defaultConfigs();
  const identities: Identity[] = [];
  const results: SecAggConfigResult[] = [];
  for (const config of configs) {
    while (identities.length < config.clients) identities.push(await generateIdentity());
    const graph = config.neighbours === null ? 'full' : `SecAgg+ k=${config.neighbours}`;
    const runs: RunResult[] = [];
    for (let r = 0; r < config.runs; r++) {
      runs.push(await runOnce(config, identities, r));
      const last = runs[runs.length - 1];
      log(
        `secagg: n=${config.clients} d=${config.length} ${graph} run ${r + 1}/${config.runs}: client median ${median(last.clientTotals).toFixed(0)} ms, ` +
          `finish ${last.finishMs.toFixed(0)} ms (${last.expansions} expansions), exact ${last.exact}`,
      );
    }
    const all = <K extends keyof RunResult['sent']>(k: K) => runs.flatMap((r) => r.sent[k]);
    const step = (k: keyof RunResult['steps']) => round2(median(runs.flatMap((r) => r.steps[k])));
    const bytes = {
      advert: Math.round(median(all('advert'))),
      shares: Math.round(median(all('shares'))),
      maskedInput: sealedUpdateBytes(config.length),
      consistency: Math.round(median(all('consistency'))),
      reveal: Math.round(median(all('reveal'))),
    };
    const total = bytes.advert + bytes.shares + bytes.maskedInput + bytes.consistency + bytes.reveal;
    results.push({
      clients: config.clients,
      length: config.length,
      graph,
      neighbours: config.neighbours,
      threshold: config.threshold,
      dropouts: Math.round(config.clients / 10),
      runs: config.runs,
      clientMs: stats(runs.flatMap((r) => r.clientTotals)),
      clientStepMs: {
        advertise: step('advertise'),
        shareKeys: step('shareKeys'),
        maskInput: step('maskInput'),
        consistency: step('consistency'),
        unmask: step('unmask'),
      },
      finishMs: stats(runs.map((r) => r.finishMs)),
      serverOtherMs: stats(runs.map((r) => r.serverOtherMs)),
      finishExpansions: runs[0].expansions,
      bytesSent: { ...bytes, total, plainSealedUpdate: sealedUpdateBytes(config.length), overheadRatio: round4(total / sealedUpdateBytes(config.length) - 1) },
      bytesReceived: Math.round(median(runs.flatMap((r) => r.received))),
      exact: runs.every((r) => r.exact),
    });
  }
  await stopMaskWorkers();

  const head = results.find((r) => r.clients === 100 && r.length === 1_663_370 && r.neighbours !== null) ?? null;
  return {
    bench: 'secagg',
    machine: machineInfo(),
    loadAvg: { before: loadBefore, after: os.loadavg().map(round2) },
    setup: {
      prg: prg.backend,
      workers,
      workerColdStartMs,
      dropoutStage: 'after share-keys, before masked-input (their pairwise masks must be removed)',
      dropoutFraction: 0.1,
      threshold: 't = floor(2n/3) + 1, as the server chooses by default',
      inputs: 'uniform uint32 per client (node:crypto), drawn just before masking',
      targets: { clientSeconds: 0.5, finishSeconds: 5, at: 'n=100, d=1,663,370, SecAgg+ k=14, 2 cores' },
    },
    headline: head && {
      config: `n=${head.clients} d=${head.length} ${head.graph}`,
      clientSeconds: round4(head.clientMs.median / 1000),
      finishSeconds: round4(head.finishMs.median / 1000),
      clientTargetMet: head.clientMs.median <= 500,
      finishTargetMet: head.finishMs.median <= 5000,
    },
    results,
  };
}

function defaultConfigs(): SecAggConfig[] {
  const configs: SecAggConfig[] = [];
  for (const length of [100_000, 1_663_370]) {
    for (const clients of [10, 50, 100]) {
      const threshold = Math.floor((2 * clients) / 3) + 1;
      // n = 10 is a full graph by default: bench SecAgg+ (k = 2·log2 n, even) beside it.
      const k = defaultNeighbours(clients) ?? Math.ceil(Math.log2(clients)) * 2;
      configs.push({ clients, length, neighbours: k, threshold, runs: 3 });
      if (clients === 10) configs.push({ clients, length, neighbours: null, threshold, runs: 3 });
    }
  }
  return configs;
}
