/** Test doubles for the renderer: a `CoveyApi` whose calls a test controls, and app states. */
import { vi } from 'vitest';
import type { AppEvent, AppState, CoveyApi, DataSummary, FederationPreview, PrivacyReport, Result } from '../../src/app/contract.js';

export type Deferred<T> = { promise: Promise<T>; resolve: (value: T) => void };

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });

/** A CoveyApi whose every method is a vi.fn; unset ones answer with an error value. */
export function fakeApi(methods: Partial<Record<keyof CoveyApi, (...args: never[]) => unknown>> = {}) {
  const listeners = new Set<(event: AppEvent) => void>();
  const unset = () => Promise.resolve({ ok: false, error: { code: 'internal', message: 'not set in this test' } });
  const api = {
    getState: vi.fn(methods.getState ?? unset),
    inspectInvite: vi.fn(methods.inspectInvite ?? unset),
    chooseDataPath: vi.fn(methods.chooseDataPath ?? unset),
    loadData: vi.fn(methods.loadData ?? unset),
    join: vi.fn(methods.join ?? unset),
    setCap: vi.fn(methods.setCap ?? unset),
    setAutoParticipate: vi.fn(methods.setAutoParticipate ?? unset),
    setBackend: vi.fn(methods.setBackend ?? unset),
    resume: vi.fn(methods.resume ?? unset),
    pause: vi.fn(methods.pause ?? unset),
    leave: vi.fn(methods.leave ?? unset),
    getPrivacy: vi.fn(methods.getPrivacy ?? unset),
    exportLedger: vi.fn(methods.exportLedger ?? unset),
    onEvent: vi.fn((listener: (event: AppEvent) => void) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    }),
  };
  return { api: api as unknown as CoveyApi & typeof api, push: (state: AppState) => listeners.forEach((l) => l({ type: 'state', state })) };
}

export const preview: FederationPreview = {
  serverUrl: 'http://127.0.0.1:7420',
  federationId: 'mnist-demo',
  fingerprint: 'edaa:379c:273f:b6f3:98c6:48cc:926a:5172:9df0:deb9:65d9:2957:fb0b:9b57:931c:2e5e',
  model: { name: 'logreg', summary: 'input 28×28×1 → dense 10', inputShape: [28, 28, 1], numClasses: 10, parameters: 7850 },
  rounds: 8,
  currentRound: 0,
  settings: {
    dp: { mode: 'central', noiseMultiplier: 1, clipNorm: 1, delta: 1e-5 },
    samplingRate: 0.8,
    expectedClients: 1,
    training: { epochs: 1, batchSize: 64, learningRate: 0.1 },
    secureAggregation: false,
  },
  perRound: { promised: 4.458, worstCase: 4.729 },
  allRounds: { rounds: 8, promised: 14.296, worstCase: 16.513 },
};

export const dataSummary: DataSummary = {
  source: { kind: 'embedded', name: 'mnist' },
  format: 'Embedded MNIST digits',
  location: 'the 8,000 training digits that ship with Covey',
  count: 8000,
  numClasses: 10,
  classCounts: [801, 902, 793, 826, 784, 690, 811, 856, 755, 782],
  inputShape: [28, 28, 1],
  previews: [{ label: 0, image: 'data:image/png;base64,AAAA' }],
};

export function appState(over: Partial<AppState> = {}): AppState {
  return {
    version: '0.1.0',
    shell: 'browser',
    nativeDialogs: false,
    stateDir: '/home/p/.covey',
    backend: { name: 'wasm', label: 'WASM — wasm (WebAssembly SIMD)', choice: 'auto', skipped: [] },
    federation: null,
    data: null,
    consent: null,
    participation: 'not-joined',
    connection: null,
    round: null,
    rounds: [],
    privacy: null,
    lastError: null,
    notices: [],
    ...over,
  };
}

export function joinedState(over: Partial<AppState> = {}): AppState {
  return appState({
    federation: preview,
    data: dataSummary,
    consent: { cap: { epsilon: 8, view: 'worst-case' }, autoParticipate: true },
    participation: 'active',
    ...over,
  });
}

export function report(over: Partial<PrivacyReport> = {}): PrivacyReport {
  return {
    federationId: 'mnist-demo',
    delta: 1e-5,
    accountant: 'prv',
    promised: 6.1234,
    worstCase: 7.0771,
    cap: { epsilon: 8, view: 'worst-case' },
    rows: [
      { round: 1, kind: 'contribution', detail: 'central z=1 C=1 q=0.8', promised: 4.458, worstCase: 4.729 },
      { round: 2, kind: 'contribution', detail: 'central z=1 C=1 q=0.8', promised: 6.1234, worstCase: 7.0771 },
    ],
    projections: [
      { k: 1, promised: 7.5, worstCase: 8.9, withinCap: false },
      { k: 2, promised: 8.8, worstCase: 10.5, withinCap: false },
    ],
    nextRoundAllowed: false,
    ...over,
  };
}
