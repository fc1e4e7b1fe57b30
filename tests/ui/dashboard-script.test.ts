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

const charts: { data: unknown[][]; destroyed: boolean }[] = [];
class ChartRecorder {
  record: { data: unknown[][]; destroyed: boolean };
  constructor(_options: unknown, data: unknown[][]) {
    this.record = { data, destroyed: false };
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
