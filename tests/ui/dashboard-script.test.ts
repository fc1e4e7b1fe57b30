// @vitest-environment happy-dom
/**
 * The operator dashboard's script (server/dashboard/dashboard.js, type-checked against
 * server/status.ts) on its real page in happy-dom: it signs in with the saved token, renders a
 * FederationStatus (summary, rounds, members, one chart per series), and signs out when the token
 * stops being accepted. The chart library is replaced by a recorder; the status comes from a
 * stubbed fetch holding a status of the server's own type.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseServerConfig } from '../../server/config.js';
import type { FederationStatus } from '../../server/status.js';

const DIR = resolve(import.meta.dirname, '../../server/dashboard');
const page = readFileSync(resolve(DIR, 'index.html'), 'utf8');
const script = readFileSync(resolve(DIR, 'dashboard.js'), 'utf8');

type Splits = (u: unknown, axis: number, min: number, max: number) => number[];
interface ChartRecord {
  data: unknown[][];
  destroyed: boolean;
  options: { axes: { splits?: Splits }[] };
}
const charts: ChartRecord[] = [];
class ChartRecorder {
  record: ChartRecord;
  constructor(options: ChartRecord['options'], data: unknown[][]) {
    this.record = { data, destroyed: false, options };
    charts.push(this.record);
  }
  destroy() {
    this.record.destroyed = true;
  }
  setSize() {}
}

const config = parseServerConfig({
  federationId: 'dash-test',
  rounds: 10,
  cohort: { expectedClients: 2 },
  dp: { mode: 'central', noiseMultiplier: 1, clipNorm: 1, delta: 1e-5 },
});
const status: FederationStatus = {
  federationId: 'dash-test',
  phase: 'idle',
  openRound: null,
  completedRound: 2,
  targetRounds: 10,
  epsilon: 0.5,
  delta: 1e-5,
  maxEpsilon: 4,
  rounds: [1, 2].map((round) => ({
    round,
    cohort: 3,
    participants: 3,
    declined: 0,
    accuracy: 0.8 + round / 100,
    loss: 0.5,
    epsilon: round / 4,
    delta: 1e-5,
    seconds: 2,
    // Round 2 carries the per-class evaluation (the dashboard shows the latest round that has it).
    ...(round === 2 && {
      macroF1: 0.7527,
      auc: 0.9,
      confusion: [
        [5, 1, 0],
        [2, 3, 1],
        [0, 0, 4],
      ],
      perClass: [
        { label: 0, precision: 5 / 7, recall: 5 / 6, f1: 10 / 13 },
        { label: 1, precision: 0.75, recall: 0.5, f1: 0.6 },
        { label: 2, precision: 0.8, recall: 1, f1: 8 / 9 },
      ],
    }),
  })),
  abortedAttempts: [],
  end: null,
  members: [
    { clientId: 'a1', connected: true, lastSeen: new Date().toISOString(), roundsContributed: 2, availability: 'available' },
    { clientId: 'b2', connected: false, lastSeen: new Date(Date.now() - 120_000).toISOString(), roundsContributed: 1, availability: null },
  ],
  config, // no inviteToken set, so nothing secret in it
  updatedAt: new Date().toISOString(),
};

const fetchStub = vi.fn<(url: string, init: { headers: Record<string, string> }) => Promise<unknown>>();

function load(answer: () => { status: number; body?: unknown }): void {
  // The page without its script and style tags: the test runs the script itself, and styles do not matter here.
  document.documentElement.innerHTML = page.replace(/<script[^>]*><\/script>|<link[^>]*>/g, '');
  vi.stubGlobal('uPlot', ChartRecorder);
  vi.stubGlobal('fetch', fetchStub);
  fetchStub.mockImplementation(() => {
    const { status: code, body } = answer();
    return Promise.resolve({ status: code, ok: code >= 200 && code < 300, json: () => Promise.resolve(body) });
  });
  // Runs the page's script as the browser would, in this window.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  (new Function(script) as () => void)();
}

afterEach(() => {
  vi.unstubAllGlobals();
  sessionStorage.clear();
  charts.length = 0;
  fetchStub.mockReset();
});

const text = (name: string) => document.querySelector(`[data-field="${name}"]`)?.textContent;

describe('the operator dashboard script', () => {
  it('signs in with the saved token and renders the status', async () => {
    sessionStorage.setItem('covey.operatorToken', 'operator-token-123');
    load(() => ({ status: 200, body: status }));
    await vi.waitFor(() => expect(text('federationId')).toBe('dash-test'));
    const [url, init] = fetchStub.mock.calls[0];
    expect([url, init.headers.Authorization]).toEqual(['/api/status', 'Bearer operator-token-123']);
    expect(text('rounds')).toBe('2 / 10');
    expect(text('epsilon')).toBe('0.500 / 4.000');
    expect(text('members')).toBe('1 / 2');
    expect(document.querySelectorAll('#rounds-table tbody tr')).toHaveLength(2);
    expect(document.querySelector('#rounds-table tbody tr')?.getAttribute('data-round')).toBe('2'); // newest first
    expect(document.querySelectorAll('#members-table tbody tr')).toHaveLength(2);
    expect(charts).toHaveLength(3); // accuracy, loss, ε (with the maxEpsilon line)
    expect(charts[2].data).toEqual([
      [1, 2],
      [0.25, 0.5],
      [4, 4],
    ]);
    expect(document.getElementById('login')?.hidden).toBe(true);
    expect(text('phase')).toBe('between rounds (2 of 10 done)');
    // The latest round's confusion heat map (a header row and one row per true class) and per-class bars.
    expect(document.getElementById('evaluation')?.hidden).toBe(false);
    expect(text('evaluationRound')).toBe('(round 2)');
    expect(text('evaluationSummary')).toBe('macro-F1 0.7527 · one-vs-rest ROC-AUC 0.9000');
    const cells = [...document.querySelectorAll('#confusion tr')].slice(1).map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));
    expect(cells).toEqual([
      ['5', '1', '0'],
      ['2', '3', '1'],
      ['0', '0', '4'],
    ]);
    const recall = [...document.querySelectorAll<HTMLElement>('#per-class .bar-recall')].map((bar) => bar.style.width);
    expect(recall).toEqual(['83.3%', '50.0%', '100.0%']);
  });

  it('says the phase in words with the counts behind it', async () => {
    sessionStorage.setItem('covey.operatorToken', 'operator-token-123');
    const waiting = { ...status, phase: 'waiting-for-clients' as const };
    load(() => ({ status: 200, body: waiting }));
    await vi.waitFor(() => expect(text('phase')).toBe('waiting for members: need 2, have 1'));
    expect(document.querySelector('[data-field="phase"]')?.getAttribute('data-phase')).toBe('waiting-for-clients');
  });

  it('puts accuracy ticks at round percentages', async () => {
    sessionStorage.setItem('covey.operatorToken', 'operator-token-123');
    load(() => ({ status: 200, body: status }));
    await vi.waitFor(() => expect(charts.length).toBeGreaterThan(0));
    const splits = charts[0].options.axes[1].splits!;
    expect(splits(null, 1, 0, 0.2)).toEqual([0, 0.1, 0.2]);
    expect(splits(null, 1, 0.6, 0.9)).toEqual([0.6, 0.7, 0.8, 0.9]);
    expect(splits(null, 1, 0.8, 0.9)).toEqual([0.8, 0.85, 0.9]);
    expect(splits(null, 1, 0.03, 0.13)).toEqual([0.04, 0.06, 0.08, 0.1, 0.12]);
  });

  it('says where the token is, and why the server cannot be reached, in words', async () => {
    load(() => ({ status: 200, body: status }));
    expect(document.getElementById('login')?.textContent).toMatch(/<stateDir>\/operator-token/);
    fetchStub.mockImplementation(() => Promise.reject(new TypeError('Failed to fetch')));
    (document.getElementById('token') as HTMLInputElement).value = 'operator-token-123';
    document.getElementById('login-form')!.dispatchEvent(new Event('submit', { cancelable: true }));
    await vi.waitFor(() => expect(document.getElementById('login-error')?.textContent).toMatch(/^Cannot reach the server at .*: it may have stopped/));
    expect(document.getElementById('login-error')?.textContent).not.toMatch(/Failed to fetch/);
  });

  it('groups aborted attempts under their round as retries, and says how the federation ended', async () => {
    sessionStorage.setItem('covey.operatorToken', 'operator-token-123');
    const at = new Date().toISOString();
    const attempt = (round: number, attemptId: string, reason: string) => ({
      round,
      attemptId,
      drawnAt: at,
      abortedAt: at,
      cohort: 2,
      kind: 'too-few-updates',
      reason,
    });
    const ended: FederationStatus = {
      ...status,
      phase: 'done',
      completedRound: 2,
      // Round 2 released on its second attempt; round 3 failed twice and the federation stopped on it.
      abortedAttempts: [
        attempt(2, 'r2a1', 'only 1 of 2 updates arrived'),
        attempt(3, 'r3a1', 'only 1 of 2 updates arrived'),
        attempt(3, 'r3a2', 'no updates arrived'),
      ],
      end: { outcome: 'stopped', reason: 'attempts-exhausted', message: 'round 3 did not complete in 2 attempts', rounds: 2, of: 10 },
      members: [{ ...status.members[0], availability: 'paused' }, status.members[1]],
    };
    load(() => ({ status: 200, body: ended }));
    await vi.waitFor(() => expect(text('federationId')).toBe('dash-test'));
    const rows = [...document.querySelectorAll<HTMLTableRowElement>('#rounds-table tbody tr')].map((tr) => [
      tr.className,
      tr.dataset.round,
      [...tr.querySelectorAll('td')].map((td) => td.textContent).join(' | '),
    ]);
    expect(rows.map(([kind, round]) => `${kind}:${round}`)).toEqual(['attempt-row:3', 'attempt-row:3', 'round-row:2', 'attempt-row:2', 'round-row:1']);
    expect(rows[0][2]).toBe('round 3, attempt 1 | 2 | aborted, retried: only 1 of 2 updates arrived');
    expect(rows[1][2]).toBe('round 3, attempt 2 | 2 | aborted: no updates arrived'); // the last try: nothing after it
    expect(rows[2][2]).toMatch(/^2 \(attempt 2\) \| 3 \| 3 /);
    expect(rows[3][2]).toBe('round 2, attempt 1 | 2 | aborted, retried: only 1 of 2 updates arrived');
    expect(text('roundsCount')).toBe('(2 released, 3 aborted attempts)');
    const end = document.getElementById('end')!;
    expect(end.hidden).toBe(false);
    expect(end.getAttribute('data-outcome')).toBe('stopped');
    expect(end.textContent).toMatch(/^Federation stopped after 2 of 10 rounds: round 3 did not complete in 2 attempts\. This dashboard stays available/);
    expect(text('phase')).toBe('stopped after 2 of 10 rounds');
    expect(document.querySelector('#members-table tbody tr')?.textContent).toMatch(/paused/);
  });

  it('calls a federation complete only when every round was released', async () => {
    sessionStorage.setItem('covey.operatorToken', 'operator-token-123');
    const done: FederationStatus = {
      ...status,
      phase: 'done',
      completedRound: 10,
      end: { outcome: 'completed', reason: null, message: 'all rounds done', rounds: 10, of: 10 },
    };
    load(() => ({ status: 200, body: done }));
    await vi.waitFor(() => expect(document.getElementById('end')?.hidden).toBe(false));
    expect(document.getElementById('end')?.textContent).toMatch(/^Federation complete: all 10 rounds done\./);
    expect(text('phase')).toBe('complete: all 10 rounds done');
  });

  it('shows no end while the federation runs', async () => {
    sessionStorage.setItem('covey.operatorToken', 'operator-token-123');
    load(() => ({ status: 200, body: status }));
    await vi.waitFor(() => expect(text('federationId')).toBe('dash-test'));
    expect(document.getElementById('end')?.hidden).toBe(true);
    expect(document.querySelectorAll('#rounds-table tbody tr.attempt-row')).toHaveLength(0);
  });

  it("shows a round's federated evaluation under its held-out accuracy", async () => {
    sessionStorage.setItem('covey.operatorToken', 'operator-token-123');
    const federatedEval = { examples: 798, members: 3, accuracy: 0.609, loss: 1.2, macroF1: 0.6 };
    const withFederated: FederationStatus = { ...status, rounds: status.rounds.map((r) => (r.round === 2 ? { ...r, federatedEval } : r)) };
    load(() => ({ status: 200, body: withFederated }));
    await vi.waitFor(() => expect(text('federationId')).toBe('dash-test'));
    const accuracy = (round: number) => document.querySelector(`#rounds-table tr[data-round="${round}"] td:nth-child(5)`);
    expect(accuracy(2)?.textContent).toBe('82.00 %federated 60.90 %');
    expect(accuracy(2)?.querySelector('.federated')?.getAttribute('title')).toBe("the round's starting model on 798 held-out examples of 3 members");
    expect(accuracy(1)?.textContent).toBe('81.00 %');
  });

  it('shows the login with a reason when the token is refused', async () => {
    sessionStorage.setItem('covey.operatorToken', 'stale-token-0000');
    load(() => ({ status: 401 }));
    await vi.waitFor(() => expect(document.getElementById('login-error')?.textContent).toMatch(/no longer accepted/));
    expect(document.getElementById('login')?.hidden).toBe(false);
    expect(sessionStorage.getItem('covey.operatorToken')).toBeNull();
    expect(document.getElementById('dashboard')).toBeNull();
  });
});
