import { decodeOptimizerState, INITIAL_OPTIMIZER_STATE, type OptimizerState, type Strategy } from '../src/core/aggregate/index.js';
import type { FederationDb } from './db.js';
import type { Logger } from './logger.js';

/**
 * The server optimizer's state to resume from: the one committed with the last completed round
 * (the same transaction as the round, so they always match), or the initial state for a new
 * federation. A federation whose rounds predate stored optimizer state starts its moments afresh, and says so.
 */
export function loadOptimizerState(db: FederationDb, strategy: Strategy, length: number, log: Logger): OptimizerState {
  const completed = db.completedRound();
  const stored = db.optimizerState();
  if (stored === null) {
    if (completed > 0 && strategy.optimizer !== 'sgd') {
      log('warn', 'no stored server optimizer state', { completedRound: completed, optimizer: strategy.optimizer, message: 'its moments start from zero' });
    }
    return INITIAL_OPTIMIZER_STATE;
  }
  if (stored.round !== completed) {
    throw new Error(`${db.path} holds server optimizer state for round ${stored.round}, but round ${completed} is the last completed one`);
  }
  return decodeOptimizerState(stored.state, strategy.optimizer, length);
}
