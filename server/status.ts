import type { AvailabilityStatus } from '../src/core/protocol/availability.js';
import type { FederationEnd } from '../src/core/protocol/end.js';
import type { RoundResult } from '../src/core/protocol/messages.js';
import type { AbortedAttempt } from './db.js';
import type { RoundPhase } from './aggregator.js';
import type { ServerConfig } from './config.js';

/** What the operator sees: the dashboard's data, read-only, free of secrets. */
export interface MemberStatus {
  /** Pseudonymous id derived from the member's signing key. */
  clientId: string;
  connected: boolean;
  lastSeen: string;
  roundsContributed: number;
  /** What a connected member last said about being drawn (paused, out of budget); null when not connected. */
  availability: AvailabilityStatus | null;
}

export interface RoundStatus extends RoundResult {
  cohort: number;
}

export interface FederationStatus {
  federationId: string;
  phase: RoundPhase;
  /** The round in progress, or null between rounds. */
  openRound: { round: number; cohort: number; received: number; declined: number; deadline: string } | null;
  completedRound: number;
  targetRounds: number;
  epsilon: number | null;
  delta: number | null;
  maxEpsilon: number | null;
  rounds: RoundStatus[];
  /** Attempts that released nothing, with the reason (each still charged to the accountant with DP on). */
  abortedAttempts: AbortedAttempt[];
  /** How the federation ended; null while it runs. */
  end: FederationEnd | null;
  members: MemberStatus[];
  /** The active config without secrets. */
  config: Omit<ServerConfig, 'inviteToken'>;
  updatedAt: string;
}
