/**
 * Every reason code the protocol carries, written once: what the server answers when it refuses a
 * hello, rejects an update, and what a participant says when it declines a round. Server, client,
 * app and tests import these instead of writing the strings again.
 */

/** Why the server refuses a hello (`HelloResponse` with ok: false). */
export const ADMISSION_REFUSALS = [
  'malformed',
  'bad-signature',
  'bad-invite',
  'invite-expired',
  'invite-used-up',
  'invite-revoked',
  'revoked',
  'key-mismatch',
] as const;
export type AdmissionRefusal = (typeof ADMISSION_REFUSALS)[number];

/** Why the server rejects an update (`UpdateAck` with accepted: false). */
export const UPDATE_REJECTIONS = [
  'malformed',
  'unknown-client',
  'not-in-cohort',
  'stale-round',
  'duplicate',
  'oversized',
  'envelope',
  'wrong-shape',
  'non-finite',
  'round-closed',
  /** The member already answered this attempt (declined it, or sent its update). */
  'already-answered',
  /** Federated evaluation counts that are malformed, inconsistent, too large, or not asked for. */
  'bad-evaluation',
] as const;
export type UpdateRejection = (typeof UPDATE_REJECTIONS)[number];

/** Why a participant sat a round out: its own privacy cap, or settings it never consented to. */
export const DECLINE_REASONS = ['budget', 'consent'] as const;
export type DeclineReason = (typeof DECLINE_REASONS)[number];

/**
 * Why a federation stopped before its last round (`federation:done` with outcome 'stopped'): a round
 * that failed every allowed attempt, the next round would take the federation's ε past maxEpsilon,
 * every member declined (q = 1: retrying cannot change that), or too few members left who are not
 * out of their privacy budget.
 */
export const FEDERATION_END_REASONS = ['attempts-exhausted', 'budget', 'everyone-declined', 'members-out-of-budget', 'early-stop'] as const;
export type FederationEndReason = (typeof FEDERATION_END_REASONS)[number];

export function isAdmissionRefusal(reason: string): reason is AdmissionRefusal {
  return (ADMISSION_REFUSALS as readonly string[]).includes(reason);
}
