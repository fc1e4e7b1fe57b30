import type { UpdateAck } from '../src/core/protocol/messages.js';
import type { UpdateOutcome } from './attempt.js';
import { crashPoint } from './fault.js';
import type { Logger } from './logger.js';
import type { ServerMetrics } from './metrics.js';

/** Where the server tells what became of an update: its log, its metrics, and the progress of the round. */
export interface UpdateObservers {
  log: Logger;
  metrics: ServerMetrics;
  progress: (progress: { round: number; received: number; cohort: number }) => void;
}

/** Logs and counts one plain update's outcome (attempt.ts acceptUpdate); returns the ack for its sender. */
export function reportUpdate(obs: UpdateObservers, outcome: UpdateOutcome): UpdateAck {
  const { clientId } = outcome;
  if (outcome.bytesIn !== null) obs.metrics.bytesIn(outcome.bytesIn);
  if (outcome.kind === 'rejected') {
    if (outcome.failure !== undefined) obs.log('error', 'update failed', { clientId, error: outcome.failure });
    obs.metrics.updateRejected(outcome.reason);
    obs.log('warn', 'update rejected', { clientId, reason: outcome.reason, message: outcome.message });
    return outcome.ack;
  }
  const { round, received, cohort, norm } = outcome;
  if (outcome.clipped) obs.log('info', 'update clipped', { clientId, round, norm, bound: outcome.normBound });
  reportAccepted(obs, { clientId, round, received, cohort, norm });
  return outcome.ack;
}

/** An update (plain, or a masked input of a secure round) is in: the crash point of the crash tests, the log line, the progress. */
export function reportAccepted(
  obs: UpdateObservers,
  accepted: { clientId: string | null; round: number; received: number; cohort: number; norm?: number; edge?: string },
): void {
  const { round, received, cohort } = accepted;
  crashPoint('updates', round);
  obs.log('info', 'update accepted', accepted);
  obs.progress({ round, received, cohort });
}
