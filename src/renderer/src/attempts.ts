/**
 * The ledger keeps one row per attempt at a round: the server retries an aborted attempt under
 * the same round number, and each attempt announced to this device is charged. A row that starts
 * an attempt is an announcement, or a contribution (which stands for its announcement); a decline
 * belongs to the attempt before it. The screens show the rows grouped under their round, each
 * attempt after the first labelled as a retry.
 */

const STARTS_ATTEMPT: ReadonlySet<string> = new Set(['announced', 'contribution']);

export interface AttemptRow<T> {
  row: T;
  /** 0 for the round's first attempt, 1 for its first retry, … */
  attempt: number;
  /** Whether this row is where its attempt starts (so where a retry is labelled). */
  starts: boolean;
}

export interface RoundGroup<T> {
  round: number;
  rows: AttemptRow<T>[];
  /** How many attempts the round had on this device. */
  attempts: number;
}

/** Rows grouped under their round, rounds in the order they first appear, rows in ledger order. */
export function groupByRound<T extends { round: number; kind: string }>(rows: readonly T[]): RoundGroup<T>[] {
  const groups = new Map<number, RoundGroup<T>>();
  for (const row of rows) {
    let group = groups.get(row.round);
    if (!group) groups.set(row.round, (group = { round: row.round, rows: [], attempts: 0 }));
    const starts = STARTS_ATTEMPT.has(row.kind);
    if (starts) group.attempts++;
    group.rows.push({ row, attempt: Math.max(0, group.attempts - 1), starts });
  }
  return [...groups.values()];
}

/** "retry 2" for a round's third attempt; null for its first. */
export function retryLabel(attempt: number): string | null {
  return attempt === 0 ? null : `retry ${attempt}`;
}
