import type { RoundResult } from '../src/core/protocol/messages.js';
import type { RoundPhase } from './aggregator.js';
import type { ServerConfig } from './config.js';

/** What the operator sees: the dashboard's data, read-only, free of secrets. */
export interface MemberStatus {
  /** Pseudonymous id derived from the member's signing key. */
  clientId: string;
  connected: boolean;
  lastSeen: string;
  roundsContributed: number;
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
  members: MemberStatus[];
  /** The active config without secrets. */
  config: Omit<ServerConfig, 'inviteToken'>;
  updatedAt: string;
}
