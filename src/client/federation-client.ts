import { EventEmitter } from 'node:events';
import { io, type Socket } from 'socket.io-client';
import { sealUpdate, type Identity } from '../core/crypto/index.js';
import type { Dataset } from '../core/data/dataset.js';
import { holdoutSplit } from '../core/data/holdout.js';
import { setFlatWeights } from '../core/model/index.js';
import { noisePlan, privatizeUpdate, ledgerEpsilon, DEFAULT_ACCOUNTANT, type Accountant, type LedgerEntry } from '../core/privacy/index.js';
import { ledgersOnData } from '../core/privacy/participant-ledgers.js';
import { isAck } from '../core/protocol/ack.js';
import type { Invite } from '../core/protocol/invite.js';
import { federatedEvalConflict, type EvalCounts } from '../core/protocol/federated-eval.js';
import {
  ChallengeSchema,
  EVENTS,
  RoundAbortSchema,
  UpdateAckSchema,
  type DeclineReason,
  type RoundSettings,
  type RoundStart,
} from '../core/protocol/messages.js';
import { evaluationCounts, selectBackend, type RoundTrainer } from '../core/train/index.js';
import type { AvailabilityStatus } from '../core/protocol/availability.js';
import type { FederationEnd } from '../core/protocol/end.js';
import { sendAvailability } from './availability.js';
import { chargeAnnouncement } from './announcements.js';
import { dataDigest } from './data-identity.js';
import { plainUpdateFrame } from './update-frame.js';
import { ClientError } from './errors.js';
import type { ClientEvent, TrainStats } from './events.js';
import { handshake, type ServerChallenge } from './handshake.js';
import { decide, type ContributionDraft, type Decision, type PrivacyCap } from './participation.js';
import { verifyForMember, verifyRoundStart } from './server-messages.js';
import { SecureAttempts, type SecureRelease, type SecureRoundStart } from './secure-attempts.js';
import { secureInput, type StageReply } from './secure-round.js';
import { openSession, trainRound, updateSlice, type Session } from './session.js';

export type { ClientEvent } from './events.js';
export type { PrivacyCap } from './participation.js';
export { ClientError };

export interface FederationClientOptions {
  serverUrl: string;
  /**
   * Other URLs of the same federation (its edges, server/cluster): after a lost connection, each
   * reconnection attempt tries the next URL in turn, starting from serverUrl.
   */
  fallbackUrls?: readonly string[];
  invite: Invite;
  identity: Identity;
  data: Dataset;
  /** Holds this participant's privacy ledgers (one file per server key). */
  stateDir: string;
  /** The participant's own ε cap for this server's federations, enforced here whatever the server says. */
  cap?: PrivacyCap;
  /**
   * A participant-wide cap: ε over every ledger in `stateDir` whose consent was given on this same
   * data (data-identity.ts), across all servers and federations, including this round.
   */
  participantCap?: PrivacyCap;
  /** Accountant used for the ledger views and the cap. */
  accountant?: Accountant;
  /** Seeds the local shuffle (simulation); the privacy noise never uses it. */
  trainSeed?: number;
  /** Where a round's local training runs (e.g. the app's renderer worker); default: in this process. */
  trainer?: RoundTrainer;
}

/** What this client releases in a plain round: its clipped, noised update, before framing and sealing. */
export interface PlainRelease {
  values: Float32Array;
  updateNorm: number;
  clipScale: number;
  stats: TrainStats;
  /** Federated evaluation: the received global model's counts on this member's held-out examples. */
  evaluation?: EvalCounts;
}

interface PreparedUpdate {
  attemptId: string;
  context: { federationId: string; round: number; attemptId: string; clientId: string };
  sealed: Uint8Array;
  stats: TrainStats;
}

/**
 * Headless federation client: joins with an invite, pins the server key, and for each round it
 * is selected for: verify the signed global weights -> train locally -> delta -> clip -> noise
 * (local DP) -> seal -> send. Reconnects on its own after a dropped connection. The protected
 * steps are what a subclass may wrap: `covey sim`'s simulated dropouts (cli/dropout-client.ts)
 * and a test that records the released updates.
 */
export class FederationClient extends EventEmitter<{ event: [ClientEvent] }> {
  protected socket: Socket | null = null;
  private session: Session | null = null;
  private busy: Promise<void> = Promise.resolve();
  /** Announcements are charged in arrival order, each before the round start that follows it is handled. */
  private announcing: Promise<void> = Promise.resolve();
  private digest: string | null = null;
  /** The local data split for federated evaluation, made once per holdout fraction (core/data/holdout.ts). */
  private split: { fraction: number; train: Dataset; holdout: Dataset } | null = null;
  private prepared: PreparedUpdate | null = null;
  /** Attempts (round start ids) whose update the server accepted. */
  private readonly acceptedAttempts = new Set<string>();
  protected readonly secureAttempts = new SecureAttempts((event) => this.note(event));
  private sessionReady!: Promise<void>;
  private markSessionReady!: () => void;
  private finished!: Promise<FederationEnd>;
  private finish!: (end: FederationEnd) => void;
  private fail!: (err: Error) => void;

  constructor(private readonly options: FederationClientOptions) {
    super();
    this.sessionReady = new Promise<void>((resolve) => (this.markSessionReady = resolve));
    this.finished = new Promise<FederationEnd>((resolve, reject) => {
      this.finish = resolve;
      this.fail = reject;
    });
    this.finished.catch(() => {});
  }

  private note(event: ClientEvent): void {
    this.emit('event', event);
  }

  /** Connects and joins; resolves once the server has proven its key and admitted this client. */
  async connect(): Promise<void> {
    await selectBackend(); // idempotent: keeps a backend the caller already chose
    const socket = io(this.options.serverUrl, {
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
    });
    this.socket = socket;
    const urls = [this.options.serverUrl, ...(this.options.fallbackUrls ?? [])];
    if (urls.length > 1) {
      // The next URL for the next attempt; the invite's server key is pinned, so any edge proves the same federation.
      // socket.io-client's Manager opens each attempt's engine at its `uri` (private in its types, read at every open).
      const manager = socket.io as unknown as { uri: string };
      socket.io.on('reconnect_attempt', (attempt) => {
        manager.uri = urls[attempt % urls.length];
      });
    }
    let joinedOnce = false;
    const joined = new Promise<void>((resolve, reject) => {
      // Every connection starts with the server's nonce; the hello signs it.
      socket.on(EVENTS.challenge, (msg: unknown) => {
        const challenge = ChallengeSchema.safeParse(msg);
        if (!challenge.success) return;
        this.hello(challenge.data).then(
          () => {
            joinedOnce = true;
            resolve();
          },
          (err: Error) => {
            this.close();
            if (joinedOnce) this.fail(err);
            reject(err);
          },
        );
      });
      socket.on('connect_error', (err) => {
        if (!joinedOnce) {
          this.close();
          reject(new ClientError('unreachable', `cannot reach the server at ${this.options.serverUrl}: ${err.message}`));
        }
      });
    });
    socket.on('disconnect', (reason) => this.note({ type: 'disconnected', reason }));
    socket.on(EVENTS.roundStart, (msg: unknown, weights: unknown) => {
      this.busy = this.busy
        .then(() => this.onRoundStart(msg, weights))
        .catch((err: Error) => {
          this.note({ type: 'warning', message: `round failed: ${err.message}` });
        });
    });
    socket.on(EVENTS.secagg, (msg: unknown, ack: unknown) => {
      if (!isAck(ack)) return;
      this.onSecAggRequest(msg).then(
        (reply) => reply && ack(reply),
        (err: Error) => {
          this.note({ type: 'warning', message: `secure aggregation failed: ${err.message}` });
          ack({ ok: false, reason: 'error', message: err.message.slice(0, 500) });
        },
      );
    });
    socket.on(EVENTS.roundAnnounce, (msg: unknown) => {
      this.announcing = this.announcing
        .then(() => this.onAnnounce(msg))
        .catch((err: Error) => {
          this.note({ type: 'warning', message: `could not write the privacy ledger: ${err.message}` });
        });
    });
    socket.on(EVENTS.roundResult, (msg: unknown) => {
      void this.verified('result', msg).then((result) => result && this.note({ type: 'round-result', result }));
    });
    socket.on(EVENTS.roundAbort, (msg: unknown) => {
      const parsed = RoundAbortSchema.safeParse(msg);
      if (parsed.success) this.note({ type: 'round-abort', ...parsed.data });
    });
    socket.on(EVENTS.federationDone, (msg: unknown) => {
      void this.verified('done', msg).then((done) => {
        if (!done) return;
        const { federationId: _id, ...end } = done;
        this.note({ type: 'done', ...end });
        this.finish(end);
      });
    });
    await joined;
  }

  /** A server message checked against the pinned key; an unsigned, forged or foreign one is ignored and said so. */
  private async verified<K extends 'result' | 'done'>(kind: K, raw: unknown) {
    await this.sessionReady;
    const checked = await verifyForMember(this.session!, kind, raw);
    if (checked.ok) return checked.body;
    this.note({ type: 'warning', message: `ignored a server message: ${checked.problem}` });
    return null;
  }

  /** The promised view's charge for one announced attempt (announcements.ts). */
  private async onAnnounce(raw: unknown): Promise<void> {
    await this.sessionReady;
    const session = this.session!;
    const outcome = await chargeAnnouncement({ raw, ledger: session.ledger, federationId: session.federationId, serverSignKey: session.serverSignKey });
    if (outcome.kind === 'ignored') return this.note({ type: 'warning', message: `ignored a round announcement: ${outcome.problem}` });
    if (outcome.kind === 'charged') this.notePrivacy(outcome.body.round, outcome.body.settings.delta);
  }

  /** Resolves when the federation has ended (completed or stopped: see `outcome`). */
  untilDone(): Promise<FederationEnd> {
    return this.finished;
  }

  /** Tells the server whether to draw this member (client/availability.ts); false when not connected or not taken. */
  async setAvailability(status: AvailabilityStatus, options: { once?: boolean } = {}): Promise<boolean> {
    const session = this.session;
    if (!this.socket?.connected || !session) return false;
    return sendAvailability(this.socket, this.options.identity, session, status, options.once ?? false);
  }

  close(): void {
    this.socket?.removeAllListeners();
    this.socket?.disconnect();
    this.socket = null;
  }

  private async hello(serverChallenge: ServerChallenge): Promise<void> {
    const { identity, invite, data } = this.options;
    const admission = await handshake(this.socket!, {
      serverChallenge,
      identity,
      invite,
      numExamples: data.count,
      timeoutMs: 30_000,
    });
    if (!this.session) {
      this.session = await openSession(admission, { stateDir: this.options.stateDir, cap: this.options.cap, dataDigest: () => this.dataDigest });
      this.markSessionReady();
    }
    const { hello, fingerprint } = admission;
    this.note({
      type: 'joined',
      federationId: hello.federationId,
      clientId: hello.clientId,
      rounds: hello.rounds,
      settings: hello.settings,
      serverFingerprint: fingerprint,
    });
  }

  private async verifiedRound(msg: unknown, weights: unknown): Promise<{ start: RoundStart; global: Float32Array }> {
    // A round may be offered the moment the server admits us, before the session is set up here.
    await this.sessionReady;
    const session = this.session;
    if (!session) throw new ClientError('protocol', 'round start before joining');
    return verifyRoundStart(msg, weights, session);
  }

  private async onRoundStart(msg: unknown, weights: unknown): Promise<void> {
    const { start, global } = await this.verifiedRound(msg, weights);
    await this.announcing; // this attempt's announcement, sent first, is charged before anything else
    if (!this.socket) return; // closed meanwhile (e.g. the app paused after the previous result): take no part
    if (this.acceptedAttempts.has(start.attemptId)) return;
    if (Date.now() > start.deadline) {
      this.secureAttempts.sitOut(start.attemptId);
      this.note({ type: 'warning', message: `round ${start.round} already past its deadline; skipping` });
      return;
    }
    if (start.secagg) return this.onSecureRoundStart({ ...start, secagg: start.secagg }, global);
    // A round re-sent after a reconnect reuses the update already prepared: one release per round.
    let prepared = this.prepared?.attemptId === start.attemptId ? this.prepared : null;
    if (!prepared) {
      const decision = await this.decide(start);
      if ('decline' in decision) return this.decline(start, decision.decline, decision.message);
      this.note({ type: 'round-start', round: start.round, deadline: start.deadline });
      prepared = await this.prepareUpdate(start, global);
      // The ledger is written and flushed before the update leaves: a crash over-counts, never under-counts.
      await this.recordContribution(decision.take);
      this.prepared = prepared;
    }
    const socket = this.socket;
    if (!socket) return;
    const timeoutMs = Math.max(1000, start.deadline - Date.now() + 5000);
    const ack = UpdateAckSchema.parse(await socket.timeout(timeoutMs).emitWithAck(EVENTS.update, prepared.context, prepared.sealed));
    if (ack.accepted) {
      this.acceptedAttempts.add(start.attemptId);
      this.prepared = null;
      this.note({ type: 'update-sent', round: start.round, bytes: prepared.sealed.byteLength, ...prepared.stats });
    } else {
      this.note({ type: 'update-rejected', round: start.round, reason: ack.reason, message: ack.message });
    }
  }

  /** Appends (and flushes) this client's contribution to a round to its ledger, then reports both ε views. */
  private async recordContribution(contribution: ContributionDraft): Promise<void> {
    await this.session!.ledger.append({ kind: 'contribution', timestamp: new Date().toISOString(), ...contribution });
    this.notePrivacy(contribution.round, contribution.delta);
  }

  /** Whether to take part in `start` (participation.ts), on this participant's ledgers, consent and caps. */
  private async decide(start: RoundStart): Promise<Decision> {
    const session = this.session!;
    const { cap, participantCap, stateDir } = this.options;
    // The participant-wide cap prices every other server's ledger on this same data.
    const otherLedgers = participantCap
      ? (await ledgersOnData(stateDir, this.dataDigest)).filter(
          (entries) => !entries.some((e) => e.kind === 'consent' && e.serverFingerprint === session.fingerprint),
        )
      : [];
    return decide(start, {
      federationId: session.federationId,
      serverFingerprint: session.fingerprint,
      ledger: session.ledger.entries,
      cap,
      participantCap,
      otherLedgers,
      accountant: this.accountant,
    });
  }

  private get dataDigest(): string {
    this.digest ??= dataDigest(this.options.data);
    return this.digest;
  }

  private get accountant(): Accountant {
    return this.options.accountant ?? DEFAULT_ACCOUNTANT;
  }

  private async decline(start: RoundStart, reason: DeclineReason, message: string): Promise<void> {
    const session = this.session!;
    const { round, attemptId } = start;
    await session.ledger.append({ kind: 'declined', federationId: session.federationId, timestamp: new Date().toISOString(), round, reason, message });
    this.note({ type: 'declined', round, reason, message });
    await this.socket
      ?.timeout(10_000)
      .emitWithAck(EVENTS.decline, { federationId: session.federationId, round, attemptId, clientId: session.clientId, reason, message })
      .catch(() => undefined); // the server also closes the round at its deadline
  }

  private notePrivacy(round: number, delta: number): void {
    const entries: readonly LedgerEntry[] = this.session!.ledger.entries;
    this.note({
      type: 'privacy',
      round,
      delta,
      promised: ledgerEpsilon(entries, 'promised', delta, this.accountant),
      worstCase: ledgerEpsilon(entries, 'worst-case', delta, this.accountant),
    });
  }

  private train(start: RoundStart, global: Float32Array): Promise<{ delta: Float32Array; stats: TrainStats }> {
    const seed = (this.options.trainSeed ?? Math.floor(Math.random() * 2 ** 31)) + start.round;
    return trainRound(this.session!, start, global, {
      data: this.localData(start.settings).train,
      seed,
      note: (event) => this.note(event),
      ...(this.options.trainer && { trainer: this.options.trainer }),
    });
  }

  /**
   * The examples a round trains on and, with federated evaluation, those held out (never trained on).
   * Counts leave only where the privacy settings allow them (federatedEvalConflict), whatever the server asks.
   */
  private localData(settings: RoundSettings): { train: Dataset; holdout: Dataset | null } {
    const asked = settings.federatedEval;
    if (!asked || federatedEvalConflict({ dpMode: settings.dp.mode, secureAggregation: settings.secureAggregation !== undefined })) {
      return { train: this.options.data, holdout: null };
    }
    if (this.split?.fraction !== asked.holdoutFraction) {
      this.split = { fraction: asked.holdoutFraction, ...holdoutSplit(this.options.data, asked.holdoutFraction) };
    }
    return this.split;
  }

  /** global weights -> (federated evaluation) -> local training -> delta -> clip -> noise (local DP): what a plain round releases. */
  protected async plainRelease(start: RoundStart, global: Float32Array): Promise<PlainRelease> {
    const { dp } = start.settings;
    const { holdout } = this.localData(start.settings);
    let evaluation: EvalCounts | undefined;
    if (holdout) {
      // The model as received, before local training.
      setFlatWeights(this.session!.model, global);
      evaluation = evaluationCounts(this.session!.model, holdout);
    }
    const { delta, stats } = await this.train(start, global);
    const { values, updateNorm, clipScale } = await privatizeUpdate(delta, noisePlan(dp, false));
    return { values, updateNorm, clipScale, stats, ...(evaluation && { evaluation }) };
  }

  /** The plain release, framed and sealed to the server's key. */
  private async prepareUpdate(start: RoundStart, global: Float32Array): Promise<PreparedUpdate> {
    const session = this.session!;
    const { values, updateNorm, clipScale, stats, evaluation } = await this.plainRelease(start, global);
    this.note({ type: 'update-prepared', round: start.round, updateNorm, clipScale });
    const context = { federationId: session.federationId, round: start.round, attemptId: start.attemptId, clientId: session.clientId };
    const sealed = await sealUpdate({
      plaintext: plainUpdateFrame(start.settings, start.round, this.localData(start.settings).train.count, values, evaluation),
      context,
      sender: this.options.identity,
      recipientBoxPublicKey: session.serverBoxKey,
    });
    return { attemptId: start.attemptId, context, sealed, stats };
  }

  // ---- secure aggregation --------------------------------------------------------------------

  /** A secure round: a cohort member that takes part runs the protocol (secure-attempts.ts); any other sits it out. */
  private async onSecureRoundStart(start: SecureRoundStart, global: Float32Array): Promise<void> {
    if (!start.secagg.cohort.includes(this.session!.clientId)) return this.secureAttempts.sitOut(start.attemptId);
    const decision = await this.decide(start);
    if ('decline' in decision) {
      this.secureAttempts.sitOut(start.attemptId);
      return this.decline(start, decision.decline, decision.message);
    }
    return this.takeSecurePart(start, global, decision.take);
  }

  /** Takes part in a secure attempt it has decided on; its quantized update is released after the ledger entry is on disk. */
  protected async takeSecurePart(start: SecureRoundStart, global: Float32Array, contribution: ContributionDraft): Promise<void> {
    const session = this.session!;
    this.note({ type: 'round-start', round: start.round, deadline: start.deadline });
    await this.secureAttempts.takePart(start, {
      clientId: session.clientId,
      identity: this.options.identity,
      serverBoxKey: session.serverBoxKey,
      length: updateSlice(session, start.settings).length,
      release: async () => {
        const release = await this.secureRelease(start, global);
        this.note({ type: 'update-prepared', round: start.round, updateNorm: release.updateNorm, clipScale: release.clipScale });
        await this.recordContribution(contribution);
        return release;
      },
    });
  }

  /** global weights -> local training -> delta -> clip -> noise -> quantize: what a secure round masks. */
  protected async secureRelease(start: SecureRoundStart, global: Float32Array): Promise<SecureRelease> {
    const { delta, stats } = await this.train(start, global);
    const input = await secureInput(delta, start.settings.dp, start.secagg);
    return { ...input, stats };
  }

  /** One stage's answer (secure-attempts.ts); null: no answer at all (what a simulated dropout gives). */
  protected onSecAggRequest(msg: unknown): Promise<StageReply | null> {
    return this.secureAttempts.answer(msg);
  }
}
