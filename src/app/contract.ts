/**
 * The one contract between the UI and everything else: `CoveyApi`. The Electron preload
 * implements it over IPC, browser mode over a loopback WebSocket; both reach the same Node-side
 * app core (./core.ts). Types and constants only: the renderer imports this file, so nothing
 * here may pull in Node, Electron or zod.
 *
 * Values cross a process boundary as plain JSON: an ε that is unbounded (an update sent without
 * noise) travels as `null`, never as Infinity.
 *
 * The protocol's enums (DP modes, decline reasons) come from core/protocol as types only, so the
 * contract and the wire cannot disagree and the renderer's bundle gains nothing.
 */
import type { DpMode } from '../core/protocol/messages.js';
import type { DeclineReason } from '../core/protocol/reasons.js';

/** Why a call failed, as a value a screen can show and a test can assert. */
export type AppErrorCode =
  | 'unreachable'
  | 'invite-invalid'
  | 'invite-rejected'
  | 'server-key-mismatch'
  | 'protocol'
  | 'data-unreadable'
  | 'data-mismatch'
  | 'budget-reached'
  | 'not-ready'
  | 'invalid-argument'
  | 'forbidden'
  | 'unsupported'
  | 'cancelled'
  | 'internal';

export interface AppError {
  code: AppErrorCode;
  /** One or two sentences for a person, never a stack trace. */
  message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: AppError };

/** ε as shown; `null` means unbounded (a round went without noise). */
export type Epsilon = number | null;

export type CapView = 'worst-case' | 'promised';

export interface PrivacyCap {
  epsilon: number;
  view: CapView;
}

export interface DeclaredSettings {
  dp: { mode: DpMode; noiseMultiplier: number; clipNorm: number; delta: number };
  samplingRate: number;
  /** The expected cohort size the server averages and scales its noise by (consent covers it). */
  expectedClients?: number;
  /** trainable: fine-tuning, the only layers that train and are sent (the others stay frozen); absent: all. */
  training: { epochs: number; batchSize: number; learningRate: number; trainable?: string[] };
  /** Whether the server runs secure aggregation (pairwise masks): it then sees only the sum of the updates. */
  secureAggregation: boolean;
}

/** What the federation declares, read from the server before the person agrees to anything. */
export interface FederationPreview {
  serverUrl: string;
  federationId: string;
  /** The server key fingerprint pinned by the invite, as 16 groups of 4 hex digits. */
  fingerprint: string;
  /** parameters: the weight count of an update (d: the trainable layers'), for the noise-scale hint; absent in previews saved by older releases. */
  model: { name: string; summary: string; inputShape: number[]; numClasses: number; parameters?: number };
  rounds: number;
  /** Rounds the federation has completed (or the round open) when it was asked. */
  currentRound: number;
  settings: DeclaredSettings;
  /** ε (at the federation's δ) that one round costs you, in both views. */
  perRound: { promised: Epsilon; worstCase: Epsilon };
  /** ε if you took part in every remaining round, in both views. */
  allRounds: { rounds: number; promised: Epsilon; worstCase: Epsilon };
  /** Present once the federation has ended, as the server signed it: completed, or stopped and why. */
  ended?: FederationEnd;
}

/** How a federation ended, as the server signed it: `rounds` of `of` completed; `message` says why it stopped. */
export interface FederationEnd {
  outcome: 'completed' | 'stopped';
  message: string;
  rounds: number;
  of: number;
}

/** How a federation ended, in the words the app's notice and its screens use. */
export function endedWords(end: FederationEnd | null | undefined): string {
  if (!end) return 'This federation has ended.';
  return end.outcome === 'completed'
    ? `This federation has finished all its ${end.of} rounds.`
    : `This federation stopped after ${end.rounds} of its ${end.of} rounds: ${end.message}.`;
}

export type DataSource = { kind: 'embedded'; name: 'mnist' } | { kind: 'path'; path: string; labelColumn?: string };

export interface DataPreview {
  label: number;
  /** A small PNG of the example (image data), as a data: URL. */
  image?: string;
  /** The first feature values (tabular data). */
  values?: number[];
}

export interface DataSummary {
  source: DataSource;
  /** "Embedded MNIST digits", "IDX folder", "CSV file". */
  format: string;
  /** The file or folder read, or a description of the embedded set. */
  location: string;
  count: number;
  numClasses: number;
  classCounts: number[];
  inputShape: number[];
  /** How the rows were fitted to the federation's model (a flat CSV row read as an image), in words. */
  shapeNote?: string;
  previews: DataPreview[];
}

export type Participation = 'not-joined' | 'connecting' | 'active' | 'pausing' | 'paused' | 'left' | 'done';

export type RoundStage = 'selected' | 'training' | 'sealing' | 'sent' | 'declined' | 'finished' | 'aborted';

/** Round stages during which this device trains: the compute backend must not change under it. */
export const TRAINING_STAGES: ReadonlySet<RoundStage> = new Set(['selected', 'training', 'sealing']);

export interface RoundProgress {
  round: number;
  stage: RoundStage;
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  loss: number | null;
  /** Local training rate while training (samples/s), and the compute that runs it. */
  samplesPerSecond?: number;
  trainingBackend?: string;
  /** Why the server cancelled the round (stage 'aborted'). */
  abortReason?: string;
}

/** The link to the federation server while taking part: null when connected (or not taking part). */
export interface ConnectionProblem {
  state: 'reconnecting';
  /** When the connection was lost (ISO time). */
  since: string;
  /** socket.io's reason, e.g. "transport close". */
  reason: string;
  /** The client retries on its own, at growing intervals up to this many seconds apart. */
  retryMaxSeconds: number;
}

export type RoundOutcome = 'contributed' | 'declined' | 'dropped' | 'not-selected';

export interface RoundRow {
  round: number;
  outcome: RoundOutcome;
  /** For declined and dropped rounds: why, in words. */
  reason?: string;
  /** Decline reason code from the ledger. */
  reasonCode?: DeclineReason;
  trainLoss?: number;
  trainAccuracy?: number;
  globalAccuracy?: number | null;
  globalLoss?: number | null;
  participants?: number;
  /** Attempts at this round this device took part in or declined: more than 1 when the server retried the round (each is a ledger row). */
  attempts?: number;
  at: string;
}

export interface AppState {
  version: string;
  shell: 'electron' | 'browser';
  /** Native file dialogs exist (Electron); browser mode types paths instead. */
  nativeDialogs: boolean;
  stateDir: string;
  /**
   * The compute backend training uses, e.g. "WebAssembly (SIMD)", the person's choice (`auto` or
   * a pinned one), and when automatic, the faster ones before it that could not run here, with why
   * in one line; null until known.
   */
  backend: { name: string; label: string; choice: BackendChoice; skipped: { name: string; reason: string }[] } | null;
  federation: FederationPreview | null;
  data: DataSummary | null;
  /** cap null: the person ticked "no privacy bound" to join a federation that adds no noise (the only way to join one). */
  consent: { cap: PrivacyCap | null; autoParticipate: boolean; participantCap?: PrivacyCap } | null;
  participation: Participation;
  connection: ConnectionProblem | null;
  round: RoundProgress | null;
  rounds: RoundRow[];
  privacy: { promised: Epsilon; worstCase: Epsilon; delta: number; ledgerEntries: number } | null;
  /** The last thing that went wrong, in words; cleared by the next successful action. */
  lastError: AppError | null;
  /** Short notes for the person, newest last ("Reconnecting…"). */
  notices: string[];
}

export interface PrivacyRow {
  round: number;
  kind: 'contribution' | 'announced' | 'observed' | 'declined';
  detail: string;
  promised: Epsilon;
  worstCase: Epsilon;
}

export interface PrivacyReport {
  federationId: string;
  delta: number;
  accountant: string;
  promised: Epsilon;
  worstCase: Epsilon;
  cap: PrivacyCap | null;
  rows: PrivacyRow[];
  /** ε after taking part in the next k rounds (k = 1, 2, …), in both views. */
  projections: { k: number; promised: Epsilon; worstCase: Epsilon; withinCap: boolean }[];
  /** Whether the cap allows the next round at all. */
  nextRoundAllowed: boolean;
}

export interface LedgerExport {
  fileName: string;
  json: string;
  /** Where it was written, when the shell saved it (Electron's save dialog). */
  savedTo?: string;
}

export type AppEvent = { type: 'state'; state: AppState };

/** Method name -> [argument, result value]. */
/** The compute backends a person can pin in the app; `auto` is the fastest that loads (the order `covey doctor` shows). */
export const BACKEND_CHOICES = ['auto', 'cuda', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export interface ApiMethods {
  getState: [void, AppState];
  inspectInvite: [{ invite: string; serverUrl?: string }, FederationPreview];
  chooseDataPath: [{ kind: 'file' | 'folder' }, string | null];
  loadData: [DataSource, DataSummary];
  /**
   * participantCap: ε over every federation joined from this state folder with the same data (client/data-identity.ts).
   * cap null: "no privacy bound", accepted explicitly; only for a federation whose DP mode is off (no finite cap holds there).
   */
  join: [{ cap: PrivacyCap | null; autoParticipate: boolean; participantCap?: PrivacyCap }, AppState];
  setCap: [PrivacyCap, AppState];
  setAutoParticipate: [{ autoParticipate: boolean }, AppState];
  /** Pins the compute backend (or returns to `auto`); refused while a round trains. */
  setBackend: [{ choice: BackendChoice }, AppState];
  resume: [void, AppState];
  pause: [void, AppState];
  leave: [void, AppState];
  getPrivacy: [void, PrivacyReport];
  exportLedger: [void, LedgerExport];
}

export type ApiMethod = keyof ApiMethods;
export type ApiArg<M extends ApiMethod> = ApiMethods[M][0];
export type ApiValue<M extends ApiMethod> = ApiMethods[M][1];

export type CoveyApi = {
  [M in ApiMethod]: ApiArg<M> extends void ? () => Promise<Result<ApiValue<M>>> : (arg: ApiArg<M>) => Promise<Result<ApiValue<M>>>;
} & {
  /** Subscribes to app events; returns the unsubscribe function. */
  onEvent(listener: (event: AppEvent) => void): () => void;
};

export const API_METHODS: readonly ApiMethod[] = [
  'getState',
  'inspectInvite',
  'chooseDataPath',
  'loadData',
  'join',
  'setCap',
  'setAutoParticipate',
  'setBackend',
  'resume',
  'pause',
  'leave',
  'getPrivacy',
  'exportLedger',
];

/** The global name the preload exposes the API under. */
export const API_NAME = 'covey';

/** IPC channel of a method (renderer -> main), and of app events (main -> renderer). */
export const ipcChannel = (method: ApiMethod): string => `covey:${method}`;
export const EVENT_CHANNEL = 'covey:event';
