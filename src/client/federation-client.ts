import { EventEmitter } from 'node:events';
import { io, type Socket } from 'socket.io-client';
import type * as tf from '@tensorflow/tfjs';
import { challengeMessage, getSodium, sealUpdate, verify, type Identity } from '../core/crypto/index.js';
import type { Dataset } from '../core/data/dataset.js';
import { buildModel, getFlatWeights, ModelSpecSchema, setFlatWeights } from '../core/model/index.js';
import {
  combinedEpsilon,
  privatizeUpdate,
  LedgerFile,
  ledgerEpsilon,
  ledgersOnData,
  openServerLedger,
  projectedEpsilon,
  epsilonOfAccountant,
  updateDelta,
  type EpsilonOf,
  type Contribution,
  type LedgerEntry,
  type LedgerView,
} from '../core/privacy/index.js';
import { isAck } from '../core/protocol/ack.js';
import { decodeFrame, encodeFrame, encodeMaskedFrame } from '../core/protocol/frame.js';
import type { Invite } from '../core/protocol/invite.js';
import {
  asBytes,
  ChallengeSchema,
  EVENTS,
  RoundAbortSchema,
  roundStartSigningContext,
  RoundStartSchema,
  SecAggRequestSchema,
  UpdateAckSchema,
  type DeclineReason,
  type RoundSettings,
  type RoundStart,
} from '../core/protocol/messages.js';
import type { SecAggStage } from '../core/secagg/messages.js';
import { verifyMessage, type MemberRoundResult } from '../core/protocol/signed.js';
import type { AvailabilityStatus } from '../core/protocol/availability.js';
import type { FederationEnd } from '../core/protocol/end.js';
import { sendAvailability } from './availability.js';
import { announcedSettings, chargeAnnouncement, contradiction } from './announcements.js';
import { dataDigest } from './data-identity.js';
import { selectBackend, trainLocal } from '../core/train/index.js';
import { ClientError } from './errors.js';
import { handshake, type ServerChallenge } from './handshake.js';
import { secureInput, SecureRoundParticipant, type StageReply } from './secure-round.js';

export type ClientEvent =
  | { type: 'joined'; federationId: string; clientId: string; rounds: number; settings: RoundSettings; serverFingerprint: string }
  | { type: 'round-start'; round: number; deadline: number }
  | {
      type: 'training';
      round: number;
      epoch: number;
      batch: number;
      batches: number;
      loss: number;
      /** Live local training rate, and what trains (e.g. "wasm (WebAssembly SIMD), 2 worker threads"). */
      examplesPerSecond: number;
      backend: string;
    }
  | { type: 'update-prepared'; round: number; plaintextFrame: Uint8Array; updateNorm: number; clipScale: number }
  | {
      type: 'update-sent';
      round: number;
      bytes: number;
      trainLoss: number;
      trainAccuracy: number;
      examplesPerSecond: number;
      /** Secure aggregation: the update left masked (the server only ever sees the cohort's sum). */
      masked?: boolean;
    }
  | { type: 'update-rejected'; round: number; reason: string; message: string }
  | { type: 'declined'; round: number; reason: DeclineReason; message: string }
  | { type: 'privacy'; round: number; promised: number; worstCase: number; delta: number }
  /** Signed by the server; in DP modes without cohort counts (only whether this member's update counted). */
  | { type: 'round-result'; result: MemberRoundResult }
  | { type: 'round-abort'; round: number; reason: string }
  | { type: 'disconnected'; reason: string }
  /** The federation ended: completed, or stopped and why (signed by the server). */
  | ({ type: 'done' } & FederationEnd)
  | { type: 'warning'; message: string };

export { ClientError };

/** The tight PRV accountant (an upper bound on ε), for the ledger views and the cap. */
const DEFAULT_EPSILON_OF = epsilonOfAccountant('prv');

export interface PrivacyCap {
  epsilon: number;
  /** Which view the cap applies to; worst case unless the participant chose otherwise. */
  view: LedgerView;
}

export interface FederationClientOptions {
  serverUrl: string;
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
  epsilonOf?: EpsilonOf;
  /** Seeds the local shuffle (simulation); the privacy noise never uses it. */
  trainSeed?: number;
  /**
   * Testing and simulation only: in every secure-aggregation round, vanish (drop the connection,
   * then reconnect for later rounds) right after answering this stage, or on 'start' before advertising.
   */
  dropAfter?: SecAggStage | 'start';
}

type TrainStats = { trainLoss: number; trainAccuracy: number; examplesPerSecond: number };

/** A secure-aggregation attempt as this client sees it: its participant once created, or null if it sits the attempt out. */
interface SecureAttempt {
  participant: Promise<SecureRoundParticipant | null>;
  settle: (participant: SecureRoundParticipant | null) => void;
  stats?: TrainStats;
  /** Simulated dropout: this client answers nothing more in this attempt. */
  vanished?: boolean;
  /** Simulated dropout after an answer: it vanishes at the server's next word (its next request, or the round's end), which shows the answer arrived. */
  leaving?: boolean;
}

interface PreparedUpdate {
  attemptId: string;
  context: { federationId: string; round: number; attemptId: string; clientId: string };
  sealed: Uint8Array;
  stats: TrainStats;
}

interface Session {
  federationId: string;
  clientId: string;
  serverSignKey: Uint8Array;
  serverBoxKey: Uint8Array;
  model: tf.LayersModel;
  modelLength: number;
  fingerprint: string;
  ledger: LedgerFile;
}

/**
 * Headless federation client: joins with an invite, pins the server key, and for each round it
 * is selected for: verify the signed global weights -> train locally -> delta -> clip -> noise
 * (local DP) -> seal -> send. Reconnects on its own after a dropped connection.
 */
export class FederationClient extends EventEmitter<{ event: [ClientEvent] }> {
  private socket: Socket | null = null;
  private session: Session | null = null;
  private busy: Promise<void> = Promise.resolve();
  /** Announcements are charged in arrival order, each before the round start that follows it is handled. */
  private announcing: Promise<void> = Promise.resolve();
  private digest: string | null = null;
  private prepared: PreparedUpdate | null = null;
  /** Attempts (round start ids) whose update the server accepted. */
  private readonly acceptedAttempts = new Set<string>();
  private readonly secureAttempts = new Map<string, SecureAttempt>();
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
    // A round's end is the server's last word on its attempts: a simulated dropout still leaving goes now.
    const leaveEnded = () => [...this.secureAttempts.values()].filter((a) => a.leaving).forEach((a) => this.leave(a));
    socket.on(EVENTS.roundAnnounce, (msg: unknown) => {
      this.announcing = this.announcing
        .then(() => this.onAnnounce(msg))
        .catch((err: Error) => {
          this.note({ type: 'warning', message: `could not write the privacy ledger: ${err.message}` });
        });
    });
    socket.on(EVENTS.roundResult, (msg: unknown) => {
      leaveEnded();
      void this.verified('result', msg).then((result) => result && this.note({ type: 'round-result', result }));
    });
    socket.on(EVENTS.roundAbort, (msg: unknown) => {
      leaveEnded();
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
    const session = this.session!;
    const checked = await verifyMessage(session.serverSignKey, kind, raw);
    if (!checked.ok || checked.body.federationId !== session.federationId) {
      const problem = checked.ok ? `${kind} for another federation` : checked.problem;
      this.note({ type: 'warning', message: `ignored a server message: ${problem}` });
      return null;
    }
    if (kind === 'result' && (checked.body as MemberRoundResult).clientId !== session.clientId) {
      this.note({ type: 'warning', message: 'ignored a server message: round result addressed to another member' });
      return null;
    }
    return checked.body;
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
    const { hello, serverSignKey, serverBoxKey, fingerprint } = await handshake(this.socket!, {
      serverChallenge,
      identity,
      invite,
      numExamples: data.count,
      timeoutMs: 30_000,
    });
    if (!this.session) {
      const spec = ModelSpecSchema.parse(hello.model);
      const model = buildModel(spec, { seed: 0 });
      // One ledger per server key (the invite's fingerprint): a new federation id from the same server keeps it.
      const ledger = await openServerLedger(this.options.stateDir, fingerprint);
      this.session = {
        federationId: hello.federationId,
        clientId: hello.clientId,
        serverSignKey,
        serverBoxKey,
        model,
        modelLength: getFlatWeights(model).length,
        fingerprint,
        ledger,
      };
      const consent = [...ledger.entries].reverse().find((e) => e.kind === 'consent');
      if (!consent || consent.federationId !== hello.federationId) {
        // Joining is consenting to the settings the server declared now; later rounds must match them.
        const { dp, samplingRate, expectedClients } = hello.settings;
        await ledger.append({
          kind: 'consent',
          federationId: hello.federationId,
          timestamp: new Date().toISOString(),
          serverFingerprint: fingerprint,
          mode: dp.mode,
          noiseMultiplier: dp.noiseMultiplier,
          clipNorm: dp.clipNorm,
          samplingRate,
          delta: dp.delta,
          ...(expectedClients !== undefined && { expectedClients }),
          secureAggregation: hello.settings.secureAggregation !== undefined,
          cap: this.options.cap ?? null,
          dataDigest: this.dataDigest,
        });
      }
      this.markSessionReady();
    }
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
    const sodium = await getSodium();
    const start = RoundStartSchema.parse(msg);
    const frame = asBytes(weights);
    if (!frame) throw new ClientError('protocol', 'round start without weights');
    const digest = sodium.crypto_generichash(32, frame, null);
    if (sodium.to_base64(digest) !== start.weightsDigest) throw new ClientError('protocol', 'global weights digest mismatch');
    const { signature, ...unsigned } = start;
    const signed = challengeMessage('round-start', digest, roundStartSigningContext(unsigned));
    if (!(await verify(session.serverSignKey, signed, sodium.from_base64(signature)))) {
      throw new ClientError('protocol', 'round start not signed by the pinned server key');
    }
    if (start.federationId !== session.federationId) throw new ClientError('protocol', 'round start for another federation');
    const global = decodeFrame(frame, { kind: 'global', length: session.modelLength, round: start.round }).values;
    return { start, global };
  }

  private async onRoundStart(msg: unknown, weights: unknown): Promise<void> {
    const { start, global } = await this.verifiedRound(msg, weights);
    await this.announcing; // this attempt's announcement, sent first, is charged before anything else
    if (!this.socket) return; // closed meanwhile (e.g. the app paused after the previous result): take no part
    if (this.acceptedAttempts.has(start.attemptId)) return;
    if (Date.now() > start.deadline) {
      this.secureAttempt(start.attemptId).settle(null);
      this.note({ type: 'warning', message: `round ${start.round} already past its deadline; skipping` });
      return;
    }
    if (start.secagg) return this.onSecureRoundStart({ ...start, secagg: start.secagg }, global);
    // A round re-sent after a reconnect reuses the update already prepared: one release per round.
    let prepared = this.prepared?.attemptId === start.attemptId ? this.prepared : null;
    if (!prepared) {
      const refusal = await this.refusal(start);
      if (refusal) return this.decline(start, refusal.reason, refusal.message);
      this.note({ type: 'round-start', round: start.round, deadline: start.deadline });
      prepared = await this.prepareUpdate(start, global);
      // The ledger is written and flushed before the update leaves: a crash over-counts, never under-counts.
      await this.recordContribution(start);
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

  /** Appends (and flushes) this client's contribution to `start` to its ledger, then reports both ε views. */
  private async recordContribution(start: RoundStart): Promise<void> {
    const session = this.session!;
    await session.ledger.append({ kind: 'contribution', timestamp: new Date().toISOString(), ...contributionTo(session, start) });
    this.notePrivacy(start.round, start.settings.dp.delta);
  }

  /** Why this participant will not take part in a round, judged on its own ledger and consent. */
  private async refusal(start: RoundStart): Promise<{ reason: DeclineReason; message: string } | null> {
    const { ledger } = this.session!;
    const { dp, samplingRate, expectedClients } = start.settings;
    const consent = [...ledger.entries].reverse().find((e) => e.kind === 'consent');
    // Every attempt that may use this client's data must have been announced (and so charged) first, with these settings.
    const announced = announcedSettings(ledger, start.round, start.attemptId);
    if (!announced) return { reason: 'consent', message: `round ${start.round}: the server did not announce this attempt` };
    const contradicted = contradiction(announced, start.settings);
    if (contradicted) return { reason: 'consent', message: `round ${start.round}: ${contradicted}` };
    // Consent covers every input of the promised view: mode, z, C, δ, q and the expected cohort size.
    if (
      consent &&
      (consent.mode !== dp.mode ||
        consent.noiseMultiplier !== dp.noiseMultiplier ||
        consent.clipNorm !== dp.clipNorm ||
        consent.delta !== dp.delta ||
        consent.samplingRate !== samplingRate ||
        consent.expectedClients !== expectedClients)
    ) {
      const n = (v: number | undefined) => (v === undefined ? '' : `, expected cohort ${v}`);
      return {
        reason: 'consent',
        message:
          `round ${start.round} asks for DP ${dp.mode}, z=${dp.noiseMultiplier}, C=${dp.clipNorm}, δ=${dp.delta}, q=${samplingRate}${n(expectedClients)}; ` +
          `you agreed to DP ${consent.mode}, z=${consent.noiseMultiplier}, C=${consent.clipNorm}, δ=${consent.delta}, q=${consent.samplingRate}${n(consent.expectedClients)}`,
      };
    }
    if (consent?.secureAggregation && !start.secagg) {
      return {
        reason: 'consent',
        message: `round ${start.round} would open your update on the server; you agreed to secure aggregation, where it only sees the sum`,
      };
    }
    const next = contributionTo(this.session!, start);
    for (const [scope, cap] of [
      ['', this.options.cap],
      ['participant-wide ', this.options.participantCap],
    ] as const) {
      if (!cap) continue;
      const value = scope === '' ? this.projected(cap, next) : await this.projectedOnData(cap, next);
      if (value > cap.epsilon) {
        return {
          reason: 'budget',
          message: `taking part in round ${start.round} would bring your ${scope}${cap.view} ε to ${formatEpsilon(value)}, above your cap of ${cap.epsilon}`,
        };
      }
    }
    return null;
  }

  private projected(cap: PrivacyCap, next: Omit<Contribution, 'kind' | 'timestamp'>): number {
    const projected = projectedEpsilon(this.session!.ledger.entries, next, this.epsilonOf);
    return cap.view === 'worst-case' ? projected.worstCase : projected.promised;
  }

  /** ε over every ledger on this data (this server's own with the next contribution added), for the participant-wide cap. */
  private async projectedOnData(cap: PrivacyCap, next: Omit<Contribution, 'kind' | 'timestamp'>): Promise<number> {
    const session = this.session!;
    const others = (await ledgersOnData(this.options.stateDir, this.dataDigest)).filter(
      (entries) => !entries.some((e) => e.kind === 'consent' && e.serverFingerprint === session.fingerprint),
    );
    const mine: LedgerEntry[] = [...session.ledger.entries, { kind: 'contribution', timestamp: '', ...next }];
    return combinedEpsilon([...others, mine], cap.view, next.delta, this.epsilonOf);
  }

  private get dataDigest(): string {
    this.digest ??= dataDigest(this.options.data);
    return this.digest;
  }

  private get epsilonOf(): EpsilonOf {
    return this.options.epsilonOf ?? DEFAULT_EPSILON_OF;
  }

  private async decline(start: RoundStart, reason: DeclineReason, message: string): Promise<void> {
    const session = this.session!;
    const { round, attemptId } = start;
    await session.ledger.append({
      kind: 'declined',
      federationId: session.federationId,
      timestamp: new Date().toISOString(),
      round,
      reason,
      message,
    });
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
      promised: ledgerEpsilon(entries, 'promised', delta, this.epsilonOf),
      worstCase: ledgerEpsilon(entries, 'worst-case', delta, this.epsilonOf),
    });
  }

  /** global weights -> local training -> delta against the global weights received this round (DP-FedAvg). */
  private async trainRound(start: RoundStart, global: Float32Array): Promise<{ delta: Float32Array; stats: TrainStats }> {
    const session = this.session!;
    setFlatWeights(session.model, global);
    const trained = await trainLocal(session.model, this.options.data, {
      ...start.settings.training,
      seed: (this.options.trainSeed ?? Math.floor(Math.random() * 2 ** 31)) + start.round,
      onProgress: (p) => this.note({ type: 'training', round: start.round, ...p }),
    });
    return {
      delta: updateDelta(getFlatWeights(session.model), global),
      stats: { trainLoss: trained.loss, trainAccuracy: trained.accuracy, examplesPerSecond: trained.examplesPerSecond },
    };
  }

  /** global weights -> local training -> delta -> clip -> noise (local DP) -> frame -> seal. */
  private async prepareUpdate(start: RoundStart, global: Float32Array): Promise<PreparedUpdate> {
    const session = this.session!;
    const { dp } = start.settings;
    const { delta, stats } = await this.trainRound(start, global);
    const { values, updateNorm, clipScale } = await privatizeUpdate(delta, dp);
    const plaintextFrame = encodeFrame({ kind: 'update', round: start.round, numExamples: this.options.data.count, values });
    this.note({ type: 'update-prepared', round: start.round, plaintextFrame, updateNorm, clipScale });
    const context = { federationId: session.federationId, round: start.round, attemptId: start.attemptId, clientId: session.clientId };
    const sealed = await sealUpdate({
      plaintext: plaintextFrame,
      context,
      sender: this.options.identity,
      recipientBoxPublicKey: session.serverBoxKey,
    });
    return { attemptId: start.attemptId, context, sealed, stats };
  }

  // ---- secure aggregation --------------------------------------------------------------------

  private secureAttempt(attemptId: string): SecureAttempt {
    let attempt = this.secureAttempts.get(attemptId);
    if (!attempt) {
      let settle!: SecureAttempt['settle'];
      const participant = new Promise<SecureRoundParticipant | null>((resolve) => (settle = resolve));
      attempt = { participant, settle };
      this.secureAttempts.set(attemptId, attempt);
      // Old attempts are over; keep the map small.
      for (const key of [...this.secureAttempts.keys()].slice(0, -8)) this.secureAttempts.delete(key);
    }
    return attempt;
  }

  /**
   * A secure round: the participant is ready to answer the key stages at once; training runs
   * meanwhile, and its quantized update is released to the masking stage only after the ledger
   * entry is on disk (a crash over-counts, never under-counts).
   */
  private async onSecureRoundStart(start: RoundStart & { secagg: NonNullable<RoundStart['secagg']> }, global: Float32Array): Promise<void> {
    const session = this.session!;
    const attempt = this.secureAttempt(start.attemptId);
    if (!start.secagg.cohort.includes(session.clientId)) return attempt.settle(null);
    const refusal = await this.refusal(start);
    if (refusal) {
      attempt.settle(null);
      return this.decline(start, refusal.reason, refusal.message);
    }
    if (this.options.dropAfter === 'start') {
      attempt.vanished = true;
      attempt.settle(null);
      return this.vanish();
    }
    this.note({ type: 'round-start', round: start.round, deadline: start.deadline });
    const participant = await SecureRoundParticipant.create({
      context: { federationId: session.federationId, round: start.round, attemptId: start.attemptId },
      clientId: session.clientId,
      identity: this.options.identity,
      serverBoxKey: session.serverBoxKey,
      round: start.secagg,
      length: session.modelLength,
    }).catch((err: Error) => {
      attempt.settle(null); // its stage requests are refused at once, not after a wait
      throw err;
    });
    attempt.settle(participant);
    try {
      const { delta, stats } = await this.trainRound(start, global);
      const input = await secureInput(delta, start.settings.dp, start.secagg);
      const plaintextFrame = encodeMaskedFrame(start.round, input.values); // before masking: what the server never sees
      this.note({ type: 'update-prepared', round: start.round, plaintextFrame, updateNorm: input.updateNorm, clipScale: input.clipScale });
      await this.recordContribution(start);
      attempt.stats = stats;
      participant.setInput(input.values);
    } catch (err) {
      participant.cancel((err as Error).message);
      throw err;
    }
  }

  /** One stage's answer, or null for no answer at all (a simulated dropout stays silent). */
  private async onSecAggRequest(msg: unknown): Promise<StageReply | null> {
    const parsed = SecAggRequestSchema.safeParse(msg);
    if (!parsed.success) return { ok: false, reason: 'malformed', message: 'malformed secure-aggregation request' };
    const request = parsed.data;
    const attempt = this.secureAttempt(request.attemptId);
    if (attempt.leaving) this.leave(attempt);
    const participant = await Promise.race([attempt.participant, sleep(60_000).then(() => null)]);
    if (attempt.vanished) return null;
    if (!participant) return { ok: false, reason: 'not-participating', message: `not taking part in round ${request.round}` };
    const reply = await participant.answer(request);
    if (attempt.vanished) return null;
    if (reply.ok && request.stage === 'masked-input' && attempt.stats) {
      const bytes = (reply.sealed as Uint8Array).byteLength;
      this.note({ type: 'update-sent', round: request.round, bytes, ...attempt.stats, masked: true });
    }
    if (!reply.ok)
      this.note({ type: 'warning', message: `round ${request.round}: refused ${request.stage} (${String(reply.reason)}): ${String(reply.message)}` });
    // Not on the next tick: only once the server has this answer (its next word on the attempt says so).
    if (this.options.dropAfter === request.stage) attempt.leaving = true;
    return reply;
  }

  /** A simulated dropout whose last answer the server has acknowledged: vanish now. */
  private leave(attempt: SecureAttempt): void {
    if (attempt.vanished) return;
    attempt.vanished = true;
    this.vanish();
  }

  /** Simulated dropout: the connection goes away for the rest of this attempt, then comes back for later rounds. */
  private vanish(): void {
    const socket = this.socket;
    if (!socket) return;
    socket.disconnect();
    socket.connect();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function formatEpsilon(value: number): string {
  return Number.isFinite(value) ? value.toFixed(3) : '∞ (no noise)';
}

/** What taking part in `start` writes to the ledger; the cap checks price exactly this before it happens. */
function contributionTo(session: Session, start: RoundStart): Omit<Contribution, 'kind' | 'timestamp'> {
  const { dp, samplingRate } = start.settings;
  return {
    federationId: session.federationId,
    serverFingerprint: session.fingerprint,
    round: start.round,
    attemptId: start.attemptId,
    mode: dp.mode,
    noiseMultiplier: dp.noiseMultiplier,
    clipNorm: dp.clipNorm,
    samplingRate,
    delta: dp.delta,
    ...(start.secagg && { secureAggregation: true, survivorThreshold: start.secagg.threshold }),
  };
}
