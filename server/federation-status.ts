import type { AvailabilityStatus } from '../src/core/protocol/availability.js';
import type { FederationEnd } from '../src/core/protocol/end.js';
import type { Attempt } from './attempt.js';
import type { RoundPhase } from './aggregator.js';
import type { ServerConfig } from './config.js';
import type { FederationDb } from './db.js';
import type { FederationStatus } from './status.js';

/** What the dashboard's status is read from. */
export interface StatusSource {
  config: ServerConfig;
  phase: RoundPhase;
  open: Attempt | null;
  connectedIds: string[];
  /** A connected member's last word on being drawn. */
  availability: (clientId: string) => AvailabilityStatus | null;
  db: FederationDb;
  end: FederationEnd | null;
  /** Federation ε so far; called once. */
  epsilon: () => number | null;
}

/** What the dashboard shows: read-only, no secrets. */
export function federationStatus(server: StatusSource): FederationStatus {
  const { open, db } = server;
  const connected = new Set(server.connectedIds);
  const { inviteToken: _secret, ...config } = server.config;
  return {
    federationId: server.config.federationId,
    phase: server.phase,
    openRound: open
      ? {
          round: open.round,
          cohort: open.cohort.size,
          received: open.received.size,
          declined: open.declined.size,
          deadline: new Date(open.deadline).toISOString(),
        }
      : null,
    completedRound: db.completedRound(),
    targetRounds: server.config.rounds,
    epsilon: server.epsilon(),
    delta: server.config.dp.mode === 'off' ? null : server.config.dp.delta,
    maxEpsilon: server.config.maxEpsilon ?? null,
    rounds: db.results(),
    abortedAttempts: db.abortedAttempts(),
    end: server.end,
    members: db.members().map((m) => ({
      clientId: m.clientId,
      connected: connected.has(m.clientId),
      lastSeen: m.lastSeen,
      roundsContributed: m.roundsContributed,
      availability: connected.has(m.clientId) ? server.availability(m.clientId) : null,
    })),
    config,
    updatedAt: new Date().toISOString(),
  };
}
