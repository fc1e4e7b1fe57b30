import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as SocketServer, type Socket } from 'socket.io';
import { getSodium, type Identity } from '../src/core/crypto/index.js';
import type { Dataset } from '../src/core/data/dataset.js';
import { setFlatWeights, type ModelSpec } from '../src/core/model/index.js';
import { encodeFrame } from '../src/core/protocol/frame.js';
import { encodeInvite } from '../src/core/protocol/invite.js';
import type { RoundRecord } from '../src/core/privacy/index.js';
import {
  EVENTS,
  PROTOCOL_VERSION,
  type RoundResult,
} from '../src/core/protocol/messages.js';
import { evaluate } from '../src/core/train/index.js';
import type * as tf from '@tensorflow/tfjs';
import { secureUniform, type Uniform } from './cohort.js';
import type { ServerConfig } from './config.js';
import { EpsilonMemo, wouldExceedBudget } from './budget.js';
import { drawAttempt, plainShortfall, type Draw } from './sampling.js';
import { checkpointDir, writeCheckpoint } from './checkpoints.js';
import { FederationDb } from './db.js';
import { crashPoint } from './fault.js';
import { createHttpHandler, metricsRequireToken } from './http.js';
import { ConnectionGuard, total } from './connections.js';
import { watchRevocations } from './revocation.js';
import type { Socket as EngineSocket } from 'engine.io';
import type { Logger } from './logger.js';
import { ServerMetrics } from './metrics.js';
import type { FederationStatus } from './status.js';
import { federationStatus } from './federation-status.js';
import { maxFrameBytes } from './updates.js';
import { secAggRoundFor } from './secure-round.js';
import { lowerMedian, updatePolicy } from './update-policy.js';
import { release } from './release.js';
import { announcement, federationDone, memberResult } from './member-messages.js';
import { collectPlain, collectSecure, type SecureCollectServer } from './collect.js';
import { openFederation } from './federation-start.js';
import { roundSettings, signRoundStart } from './round-start.js';
import { acceptDecline, acceptUpdate, Attempt, type AcceptContext } from './attempt.js';
import { MemberConnections, type Member } from './member-connections.js';
import type { RoundAnnounce } from '../src/core/protocol/signed.js';

/** Named states of the round state machine; every waiting state has a deadline. */
export type RoundPhase = 'waiting-for-clients' | 'training' | 'aggregating' | 'idle' | 'done';

/** The federation's progress, as stored in its database. */
export interface ServerState {
  federationId: string;
  completedRound: number;
  accountant: RoundRecord[];
  results: RoundResult[];
}

export interface AggregatorOptions {
  config: ServerConfig;
  logger: Logger;
  /** Held-out data for evaluation; when absent, `config.evaluation` is loaded by the caller. */
  evaluationData?: Dataset;
  /** Seeded uniform source for cohort sampling (simulation); secure randomness otherwise. */
  uniform?: Uniform;
}

export interface AggregatorEvents {
  round: [RoundResult];
  progress: [{ round: number; received: number; cohort: number }];
  abort: [{ round: number; reason: string }];
  done: [ServerState];
}

/**
 * The aggregation server: admits clients that hold the invite token, runs rounds (cohort by
 * Poisson sampling, broadcast signed global weights, collect sealed updates until every cohort
 * member answered or the deadline passed, aggregate, checkpoint, broadcast the result).
 */
export class Aggregator extends EventEmitter<AggregatorEvents> {
  private readonly http: HttpServer;
  private readonly io: SocketServer;
  private readonly connections: MemberConnections;
  private phase: RoundPhase = 'idle';
  private open: Attempt | null = null;
  private global: Float32Array;
  private stopped = false;
  private running: Promise<ServerState> | null = null;
  private url = '';
  readonly metrics = new ServerMetrics();
  private readonly guard: ConnectionGuard;
  private readonly stopWatchingRevocations: () => void;
  private readonly epsilon = new EpsilonMemo();
  /** The open attempt's signed announcement, re-sent to a member that connects while it runs. */
  private announced: RoundAnnounce | null = null;

  private constructor(
    private readonly options: AggregatorOptions,
    private readonly identity: Identity,
    private readonly db: FederationDb,
    /** The invite made at this start (config token or first start), whose token can be shown. */
    private readonly startupInvite: { token: string } | null,
    private readonly fingerprint: string,
    spec: ModelSpec,
    private readonly model: tf.LayersModel,
    weights: Float32Array,
    /** Bearer token for the dashboard and status API. */
    readonly operatorToken: string,
  ) {
    super();
    this.global = weights;
    // socket.io answers its own path first; the rest is the dashboard, /api/status and /metrics.
    this.http = createServer(
      createHttpHandler({ status: () => this.status(), metrics: this.metrics, operatorToken, metricsRequireToken: metricsRequireToken(options.config) }),
    );
    this.metrics.federationEpsilon(this.currentEpsilon(), options.config.maxEpsilon ?? null);
    this.guard = new ConnectionGuard(options.config.connections, options.logger, this.metrics);
    this.io = new SocketServer(this.http, {
      // Large enough for one sealed update of this model plus its header, no larger.
      maxHttpBufferSize: maxFrameBytes(this.global.length),
      serveClient: false,
      allowRequest: this.guard.allowRequest,
    });
    this.io.engine.on('connection', (conn: EngineSocket) => this.guard.track(conn));
    this.connections = new MemberConnections({
      config: options.config,
      identity,
      fingerprint,
      spec,
      db,
      guard: this.guard,
      metrics: this.metrics,
      log: options.logger,
      attempt: () => this.open,
      announced: () => this.announced,
      roundSettings: () => roundSettings(this.config),
      acceptUpdate: (clientId, header, payload) => acceptUpdate(this.acceptContext, clientId, header, payload),
      acceptDecline: (clientId, raw) => acceptDecline(this.acceptContext, clientId, raw),
    });
    this.io.on('connection', total(options.logger, 'connection', (socket: Socket) => this.connections.onConnection(socket)));
    this.stopWatchingRevocations = watchRevocations({
      revoked: () => this.db.revokedMemberIds(),
      live: () => this.members.keys(),
      onRevoked: (clientId) => this.connections.onRevoked(clientId),
      onError: (err) => this.log('warn', 'could not read revocations', { error: err.message }),
    });
  }

  static async create(options: AggregatorOptions): Promise<Aggregator> {
    const { identity, db, startupInvite, fingerprint, spec, model, weights, operatorToken } = await openFederation(options.config, options.logger);
    return new Aggregator(options, identity, db, startupInvite, fingerprint, spec, model, weights, operatorToken);
  }

  get config(): ServerConfig {
    return this.options.config;
  }

  private get log(): Logger {
    return this.options.logger;
  }

  private get members(): Map<string, Member> {
    return this.connections.members;
  }

  /** What a secure round's collection reads from this server (collect.ts). */
  private get secureCollectServer(): SecureCollectServer {
    return {
      config: this.config,
      members: this.members,
      modelLength: this.global.length,
      identity: this.identity,
      log: this.log,
      metrics: this.metrics,
      progress: (progress) => this.emit('progress', progress),
    };
  }

  /** What the accept path reads from this server (attempt.ts). */
  private get acceptContext(): AcceptContext {
    return {
      attempt: () => this.open,
      completedRound: () => this.db.completedRound(),
      member: (clientId) => this.members.get(clientId),
      federationId: this.config.federationId,
      server: this.identity,
      modelLength: this.global.length,
      log: this.log,
      metrics: this.metrics,
      progress: (progress) => this.emit('progress', progress),
    };
  }

  get modelLength(): number {
    return this.global.length;
  }

  get globalWeights(): Float32Array {
    return this.global;
  }

  get currentPhase(): RoundPhase {
    return this.phase;
  }

  get serverState(): ServerState {
    return {
      federationId: this.config.federationId,
      completedRound: this.db.completedRound(),
      accountant: this.db.accountant(),
      results: this.db.results().map(({ cohort: _cohort, ...result }) => result),
    };
  }

  /** The invite made at this start; null after a restart (tokens are stored hashed: make one with `covey server invite`). */
  get inviteCode(): string {
    if (!this.startupInvite) throw new Error('no invite was made at this start: create one with `covey server invite`');
    return encodeInvite({ fingerprintHex: this.fingerprint, token: this.startupInvite.token });
  }

  get inviteLink(): string {
    return `${this.url}/#invite=${this.inviteCode}`;
  }

  get hasStartupInvite(): boolean {
    return this.startupInvite !== null;
  }

  get serverFingerprint(): string {
    return this.fingerprint;
  }

  get serverUrl(): string {
    return this.url;
  }

  async listen(): Promise<string> {
    const { host, port } = this.config;
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => resolve());
    });
    const address = this.http.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.url = `http://${shownHost}:${address.port}`;
    this.log('info', 'listening', { url: this.url, federationId: this.config.federationId });
    return this.url;
  }

  /**
   * Stops cleanly: a round in progress is abandoned (nothing of it is applied: its aggregate was
   * never committed), clients are told, sockets and the database are closed.
   */
  async close(): Promise<void> {
    if (this.stopped && !this.running) return;
    this.stopped = true;
    const open = this.open;
    if (open) this.io.emit(EVENTS.roundAbort, { round: open.round, reason: 'the server is shutting down' });
    open?.allIn();
    await this.running?.catch(() => undefined);
    this.running = null;
    this.stopWatchingRevocations();
    await new Promise<void>((resolve) => this.io.close(() => resolve()));
    this.db.close();
  }

  /** Federation ε so far (budget.ts). */
  private currentEpsilon(): number | null {
    return this.epsilon.current(this.config.dp, () => this.db.accountant());
  }

  /** What the dashboard shows: read-only, no secrets. */
  status(): FederationStatus {
    return federationStatus({
      config: this.config,
      phase: this.phase,
      open: this.open,
      connectedIds: this.connectedIds(),
      db: this.db,
      epsilon: () => this.currentEpsilon(),
    });
  }

  /** Resolves once `count` clients are connected; rejects at the deadline. */
  async waitForConnected(count: number, timeoutMs: number): Promise<void> {
    if (!(await this.waitFor(() => this.connectedIds().length >= count, timeoutMs))) {
      throw new Error(`only ${this.connectedIds().length} of ${count} clients connected within ${timeoutMs / 1000} s`);
    }
  }

  private connectedIds(): string[] {
    return this.connections.connectedIds();
  }

  // ---- rounds ------------------------------------------------------------------------------

  /** Runs rounds until the configured number is complete (or close() is called). */
  run(): Promise<ServerState> {
    this.running ??= this.roundLoop();
    return this.running;
  }

  private async roundLoop(): Promise<ServerState> {
    const uniform = this.options.uniform ?? secureUniform;
    const { cohort: cohortConfig, rounds } = this.config;
    let attempts = 0;
    let attemptedRound = 0;
    let stoppedBecause: string | null = null;
    while (!this.stopped && this.db.completedRound() < rounds) {
      const round = this.db.completedRound() + 1;
      if (round !== attemptedRound) [attemptedRound, attempts] = [round, 0];
      if (attempts >= cohortConfig.maxAttemptsPerRound) {
        stoppedBecause = `round ${round} did not complete in ${attempts} attempts`;
        break;
      }
      this.phase = 'waiting-for-clients';
      const needed = Math.max(cohortConfig.minClients, cohortConfig.minConnected ?? 0);
      const enough = await this.waitFor(
        () => this.connectedIds().length >= needed,
        cohortConfig.waitForClientsSeconds * 1000,
      );
      if (this.stopped) break;
      if (!enough) {
        this.log('warn', 'waiting for clients', { connected: this.connectedIds().length, needed });
        continue;
      }
      if (wouldExceedBudget(this.config, this.db, this.log)) {
        stoppedBecause = 'the next round would exceed maxEpsilon';
        break;
      }
      // One Poisson draw per attempt, whatever its size: a draw too small to release is still an attempt (and charged).
      attempts += 1;
      const outcome = await this.runRound(round, drawAttempt(this.config, this.connectedIds(), uniform));
      if (outcome.everyoneDeclined && cohortConfig.samplingRate >= 1) {
        // With q = 1 the same participants would decline again: nothing can change by retrying.
        stoppedBecause = 'every participant declined the round';
        break;
      }
      if (outcome.kind !== 'completed') await sleep(500);
    }
    this.phase = 'done';
    const state = this.serverState;
    if (!this.stopped) {
      this.io.emit(EVENTS.federationDone, await federationDone(this.identity, this.config, state.completedRound));
      if (stoppedBecause === null) this.log('info', 'federation complete', { rounds: state.completedRound });
      else this.log('warn', 'federation stopped', { rounds: state.completedRound, of: rounds, reason: stoppedBecause });
      this.emit('done', state);
    }
    return state;
  }

  /** One attempt at a round, over one drawn cohort; anything but 'completed' left the model unchanged. */
  private async runRound(round: number, draw: Draw): Promise<AttemptOutcome> {
    const started = performance.now();
    const cohortIds = draw.cohort;
    const { cohort: cohortConfig, dp, federationId } = this.config;
    const sodium = await getSodium();
    const deadline = Date.now() + cohortConfig.roundTimeoutSeconds * 1000;
    const frame = encodeFrame({ kind: 'global', round, numExamples: 0, values: this.global });
    const attemptId = randomBytes(8).toString('hex');
    // Charged durably before any member hears of the attempt: after a crash the server never under-counts.
    this.db.recordDraw({ round, attemptId, cohort: cohortIds, charge: draw.charge });
    if (draw.charge) this.metrics.federationEpsilon(this.currentEpsilon(), this.config.maxEpsilon ?? null);
    // Every connected member hears of the attempt exactly once, after the charge, before the size checks and any
    // round:start (with DP off, no privacy claim, the announced size may follow the connected count).
    await this.announceAttempt(round, attemptId, this.config.cohort.expectedClients ?? this.connectedIds().length * cohortConfig.samplingRate);
    const aborted = (reason: string, kind: string): AttemptOutcome => ({ kind: this.abortRound(round, reason, kind), everyoneDeclined: false });
    const tooFew = this.config.secureAggregation.enabled ? null : plainShortfall(this.config, cohortIds.length);
    if (tooFew) return aborted(`cohort drawn: ${tooFew}`, 'cohort-too-small');
    const secagg = this.config.secureAggregation.enabled
      ? secAggRoundFor(this.config, cohortIds, sodium.to_base64(randomBytes(32)))
      : undefined;
    if (secagg instanceof Error) return aborted(secagg.message, 'cohort-too-small');
    const message = await signRoundStart(this.identity, { federationId, round, attemptId, deadline, settings: roundSettings(this.config), ...(secagg && { secagg }) }, frame);

    this.open = new Attempt({
      round,
      attemptId,
      cohort: cohortIds,
      accumulatorLength: secagg ? 0 : this.global.length,
      policy: updatePolicy(this.config, this.global.length, {
        declaredExamples: cohortIds.map((id) => this.members.get(id)?.numExamples ?? 0),
        lastMedianNorm: this.db.lastMedianUpdateNorm(),
      }),
      deadline,
      start: message,
      weightsFrame: frame,
      stopping: () => this.stopped,
    });
    crashPoint('selection', round);
    this.phase = 'training';
    this.open.collecting = true;
    this.log('info', 'round started', { round, cohort: cohortIds.length, deadline: new Date(deadline).toISOString(), secureAggregation: secagg !== undefined });
    const sockets = new Map<string, Socket>();
    for (const id of cohortIds) {
      const socket = this.members.get(id)?.socket;
      if (!socket) continue;
      sockets.set(id, socket);
      socket.emit(EVENTS.roundStart, message, frame);
      this.metrics.bytesOut(frame.byteLength);
    }
    this.emit('progress', { round, received: 0, cohort: cohortIds.length });

    const open = this.open;
    if (cohortIds.length === 0) open.allIn();
    const collected = secagg
      ? await collectSecure(this.secureCollectServer, open, secagg, sockets, open.stop.signal)
      : await collectPlain(this.config, open);
    this.phase = 'aggregating';
    open.collecting = false;
    const everyoneDeclined = cohortIds.length > 0 && open.declined.size === cohortIds.length;
    if (this.stopped) return { kind: 'aborted', everyoneDeclined };
    if (open.abandoned) return { kind: this.abortRound(round, open.abandoned, 'abandoned'), everyoneDeclined };
    if ('abort' in collected) return { kind: this.abortRound(round, collected.abort, 'too-few-updates'), everyoneDeclined };

    const released = await release(this.config, this.global, collected, open.policy.normBound);
    if ('refused' in released) return { kind: this.abortRound(round, released.refused, 'global-guard'), everyoneDeclined };
    const { next } = released;
    crashPoint('aggregation', round);
    const metrics = this.evaluate(next);
    const epsilon = this.currentEpsilon();
    const result: RoundResult = {
      round,
      participants: collected.survivors.length,
      declined: open.declined.size,
      accuracy: metrics?.accuracy ?? null,
      loss: metrics?.loss ?? null,
      epsilon,
      delta: dp.mode === 'off' ? null : dp.delta,
      seconds: (performance.now() - started) / 1000,
    };
    // Checkpoint first, then one transaction for the round: a crash in between re-runs the round.
    setFlatWeights(this.model, next);
    const checkpointSha256 = await writeCheckpoint(checkpointDir(this.config.stateDir, round), this.model, next, { federationId, round });
    crashPoint('checkpoint', round);
    this.db.commitRound({
      result,
      cohort: [...open.cohort],
      survivors: collected.survivors,
      declined: [...open.declined],
      checkpointSha256,
      medianUpdateNorm: collected.secureScale === null ? lowerMedian(open.acceptedNorms) : null,
    });
    this.global = next;
    this.open = null;
    this.announced = null;
    this.phase = 'idle';
    this.metrics.roundCompleted(result.seconds, result.participants, result.declined);
    this.metrics.federationEpsilon(epsilon, this.config.maxEpsilon ?? null);
    this.log('info', 'round complete', { ...result });
    await this.sendResults(result, new Set(collected.survivors));
    this.emit('round', result);
    return { kind: 'completed', everyoneDeclined };
  }

  /**
   * Tells every connected member, selected or not, that this attempt runs and with which settings
   * (signed): each member's promised view charges the attempt on this announcement, whether it is
   * then released or aborted. Called once per attempt, before the cohort gets its round start.
   */
  private async announceAttempt(round: number, attemptId: string, expectedClients: number): Promise<void> {
    this.announced = await announcement(this.identity, this.config, { round, attemptId, expectedClients });
    for (const member of this.members.values()) {
      if (member.socket?.connected) member.socket.emit(EVENTS.roundAnnounce, this.announced);
    }
  }

  /** Each connected member gets its own signed copy of the result (counts only with DP off; see member-messages.ts). */
  private async sendResults(result: RoundResult, survivors: ReadonlySet<string>): Promise<void> {
    for (const member of this.members.values()) {
      if (!member.socket?.connected) continue;
      member.socket.emit(EVENTS.roundResult, await memberResult(this.identity, this.config, result, member.clientId, survivors.has(member.clientId)));
    }
  }

  /** Ends an attempt without touching the model, and tells the cohort why. */
  private abortRound(round: number, reason: string, kind: string): 'aborted' {
    this.metrics.roundAborted(kind);
    this.log('warn', 'round aborted', { round, reason });
    this.io.emit(EVENTS.roundAbort, { round, reason });
    this.emit('abort', { round, reason });
    this.open = null;
    this.announced = null;
    this.phase = 'idle';
    return 'aborted';
  }

  private evaluate(weights: Float32Array): { loss: number; accuracy: number } | null {
    const data = this.options.evaluationData;
    if (!data) return null;
    setFlatWeights(this.model, weights);
    return evaluate(this.model, data);
  }

  private async waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (this.stopped || Date.now() >= deadline) return condition();
      await sleep(50);
    }
    return true;
  }
}

/** How one attempt ended, and whether every member of a non-empty cohort declined it. */
interface AttemptOutcome {
  kind: 'completed' | 'aborted';
  everyoneDeclined: boolean;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export { PROTOCOL_VERSION };
