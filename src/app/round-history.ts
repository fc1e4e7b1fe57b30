/**
 * The History screen's rows: one per round this device heard of, kept in the settings file and
 * updated from the federation client's events. Pure functions over the row list (sorted by round).
 */
import type { ClientEvent } from '../client/federation-client.js';
import type { RoundRow } from './contract.js';

type EventOf<T extends ClientEvent['type']> = Extract<ClientEvent, { type: T }>;

/** The row of `round`, added with `outcome` (and the time now) when there is none yet. */
function rowFor(rows: RoundRow[], round: number, outcome: RoundRow['outcome']): RoundRow {
  let row = rows.find((r) => r.round === round);
  if (!row) {
    row = { round, outcome, at: new Date().toISOString() };
    rows.push(row);
    rows.sort((a, b) => a.round - b.round);
  }
  return row;
}

/** This device's update for the round was accepted: another attempt counted, any earlier reason cleared. */
export function recordContributed(rows: RoundRow[], event: EventOf<'update-sent'>): void {
  const row = rowFor(rows, event.round, 'contributed');
  Object.assign(row, {
    outcome: 'contributed',
    reason: undefined,
    reasonCode: undefined,
    trainLoss: event.trainLoss,
    trainAccuracy: event.trainAccuracy,
    attempts: (row.attempts ?? 0) + 1,
  });
}

export function recordRejected(rows: RoundRow[], event: EventOf<'update-rejected'>): void {
  const row = rowFor(rows, event.round, 'dropped');
  Object.assign(row, { outcome: 'dropped', reason: `The server did not count your update (${event.reason}): ${event.message}` });
}

export function recordDeclined(rows: RoundRow[], event: EventOf<'declined'>): void {
  const row = rowFor(rows, event.round, 'declined');
  Object.assign(row, {
    outcome: 'declined',
    attempts: (row.attempts ?? 0) + 1,
    reasonCode: event.reason,
    reason:
      event.reason === 'budget'
        ? `Declined for your privacy budget: ${event.message}.`
        : `Declined: the settings changed from what you agreed to — ${event.message}.`,
  });
}

/** The round's released model: its accuracy and size, on the row of a round this device was not selected for too. */
export function recordResult(rows: RoundRow[], { result }: EventOf<'round-result'>): void {
  const row = rowFor(rows, result.round, 'not-selected');
  Object.assign(row, { globalAccuracy: result.accuracy, globalLoss: result.loss, participants: result.participants });
}

/** An aborted attempt drops a contribution already sent (the ledger still counts it); true when a row changed. */
export function recordAbort(rows: RoundRow[], event: EventOf<'round-abort'>): boolean {
  const row = rows.find((r) => r.round === event.round);
  if (row?.outcome !== 'contributed') return false;
  Object.assign(row, {
    outcome: 'dropped',
    reason: `The round was cancelled (${event.reason}); your update was not used, but it is still counted in your ledger.`,
  });
  return true;
}
