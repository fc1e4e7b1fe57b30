/**
 * The app reports ε, and enforces the cap, with the default accountant (DEFAULT_ACCOUNTANT: the
 * tight PRV upper bound, Gopi, Lee & Wutschitz 2021), which is also `covey privacy ledger`'s
 * default, so that the Privacy screen and the command line agree on the same ledger (the UI
 * end-to-end test compares the two).
 */
import type { Epsilon } from './contract.js';

/** ε for the wire: unbounded (no noise) becomes null, since JSON has no Infinity. */
export function wireEpsilon(value: number): Epsilon {
  return Number.isFinite(value) ? value : null;
}
