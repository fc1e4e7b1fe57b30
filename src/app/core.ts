/**
 * The Node-side app core, shared by the Electron utility process and browser mode. It owns the
 * participant's state folder, the federation client, the data and settings, reads the ledger,
 * and turns the client's events into one `AppState` the screens render. Every public method is
 * one `CoveyApi` method; failures are thrown as `AppFailure` (or anything, which ./errors.ts
 * puts into words) and become error values in ./dispatch.ts.
 */
import { EventEmitter } from 'node:events';
import { FederationClient, type ClientEvent, type FederationClientOptions } from '../client/federation-client.js';
import { sitOutWhenOutOfBudget } from '../client/availability.js';
import type { Identity } from '../core/crypto/index.js';
import { fileIdentityStore, identityForServer } from '../client/identities.js';
import { featureSize, type Dataset } from '../core/data/dataset.js';
import { DEFAULT_ACCOUNTANT, type Accountant } from '../core/privacy/index.js';
import type { RoundSettings } from '../core/protocol/messages.js';
import {
  endedWords,
  TRAINING_STAGES,
  type AppEvent,
  type AppState,
  type BackendChoice,
  type DataSource,
  type DataSummary,
  type FederationEnd,
  type FederationPreview,
  type LedgerExport,
  type Participation,
  type PrivacyCap,
  type PrivacyReport,
} from './contract.js';
import { fitData, readSource, summarize, type LoadedSource } from './data-preview.js';
import { AppFailure, toAppError } from './errors.js';
import { ledgerSummary, privacyReport, readLedger } from './privacy-report.js';
import { recordAbort, recordContributed, recordDeclined, recordResult, recordRejected } from './round-history.js';
import { probeFederation, resolveInvite, type ResolvedInvite } from './probe.js';
import { loadSettings, saveSettings, type Settings } from './settings.js';

export interface AppCoreOptions {
  stateDir: string;
  shell: 'electron' | 'browser';
  nativeDialogs: boolean;
  version: string;
  /** The participant's key pair for one server (client/identities.ts); default: `<stateDir>/identities/<fingerprint>.json`, as `covey join` keeps them. */
  loadIdentity?: (serverFingerprint: string) => Promise<Identity>;
  accountant?: Accountant;
  /** Picks and reports the compute backend (and the faster ones it skipped) for a choice; default: the training core's selectBackend(). */
  selectBackend?: (choice: BackendChoice) => Promise<{ name: string; label: string; skipped: { name: string; reason: string }[] }>;
  /** While paused, how often the signed preview is read to learn whether the federation ended (default 60 s). */
  endWatchIntervalMs?: number;
}

/** How often, at most, training progress is pushed to the screens. */
const PROGRESS_INTERVAL_MS = 120;
const MAX_NOTICES = 5;
const CONNECT_TIMEOUT_MS = 30_000;
const END_WATCH_INTERVAL_MS = 60_000;
/** The federation client's socket.io reconnectionDelayMax (client/federation-client.ts), in seconds: shown as the retry interval. */
const RECONNECT_MAX_DELAY_S = 5;
/** socket.io's reason when this side closed the socket itself (pause, leave): not a lost connection. */
const CLOSED_HERE = 'io client disconnect';

const BACKEND_KIND: Record<string, string> = {
  'tensorflow-gpu': 'CUDA',
  tensorflow: 'CPU native',
  wasm: 'WASM',
  cpu: 'CPU',
};

/** Why a backend asked for cannot run: the one-line `reason` of the training core's BackendUnavailable, else the message. */
function backendReason(err: unknown): string {
  const reason = (err as { reason?: unknown } | null)?.reason;
  return typeof reason === 'string' ? reason : (err as Error).message;
}

function fmt(epsilon: number | null): string {
  return epsilon === null ? '∞' : epsilon.toFixed(3);
}

function roundSettingsOf(preview: FederationPreview): RoundSettings {
  const { dp, samplingRate, expectedClients, training } = preview.settings;
  return { dp: { ...dp }, samplingRate, ...(expectedClients !== undefined && { expectedClients }), training: { ...training } };
}

export class AppCore extends EventEmitter<{ event: [AppEvent] }> {
  private settings: Settings;
  private readonly notices: string[] = [];
  private lastError: AppState['lastError'] = null;
  private participation: Participation;
  private round: AppState['round'] = null;
  private connection: AppState['connection'] = null;
  private privacy: AppState['privacy'] = null;
  private backend: AppState['backend'] = null;
  /** The federation inspected on the Join screen (not yet joined), or the joined one. */
  private pending: { resolved: ResolvedInvite; invite: string; preview: FederationPreview } | null = null;
  private endWatch: NodeJS.Timeout | null = null;
  private endProbe: Promise<void> | null = null;
  /** The data as read, and (in `dataset`) as the inspected federation's model takes it. */
  private loaded: LoadedSource | null = null;
  private dataset: Dataset | null = null;
  private dataSummary: DataSummary | null = null;
  private dataLoading: Promise<void> | null = null;
  private client: FederationClient | null = null;
  private clientOptions: FederationClientOptions | null = null;
  private cancelConnect: (() => void) | null = null;
  /** The round this participant was selected for or declined, until that round ends. */
  private involved: number | null = null;
  private pauseAtRoundEnd = false;
  private lastCompletedRound = 0;
  private emitTimer: NodeJS.Timeout | null = null;
  private saving: Promise<void> = Promise.resolve();
  private readonly accountant: Accountant;

  private constructor(
    private readonly options: AppCoreOptions,
    loaded: { settings: Settings; problem?: string },
  ) {
    super();
    this.settings = loaded.settings;
    this.accountant = options.accountant ?? DEFAULT_ACCOUNTANT;
    if (loaded.problem) this.notice(loaded.problem);
    // A federation joined in an earlier session comes back paused: taking part again is the person's choice.
    const saved = this.settings.participation;
    this.participation = saved === 'active' ? 'paused' : saved;
    if (this.settings.federation) {
      const { invite, preview } = this.settings.federation;
      try {
        this.pending = { resolved: resolveInvite(invite, preview.serverUrl), invite, preview };
        this.lastCompletedRound = preview.currentRound;
      } catch {
        this.pending = null;
      }
    }
    this.watchForEnd(this.participation === 'paused');
  }

  static async open(options: AppCoreOptions): Promise<AppCore> {
    const core = new AppCore(options, await loadSettings(options.stateDir));
    if (core.settings.data) {
      const source = core.settings.data;
      core.dataLoading = core.useData(source).then(
        () => undefined,
        (err) => {
          core.lastError = toAppError(err);
        },
      );
    }
    void core.refreshPrivacy();
    void core.detectBackend();
    return core;
  }

  // ---- state ---------------------------------------------------------------------------------

  snapshot(): AppState {
    return {
      version: this.options.version,
      shell: this.options.shell,
      nativeDialogs: this.options.nativeDialogs,
      stateDir: this.options.stateDir,
      backend: this.backend,
      federation: this.pending ? { ...this.pending.preview, currentRound: Math.max(this.pending.preview.currentRound, this.lastCompletedRound) } : null,
      data: this.dataSummary,
      // A consent given to another federation (one joined before this invite was checked) is not this one's.
      consent: this.pending && this.settings.federation?.preview.federationId === this.pending.preview.federationId ? this.settings.consent : null,
      participation: this.participation,
      connection: this.connection,
      round: this.round,
      rounds: this.settings.rounds,
      privacy: this.privacy,
      lastError: this.lastError,
      notices: [...this.notices],
    };
  }

  /** Pushes the state now, or (for training progress) at most every PROGRESS_INTERVAL_MS. */
  private changed(soon = false): void {
    if (soon) {
      this.emitTimer ??= setTimeout(() => this.flush(), PROGRESS_INTERVAL_MS);
      return;
    }
    this.flush();
  }

  private flush(): void {
    if (this.emitTimer) clearTimeout(this.emitTimer);
    this.emitTimer = null;
    this.emit('event', { type: 'state', state: this.snapshot() });
  }

  private notice(text: string): void {
    this.notices.push(text);
    if (this.notices.length > MAX_NOTICES) this.notices.shift();
  }

  private persist(): Promise<void> {
    const copy = structuredClone(this.settings);
    this.saving = this.saving
      .then(() => saveSettings(this.options.stateDir, copy))
      .catch((err) => {
        this.notice(`Could not save your settings: ${(err as Error).message}`);
      });
    return this.saving;
  }

  private setParticipation(next: Participation): void {
    this.participation = next;
    this.watchForEnd(next === 'paused');
    if (next !== 'active' && next !== 'pausing') this.connection = null;
    if (next !== 'connecting' && next !== 'pausing') {
      this.settings.participation = next;
      void this.persist();
    }
  }

  private identity(serverFingerprint: string): Promise<Identity> {
    const { stateDir, loadIdentity } = this.options;
    return (loadIdentity ?? ((fingerprint) => identityForServer(fileIdentityStore(stateDir), stateDir, fingerprint)))(serverFingerprint);
  }

  /** Starts the backend the person chose (automatic unless pinned); a pinned one that cannot run any more gives way to automatic, said in a notice. */
  private async detectBackend(): Promise<void> {
    const choice = this.settings.backend ?? 'auto';
    try {
      await this.useBackend(choice).catch(async (err: Error) => {
        if (choice === 'auto') throw err;
        this.notice(`Your pinned compute backend cannot run here (${backendReason(err)}); Covey chooses one automatically.`);
        await this.useBackend('auto');
      });
    } catch (err) {
      this.notice(`No compute backend could start: ${(err as Error).message}`);
    }
    this.changed();
  }

  private async useBackend(choice: BackendChoice): Promise<void> {
    const select = this.options.selectBackend ?? (async (c: BackendChoice) => (await import('../core/train/index.js')).selectBackend(c));
    const info = await select(choice);
    this.backend = { name: info.name, label: `${BACKEND_KIND[info.name] ?? info.name} — ${info.label}`, choice, skipped: info.skipped };
  }

  async setBackend({ choice }: { choice: BackendChoice }): Promise<AppState> {
    return this.act(async () => {
      if (this.round && TRAINING_STAGES.has(this.round.stage)) {
        throw new AppFailure('not-ready', 'A round is training now: change the compute backend once it is sent, or pause first.');
      }
      try {
        await this.useBackend(choice);
      } catch (err) {
        throw new AppFailure('unsupported', `That compute backend cannot run here: ${backendReason(err)}.`);
      }
      this.settings.backend = choice === 'auto' ? undefined : choice;
      await this.persist();
      return this.snapshot();
    });
  }

  private get isRunning(): boolean {
    return this.participation === 'connecting' || this.participation === 'active' || this.participation === 'pausing';
  }

  /**
   * Runs an action and pushes the new state. For the actions about taking part (`participation`),
   * a failure also becomes the state's lastError (the Training screen shows it) and a success
   * clears it; the other screens show their own action's failure.
   */
  async act<T>(action: () => T | Promise<T>, participation = false): Promise<T> {
    try {
      const value = await action();
      await this.saving;
      if (participation) this.lastError = null;
      this.changed();
      return value;
    } catch (err) {
      if (participation) this.lastError = toAppError(err);
      this.changed();
      throw err;
    }
  }

  // ---- API: join -----------------------------------------------------------------------------

  getState(): Promise<AppState> {
    return Promise.resolve(this.snapshot());
  }

  async inspectInvite(arg: { invite: string; serverUrl?: string }): Promise<FederationPreview> {
    return this.act(async () => {
      if (this.isRunning) throw new AppFailure('not-ready', 'You are taking part in a federation now: pause or leave it before checking another invite.');
      const resolved = resolveInvite(arg.invite, arg.serverUrl);
      const preview = await probeFederation(resolved, this.accountant);
      const data = this.loaded && this.fitOrFail(this.loaded, preview);
      const joinedBefore = this.settings.federation?.preview.federationId;
      if (joinedBefore !== preview.federationId) {
        this.client?.close();
        this.client = null;
        this.involved = null;
      }
      this.pending = { resolved, invite: arg.invite.trim(), preview };
      if (this.loaded && data) this.setData(this.loaded, data);
      this.lastCompletedRound = preview.currentRound;
      void this.refreshPrivacy();
      return preview;
    });
  }

  // ---- API: data -----------------------------------------------------------------------------

  chooseDataPath(): Promise<string | null> {
    return Promise.reject(new AppFailure('unsupported', 'Choosing with a file dialog needs the desktop app: type the path of your file or folder instead.'));
  }

  private checkCompatible(data: Pick<Dataset, 'inputShape' | 'numClasses'>, preview: FederationPreview): void {
    const want = preview.model.inputShape.join('×');
    if (data.inputShape.join('×') !== want) {
      throw new AppFailure(
        'data-mismatch',
        `Your data has examples of shape ${data.inputShape.join('×')} (${featureSize(data)} values), but this federation's model (${preview.model.name}) takes ${want} (${featureSize(preview.model)} values). Choose data of the kind the federation trains on.`,
      );
    }
    if (data.numClasses !== preview.model.numClasses) {
      throw new AppFailure(
        'data-mismatch',
        `Your data has ${data.numClasses} classes, but this federation's model predicts ${preview.model.numClasses}. Choose data with the same labels.`,
      );
    }
  }

  /** The data as the federation's model takes it (a flat CSV row of the input's size becomes one example), or a mismatch in words. */
  private fitOrFail(loaded: LoadedSource, preview: FederationPreview | null): { dataset: Dataset; note?: string } {
    const fitted = fitData(loaded, preview?.model ?? null);
    if (!fitted) {
      // Not the model's size: checkCompatible says how.
      this.checkCompatible(loaded.dataset, preview!);
      throw new AppFailure('data-mismatch', "Your data does not fit this federation's model.");
    }
    if (preview) this.checkCompatible(fitted.dataset, preview);
    return fitted;
  }

  private setData(loaded: LoadedSource, fitted: { dataset: Dataset; note?: string }): DataSummary {
    this.loaded = loaded;
    this.dataset = fitted.dataset;
    this.dataSummary = summarize(loaded, fitted);
    this.changed();
    return this.dataSummary;
  }

  private async useData(source: DataSource): Promise<DataSummary> {
    const loaded = await readSource(source);
    return this.setData(loaded, this.fitOrFail(loaded, this.pending?.preview ?? null));
  }

  async loadData(source: DataSource): Promise<DataSummary> {
    return this.act(async () => {
      if (this.isRunning) throw new AppFailure('not-ready', 'Pause taking part before you change your data.');
      const summary = await this.useData(source);
      this.settings.data = source;
      await this.persist();
      return summary;
    });
  }

  // ---- API: consent, taking part -------------------------------------------------------------

  async join(arg: { cap: PrivacyCap | null; autoParticipate: boolean; participantCap?: PrivacyCap }): Promise<AppState> {
    return this.act(async () => {
      if (this.isRunning) throw new AppFailure('not-ready', 'You are already taking part in this federation.');
      const pending = this.pending;
      if (!pending) throw new AppFailure('not-ready', 'Check an invite first (Join screen).');
      await this.dataLoading;
      if (!this.dataset) throw new AppFailure('not-ready', 'Choose the data to train on first (Data screen).');
      this.checkCompatible(this.dataset, pending.preview);
      await this.checkConsent(arg);
      const sameFederation = this.settings.federation?.preview.federationId === pending.preview.federationId;
      this.settings = {
        ...this.settings,
        federation: { invite: pending.invite, preview: pending.preview },
        data: this.dataSummary!.source,
        consent: {
          cap: arg.cap && { ...arg.cap },
          autoParticipate: arg.autoParticipate,
          ...(arg.participantCap && { participantCap: { ...arg.participantCap } }),
        },
        rounds: sameFederation ? this.settings.rounds : [],
      };
      await this.persist();
      await this.connect();
      return this.snapshot();
    }, true);
  }

  /** A cap that lets the next round through, or (only without noise) the explicit "no privacy bound". */
  private async checkConsent(arg: { cap: PrivacyCap | null; participantCap?: PrivacyCap }): Promise<void> {
    const dpOff = this.pending!.preview.settings.dp.mode === 'off';
    if (arg.cap === null) {
      if (!dpOff) throw new AppFailure('invalid-argument', 'This federation adds privacy noise: set a cap on your ε to join it.');
      if (arg.participantCap) {
        throw new AppFailure(
          'invalid-argument',
          'A participant-wide cap would decline every round of a federation that adds no noise: leave it empty to join.',
        );
      }
      return;
    }
    if (dpOff) {
      throw new AppFailure(
        'budget-reached',
        'This federation adds no privacy noise, so your ε is unbounded from the first round and no cap can hold: accept "no privacy bound" to join it, or do not join.',
      );
    }
    const report = await this.report(arg.cap);
    if (!report.nextRoundAllowed) {
      const next = report.projections[0];
      throw new AppFailure(
        'budget-reached',
        `Your cap of ε ${arg.cap.epsilon} (${arg.cap.view}) is below what taking part in the next round would bring your ε to (${fmt(arg.cap.view === 'worst-case' ? next.worstCase : next.promised)}): you would decline every round. Raise the cap to take part.`,
      );
    }
  }

  /** Connects the client; `checkEnded` first asks the signed preview whether the federation ended meanwhile (resume). */
  private async connect(options: { checkEnded?: boolean } = {}): Promise<void> {
    const pending = this.pending!;
    const consent = this.settings.consent!;
    if (!this.client) {
      this.clientOptions = {
        serverUrl: pending.resolved.serverUrl,
        invite: pending.resolved.invite,
        identity: await this.identity(pending.resolved.invite.fingerprintHex),
        data: this.dataset!,
        stateDir: this.options.stateDir,
        ...(consent.cap && { cap: { ...consent.cap } }),
        ...(consent.participantCap && { participantCap: { ...consent.participantCap } }),
        accountant: this.accountant,
      };
      const client = new FederationClient(this.clientOptions);
      client.on('event', (event) => this.onClientEvent(client, event));
      // A round declined for the budget: the server stops drawing this member until it says otherwise.
      sitOutWhenOutOfBudget(client);
      client.untilDone().catch((err: Error) => {
        if (this.client !== client) return;
        this.lastError = toAppError(err);
        this.closeClient('paused');
      });
      this.client = client;
    }
    this.pauseAtRoundEnd = false;
    const before = this.settings.participation;
    this.setParticipation('connecting');
    this.changed();
    try {
      const client = this.client;
      if (options.checkEnded && (await this.within(this.endedMeanwhile()))) return;
      await this.within(client.connect());
    } catch (err) {
      // (A leave() meanwhile has already closed the client and set where things stand.)
      if (this.participation === 'connecting') {
        this.client?.close();
        this.setParticipation(before === 'active' || before === 'paused' ? 'paused' : 'not-joined');
      }
      throw err;
    }
  }

  /** A step of connecting, bounded: a server that accepts the socket but never answers, or a pause or leave meanwhile, ends the wait. */
  private within<T>(step: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new AppFailure('unreachable', 'The federation server did not answer in time. Check that it is running, then try again.')),
        CONNECT_TIMEOUT_MS,
      );
      this.cancelConnect = () => reject(new AppFailure('cancelled', 'Stopped connecting.'));
    });
    return Promise.race([step, limit]).finally(() => {
      clearTimeout(timer);
      this.cancelConnect = null;
    });
  }

  async setCap(cap: PrivacyCap): Promise<AppState> {
    return this.act(async () => {
      if (!this.settings.consent) throw new AppFailure('not-ready', 'Join a federation before setting its cap.');
      if (this.pending?.preview.settings.dp.mode === 'off') {
        throw new AppFailure('invalid-argument', 'This federation adds no privacy noise: a cap would decline every round. To stop, pause or leave instead.');
      }
      this.settings.consent = { ...this.settings.consent, cap: { ...cap } };
      // The client reads its options' cap before every round: the new cap applies from the next one.
      if (this.clientOptions) this.clientOptions.cap = { ...cap };
      // Out of budget before? With a new cap this member may be drawn again.
      if (this.participation === 'active') this.sayAvailable();
      await this.persist();
      return this.snapshot();
    });
  }

  async setAutoParticipate(arg: { autoParticipate: boolean }): Promise<AppState> {
    return this.act(async () => {
      if (!this.settings.consent) throw new AppFailure('not-ready', 'Join a federation first.');
      this.settings.consent = { ...this.settings.consent, autoParticipate: arg.autoParticipate };
      await this.persist();
      return this.snapshot();
    });
  }

  async resume(): Promise<AppState> {
    return this.act(async () => {
      if (this.isRunning && this.participation !== 'pausing') return this.snapshot();
      if (this.participation === 'pausing') {
        this.pauseAtRoundEnd = false;
        this.setParticipation('active');
        this.sayAvailable(); // it said 'paused' when asked to pause
        return this.snapshot();
      }
      if (!this.pending || !this.settings.consent) throw new AppFailure('not-ready', 'Join a federation first.');
      // An ended federation is not a failure: the state says how it ended.
      if (this.participation === 'done') return this.snapshot();
      if (this.participation === 'left') throw new AppFailure('not-ready', 'You left this federation: to take part again, join it again from the Join screen.');
      await this.dataLoading;
      if (!this.dataset) throw new AppFailure('not-ready', 'Choose the data to train on first (Data screen).');
      await this.connect({ checkEnded: true });
      return this.snapshot();
    }, true);
  }

  /**
   * While paused the app holds no connection (announcements to a connected member count in its promised ε), so it reads
   * the federation's signed preview now and then, which registers and charges nothing, to learn whether it ended.
   */
  private watchForEnd(on: boolean): void {
    if (!on) {
      if (this.endWatch) clearInterval(this.endWatch);
      this.endWatch = null;
      return;
    }
    if (this.endWatch) return;
    this.endWatch = setInterval(() => {
      const pending = this.pending;
      if (!pending || this.participation !== 'paused' || this.endProbe) return;
      this.endProbe = probeFederation(pending.resolved, this.accountant)
        .then((preview) => {
          if (preview.ended && this.participation === 'paused' && this.pending === pending) {
            this.markEnded(preview.ended);
            this.changed();
          }
        })
        .catch(() => {}) // a server out of reach has not ended anything: try again at the next tick
        .finally(() => (this.endProbe = null));
    }, this.options.endWatchIntervalMs ?? END_WATCH_INTERVAL_MS);
    this.endWatch.unref();
  }

  /** Whether the federation ended while this app was paused, as its signed preview says (it throws when the server is gone). */
  private async endedMeanwhile(): Promise<boolean> {
    const pending = this.pending!;
    const preview = await probeFederation(pending.resolved, this.accountant);
    pending.preview = { ...pending.preview, currentRound: preview.currentRound };
    if (!preview.ended) return false;
    this.markEnded(preview.ended);
    return true;
  }

  private markEnded({ outcome, message, rounds, of }: FederationEnd): void {
    const end = { outcome, message, rounds, of };
    // The screens read how it ended from the federation they show; no round is open any more.
    if (this.pending) this.pending.preview = { ...this.pending.preview, ended: end };
    this.round = null;
    this.lastCompletedRound = Math.max(this.lastCompletedRound, rounds);
    this.notice(endedWords(end));
    this.client?.close();
    this.involved = null;
    this.setParticipation('done');
  }

  /** Tells the server this member may be drawn: for one round only when the person takes part one round at a time. */
  private sayAvailable(): void {
    void this.client?.setAvailability('available', { once: this.settings.consent?.autoParticipate === false });
  }

  async pause(): Promise<AppState> {
    return this.act(() => {
      if (!this.isRunning) return this.snapshot();
      // Said at once, even while a round this member is in finishes: the next cohort is drawn without it.
      void this.client?.setAvailability('paused');
      if (this.participation === 'connecting') {
        this.cancelConnect?.();
        return this.snapshot();
      }
      if (this.involved !== null) {
        // A round in progress finishes (its update is already counted in the ledger); then stop.
        this.pauseAtRoundEnd = true;
        this.setParticipation('pausing');
      } else {
        this.closeClient('paused');
      }
      return this.snapshot();
    }, true);
  }

  async leave(): Promise<AppState> {
    return this.act(() => {
      this.cancelConnect?.();
      this.client?.close();
      this.client = null;
      this.clientOptions = null;
      this.involved = null;
      this.round = null;
      this.setParticipation(this.settings.federation ? 'left' : 'not-joined');
      return this.snapshot();
    }, true);
  }

  private closeClient(next: Participation): void {
    this.client?.close();
    this.involved = null;
    this.pauseAtRoundEnd = false;
    if (this.round && this.round.stage !== 'finished' && this.round.stage !== 'declined') this.round = { ...this.round, stage: 'finished' };
    this.setParticipation(next);
    this.changed();
  }

  // ---- client events -------------------------------------------------------------------------

  private onClientEvent(client: FederationClient, event: ClientEvent): void {
    if (client !== this.client) return;
    const epochs = this.pending?.preview.settings.training.epochs ?? 1;
    switch (event.type) {
      case 'joined':
        this.connection = null;
        this.setParticipation(this.pauseAtRoundEnd ? 'pausing' : 'active');
        if (this.settings.consent?.autoParticipate === false) this.sayAvailable();
        this.notices.length = 0;
        if (this.pending) this.pending.preview = { ...this.pending.preview, rounds: event.rounds };
        break;
      case 'round-start':
        this.involved = event.round;
        this.round = { round: event.round, stage: 'selected', epoch: 0, epochs, batch: 0, batches: 0, loss: null };
        break;
      case 'training':
        this.round = {
          round: event.round,
          stage: 'training',
          epoch: event.epoch,
          epochs,
          batch: event.batch + 1,
          batches: event.batches,
          loss: event.loss,
          samplesPerSecond: event.examplesPerSecond,
          trainingBackend: event.backend,
        };
        return this.changed(true);
      case 'update-prepared':
        if (this.round) this.round = { ...this.round, stage: 'sealing' };
        break;
      case 'update-sent':
        if (this.round) this.round = { ...this.round, stage: 'sent' };
        recordContributed(this.settings.rounds, event);
        void this.persist();
        break;
      case 'update-rejected':
        recordRejected(this.settings.rounds, event);
        void this.persist();
        break;
      case 'declined':
        this.involved = event.round;
        this.round = { round: event.round, stage: 'declined', epoch: 0, epochs, batch: 0, batches: 0, loss: null };
        recordDeclined(this.settings.rounds, event);
        void this.persist();
        void this.refreshPrivacy();
        break;
      case 'privacy':
        void this.refreshPrivacy();
        break;
      case 'round-result': {
        const { result } = event;
        this.lastCompletedRound = Math.max(this.lastCompletedRound, result.round);
        recordResult(this.settings.rounds, event);
        if (this.round?.round === result.round) this.round = { ...this.round, stage: this.round.stage === 'declined' ? 'declined' : 'finished' };
        void this.persist();
        void this.refreshPrivacy();
        this.roundEnded(result.round);
        break;
      }
      case 'round-abort': {
        if (this.round?.round === event.round && this.round.stage !== 'declined') {
          this.round = { ...this.round, stage: 'aborted', abortReason: event.reason, epoch: 0, batch: 0, batches: 0, loss: null };
        }
        if (recordAbort(this.settings.rounds, event)) void this.persist();
        this.roundEnded(event.round);
        break;
      }
      case 'disconnected':
        if (event.reason === CLOSED_HERE) break;
        this.connection = { state: 'reconnecting', since: new Date().toISOString(), reason: event.reason, retryMaxSeconds: RECONNECT_MAX_DELAY_S };
        this.notice('Lost the connection to the federation server; reconnecting…');
        break;
      case 'done':
        this.markEnded(event);
        break;
      case 'warning':
        this.notice(event.message);
        break;
    }
    this.changed();
  }

  /** After the round this participant took part in (or declined) ends: stop here if asked to. */
  private roundEnded(round: number): void {
    if (this.involved !== round) return;
    this.involved = null;
    const manual = this.settings.consent?.autoParticipate === false;
    // Closing here, inside the result's event, comes before the next round's start is read.
    if (this.pauseAtRoundEnd || manual) this.closeClient('paused');
  }

  // ---- privacy -------------------------------------------------------------------------------

  private async refreshPrivacy(): Promise<void> {
    const serverFingerprint = this.pending?.resolved.invite.fingerprintHex;
    if (!serverFingerprint) return;
    try {
      const entries = await readLedger(this.options.stateDir, serverFingerprint);
      this.privacy = ledgerSummary(entries, this.pending!.preview.settings.dp.delta, this.accountant);
    } catch (err) {
      this.notice(`Could not read your privacy ledger: ${(err as Error).message}`);
    }
    this.changed();
  }

  private async report(cap: PrivacyCap | null): Promise<PrivacyReport> {
    const pending = this.pending;
    if (!pending) throw new AppFailure('not-ready', 'Join a federation to see what it costs your privacy.');
    const { preview } = pending;
    const entries = await readLedger(this.options.stateDir, pending.resolved.invite.fingerprintHex);
    const known = entries.reduce((max, e) => ('round' in e ? Math.max(max, e.round) : max), this.lastCompletedRound);
    const nextRound = known + 1;
    return privacyReport({
      federationId: preview.federationId,
      serverFingerprint: preview.fingerprint.replace(/:/g, ''),
      entries,
      settings: roundSettingsOf(preview),
      nextRound,
      remainingRounds: preview.rounds - nextRound + 1,
      cap,
      accountant: this.accountant,
    });
  }

  getPrivacy(): Promise<PrivacyReport> {
    return this.report(this.settings.consent?.cap ?? null);
  }

  async exportLedger(): Promise<LedgerExport> {
    const pending = this.pending;
    if (!pending) throw new AppFailure('not-ready', 'There is no ledger yet: join a federation first.');
    const id = pending.preview.federationId;
    const entries = await readLedger(this.options.stateDir, pending.resolved.invite.fingerprintHex);
    const report = await this.getPrivacy();
    const json = JSON.stringify(
      {
        federationId: id,
        exportedAt: new Date().toISOString(),
        accountant: this.accountant.name,
        delta: report.delta,
        promised: report.promised,
        worstCase: report.worstCase,
        cap: report.cap,
        entries,
        rounds: report.rows,
      },
      null,
      2,
    );
    return { fileName: `covey-ledger-${id}.json`, json };
  }

  /** Closes the connection (the app is quitting); the ledger and settings are already on disk. */
  async shutdown(): Promise<void> {
    this.watchForEnd(false);
    this.client?.close();
    this.client = null;
    if (this.emitTimer) clearTimeout(this.emitTimer);
    await this.saving;
  }
}
