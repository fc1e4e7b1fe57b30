/**
 * What members are told, as the server signs it (protocol/signed.ts): each attempt's announcement
 * (the settings every member's promised view charges it with), each member's own copy of a round
 * result (the end of the federation: federation-end.ts).
 */
import type { Identity } from '../src/core/crypto/index.js';
import type { RoundResult } from '../src/core/protocol/messages.js';
import { signMessage, type MemberRoundResult, type RoundAnnounce } from '../src/core/protocol/signed.js';
import type { ServerConfig } from './config.js';

/** The signed announcement of one attempt: mode, z, C, q, δ and the expected cohort size it runs with. */
export function announcement(
  identity: Identity,
  config: ServerConfig,
  attempt: { round: number; attemptId: string; expectedClients: number },
): Promise<RoundAnnounce> {
  const { dp, cohort, federationId } = config;
  return signMessage(identity, 'announce', {
    federationId,
    round: attempt.round,
    attemptId: attempt.attemptId,
    settings: {
      mode: dp.mode,
      noiseMultiplier: dp.noiseMultiplier,
      clipNorm: dp.clipNorm,
      samplingRate: cohort.samplingRate,
      delta: dp.delta,
      expectedClients: attempt.expectedClients,
    },
  });
}

/**
 * One member's copy of a released round. With DP on it carries no cohort counts: colluding
 * members who learn the exact count learn whether an honest member was sampled, which removes the
 * amplification by sampling the promised view relies on; each member learns only whether its own
 * update counted. The operator's dashboard and database keep the counts.
 */
export function memberResult(
  identity: Identity,
  config: ServerConfig,
  result: RoundResult,
  clientId: string,
  counted: boolean,
): Promise<MemberRoundResult & { signature: string }> {
  const { participants, declined, ...rest } = result;
  return signMessage(identity, 'result', {
    federationId: config.federationId,
    clientId,
    counted,
    ...(config.dp.mode === 'off' && { participants, declined }),
    ...rest,
  });
}
