import type { RoundRecord } from '../src/core/privacy/index.js';
import type { DpSettings } from '../src/core/protocol/messages.js';
import type { ServerConfig } from './config.js';
import type { FederationDb } from './db.js';
import { FEDERATION_ACCOUNTANT, roundRecord } from './federation-privacy.js';
import type { Logger } from './logger.js';

/** Federation ε so far, recomputed only when a round has been added (the dashboard polls it). */
export class EpsilonMemo {
  private memo: { rounds: number; epsilon: number } | null = null;

  current(dp: DpSettings, accountant: () => RoundRecord[]): number | null {
    if (dp.mode === 'off') return null;
    const records = accountant();
    if (this.memo?.rounds !== records.length) {
      this.memo = { rounds: records.length, epsilon: FEDERATION_ACCOUNTANT.epsilon(records, dp.delta) };
    }
    return this.memo.epsilon;
  }
}

/** True when one more released round would take the federation past its configured maxEpsilon. */
export function wouldExceedBudget(config: ServerConfig, db: FederationDb, log: Logger): boolean {
  const { maxEpsilon, dp } = config;
  const charge = roundRecord(config);
  if (maxEpsilon === undefined || charge === null) return false;
  const accountant = db.accountant();
  const next = FEDERATION_ACCOUNTANT.epsilon([...accountant, charge], dp.delta);
  if (next <= maxEpsilon) return false;
  log('warn', 'privacy budget reached', {
    epsilon: FEDERATION_ACCOUNTANT.epsilon(accountant, dp.delta),
    epsilonAfterNextRound: next,
    maxEpsilon,
    completedRound: db.completedRound(),
  });
  return true;
}
