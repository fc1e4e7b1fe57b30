/**
 * The accountant the app reports ε with, and enforces the cap with. It must be the one
 * `covey privacy ledger` uses, so that the Privacy screen and the command line always agree on
 * the same ledger: both use the tight PRV accountant (Gopi, Lee & Wutschitz 2021), an upper
 * bound on ε (the UI end-to-end test compares the two).
 */
import { epsilonFor, type AccountantName, type EpsilonOf } from '../core/privacy/index.js';
import type { Epsilon } from './contract.js';

export const ACCOUNTANT: AccountantName = 'prv';

export const appEpsilonOf: EpsilonOf = (records, delta) => (records.length === 0 ? 0 : epsilonFor(records, delta, ACCOUNTANT).epsilon);

/** ε for the wire: unbounded (no noise) becomes null, since JSON has no Infinity. */
export function wireEpsilon(value: number): Epsilon {
  return Number.isFinite(value) ? value : null;
}
