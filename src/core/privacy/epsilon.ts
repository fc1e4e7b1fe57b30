import { prvEpsilon } from './prv.js';
import { computeRdp, DEFAULT_ORDERS, epsilonFromRdp, type RoundRecord } from './rdp.js';

export type AccountantName = 'rdp' | 'prv';

export const ACCOUNTANTS: readonly AccountantName[] = ['rdp', 'prv'];

export interface EpsilonResult {
  epsilon: number;
  accountant: AccountantName;
  /** RDP only: the order at which the conversion to (ε, δ) was tightest. */
  order?: number;
  /** PRV only: the exact ε lies in [epsilon − epsilonError, epsilon]. */
  epsilonError?: number;
}

/** ε at `delta` of a sequence of Poisson-subsampled Gaussian rounds (empty ⇒ 0) by the chosen accountant. */
export function epsilonFor(records: readonly RoundRecord[], delta: number, accountant: AccountantName = 'prv'): EpsilonResult {
  switch (accountant) {
    case 'rdp':
      return { ...epsilonFromRdp(DEFAULT_ORDERS, computeRdp(records), delta), accountant };
    case 'prv': {
      const { epsilon, epsilonError } = prvEpsilon(records, delta);
      return { epsilon, accountant, epsilonError };
    }
    default:
      throw new RangeError(`unknown accountant "${String(accountant)}" (expected ${ACCOUNTANTS.join(' or ')})`);
  }
}
