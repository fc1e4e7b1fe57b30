import type { Socket } from 'socket.io';
import type { RoundAggregate } from '../src/core/aggregate/index.js';
import { getSodium, type Identity } from '../src/core/crypto/index.js';
import { dequantizeSum, quantizationScale } from '../src/core/secagg/index.js';
import type { SecAggRound } from '../src/core/secagg/messages.js';
import type { Attempt } from './attempt.js';
import type { ServerConfig } from './config.js';
import type { Logger } from './logger.js';
import type { Member } from './member-connections.js';
import type { ServerMetrics } from './metrics.js';
import { settleAccumulator } from './ingest.js';
import type { ClusterBus } from './cluster/bus.js';
import { gatherPartials, mergePartials } from './cluster/partials.js';
import { plainShortfall } from './sampling.js';
import { runSecureRound } from './secure-round.js';
import { reportAccepted } from './update-outcome.js';

/** What an attempt's collection hands to the release step. */
export interface Collection {
  /** The strategy's aggregate of the accepted updates (a secure round: the unmasked sum). */
  aggregate: RoundAggregate;
  survivors: string[];
  /** The quantization scale of a secure round; null for a plain one. */
  secureScale: number | null;
}

/** An attempt's collection, or why the attempt is aborted. */
export type Collected = Collection | { abort: string };

/** What a secure round's collection needs from the server. */
export interface SecureCollectServer {
  config: ServerConfig;
  members: ReadonlyMap<string, Member>;
  modelLength: number;
  identity: Identity;
  log: Logger;
  metrics: ServerMetrics;
  progress: (progress: { round: number; received: number; cohort: number }) => void;
}

/** A coordinator's edges (server/cluster): where the partial sums of the updates they took come from. */
export interface EdgeCluster {
  bus: ClusterBus;
  partialTimeoutMs: number;
  log: Logger;
  metrics: ServerMetrics;
}

/**
 * Plain rounds: sealed updates opened one by one into the streaming accumulator until all are in or the
 * deadline; a coordinator then adds its edges' partial sums, so a member counts when its update is in a sum.
 */
export async function collectPlain(config: ServerConfig, open: Attempt, edges: EdgeCluster | null = null): Promise<Collected> {
  await untilOrDeadline(open.everyoneAnswered, open.deadline);
  // No update (or edge claim) is taken after this: the sum and the edges' partials are final.
  open.collecting = false;
  const partials = edges ? await gatherPartials(edges.bus, open, edges.partialTimeoutMs, edges) : [];
  const tooFew = plainShortfall(config, open.received.size);
  if (tooFew) return { abort: shortfallMessage(open, open.received.size, tooFew) };
  await settleAccumulator(open.accumulator);
  const own = open.accumulator.finish();
  const direct = [...open.received].filter((id) => !open.claims.has(id));
  if (!edges || own.kind !== 'sum') return { aggregate: own, survivors: direct, secureScale: null };
  const merged = mergePartials({ aggregate: own, survivors: direct }, partials, open, edges.log);
  const lost = plainShortfall(config, merged.survivors.length);
  if (lost) return { abort: shortfallMessage(open, merged.survivors.length, `${lost} (the others' edges did not hand them in)`) };
  return { ...merged, secureScale: null };
}

function shortfallMessage(open: Attempt, counted: number, why: string): string {
  const declined = open.declined.size > 0 ? `, ${open.declined.size} declined` : '';
  return `${counted} of ${open.cohort.size} updates arrived${declined}: ${why}`;
}

/** Secure rounds: the server learns only the sum of the survivors' quantized updates. */
export async function collectSecure(
  server: SecureCollectServer,
  open: Attempt,
  secagg: SecAggRound,
  sockets: Map<string, Socket>,
  signal: AbortSignal,
): Promise<Collected> {
  const { dp, secureAggregation, federationId } = server.config;
  const sodium = await getSodium();
  const signPublicKeys = new Map<string, string>();
  const boxPublicKeys = new Map<string, Uint8Array>();
  for (const id of open.cohort) {
    const member = server.members.get(id);
    if (!member) continue;
    signPublicKeys.set(id, sodium.to_base64(member.signPublicKey));
    boxPublicKeys.set(id, member.boxPublicKey);
  }
  const outcome = await runSecureRound({
    context: { federationId, round: open.round, attemptId: open.attemptId },
    round: secagg,
    length: server.modelLength,
    sockets,
    signPublicKeys,
    boxPublicKeys,
    server: server.identity,
    stageTimeoutMs: secureAggregation.stageTimeoutSeconds * 1000,
    inputDeadline: open.deadline,
    signal,
    log: server.log,
    metrics: server.metrics,
    answers: open,
    onMaskedInput: (id) => {
      open.received.add(id);
      reportAccepted(server, { clientId: id, round: open.round, received: open.received.size, cohort: open.cohort.size });
    },
  });
  if (!outcome.ok) return { abort: `secure aggregation stopped at ${outcome.stage}: ${outcome.reason}` };
  const scale = quantizationScale({
    clipNorm: dp.clipNorm,
    noiseMultiplier: dp.noiseMultiplier,
    mode: dp.mode,
    cohortSize: secagg.cohort.length,
    threshold: secagg.threshold,
    length: server.modelLength,
  });
  // Every survivor weighs the same: the sum is all the server ever sees.
  const aggregate: RoundAggregate = { kind: 'sum', sum: dequantizeSum(outcome.sum, scale), totalWeight: outcome.survivors.length };
  return { aggregate, survivors: outcome.survivors, secureScale: scale };
}

/** Waits for `done` or until the wall-clock deadline, whichever comes first, leaving no timer behind. */
async function untilOrDeadline(done: Promise<void>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))));
  await Promise.race([done, expired]);
  clearTimeout(timer);
}
