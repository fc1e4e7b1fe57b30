// @vitest-environment happy-dom
/**
 * Retries as the participant sees them: the ledger has one row per attempt at a round (kinds
 * 'announced', 'contribution', 'declined'); the Privacy screen groups them under their round and
 * labels each retry, History says how many attempts a round took, and after the federation ended
 * the Privacy screen no longer asks to raise the cap.
 */
import { cleanup, render, screen } from '@testing-library/react';
import { createElement as h } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppState, CoveyApi, PrivacyRow } from '../../src/app/contract.js';
import { groupByRound } from '../../src/renderer/src/attempts.js';
import { HistoryScreen } from '../../src/renderer/src/screens/HistoryScreen.js';
import { PrivacyScreen } from '../../src/renderer/src/screens/PrivacyScreen.js';
import { fakeApi, joinedState, ok, preview, report } from './fixtures.js';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
afterEach(cleanup);

const go = () => {};
const show = (component: unknown, state: AppState, api: CoveyApi) => render(h(component as never, { state, api, go }));

const row = (round: number, kind: PrivacyRow['kind'], worstCase: number): PrivacyRow => ({ round, kind, detail: kind, promised: worstCase * 0.9, worstCase });
/** Round 1 taken part in; round 2 announced, aborted, retried and taken part in; round 3 declined on two attempts. */
const rows: PrivacyRow[] = [
  row(1, 'contribution', 1),
  row(2, 'announced', 1.2),
  row(2, 'contribution', 2),
  row(3, 'announced', 2.1),
  row(3, 'declined', 2.1),
  row(3, 'announced', 2.2),
  row(3, 'declined', 2.2),
];

describe('attempts grouped under their round', () => {
  it('counts an attempt where it is announced or contributed, and a decline under the attempt before it', () => {
    const groups = groupByRound(rows);
    expect(groups.map((g) => [g.round, g.attempts])).toEqual([
      [1, 1],
      [2, 2],
      [3, 2],
    ]);
    expect(groups[2].rows.map((r) => [r.row.kind, r.attempt, r.starts])).toEqual([
      ['announced', 0, true],
      ['declined', 0, false],
      ['announced', 1, true],
      ['declined', 1, false],
    ]);
  });

  it('shows the Privacy ledger one group per round with the retries labelled, and why it can differ from the operator', async () => {
    const { api } = fakeApi({ getPrivacy: async () => ok(report({ rows })) });
    show(PrivacyScreen, joinedState(), api);
    const table = await screen.findByTestId('ledger-table');
    const trs = [...table.querySelectorAll('tbody tr')];
    // One body: the rounds' rows in ledger order, each round's first row marked, retries labelled.
    expect(trs.map((tr) => [tr.getAttribute('data-round'), tr.getAttribute('data-attempts'), tr.className, tr.querySelector('td')?.textContent])).toEqual([
      ['1', '1', 'round-start', '1'],
      ['2', '2', 'round-start', '2'],
      ['2', '2', '', ' retry 1'],
      ['3', '2', 'round-start', '3'],
      ['3', '2', '', ''],
      ['3', '2', '', ' retry 1'],
      ['3', '2', '', ''],
    ]);
    expect(screen.getByTestId('ledger-vs-operator').textContent).toMatch(
      /counts every attempt announced to you.*only the rounds you contributed to, each at q = 1/,
    );
  });

  it('does not ask to raise the cap once the federation has ended', async () => {
    const capped = report({ rows, nextRoundAllowed: false });
    const running = fakeApi({ getPrivacy: async () => ok(capped) });
    show(PrivacyScreen, joinedState(), running.api);
    expect((await screen.findByTestId('next-round-warning')).textContent).toMatch(/Raise the cap to take part again/);
    cleanup();
    const ended = fakeApi({ getPrivacy: async () => ok(capped) });
    const endedState = joinedState({
      participation: 'done',
      federation: { ...preview, ended: { outcome: 'completed', message: 'all rounds done', rounds: 3, of: 3 } },
    });
    show(PrivacyScreen, endedState, ended.api);
    await screen.findByTestId('ledger-table');
    expect(screen.queryByTestId('next-round-warning')).toBeNull();
    expect(document.body.textContent).not.toMatch(/Raise the cap/);
  });

  it('says in History how many attempts a retried round took', () => {
    const at = new Date().toISOString();
    const state = joinedState({
      rounds: [
        { round: 1, outcome: 'contributed', attempts: 1, at },
        { round: 2, outcome: 'declined', reasonCode: 'budget', reason: 'Declined for your privacy budget.', attempts: 3, at },
      ],
    });
    show(HistoryScreen, state, fakeApi().api);
    const retries = screen.getAllByTestId('retries');
    expect(retries).toHaveLength(1);
    expect(retries[0].closest('tr')?.getAttribute('data-outcome')).toBe('declined');
    expect(retries[0].textContent).toMatch(/3 attempts: the server retried the round 2 times/);
  });
});
