import { describe, expect, it } from 'vitest';
import type { RoundRow } from '../../src/app/contract.js';
import { recordAbort, recordContributed, recordDeclined, recordRejected, recordResult } from '../../src/app/round-history.js';
import type { MemberRoundResult } from '../../src/core/protocol/signed.js';

const stats = { bytes: 1000, trainLoss: 0.4, trainAccuracy: 0.8, examplesPerSecond: 100 };

function result(round: number, accuracy: number | null, participants?: number): MemberRoundResult {
  return {
    federationId: 'fed',
    round,
    clientId: 'me',
    counted: true,
    ...(participants !== undefined && { participants }),
    accuracy,
    loss: accuracy === null ? null : 1 - accuracy,
    epsilon: null,
    delta: null,
    seconds: 1,
  };
}

describe('the History rows, from the client events', () => {
  it('a round declined for budget, then taken on the retried attempt: contributed, two attempts, no reason left', () => {
    const rows: RoundRow[] = [];
    recordDeclined(rows, { type: 'declined', round: 2, reason: 'budget', message: 'ε 4.1 would be above your cap of 4' });
    expect(rows).toMatchObject([
      { round: 2, outcome: 'declined', reasonCode: 'budget', attempts: 1, reason: 'Declined for your privacy budget: ε 4.1 would be above your cap of 4.' },
    ]);
    recordContributed(rows, { type: 'update-sent', round: 2, ...stats });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ outcome: 'contributed', attempts: 2, trainLoss: 0.4, trainAccuracy: 0.8 });
    expect(rows[0].reason).toBeUndefined();
    expect(rows[0].reasonCode).toBeUndefined();
  });

  it('a decline for settings never consented to says so in other words', () => {
    const rows: RoundRow[] = [];
    recordDeclined(rows, { type: 'declined', round: 1, reason: 'consent', message: 'the noise multiplier is 0.5, not 1.1' });
    expect(rows[0].reason).toBe('Declined: the settings changed from what you agreed to — the noise multiplier is 0.5, not 1.1.');
  });

  it('results fill in the released model, also for rounds this device was not selected for, kept in round order', () => {
    const rows: RoundRow[] = [];
    recordContributed(rows, { type: 'update-sent', round: 3, ...stats });
    recordResult(rows, { type: 'round-result', result: result(3, 0.91, 4) });
    recordResult(rows, { type: 'round-result', result: result(1, null) });
    expect(rows.map((r) => [r.round, r.outcome, r.globalAccuracy, r.participants])).toEqual([
      [1, 'not-selected', null, undefined],
      [3, 'contributed', 0.91, 4],
    ]);
  });

  it('an update the server refused is dropped, with its reason', () => {
    const rows: RoundRow[] = [];
    recordRejected(rows, { type: 'update-rejected', round: 4, reason: 'stale-round', message: 'round 4 is not open' });
    expect(rows).toMatchObject([{ round: 4, outcome: 'dropped', reason: 'The server did not count your update (stale-round): round 4 is not open' }]);
  });

  it('an abort drops a contribution already sent and says the ledger still counts it; other rows are left alone', () => {
    const rows: RoundRow[] = [];
    recordContributed(rows, { type: 'update-sent', round: 5, ...stats });
    recordDeclined(rows, { type: 'declined', round: 6, reason: 'budget', message: 'over the cap' });
    expect(recordAbort(rows, { type: 'round-abort', round: 5, reason: 'too few updates' })).toBe(true);
    expect(rows[0].outcome).toBe('dropped');
    expect(rows[0].reason).toBe('The round was cancelled (too few updates); your update was not used, but it is still counted in your ledger.');
    const declined = { ...rows[1] };
    expect(recordAbort(rows, { type: 'round-abort', round: 6, reason: 'too few updates' })).toBe(false);
    expect(recordAbort(rows, { type: 'round-abort', round: 7, reason: 'too few updates' })).toBe(false);
    expect(rows[1]).toEqual(declined);
    expect(rows).toHaveLength(2);
  });
});
