import type { RoundAggregate } from '../../src/core/aggregate/index.js';
import type { Attempt } from '../attempt.js';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../metrics.js';
import { EDGE_TTL_SECONDS, type ClusterBus, type Partial } from './bus.js';

const POLL_MS = 100;
const REANNOUNCE_EVERY = 10;

/**
 * Coordinator, at an attempt's close: tells the edges (which drop an attempt they hold no update of), then
 * takes the partial of every edge it granted a claim to, until each is in, its edge has not refreshed its
 * liveness key for EDGE_TTL_SECONDS, or `timeoutMs` passes.
 * An edge that hands nothing in contributes nothing: its members' updates are lost to this attempt, never counted.
 */
export async function gatherPartials(bus: ClusterBus, open: Attempt, timeoutMs: number, observe: { log: Logger; metrics: ServerMetrics }): Promise<Partial[]> {
  const { log, metrics } = observe;
  await bus.closeAttempt(open.attemptId);
  const pending = new Set(open.claims.values());
  const taken: Partial[] = [];
  const deadline = Date.now() + timeoutMs;
  let polls = 0;
  // An edge counts as lost once its liveness key has been missing for a whole TTL: a live edge refreshes it
  // every second, and one Redis restart empties it only until the next refresh.
  const silentSince = new Map<string, number>();
  while (pending.size > 0) {
    for (const edgeId of [...pending]) {
      const handedIn = await bus.takePartial(open.attemptId, edgeId);
      if (handedIn) metrics.partialBytesIn(handedIn.bytes);
      const partial = handedIn?.partial ?? null;
      if (partial instanceof Error) {
        log('error', 'edge partial unreadable: left out', { edgeId, round: open.round, error: partial.message });
        pending.delete(edgeId);
      } else if (partial) {
        taken.push(partial);
        pending.delete(edgeId);
      } else if (await bus.edgeAlive(edgeId)) {
        silentSince.delete(edgeId);
      } else {
        const since = silentSince.get(edgeId) ?? Date.now();
        silentSince.set(edgeId, since);
        if (Date.now() - since >= EDGE_TTL_SECONDS * 1000) {
          log('warn', 'edge lost before handing in its partial: its members do not count', { edgeId, round: open.round, members: membersOf(open, edgeId) });
          pending.delete(edgeId);
        }
      }
    }
    if (pending.size === 0) break;
    if (Date.now() >= deadline) {
      log('warn', 'edge partials missing at the deadline: left out', { edges: [...pending], round: open.round });
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    // Said again every second: an edge whose subscription was down (a Redis restart) hears it once it is back.
    if (++polls % REANNOUNCE_EVERY === 0) await bus.closeAttempt(open.attemptId);
  }
  return taken;
}

function membersOf(open: Attempt, edgeId: string): number {
  return [...open.claims.values()].filter((e) => e === edgeId).length;
}

/**
 * Adds the edges' partials, in edge-id order, to the coordinator's own sum (of updates sent to it directly).
 * A partial is left out whole when it names a member its edge was not granted, names one twice, has the
 * wrong length, a non-finite value, or more weight than its members may carry (maxWeight each, or 1 each
 * with DP-FedAvg's equal weights). Returns the merged aggregate and every member whose update is in it, once.
 */
export function mergePartials(
  own: { aggregate: Extract<RoundAggregate, { kind: 'sum' }>; survivors: readonly string[] },
  partials: readonly Partial[],
  open: Pick<Attempt, 'attemptId' | 'claims' | 'policy'>,
  log: Logger,
): { aggregate: Extract<RoundAggregate, { kind: 'sum' }>; survivors: string[] } {
  // A copy: the caller's sum stays as it was.
  const sum = Float64Array.from(own.aggregate.sum);
  let totalWeight = own.aggregate.totalWeight;
  const survivors = [...own.survivors];
  const counted = new Set(survivors);
  for (const partial of [...partials].sort((a, b) => (a.edgeId < b.edgeId ? -1 : a.edgeId > b.edgeId ? 1 : 0))) {
    const problem = partialProblem(partial, sum.length, open, counted);
    if (problem) {
      log('error', 'edge partial refused: left out', { edgeId: partial.edgeId, problem });
      continue;
    }
    for (let i = 0; i < sum.length; i++) sum[i] += partial.sum[i];
    totalWeight += partial.totalWeight;
    for (const id of partial.survivors) counted.add(id);
    survivors.push(...partial.survivors);
  }
  return { aggregate: { kind: 'sum', sum, totalWeight }, survivors };
}

function partialProblem(partial: Partial, length: number, open: Pick<Attempt, 'attemptId' | 'claims' | 'policy'>, counted: ReadonlySet<string>): string | null {
  if (partial.attemptId !== open.attemptId) return `partial of attempt ${partial.attemptId}, not ${open.attemptId}`;
  if (partial.sum.length !== length) return `partial sum has ${partial.sum.length} values, expected ${length}`;
  const seen = new Set<string>();
  for (const id of partial.survivors) {
    if (open.claims.get(id) !== partial.edgeId) return `member ${id} was not granted to edge ${partial.edgeId}`;
    if (seen.has(id) || counted.has(id)) return `member ${id} counted twice`;
    seen.add(id);
  }
  const maxWeight = open.policy.maxWeight ?? 1;
  if (partial.totalWeight > partial.survivors.length * maxWeight) return `weight ${partial.totalWeight} exceeds ${partial.survivors.length} × ${maxWeight}`;
  for (const value of partial.sum) if (!Number.isFinite(value)) return 'partial sum holds a non-finite value';
  return null;
}
