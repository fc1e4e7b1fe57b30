/** How a federation ended, as every side says it: the body of the signed `federation:done` (signed.ts) less its id. */
import type { FederationDone } from './signed.js';

export type FederationEnd = Omit<FederationDone, 'federationId'>;

/** The words `covey server` and `covey join` print for an end: "complete" only when every round was released. */
export function describeEnd(end: FederationEnd): string {
  return end.outcome === 'completed'
    ? `federation complete: all ${end.of} rounds done`
    : `federation stopped after ${end.rounds} of ${end.of} rounds: ${end.message}`;
}

/**
 * The exit status of `covey join`, and of `covey server --exit-when-done`, at the end: 0 when the
 * federation completed, 3 when it stopped early (1 stays "this command failed"), so a script can
 * tell the three apart.
 */
export function endExitCode(end: FederationEnd): number {
  return end.outcome === 'completed' ? 0 : EXIT_STOPPED_EARLY;
}

export const EXIT_STOPPED_EARLY = 3;
