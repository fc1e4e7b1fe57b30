/**
 * One answer per cohort member per attempt: an update or a decline, never both and never twice,
 * so that `received + declined` counts each member at most once and a round never closes early.
 */
export interface AttemptAnswers {
  readonly round: number;
  readonly received: ReadonlySet<string>;
  readonly declined: ReadonlySet<string>;
}

/** Null when `clientId` has not answered this attempt yet; otherwise the refusal for a second answer. */
export function secondAnswer(attempt: AttemptAnswers, clientId: string): { reason: 'duplicate' | 'already-answered'; message: string } | null {
  if (attempt.received.has(clientId)) {
    return { reason: 'duplicate', message: `already sent an update for round ${attempt.round}: one answer per member per attempt` };
  }
  if (attempt.declined.has(clientId)) {
    return { reason: 'already-answered', message: `already declined round ${attempt.round}: one answer per member per attempt` };
  }
  return null;
}
