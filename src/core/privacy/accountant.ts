import { epsilonFor, type AccountantName } from './epsilon.js';
import type { RoundRecord } from './rdp.js';

/**
 * A privacy accountant (Opacus style): a name, and ε at δ of a list of Poisson-subsampled Gaussian
 * rounds. The rounds are the only state, kept by the caller (the participant's ledger, the server's
 * charged draws). Every figure the server, the client, the app and the CLI show comes through one.
 */
export interface Accountant {
  readonly name: AccountantName;
  /** ε at `delta` of these rounds: 0 for none; Infinity when a round carried no noise (z = 0). */
  epsilon(records: readonly RoundRecord[], delta: number): number;
}

const implementations: Readonly<Record<AccountantName, Accountant>> = {
  // RDP of the subsampled Gaussian (Mironov, Talwar, Zhang 2019), converted by Balle et al. 2020, Thm 21.
  rdp: { name: 'rdp', epsilon: (records, delta) => (records.length === 0 ? 0 : epsilonFor(records, delta, 'rdp').epsilon) },
  // The tight PRV upper bound (Gopi, Lee, Wutschitz 2021): prv.ts.
  prv: { name: 'prv', epsilon: (records, delta) => (records.length === 0 ? 0 : epsilonFor(records, delta, 'prv').epsilon) },
};

/** The accountant of that name. */
export function accountant(name: AccountantName): Accountant {
  return implementations[name];
}

/** The accountant of the ledger views, the participant's cap, the app and the server's budget: PRV, the tight upper bound. */
export const DEFAULT_ACCOUNTANT: Accountant = implementations.prv;
