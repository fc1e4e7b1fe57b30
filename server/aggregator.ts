import { EventEmitter } from 'node:events';
import { randomBytes, randomInt } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Server as SocketServer, type Socket } from 'socket.io';
import { applyUpdate, createAccumulator, meanUpdate, type Accumulator } from '../src/core/aggregate/index.js';
import { challengeMessage, fingerprintHex, getSodium, loadOrCreateIdentity, sign, type Identity } from '../src/core/crypto/index.js';
import type { Dataset } from '../src/core/data/dataset.js';
import { buildModel, getFlatWeights, modelSpecFor, setFlatWeights, type ModelSpec } from '../src/core/model/index.js';
import { addGridGaussianNoise } from '../src/core/privacy/index.js';
import { isAck } from '../src/core/protocol/ack.js';
import { encodeFrame } from '../src/core/protocol/frame.js';
import { serverProofMessage } from '../src/core/protocol/auth.js';
import { encodeInvite } from '../src/core/protocol/invite.js';
import type { RoundRecord } from '../src/core/privacy/index.js';
import {
  EVENTS,
  PROTOCOL_VERSION,
  roundStartSigningContext,
  UpdateHeaderSchema,
  DeclineSchema,
  asBytes,
  type HelloResponse,
  type RejectReason,
  type RoundResult,
  type RoundSettings,
  type RoundStart,
  type UpdateAck,
} from '../src/core/protocol/messages.js';
import { evaluate, selectBackend } from '../src/core/train/index.js';
import type * as tf from '@tensorflow/tfjs';
import { secureUniform, type Uniform } from './cohort.js';
import type { ServerConfig } from './config.js';
import { federationEpsilon, roundRecord } from './federation-privacy.js';
import { averagingDenominator, drawAttempt, plainShortfall, type Draw } from './sampling.js';
import { admit } from './admission.js';
import { checkpointDir, readCheckpointWeights, writeCheckpoint } from './checkpoints.js';
import { verifyCheckpoint } from './checkpoint-integrity.js';
import { FederationDb } from './db.js';
import { crashPoint } from './fault.js';
import { TokenBucket } from './rate-limit.js';
import { createInvite, hashToken, loadOrCreateSecret, type CreatedInvite } from './invites.js';
import { createHttpHandler, metricsRequireToken } from './http.js';
import { ConnectionGuard, describeEvent, total } from './connections.js';
import { watchRevocations } from './revocation.js';
import type { Socket as EngineSocket } from 'engine.io';
import type { Logger } from './logger.js';
import { ServerMetrics } from './metrics.js';
import type { FederationStatus } from './status.js';
import { maxFrameBytes, openAndDecodeUpdate, UpdateRejection } from './updates.js';
import { runSecureRound, secAggRoundFor } from './secure-round.js';
import { secondAnswer } from './answers.js';
import { boundUpdate, lowerMedian, updatePolicy, type UpdatePolicy } from './update-policy.js';
import { checkNewGlobal, maxGlobalChange } from './global-guard.js';
import { announcement, federationDone, memberResult } from './member-messages.js';
import { previewReply } from './preview.js';
import type { RoundAnnounce } from '../src/core/protocol/signed.js';
import { dequantizeSum, quantizationScale } from '../src/core/secagg/index.js';
import type { SecAggRound } from '../src/core/secagg/messages.js';

/** Named states of the round state machine; every waiting state has a deadline. */
export type RoundPhase = 'waiting-for-clients' | 'training' | 'aggregating' | 'idle' | 'done';

/** A registered member with a live connection. */
interface Member {
  clientId: string;
  signPublicKey: Uint8Array;
  boxPublicKey: Uint8Array;
  numExamples: number;
  socket: Socket | null;
}

/** The federation's progress, as stored in its database. */
export interface ServerState {
  federationId: string;
  completedRound: number;
  accountant: RoundRecord[];
  results: RoundResult[];
}

interface OpenRound {
  round: number;
  attemptId: string;
  cohort: Set<string>;
  received: Set<string>;
  declined: Set<string>;
  accumulator: Accumulator;
  /** The weight cap and norm bound of this attempt, fixed when its cohort was drawn (update-policy.ts). */
  policy: UpdatePolicy;
  /** The norms (as sent) of the plain updates accepted so far: one number per member, never an update. */
  acceptedNorms: number[];
  deadline: number;
  /** The signed round start and weights, re-sent to a cohort member that reconnects mid-round. */
  start: RoundStart;
  weightsFrame: Uint8Array;
  /** Resolves early once every cohort member has answered. */
  allIn: () => void;
  /** Ends the attempt early without applying anything (e.g. a cohort member was revoked). */
  abandon: (reason: string) => void;
  abandoned: string | null;
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
  private readonly members = new Map<string, Member>();
  private phase: RoundPhase = 'idle';
  private open: OpenRound | null = null;
  private global: Float32Array;
  private stopped = false;
  private running: Promise<ServerState> | null = null;
  private url = '';
  readonly metrics = new ServerMetrics();
  private readonly guard: ConnectionGuard;
  private readonly stopWatchingRevocations: () => void;
  private epsilonMemo: { rounds: number; epsilon: number } | null = null;
  /** The open attempt's signed announcement, re-sent to a member that connects while it runs. */
  private announced: RoundAnnounce | null = null;

  private constructor(
    private readonly options: AggregatorOptions,
    private readonly identity: Identity,
    private readonly db: FederationDb,
    /** The invite made at this start (config token or first start), whose token can be shown. */
    private readonly startupInvite: { token: string } | null,
    private readonly fingerprint: string,
    private readonly spec: ModelSpec,
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
    this.io.on('connection', total(options.logger, 'connection', (socket: Socket) => this.onConnection(socket)));
    this.stopWatchingRevocations = watchRevocations({
      revoked: () => this.db.revokedMemberIds(),
      live: () => this.members.keys(),
      onRevoked: (clientId) => this.onRevoked(clientId),
      onError: (err) => this.log('warn', 'could not read revocations', { error: err.message }),
    });
  }

  static async create(options: AggregatorOptions): Promise<Aggregator> {
    const { config, logger } = options;
    const backend = await selectBackend();
    logger('info', 'backend', { backend: backend.label });
    const identity = await loadOrCreateIdentity(join(config.stateDir, 'identity.json'));
    const fingerprint = await fingerprintHex(identity);
    const spec = modelSpecFor(config.model);
    const model = buildModel(spec, { seed: config.seed ?? randomInt(2 ** 31) });
    const db = FederationDb.open(config.stateDir);
    try {
      const stored = db.federationId();
      let weights: Float32Array;
      if (stored === null) {
        weights = getFlatWeights(model);
        const sha256 = await writeCheckpoint(checkpointDir(config.stateDir, 0), model, weights, { federationId: config.federationId, round: 0 });
        db.initFederation(config.federationId, sha256);
      } else {
        if (stored !== config.federationId) {
          throw new Error(`state in ${config.stateDir} belongs to federation ${stored}, not ${config.federationId}`);
        }
        const completed = db.completedRound();
        await verifyCheckpoint(db, config.stateDir, completed, (message) => logger('warn', 'checkpoint digest recorded', { message }));
        weights = await readCheckpointWeights(checkpointDir(config.stateDir, completed), getFlatWeights(model).length);
        logger('info', 'resumed', { completedRound: completed, stateDir: config.stateDir });
      }
      const startupInvite = Aggregator.startupInvite(db, config);
      const operatorToken = await loadOrCreateSecret(join(config.stateDir, 'operator-token'));
      return new Aggregator(options, identity, db, startupInvite, fingerprint, spec, model, weights, operatorToken);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** The config's fixed token (registered once), or on a first start an invite good for 7 days. */
  private static startupInvite(db: FederationDb, config: ServerConfig): CreatedInvite | { token: string } | null {
    if (config.inviteToken) {
      if (!db.hasInviteHash(hashToken(config.inviteToken))) {
        createInvite(db, { token: config.inviteToken, maxUses: null, expiresInMs: null });
      }
      return { token: config.inviteToken };
    }
    if (db.invites().length > 0) return null;
    return createInvite(db, { maxUses: null, expiresInMs: 7 * 86_400_000 });
  }

  get config(): ServerConfig {
    return this.options.config;
  }

  private get log(): Logger {
    return this.options.logger;
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
    await new Promise<void>((resolve) => void this.io.close(() => resolve()));
    this.db.close();
  }

  /** Federation ε so far, recomputed only when a round has been added (the dashboard polls it). */
  private currentEpsilon(): number | null {
    const { dp } = this.config;
    if (dp.mode === 'off') return null;
    const records = this.db.accountant();
    if (this.epsilonMemo?.rounds !== records.length) {
      this.epsilonMemo = { rounds: records.length, epsilon: federationEpsilon(records, dp.delta) };
    }
    return this.epsilonMemo.epsilon;
  }

  /** What the dashboard shows: read-only, no secrets. */
  status(): FederationStatus {
    const open = this.open;
    const connected = new Set(this.connectedIds());
    const { inviteToken: _secret, ...config } = this.config;
    return {
      federationId: this.config.federationId,
      phase: this.phase,
      openRound: open
        ? { round: open.round, cohort: open.cohort.size, received: open.received.size, declined: open.declined.size, deadline: new Date(open.deadline).toISOString() }
        : null,
      completedRound: this.db.completedRound(),
      targetRounds: this.config.rounds,
      epsilon: this.currentEpsilon(),
      delta: this.config.dp.mode === 'off' ? null : this.config.dp.delta,
      maxEpsilon: this.config.maxEpsilon ?? null,
      rounds: this.db.results(),
      members: this.db.members().map((m) => ({
        clientId: m.clientId,
        connected: connected.has(m.clientId),
        lastSeen: m.lastSeen,
        roundsContributed: m.roundsContributed,
      })),
      config,
      updatedAt: new Date().toISOString(),
    };
  }

  /** Resolves once `count` clients are connected; rejects at the deadline. */
  async waitForConnected(count: number, timeoutMs: number): Promise<void> {
    if (!(await this.waitFor(() => this.connectedIds().length >= count, timeoutMs))) {
      throw new Error(`only ${this.connectedIds().length} of ${count} clients connected within ${timeoutMs / 1000} s`);
    }
  }

  private roundSettings(): RoundSettings {
    const { secureAggregation } = this.config;
    return {
      training: this.config.training,
      dp: this.config.dp,
      samplingRate: this.config.cohort.samplingRate,
      ...(this.config.cohort.expectedClients !== undefined && { expectedClients: this.config.cohort.expectedClients }),
      ...(secureAggregation.enabled && {
        secureAggregation: {
          threshold: secureAggregation.threshold ?? null,
          neighbours: typeof secureAggregation.neighbours === 'number' ? secureAggregation.neighbours : null,
        },
      }),
    };
  }

  private connectedIds(): string[] {
    return [...this.members.values()].filter((m) => m.socket?.connected).map((m) => m.clientId);
  }

  // ---- connections -------------------------------------------------------------------------

  private onConnection(socket: Socket): void {
    let clientId: string | null = null;
    const on = (event: string, handler: (...args: unknown[]) => unknown) => socket.on(event, total(this.log, event, handler));
    const bucket = new TokenBucket(this.config.rateLimit.burst, this.config.rateLimit.perSecond);
    socket.use((_packet, next) => {
      if (bucket.take()) return next();
      this.reject(socket, 'rate-limited', 'too many messages: connection closed', clientId);
      socket.disconnect(true);
    });
    // One fresh nonce per connection, used once: a recorded hello cannot be replayed.
    let nonce: Buffer | null = randomBytes(32);
    socket.emit(EVENTS.challenge, {
      nonce: nonce.toString('base64url'),
      server: {
        signPublicKey: Buffer.from(this.identity.signPublicKey).toString('base64url'),
        boxPublicKey: Buffer.from(this.identity.boxPublicKey).toString('base64url'),
      },
    });
    on(EVENTS.hello, async (raw, ack) => {
      if (!isAck(ack)) return this.reject(socket, 'malformed', 'hello without acknowledgement');
      if (!nonce) return ack({ ok: false, reason: 'malformed', message: 'one hello per connection' });
      const used = nonce;
      nonce = null;
      const reply = await this.onHello(socket, raw, used);
      if (reply.ok) {
        clientId = reply.clientId;
        this.guard.admitted(socket.conn);
      }
      ack(reply);
    });
    // Unauthenticated and registers nothing: the federation's public settings, signed over the caller's challenge.
    on(EVENTS.preview, async (raw, ack) => {
      if (!isAck(ack)) return this.reject(socket, 'malformed', 'preview without acknowledgement');
      const { federationId, rounds } = this.config;
      ack(await previewReply(this.identity, { federationId, model: this.spec, rounds, currentRound: this.open?.round ?? this.db.completedRound(), settings: this.roundSettings() }, raw));
    });
    // A stranger's update never reaches onUpdate: it is refused here, so its bytes never count in the metrics.
    on(EVENTS.update, async (header, payload, ack) => {
      const reply = clientId ? await this.onUpdate(clientId, header, payload) : this.strangerUpdate(socket, header, payload);
      if (isAck(ack)) ack(reply);
    });
    on(EVENTS.decline, (raw, ack) => {
      if (!clientId) this.reject(socket, 'malformed', 'decline before hello');
      const reply = clientId ? this.onDecline(clientId, raw) : { ok: false, message: 'say hello first' };
      if (isAck(ack)) ack(reply);
    });
    on('disconnect', (reason) => {
      this.metrics.connectedClients(this.connectedIds().length);
      if (clientId) this.log('info', 'client disconnected', { clientId, reason: describeEvent(reason) });
    });
    // Runs before the rate limiter, on anything the parser let through: an event name may be missing or of any type.
    socket.onAny(
      total(this.log, 'any', (event: unknown) => {
        if (event !== EVENTS.hello && event !== EVENTS.update && event !== EVENTS.decline && event !== EVENTS.preview) {
          this.reject(socket, 'malformed', `unknown event ${describeEvent(event)}`, clientId);
        }
      }),
    );
  }

  /**
   * A member revoked while connected: its socket is closed and it leaves the member set (so no
   * later cohort holds it); an open attempt whose cohort holds it is aborted, since the streaming
   * accumulator cannot take back an update it has already added.
   */
  private onRevoked(clientId: string): void {
    const member = this.members.get(clientId);
    this.members.delete(clientId);
    member?.socket?.disconnect(true);
    this.metrics.connectedClients(this.connectedIds().length);
    this.log('warn', 'member revoked: connection closed', { clientId });
    const open = this.open;
    if (open && open.cohort.has(clientId) && !open.abandoned) open.abandon(`member revoked: ${clientId}`);
  }

  /** An update from a connection that has not been admitted: refused, its log line sampled per connection. */
  private strangerUpdate(socket: Socket, rawHeader: unknown, payload: unknown): UpdateAck {
    const reason = UpdateHeaderSchema.safeParse(rawHeader).success && asBytes(payload) ? 'unknown-client' : 'malformed';
    const message = reason === 'malformed' ? 'update header or payload is malformed' : 'say hello before sending updates';
    this.metrics.updateRejected(reason);
    this.guard.rejected(socket.conn, { reason, message, socket: socket.id });
    return { accepted: false, reason, message, currentRound: this.open?.round ?? this.db.completedRound() };
  }

  private reject(socket: Socket, reason: string, message: string, clientId: string | null = null): void {
    this.metrics.messageRejected(reason);
    this.guard.rejected(socket.conn, { reason, message, clientId, socket: socket.id });
  }

  private async onHello(socket: Socket, raw: unknown, nonce: Uint8Array): Promise<HelloResponse> {
    const admitted = await admit({ raw, nonce, serverFingerprint: this.fingerprint, db: this.db, now: new Date() });
    if (!admitted.ok) {
      this.reject(socket, admitted.reason, admitted.message);
      return admitted;
    }
    const sodium = await getSodium();
    const { clientId, challenge } = admitted;
    const existing = this.members.get(clientId);
    if (existing?.socket && existing.socket.id !== socket.id) existing.socket.disconnect(true);
    this.members.set(clientId, { clientId, signPublicKey: admitted.signPublicKey, boxPublicKey: admitted.boxPublicKey, numExamples: admitted.numExamples, socket });
    if (admitted.registered) this.log('info', 'member registered', { clientId });
    this.metrics.connectedClients(this.connectedIds().length);
    const proof = await sign(this.identity, serverProofMessage(challenge, { federationId: this.config.federationId, clientId }));
    this.log('info', 'client joined', { clientId, numExamples: admitted.numExamples, connected: this.connectedIds().length });
    const announced = this.announced;
    if (announced) {
      // The member is connected now, so it is in the population this attempt could have drawn from (protocol/signed.ts).
      setImmediate(() => socket.emit(EVENTS.roundAnnounce, announced));
    }
    const open = this.open;
    if (open && !open.start.secagg && this.phase === 'training' && open.cohort.has(clientId) && !open.received.has(clientId)) {
      // A cohort member that reconnects mid-round gets the round again (after this reply); with
      // secure aggregation a member that lost its connection has dropped out of the attempt.
      setImmediate(() => {
        socket.emit(EVENTS.roundStart, open.start, open.weightsFrame);
        this.metrics.bytesOut(open.weightsFrame.byteLength);
      });
    }
    return {
      ok: true,
      federationId: this.config.federationId,
      clientId,
      server: {
        signPublicKey: sodium.to_base64(this.identity.signPublicKey),
        boxPublicKey: sodium.to_base64(this.identity.boxPublicKey),
      },
      proof: sodium.to_base64(proof),
      model: this.spec,
      rounds: this.config.rounds,
      currentRound: this.open?.round ?? this.db.completedRound(),
      settings: this.roundSettings(),
    };
  }

  private async onUpdate(clientId: string | null, rawHeader: unknown, payload: unknown): Promise<UpdateAck> {
    const currentRound = this.open?.round ?? this.db.completedRound();
    const refuse = (reason: UpdateRejection['reason'], message: string): UpdateAck => {
      this.metrics.updateRejected(reason);
      this.log('warn', 'update rejected', { clientId, reason, message });
      return { accepted: false, reason, message, currentRound };
    };
    const parsed = UpdateHeaderSchema.safeParse(rawHeader);
    const sealed = asBytes(payload);
    if (sealed) this.metrics.bytesIn(sealed.byteLength);
    if (!parsed.success || !sealed) return refuse('malformed', 'update header or payload is malformed');
    const header = parsed.data;
    const member = clientId ? this.members.get(clientId) : undefined;
    if (!member || header.clientId !== clientId) return refuse('unknown-client', 'say hello before sending updates');
    if (header.federationId !== this.config.federationId) return refuse('malformed', 'wrong federation');
    const open = this.open;
    if (!open || header.round !== open.round || header.attemptId !== open.attemptId || this.phase !== 'training') {
      return refuse('stale-round', `round ${header.round} is not open (current round ${currentRound})`);
    }
    if (open.start.secagg) return refuse('malformed', `round ${open.round} uses secure aggregation: updates travel as masked inputs`);
    if (!open.cohort.has(member.clientId)) return refuse('not-in-cohort', `not selected for round ${open.round}`);
    const answered = secondAnswer(open, member.clientId);
    if (answered) return refuse(answered.reason, answered.message);
    try {
      const update = await openAndDecodeUpdate({
        sealed,
        context: { federationId: header.federationId, round: header.round, attemptId: open.attemptId, clientId: member.clientId },
        server: this.identity,
        clientBoxPublicKey: member.boxPublicKey,
        modelLength: this.global.length,
      });
      // The round may have closed while this update was being opened.
      if (this.open !== open || this.phase !== 'training') return refuse('round-closed', 'the round closed');
      // A decline or another update may have arrived while this one was being opened.
      const answeredMeanwhile = secondAnswer(open, member.clientId);
      if (answeredMeanwhile) return refuse(answeredMeanwhile.reason, answeredMeanwhile.message);
      // Weight capped, norm clipped to the bound of this mode: one member's influence is bounded (update-policy.ts).
      const bounded = boundUpdate(update, open.policy);
      if (bounded.clipped) this.log('info', 'update clipped', { clientId, round: open.round, norm: bounded.norm, bound: open.policy.normBound });
      open.accumulator.add(bounded.values, bounded.weight);
      open.acceptedNorms.push(bounded.norm);
      open.received.add(member.clientId);
      crashPoint('updates', open.round);
      this.log('info', 'update accepted', { clientId, round: open.round, received: open.received.size, cohort: open.cohort.size, norm: bounded.norm });
      this.emit('progress', { round: open.round, received: open.received.size, cohort: open.cohort.size });
      if (open.received.size + open.declined.size === open.cohort.size) open.allIn();
      return { accepted: true };
    } catch (err) {
      if (err instanceof UpdateRejection) return refuse(err.reason, err.message);
      this.log('error', 'update failed', { clientId, error: (err as Error).message });
      return refuse('malformed', 'the update could not be processed');
    }
  }

  /** A cohort member sitting the round out on its own terms: not a dropout, and not waited for. */
  private onDecline(clientId: string | null, raw: unknown): { ok: boolean; reason?: RejectReason; message?: string } {
    const parsed = DeclineSchema.safeParse(raw);
    const open = this.open;
    if (!parsed.success || !clientId || parsed.data.clientId !== clientId) {
      this.log('warn', 'message rejected', { reason: 'malformed', message: 'malformed decline', clientId });
      return { ok: false, message: 'malformed decline' };
    }
    const decline = parsed.data;
    if (!open || decline.round !== open.round || decline.attemptId !== open.attemptId || !open.cohort.has(clientId)) {
      return { ok: false, message: `round ${decline.round} is not awaiting this client` };
    }
    const answered = secondAnswer(open, clientId);
    if (answered) {
      this.log('warn', 'message rejected', { reason: 'already-answered', message: answered.message, clientId });
      return { ok: false, reason: 'already-answered', message: answered.message };
    }
    open.declined.add(clientId);
    this.log('info', 'client declined', { clientId, round: open.round, reason: decline.reason, message: decline.message });
    if (open.received.size + open.declined.size === open.cohort.size) open.allIn();
    return { ok: true };
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
      if (this.wouldExceedBudget()) {
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

  /** True when one more released round would take the federation past its configured maxEpsilon. */
  private wouldExceedBudget(): boolean {
    const { maxEpsilon, dp } = this.config;
    if (maxEpsilon === undefined || dp.mode === 'off') return false;
    const accountant = this.db.accountant();
    const next = federationEpsilon([...accountant, roundRecord(this.config)], dp.delta);
    if (next <= maxEpsilon) return false;
    this.log('warn', 'privacy budget reached', {
      epsilon: federationEpsilon(accountant, dp.delta),
      epsilonAfterNextRound: next,
      maxEpsilon,
      completedRound: this.db.completedRound(),
    });
    return true;
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
    const unsigned: Omit<RoundStart, 'signature'> = {
      federationId,
      round,
      attemptId,
      deadline,
      settings: this.roundSettings(),
      weightsDigest: sodium.to_base64(sodium.crypto_generichash(32, frame, null)),
      ...(secagg && { secagg }),
    };
    const signature = await sign(
      this.identity,
      challengeMessage('round-start', sodium.from_base64(unsigned.weightsDigest), roundStartSigningContext(unsigned)),
    );
    const message: RoundStart = { ...unsigned, signature: sodium.to_base64(signature) };

    let allIn: () => void = () => {};
    const everyoneAnswered = new Promise<void>((resolve) => (allIn = resolve));
    const stop = new AbortController();
    this.open = {
      round,
      attemptId,
      cohort: new Set(cohortIds),
      received: new Set(),
      declined: new Set(),
      accumulator: createAccumulator(secagg ? 0 : this.global.length),
      policy: updatePolicy(this.config, this.global.length, {
        declaredExamples: cohortIds.map((id) => this.members.get(id)?.numExamples ?? 0),
        lastMedianNorm: this.db.lastMedianUpdateNorm(),
      }),
      acceptedNorms: [],
      deadline,
      start: message,
      weightsFrame: frame,
      allIn: () => {
        allIn();
        if (this.stopped) stop.abort();
      },
      abandoned: null,
      abandon(reason) {
        this.abandoned = reason;
        allIn();
        stop.abort();
      },
    };
    crashPoint('selection', round);
    this.phase = 'training';
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
      ? await this.collectSecure(open, secagg, sockets, stop.signal)
      : await this.collectPlain(open, everyoneAnswered);
    this.phase = 'aggregating';
    const everyoneDeclined = cohortIds.length > 0 && open.declined.size === cohortIds.length;
    if (this.stopped) return { kind: 'aborted', everyoneDeclined };
    if (open.abandoned) return { kind: this.abortRound(round, open.abandoned, 'abandoned'), everyoneDeclined };
    if ('abort' in collected) return { kind: this.abortRound(round, collected.abort, 'too-few-updates'), everyoneDeclined };

    // Central noise of std z·C (z·(C + √d·γ) on its grid, against Mironov 2012) on the sum, then the fixed denominator (McMahan et al. 2018).
    const sum = dp.mode === 'central' ? await addGridGaussianNoise(collected.sum, dp.noiseMultiplier, dp.clipNorm) : collected.sum;
    const denominator = averagingDenominator(this.config, collected.totalWeight);
    const mean = meanUpdate(sum, denominator);
    const next = applyUpdate(this.global, mean, this.config.serverLearningRate);
    const { totalWeight, survivors, secureScale } = collected;
    const released = { totalWeight, survivors: survivors.length, denominator };
    const maxChange = maxGlobalChange(
      this.config,
      next.length,
      secureScale === null ? { ...released, secureScale, normBound: open.policy.normBound } : { ...released, secureScale },
    );
    const refused = checkNewGlobal(this.global, next, maxChange);
    if (refused) return { kind: this.abortRound(round, refused, 'global-guard'), everyoneDeclined };
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
      medianUpdateNorm: secureScale === null ? lowerMedian(open.acceptedNorms) : null,
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

  /** Plain rounds: sealed updates opened one by one into the streaming accumulator until all are in or the deadline. */
  private async collectPlain(open: OpenRound, everyoneAnswered: Promise<void>): Promise<Collected> {
    await untilOrDeadline(everyoneAnswered, open.deadline);
    const tooFew = plainShortfall(this.config, open.received.size);
    if (tooFew) {
      const declined = open.declined.size > 0 ? `, ${open.declined.size} declined` : '';
      return { abort: `${open.received.size} of ${open.cohort.size} updates arrived${declined}: ${tooFew}` };
    }
    return { sum: open.accumulator.sum, totalWeight: open.accumulator.totalWeight, survivors: [...open.received], secureScale: null };
  }

  /** Secure rounds: the server learns only the sum of the survivors' quantized updates. */
  private async collectSecure(open: OpenRound, secagg: SecAggRound, sockets: Map<string, Socket>, signal: AbortSignal): Promise<Collected> {
    const { dp, secureAggregation, federationId } = this.config;
    const sodium = await getSodium();
    const signPublicKeys = new Map<string, string>();
    const boxPublicKeys = new Map<string, Uint8Array>();
    for (const id of open.cohort) {
      const member = this.members.get(id);
      if (!member) continue;
      signPublicKeys.set(id, sodium.to_base64(member.signPublicKey));
      boxPublicKeys.set(id, member.boxPublicKey);
    }
    const outcome = await runSecureRound({
      context: { federationId, round: open.round, attemptId: open.attemptId },
      round: secagg,
      length: this.global.length,
      sockets,
      signPublicKeys,
      boxPublicKeys,
      server: this.identity,
      stageTimeoutMs: secureAggregation.stageTimeoutSeconds * 1000,
      inputDeadline: open.deadline,
      signal,
      log: this.log,
      metrics: this.metrics,
      answers: open,
      onMaskedInput: (id) => {
        open.received.add(id);
        crashPoint('updates', open.round);
        this.log('info', 'update accepted', { clientId: id, round: open.round, received: open.received.size, cohort: open.cohort.size });
        this.emit('progress', { round: open.round, received: open.received.size, cohort: open.cohort.size });
      },
    });
    if (!outcome.ok) return { abort: `secure aggregation stopped at ${outcome.stage}: ${outcome.reason}` };
    const scale = quantizationScale({
      clipNorm: dp.clipNorm,
      noiseMultiplier: dp.noiseMultiplier,
      mode: dp.mode,
      cohortSize: secagg.cohort.length,
      threshold: secagg.threshold,
      length: this.global.length,
    });
    // Every survivor weighs the same: the sum is all the server ever sees.
    return { sum: dequantizeSum(outcome.sum, scale), totalWeight: outcome.survivors.length, survivors: outcome.survivors, secureScale: scale };
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

type Collected = { sum: Float64Array | Float32Array; totalWeight: number; survivors: string[]; secureScale: number | null } | { abort: string };

/** Waits for `done` or until the wall-clock deadline, whichever comes first, leaving no timer behind. */
async function untilOrDeadline(done: Promise<void>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))));
  await Promise.race([done, expired]);
  clearTimeout(timer);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export { PROTOCOL_VERSION };
