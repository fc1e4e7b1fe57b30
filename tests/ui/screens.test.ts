// @vitest-environment happy-dom
/**
 * The screens' states — loading, empty, error, and with data — rendered with React in happy-dom
 * against a fake `CoveyApi` (the same contract the Electron preload and browser mode implement).
 */
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { createElement as h } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppState, CoveyApi } from '../../src/app/contract.js';
import { App } from '../../src/renderer/src/App.js';
import { ConsentScreen } from '../../src/renderer/src/screens/ConsentScreen.js';
import { DataScreen } from '../../src/renderer/src/screens/DataScreen.js';
import { HistoryScreen } from '../../src/renderer/src/screens/HistoryScreen.js';
import { JoinScreen } from '../../src/renderer/src/screens/JoinScreen.js';
import { PrivacyScreen } from '../../src/renderer/src/screens/PrivacyScreen.js';
import { TrainingScreen } from '../../src/renderer/src/screens/TrainingScreen.js';
import type { ScreenId } from '../../src/renderer/src/screens.js';
import { appState, dataSummary, deferred, fakeApi, joinedState, ok, preview, report } from './fixtures.js';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
afterEach(cleanup);

const go = () => {};
type ScreenComponent = (props: { state: AppState; api: CoveyApi; go: (s: ScreenId) => void }) => unknown;
const show = (component: ScreenComponent, state: AppState, api: CoveyApi) => render(h(component as never, { state, api, go }));

const noDp = {
  ...preview,
  settings: { ...preview.settings, dp: { ...preview.settings.dp, mode: 'off' as const } },
  perRound: { promised: null, worstCase: null },
};

/** What the next 1..8 rounds cost (worst case 4.729 for the first, as the preview says). */
const eightRounds = report({
  projections: [4.729, 6.9, 8.6, 10.1, 11.4, 12.6, 13.7, 14.7].map((worstCase, i) => ({ k: i + 1, promised: worstCase * 0.9, worstCase, withinCap: true })),
});

describe('App shell', () => {
  it('shows a loading state until the core answers, then the Join screen', async () => {
    const answer = deferred<unknown>();
    const { api } = fakeApi({ getState: () => answer.promise });
    render(h(App, { api }));
    expect(screen.getByRole('status').textContent).toMatch(/Starting Covey/);
    await act(async () => answer.resolve(ok(appState())));
    expect(screen.getByRole('heading', { name: 'Join a federation' })).toBeTruthy();
    expect(screen.queryByRole('status')).toBeNull();
  });

  it('shows why it cannot start, in words', async () => {
    const { api } = fakeApi({ getState: async () => ({ ok: false, error: { code: 'internal', message: 'Something went wrong: disk full.' } }) });
    render(h(App, { api }));
    expect((await screen.findByRole('alert')).textContent).toBe('Something went wrong: disk full.');
  });

  it('follows the core state events and opens on Training once joined', async () => {
    const { api, push } = fakeApi({ getState: async () => ok(appState()) });
    render(h(App, { api }));
    await screen.findByRole('heading', { name: 'Join a federation' });
    act(() => push(joinedState({ participation: 'paused' })));
    // The person already chose a screen? No: the first screen follows the state until they navigate.
    expect(screen.getByTestId('sidebar-status').textContent).toMatch(/mnist-demo/);
    fireEvent.click(screen.getByRole('button', { name: /Training/ }));
    expect(screen.getByTestId('participation').textContent).toMatch(/Paused/);
  });

  it('puts a lost server connection in a top banner and the sidebar, with the retry interval, and resets the stage', async () => {
    const since = new Date(Date.now() - 12_000).toISOString();
    const lost = joinedState({
      connection: { state: 'reconnecting', since, reason: 'transport close', retryMaxSeconds: 5 },
      round: { round: 3, stage: 'sealing', epoch: 1, epochs: 1, batch: 10, batches: 10, loss: 0.2 },
    });
    const { api, push } = fakeApi({ getState: async () => ok(lost) });
    render(h(App, { api }));
    const banner = await screen.findByTestId('connection-banner');
    expect(banner.textContent).toMatch(/Connection to the federation server lost 1[0-9] s ago \(transport close\).*retrying at least every 5 s/);
    expect(screen.getByTestId('sidebar-connection').textContent).toMatch(/reconnecting/);
    expect(screen.getByTestId('stage').textContent).toMatch(/Connection lost/);
    expect(screen.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('0');
    act(() => push(joinedState({ round: { round: 3, stage: 'aborted', abortReason: 'timeout', epoch: 0, epochs: 1, batch: 0, batches: 0, loss: null } })));
    expect(screen.queryByTestId('connection-banner')).toBeNull();
    expect(screen.getByTestId('stage').textContent).toMatch(/cancelled this round.*\(timeout\)/);
  });
});

describe('Join screen', () => {
  it('starts empty, shows progress while the server is checked, then the error in words', async () => {
    const pending = deferred<unknown>();
    const { api } = fakeApi({ inspectInvite: () => pending.promise });
    show(JoinScreen, appState(), api);
    const check = screen.getByRole<HTMLButtonElement>('button', { name: 'Check invite' });
    expect(check.disabled).toBe(true);
    expect(screen.queryByTestId('federation-card')).toBeNull();
    fireEvent.change(screen.getByLabelText('Invite link or code'), { target: { value: 'http://10.0.0.2:7420/#invite=cvy1.abc.def' } });
    fireEvent.click(check);
    expect(screen.getByRole('status').textContent).toMatch(/Contacting the server/);
    expect(api.inspectInvite).toHaveBeenCalledWith({ invite: 'http://10.0.0.2:7420/#invite=cvy1.abc.def' });
    await act(async () =>
      pending.resolve({ ok: false, error: { code: 'unreachable', message: 'The federation server cannot be reached. Check the address.' } }),
    );
    const alert = screen.getByRole('alert');
    expect(alert.textContent).toMatch(/cannot be reached/);
    expect(alert.getAttribute('data-code')).toBe('unreachable');
    expect(screen.queryByRole('status')).toBeNull();
  });

  it('says when the invited federation has already ended, as its signed preview says', () => {
    const ended = { outcome: 'stopped' as const, message: 'round 2 did not complete in 10 attempts', rounds: 1, of: 8 };
    show(JoinScreen, appState({ federation: { ...preview, ended } }), fakeApi().api);
    expect(screen.getByTestId('federation-ended').textContent).toBe(
      'This federation stopped after 1 of its 8 rounds: round 2 did not complete in 10 attempts. There are no rounds left to take part in.',
    );
    cleanup();
    show(JoinScreen, appState({ federation: preview }), fakeApi().api);
    expect(screen.queryByTestId('federation-ended')).toBeNull();
  });

  it('shows the fingerprint and every declared setting before the person agrees', () => {
    const { api } = fakeApi();
    show(JoinScreen, appState({ federation: preview }), api);
    expect(screen.getByTestId('fingerprint').textContent).toBe(preview.fingerprint);
    const card = screen.getByTestId('federation-card').textContent;
    for (const text of [
      'logreg',
      'Central',
      'Noise multiplier z',
      'Clip norm C',
      'Sampling rate q',
      '0.8',
      'δ',
      'Secure aggregation',
      'Off',
      '4.458',
      '4.729',
    ]) {
      expect(card).toContain(text);
    }
    expect(screen.getByRole('button', { name: /Continue: choose your data/ })).toBeTruthy();
  });

  it('warns plainly when a federation adds no noise, and lists no DP settings that do not apply', () => {
    const { api } = fakeApi();
    show(JoinScreen, appState({ federation: noDp }), api);
    const card = screen.getByTestId('federation-card').textContent;
    expect(card).toMatch(/adds no privacy noise/);
    for (const absent of ['Noise multiplier z', 'Clip norm C', 'Sampling rate q', 'δ']) expect(card).not.toContain(absent);
  });

  it('says all remaining rounds cost less than rounds × the first, and how the noise compares with the updates', () => {
    const { api } = fakeApi();
    show(JoinScreen, appState({ federation: preview }), api);
    expect(screen.getByTestId('cost').textContent).toMatch(
      /The first round you take part in costs you ε 4.458.*All 8 remaining rounds together: ε 14.296 promised, 16.513 worst case — less than 8 × the first/,
    );
    expect(screen.getByTestId('noise-hint').textContent).toMatch(/about 1 member per round, each round's noise is about 89× the size/);
  });
});

describe('Data screen', () => {
  it('is empty before a choice, loading while reading, and says why data is unreadable', async () => {
    const pending = deferred<unknown>();
    const { api } = fakeApi({ loadData: () => pending.promise });
    show(DataScreen, appState({ federation: preview }), api);
    expect(screen.getByTestId('empty').textContent).toMatch(/No data chosen yet/);
    expect(screen.getByTestId('data-stays').textContent).toMatch(/never leaves this device/);
    expect(screen.queryByRole('button', { name: /Choose a folder/ })).toBeNull(); // no native dialogs in browser mode
    fireEvent.change(screen.getByLabelText(/type the path/), { target: { value: '/data/digits' } });
    fireEvent.click(screen.getByRole('button', { name: 'Load' }));
    expect(api.loadData).toHaveBeenCalledWith({ kind: 'path', path: '/data/digits' });
    expect(screen.getByRole('status').textContent).toMatch(/Reading your data/);
    await act(async () =>
      pending.resolve({ ok: false, error: { code: 'data-unreadable', message: 'Your data could not be read: /data/digits — no such file or folder.' } }),
    );
    expect(screen.getByRole('alert').textContent).toMatch(/no such file or folder/);
  });

  it('summarises loaded data with counts, a class histogram and previews', () => {
    const { api } = fakeApi();
    show(DataScreen, appState({ federation: preview, data: dataSummary, nativeDialogs: true }), api);
    expect(screen.getByTestId('data-count').textContent).toBe('8,000');
    expect(screen.getByRole('list', { name: 'Examples per class' }).querySelectorAll('li')).toHaveLength(10);
    expect(screen.getByRole('img', { name: /labelled 0/ })).toBeTruthy();
    expect(screen.getByRole('button', { name: /Choose a folder/ })).toBeTruthy();
  });

  it('words the promise by the DP mode: no "noised" without noise', () => {
    const { api } = fakeApi();
    show(DataScreen, appState({ federation: noDp }), api);
    expect(screen.getByTestId('data-stays').textContent).toMatch(/sends only an encrypted change to the model \(this federation adds no privacy noise\)/);
    expect(screen.getByTestId('data-stays').textContent).not.toMatch(/noised/);
    cleanup();
    show(DataScreen, appState({ federation: preview }), api);
    expect(screen.getByTestId('data-stays').textContent).toMatch(/clipped and encrypted change to the model \(the server adds the privacy noise/);
  });

  it('refuses to change data while taking part', () => {
    const { api } = fakeApi();
    show(DataScreen, joinedState(), api);
    expect(screen.queryByRole('button', { name: /embedded MNIST/ })).toBeNull();
    expect(screen.getByText(/Pause taking part/)).toBeTruthy();
  });
});

describe('Consent & budget screen', () => {
  it('is empty until an invite is checked', () => {
    const { api } = fakeApi();
    show(ConsentScreen, appState(), api);
    expect(screen.getByTestId('empty').textContent).toMatch(/No federation yet/);
  });

  it('shows both views of what a round costs, and a join refused for budget in words', async () => {
    const pending = deferred<unknown>();
    const { api } = fakeApi({ join: () => pending.promise, getPrivacy: async () => ok(eightRounds) });
    show(ConsentScreen, appState({ federation: preview, data: dataSummary }), api);
    expect(screen.getByTestId('round-cost-promised').textContent).toBe('4.458');
    expect(screen.getByTestId('round-cost-worst').textContent).toBe('4.729');
    // The suggested cap binds: what half of the 8 remaining rounds cost (worst case), not all of them.
    expect((await screen.findByTestId('cap-rounds-text')).textContent).toMatch(/of the 8 remaining rounds: a cap of ε 10.1 \(worst-case\)/);
    await waitFor(() => expect(screen.getByLabelText<HTMLInputElement>(/Stop when my ε would exceed/).value).toBe('10.1'));
    expect(screen.getByTestId('cap-band').textContent).toMatch(/is weak/);
    fireEvent.change(screen.getByLabelText(/Take part in at most/), { target: { value: '2' } });
    await waitFor(() => expect(screen.getByLabelText<HTMLInputElement>(/Stop when my ε would exceed/).value).toBe('6.9'));
    expect(screen.getByTestId('noise-hint').getAttribute('data-level')).toBe('swamped');
    fireEvent.change(screen.getByLabelText(/Stop when my ε would exceed/), { target: { value: '2' } });
    fireEvent.click(screen.getByLabelText(/Take part automatically/));
    fireEvent.click(screen.getByRole('button', { name: /I agree/ }));
    expect(api.join).toHaveBeenCalledWith({ cap: { epsilon: 2, view: 'worst-case' }, autoParticipate: false });
    expect(screen.getByRole('status').textContent).toMatch(/Joining/);
    await act(async () =>
      pending.resolve({
        ok: false,
        error: { code: 'budget-reached', message: 'Your cap of ε 2 (worst-case) is below what taking part in the next round would bring your ε to (4.729).' },
      }),
    );
    expect(screen.getByRole('alert').getAttribute('data-code')).toBe('budget-reached');
  });

  it('joins a federation without noise only with an explicit "no privacy bound", never with a cap', async () => {
    const { api } = fakeApi();
    show(ConsentScreen, appState({ federation: noDp, data: dataSummary }), api);
    expect(screen.queryByLabelText(/Stop when my ε would exceed/)).toBeNull();
    expect(screen.queryByText(/q =/)).toBeNull();
    const join = screen.getByRole<HTMLButtonElement>('button', { name: /I agree/ });
    expect(join.disabled).toBe(true);
    expect(screen.getByText(/Tick "no privacy bound"/)).toBeTruthy();
    fireEvent.click(screen.getByLabelText(/no privacy bound/));
    expect(join.disabled).toBe(false);
    await act(async () => fireEvent.click(join));
    expect(api.join).toHaveBeenCalledWith({ cap: null, autoParticipate: true });
    expect(api.getPrivacy).not.toHaveBeenCalled();
  });

  it('will not submit a cap that is not a positive number', () => {
    const { api } = fakeApi();
    show(ConsentScreen, appState({ federation: preview, data: dataSummary }), api);
    fireEvent.change(screen.getByLabelText(/Stop when my ε would exceed/), { target: { value: '0' } });
    expect(screen.getByRole<HTMLButtonElement>('button', { name: /I agree/ }).disabled).toBe(true);
    expect(screen.getByText(/Enter a cap above 0/)).toBeTruthy();
  });

  it('sends an optional participant-wide cap (every federation on this same data) with the join', async () => {
    const { api } = fakeApi({ getPrivacy: async () => ok(eightRounds) });
    show(ConsentScreen, appState({ federation: preview, data: dataSummary }), api);
    await waitFor(() => expect(screen.getByLabelText<HTMLInputElement>(/Stop when my ε would exceed/).value).toBe('10.1'));
    fireEvent.change(screen.getByLabelText(/Across every federation I join with this same data/), { target: { value: '20' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: /I agree/ })));
    expect(api.join).toHaveBeenCalledWith({
      cap: { epsilon: 10.1, view: 'worst-case' },
      autoParticipate: true,
      participantCap: { epsilon: 20, view: 'worst-case' },
    });
  });
});

describe('Training screen', () => {
  it('is empty before joining', () => {
    const { api } = fakeApi();
    show(TrainingScreen, appState(), api);
    expect(screen.getByTestId('empty').textContent).toMatch(/not joined/);
  });

  it('shows the round, its stage, the epoch progress, the compute backend and its samples/s', () => {
    const { api } = fakeApi();
    show(
      TrainingScreen,
      joinedState({
        round: {
          round: 3,
          stage: 'training',
          epoch: 0,
          epochs: 2,
          batch: 50,
          batches: 100,
          loss: 0.42,
          samplesPerSecond: 1234.4,
          trainingBackend: 'wasm (WebAssembly SIMD), 2 worker threads',
        },
      }),
      api,
    );
    expect(screen.getByTestId('samples-per-second').textContent).toMatch(/1,234 samples\/s \(wasm \(WebAssembly SIMD\), 2 worker threads\)/);
    expect(screen.getByTestId('current-round').textContent).toBe('Round 3 of 8');
    expect(screen.getByTestId('stage').textContent).toMatch(/Training on your data/);
    expect(screen.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('25');
    // 150 batches of 64 left at 1,234.4 samples/s.
    expect(screen.getByText(/batch 50 of 100/).textContent).toMatch(/about 8 s left$/);
    expect(screen.getByText(/Epoch 1 of 2, batch 50 of 100, loss 0.4200/)).toBeTruthy();
    expect(screen.getByTestId('backend').textContent).toMatch(/WASM/);
    expect(screen.queryByTestId('backend-skipped')).toBeNull();
    expect(screen.getByRole('button', { name: 'Pause' })).toBeTruthy();
  });

  it('lets the person pin a compute backend, but not while this device trains a round', async () => {
    const pinned = joinedState({ backend: { name: 'cpu', label: 'CPU — cpu (plain JavaScript)', choice: 'cpu', skipped: [] } });
    const { api } = fakeApi({ setBackend: () => Promise.resolve(ok(pinned)) });
    const { rerender } = show(TrainingScreen, joinedState(), api);
    const picker = screen.getByRole<HTMLSelectElement>('combobox', { name: /Compute backend/ });
    expect(picker.value).toBe('auto');
    expect([...picker.querySelectorAll('option')].map((o) => o.value)).toEqual(['auto', 'cuda', 'tensorflow', 'wasm', 'cpu']);
    await act(async () => fireEvent.change(picker, { target: { value: 'cpu' } }));
    expect(api.setBackend).toHaveBeenCalledWith({ choice: 'cpu' });
    const training = joinedState({ round: { round: 2, stage: 'training', epoch: 0, epochs: 1, batch: 1, batches: 10, loss: 0.5 } });
    rerender(h(TrainingScreen as never, { state: training, api, go }));
    expect(screen.getByRole<HTMLSelectElement>('combobox', { name: /Compute backend/ }).disabled).toBe(true);
  });

  it('says why each faster backend is not used, one line each', () => {
    const { api } = fakeApi();
    const skipped = [
      { name: 'tensorflow-gpu', reason: '@tensorflow/tfjs-node-gpu is not installed (Linux x64, an NVIDIA GPU, CUDA 11.2 and cuDNN 8.1)' },
      { name: 'tensorflow', reason: '@tensorflow/tfjs-node is not installed' },
    ];
    show(TrainingScreen, joinedState({ backend: { name: 'wasm', label: 'WASM — wasm (WebAssembly SIMD)', choice: 'auto', skipped } }), api);
    const why = screen.getByTestId('backend-skipped');
    expect(why.querySelector('summary')?.textContent).toBe('Why not a faster backend');
    expect([...why.querySelectorAll('li')].map((li) => li.textContent)).toEqual([
      'tensorflow-gpu: @tensorflow/tfjs-node-gpu is not installed (Linux x64, an NVIDIA GPU, CUDA 11.2 and cuDNN 8.1)',
      'tensorflow: @tensorflow/tfjs-node is not installed',
    ]);
  });

  it('shows a failure to reconnect in words, and offers to take part again', async () => {
    const pending = deferred<unknown>();
    const { api } = fakeApi({ resume: () => pending.promise });
    show(
      TrainingScreen,
      joinedState({ participation: 'paused', backend: null, lastError: { code: 'unreachable', message: 'The federation server cannot be reached.' } }),
      api,
    );
    expect(screen.getByRole('alert').textContent).toMatch(/cannot be reached/);
    expect(screen.getByTestId('backend').textContent).toMatch(/detecting/);
    fireEvent.click(screen.getByRole('button', { name: /Take part in the next round/ }));
    expect(screen.getByRole('status').textContent).toMatch(/Working/);
    await act(async () => pending.resolve(ok(joinedState())));
    expect(api.resume).toHaveBeenCalledTimes(1);
  });

  it('says plainly how the federation ended, completed or stopped with the reason: no error, no stale round', async () => {
    const stopped = { outcome: 'stopped' as const, message: 'round 4 did not complete in 10 attempts', rounds: 3, of: 8 };
    const done = joinedState({ participation: 'done', federation: { ...preview, ended: stopped }, round: null });
    // Paused over the end: taking part again answers with the ended state, which the screen shows as it is.
    const { api, push } = fakeApi({ getState: async () => ok(joinedState({ participation: 'paused' })), resume: async () => (push(done), ok(done)) });
    render(h(App, { api }));
    fireEvent.click(await screen.findByRole('button', { name: /Take part in the next round/ }));
    const end = await screen.findByTestId('federation-end');
    expect(end.getAttribute('data-outcome')).toBe('stopped');
    expect(end.querySelector('h2')?.textContent).toBe('Federation stopped after 3 of 8 rounds');
    expect(screen.getByTestId('stage').textContent).toBe('This federation stopped after 3 of its 8 rounds: round 4 did not complete in 10 attempts.');
    expect(screen.getByTestId('participation').textContent).toBe('The federation has ended');
    expect(screen.getByTestId('sidebar-end').textContent).toBe('federation stopped');
    expect(screen.queryByRole('alert')).toBeNull();
    expect(screen.queryByTestId('current-round')).toBeNull();
    expect(screen.queryByRole('button', { name: /Take part/ })).toBeNull();
    cleanup();

    const completed = { outcome: 'completed' as const, message: 'completed all 8 rounds', rounds: 8, of: 8 };
    // An old round in the state (heard before the end) is not shown as the current one.
    const stale = { round: 4, stage: 'sent' as const, epoch: 1, epochs: 1, batch: 0, batches: 0, loss: null };
    // The end's notice is not repeated under the end card; other notices stay.
    const notices = ['Lost the connection to the federation server; reconnecting…', 'This federation has finished all its 8 rounds.'];
    show(TrainingScreen, joinedState({ participation: 'done', federation: { ...preview, ended: completed }, round: stale, notices }), fakeApi().api);
    expect(screen.getByTestId('federation-end').querySelector('h2')?.textContent).toBe('Federation complete: all 8 rounds done');
    expect(screen.getByTestId('stage').textContent).toBe('This federation has finished all its 8 rounds.');
    expect(screen.getAllByText('This federation has finished all its 8 rounds.')).toHaveLength(1);
    expect([...screen.getByRole('region', { name: 'Notices' }).querySelectorAll('li')].map((li) => li.textContent)).toEqual([notices[0]]);
    expect(screen.queryByText(/Round 4/)).toBeNull();
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('charts accuracy once rounds have finished', () => {
    const { api } = fakeApi();
    show(
      TrainingScreen,
      joinedState({ rounds: [{ round: 1, outcome: 'contributed', trainLoss: 0.5, trainAccuracy: 0.8, globalAccuracy: 0.85, at: '' }] }),
      api,
    );
    expect(screen.getByTestId('accuracy-chart')).toBeTruthy();
    expect(screen.getByTestId('global-accuracy').textContent).toBe('85.0 %');
  });
});

describe('Privacy screen', () => {
  it('is empty without a federation', () => {
    const { api } = fakeApi();
    show(PrivacyScreen, appState(), api);
    expect(screen.getByTestId('empty').textContent).toMatch(/ledger starts when you join/);
    expect(api.getPrivacy).not.toHaveBeenCalled();
  });

  it('shows a loading state while the ledger is read, then both views, the table and the projection', async () => {
    const pending = deferred<unknown>();
    const { api } = fakeApi({ getPrivacy: () => pending.promise });
    show(PrivacyScreen, joinedState(), api);
    expect(screen.getByRole('status').textContent).toMatch(/Reading your privacy ledger/);
    await act(async () => pending.resolve(ok(report())));
    expect(screen.getByTestId('eps-promised').textContent).toBe('6.123');
    expect(screen.getByTestId('eps-promised').getAttribute('data-value')).toBe('6.1234');
    expect(screen.getByTestId('eps-worst').textContent).toBe('7.077');
    expect(screen.getByTestId('ledger-table').querySelectorAll('tbody tr')).toHaveLength(2);
    expect(screen.getByTestId('next-round-warning').textContent).toMatch(/8.900/);
    expect(screen.getByTestId('projection').textContent).toMatch(/7.500 promised, 8.900 worst case — above your cap/);
    fireEvent.change(screen.getByLabelText(/If you take part in the next/), { target: { value: '2' } });
    expect(screen.getByTestId('projection').textContent).toMatch(/8.800 promised, 10.500 worst case/);
  });

  it('says when the ledger is empty, and shows an unbounded ε as ∞', async () => {
    const { api } = fakeApi({ getPrivacy: async () => ok(report({ rows: [], promised: 0, worstCase: 0, nextRoundAllowed: true })) });
    show(PrivacyScreen, joinedState(), api);
    expect((await screen.findByText('Your ledger is empty.')).textContent).toBeTruthy();
    expect(screen.getByText('No rounds in your ledger yet.')).toBeTruthy();
    expect(screen.queryByTestId('next-round-warning')).toBeNull();
    cleanup();
    const unbounded = fakeApi({ getPrivacy: async () => ok(report({ promised: null, worstCase: null })) });
    show(PrivacyScreen, joinedState(), unbounded.api);
    expect((await screen.findByTestId('eps-worst')).textContent).toBe('∞');
  });

  it('shows a ledger it cannot read as an error, and saves a new cap', async () => {
    const { api } = fakeApi({
      getPrivacy: async () => ({ ok: false, error: { code: 'internal', message: 'Something went wrong: the ledger line 3 is not a ledger entry.' } }),
    });
    show(PrivacyScreen, joinedState(), api);
    expect((await screen.findByRole('alert')).textContent).toMatch(/line 3/);
    cleanup();
    const capped = fakeApi({ getPrivacy: async () => ok(report()), setCap: async () => ok(joinedState()) });
    show(PrivacyScreen, joinedState(), capped.api);
    fireEvent.change(await screen.findByLabelText(/Cap \(worst-case\)/), { target: { value: '7.5' } });
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Save cap' }));
    });
    expect(capped.api.setCap).toHaveBeenCalledWith({ epsilon: 7.5, view: 'worst-case' });
  });
});

describe('History & settings screen', () => {
  it('is empty before any round', () => {
    const { api } = fakeApi();
    show(HistoryScreen, appState(), api);
    expect(screen.getByTestId('empty').textContent).toMatch(/No rounds yet/);
    expect(screen.getByRole<HTMLButtonElement>('button', { name: /Export the ledger/ }).disabled).toBe(true);
  });

  it('lists rounds joined, declined with the reason, and dropped', () => {
    const { api } = fakeApi();
    show(
      HistoryScreen,
      joinedState({
        rounds: [
          { round: 1, outcome: 'contributed', trainLoss: 0.5, globalAccuracy: 0.8, at: '' },
          { round: 2, outcome: 'dropped', reason: 'The round was cancelled (timeout).', at: '' },
          { round: 3, outcome: 'declined', reasonCode: 'budget', reason: 'Declined for your privacy budget: … above your cap of 8.', at: '' },
        ],
      }),
      api,
    );
    expect(screen.getByTestId('round-counts').textContent).toMatch(/Took part in 1, declined 1, dropped 1/);
    const declined = screen.getByTestId('history-table').querySelector('tr[data-outcome=declined]')!;
    expect(declined.textContent).toMatch(/above your cap/);
  });

  it('asks before leaving, and shows an export failure in words', async () => {
    const { api } = fakeApi({
      leave: async () => ok(joinedState({ participation: 'left' })),
      exportLedger: async () => ({ ok: false, error: { code: 'not-ready', message: 'There is no ledger yet: join a federation first.' } }),
    });
    show(HistoryScreen, joinedState(), api);
    fireEvent.click(screen.getByRole('button', { name: 'Leave the federation' }));
    expect(api.leave).not.toHaveBeenCalled();
    expect(screen.getByText(/Leaving stops at once/)).toBeTruthy();
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Yes, leave now' }));
    });
    expect(api.leave).toHaveBeenCalledTimes(1);
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: /Export the ledger/ }));
    });
    expect(screen.getByRole('alert').textContent).toMatch(/no ledger yet/);
  });
});
