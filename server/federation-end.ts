/**
 * How a federation ended, said once: the round loop decides, and the log line, the signed
 * `federation:done`, the status API, `covey server` and `covey join` all read this one record
 * (its words: src/core/protocol/end.ts).
 */
import type { Identity } from '../src/core/crypto/index.js';
import type { FederationEndReason } from '../src/core/protocol/reasons.js';
import type { FederationEnd } from '../src/core/protocol/end.js';
import { signMessage } from '../src/core/protocol/signed.js';
import type { ServerConfig } from './config.js';
import type { Logger } from './logger.js';

export type { FederationEnd };

/** Why the round loop stopped before its last round, in a code and in words. */
export interface StopCause {
  reason: FederationEndReason;
  message: string;
}

/** The end of a federation that released `rounds` of its configured rounds; `cause` null means it ran to the end. */
export function federationEnd(config: ServerConfig, rounds: number, cause: StopCause | null): FederationEnd {
  if (cause === null) return { outcome: 'completed', reason: null, message: `completed all ${config.rounds} rounds`, rounds, of: config.rounds };
  return { outcome: 'stopped', reason: cause.reason, message: cause.message, rounds, of: config.rounds };
}

/** `federation complete` at info only when it completed; otherwise `federation stopped` at warn, with the reason. */
export function logEnd(log: Logger, end: FederationEnd): void {
  if (end.outcome === 'completed') log('info', 'federation complete', { rounds: end.rounds });
  else log('warn', 'federation stopped', { rounds: end.rounds, of: end.of, reason: end.reason, message: end.message });
}

/** The signed `federation:done` every connected member gets, and every member that connects afterwards. */
export function signedEnd(identity: Identity, config: ServerConfig, end: FederationEnd) {
  return signMessage(identity, 'done', { federationId: config.federationId, ...end });
}
