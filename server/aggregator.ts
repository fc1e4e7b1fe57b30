import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as SocketServer, type Socket } from 'socket.io';
import type { Identity } from '../src/core/crypto/index.js';
import type { Dataset } from '../src/core/data/dataset.js';
import type { ModelSpec, TrainableSlice } from '../src/core/model/index.js';
import { encodeInvite } from '../src/core/protocol/invite.js';
import type { RoundRecord } from '../src/core/privacy/index.js';
import type { FederationEnd } from '../src/core/protocol/end.js';
import { EVENTS, PROTOCOL_VERSION, type RoundResult } from '../src/core/protocol/messages.js';
import type * as tf from '@tensorflow/tfjs';
import type { OptimizerState } from '../src/core/aggregate/index.js';
import type { Uniform } from './cohort.js';
import type { ServerConfig } from './config.js';
import { FederationDb } from './db.js';
import { checkEarlyStopData } from './early-stop.js';
import { createHttpHandler, metricsRequireToken } from './http.js';
import { ConnectionGuard, total } from './connections.js';
import { watchRevocations } from './revocation.js';
import type { Socket as EngineSocket } from 'engine.io';
import type { Logger } from './logger.js';
import { ServerMetrics } from './metrics.js';
import type { FederationStatus } from './status.js';
import { federationStatus } from './federation-status.js';
import { maxFrameBytes } from './updates.js';
import { openFederation } from './federation-start.js';
import { roundSettings } from './round-start.js';
import { acceptDecline, acceptUpdate } from './attempt.js';
import { reportUpdate } from './update-outcome.js';
import { MemberConnections } from './member-connections.js';
import { RoundRunner } from './rounds.js';
import { ClusterBus } from './cluster/bus.js';
import { acceptClaim } from './cluster/claims.js';
import { edgeOrigin, type EdgeOrigin } from './cluster/edge-auth.js';

/** Named states of the round state machine; every waiting state has a deadline. */
export type RoundPhase = 'waiting-for-clients' | 'training' | 'aggregating' | 'idle' | 'done';

/** The federation's progress, as stored in its database. */
export interface ServerState {
  federationId: string;
  completedRound: number;
  accountant: RoundRecord[];
  results: RoundResult[];
  /** How the federation ended; null while it runs (or when it was closed before its end). */
  end: FederationEnd | null;
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
 * This class holds the HTTP and socket servers and the lifecycle; connections are handled in
 * member-connections.ts, the attempt and its accept path live in attempt.ts, the round loop in rounds.ts.
 */
export class Aggregator extends EventEmitter<AggregatorEvents> {
  private readonly http: HttpServer;
  private readonly io: SocketServer;
  private readonly connections: MemberConnections;
  private readonly rounds: RoundRunner;
  private running: Promise<ServerState> | null = null;
  private url = '';
  readonly metrics = new ServerMetrics();
  private readonly guard: ConnectionGuard;
  private readonly stopWatchingRevocations: () => void;

  private constructor(
    private readonly options: AggregatorOptions,
    /** The server key; tests sign with it to forge server messages (member-messages.test.ts). */
    private readonly identity: Identity,
    private readonly db: FederationDb,
    /** The invite made at this start (config token or first start), whose token can be shown. */
    private readonly startupInvite: { token: string } | null,
    private readonly fingerprint: string,
    spec: ModelSpec,
    model: tf.LayersModel,
    weights: Float32Array,
    trainable: TrainableSlice,
    optimizerState: OptimizerState,
    /** Bearer token for the dashboard and status API. */
    readonly operatorToken: string,
    /** The Redis bus to this coordinator's edges (config.cluster), or null. */
    private readonly cluster: ClusterBus | null,
  ) {
    super();
    // socket.io answers its own path first; the rest is the dashboard, /api/status and /metrics.
    this.http = createServer(
      createHttpHandler({ status: () => this.status(), metrics: this.metrics, operatorToken, metricsRequireToken: metricsRequireToken(options.config) }),
    );
    const { federationId } = options.config;
    // On a coordinator, a connection relayed by an edge counts against its participant's address, not the edge's.
    // Verified once per handshake request (asked at the handshake, the engine connection and the socket).
    const origins = new WeakMap<IncomingMessage, EdgeOrigin | null>();
    const edgeOf = (req: IncomingMessage): EdgeOrigin | null => {
      if (!cluster) return null;
      if (!origins.has(req)) origins.set(req, edgeOrigin(identity, federationId, req));
      return origins.get(req) ?? null;
    };
    this.guard = new ConnectionGuard(
      options.config.connections,
      options.logger,
      this.metrics,
      (req) => edgeOf(req)?.address ?? req.socket.remoteAddress ?? 'unknown',
    );
    this.io = new SocketServer(this.http, {
      // Large enough for one sealed update (its trainable weights) plus its header, no larger.
      maxHttpBufferSize: maxFrameBytes(trainable.length, options.config.evaluation?.federated !== undefined),
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
      attempt: () => this.rounds.open,
      announced: () => this.rounds.announced,
      roundSettings: () => roundSettings(this.config),
      ended: () => this.rounds.signedEnd,
      acceptUpdate: async (clientId, header, payload) => {
        const ctx = this.rounds.acceptContext;
        return reportUpdate(ctx, await acceptUpdate(ctx, clientId, header, payload));
      },
      acceptDecline: (clientId, raw) => acceptDecline(this.rounds.acceptContext, clientId, raw),
      acceptClaim: (edgeId, clientId, raw) => acceptClaim(this.rounds.acceptContext, edgeId, clientId, raw),
    });
    this.rounds = new RoundRunner({
      options,
      identity,
      db,
      model,
      weights,
      trainable,
      optimizerState,
      metrics: this.metrics,
      io: this.io,
      connections: this.connections,
      events: this,
      cluster,
    });
    this.metrics.federationEpsilon(this.rounds.currentEpsilon(), options.config.maxEpsilon ?? null);
    this.io.on(
      'connection',
      total(options.logger, 'connection', (socket: Socket) => this.connections.onConnection(socket, edgeOf(socket.request))),
    );
    this.stopWatchingRevocations = watchRevocations({
      revoked: () => this.db.revokedMemberIds(),
      live: () => this.connections.members.keys(),
      onRevoked: (clientId) => this.connections.onRevoked(clientId),
      onError: (err) => this.log('warn', 'could not read revocations', { error: err.message }),
    });
  }

  static async create(options: AggregatorOptions): Promise<Aggregator> {
    checkEarlyStopData(options.config.evaluation?.earlyStop, options.evaluationData !== undefined);
    const { identity, db, startupInvite, fingerprint, spec, model, weights, trainable, optimizerState, operatorToken } = await openFederation(
      options.config,
      options.logger,
    );
    let cluster: ClusterBus | null = null;
    try {
      if (options.config.cluster) cluster = await ClusterBus.connect(options.config.cluster.redis, options.config.federationId, options.logger);
    } catch (err) {
      db.close();
      throw err;
    }
    return new Aggregator(options, identity, db, startupInvite, fingerprint, spec, model, weights, trainable, optimizerState, operatorToken, cluster);
  }

  get config(): ServerConfig {
    return this.options.config;
  }

  private get log(): Logger {
    return this.options.logger;
  }

  get modelLength(): number {
    return this.rounds.global.length;
  }

  /** Weights in each update: the trainable layers' (config training.trainable), else modelLength. */
  get updateLength(): number {
    return this.rounds.trainable.length;
  }

  get globalWeights(): Float32Array {
    return this.rounds.global;
  }

  get currentPhase(): RoundPhase {
    return this.rounds.phase;
  }

  get serverState(): ServerState {
    return this.rounds.state();
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
    if (this.rounds.stopped && !this.running) return;
    this.rounds.stopped = true;
    const open = this.rounds.open;
    if (open) this.io.emit(EVENTS.roundAbort, { round: open.round, reason: 'the server is shutting down' });
    open?.allIn();
    await this.running?.catch(() => undefined);
    this.running = null;
    this.stopWatchingRevocations();
    await new Promise<void>((resolve) => void this.io.close(() => resolve()));
    this.cluster?.close();
    this.db.close();
  }

  /** What the dashboard shows: read-only, no secrets. */
  status(): FederationStatus {
    return federationStatus({
      config: this.config,
      phase: this.rounds.phase,
      open: this.rounds.open,
      connectedIds: this.connectedIds(),
      availability: (clientId) => this.connections.members.get(clientId)?.availability.status ?? null,
      db: this.db,
      end: this.rounds.end,
      epsilon: () => this.rounds.currentEpsilon(),
    });
  }

  /** Resolves once `count` clients are connected; rejects at the deadline. */
  async waitForConnected(count: number, timeoutMs: number): Promise<void> {
    if (!(await this.rounds.waitFor(() => this.connectedIds().length >= count, timeoutMs))) {
      throw new Error(`only ${this.connectedIds().length} of ${count} clients connected within ${timeoutMs / 1000} s`);
    }
  }

  private connectedIds(): string[] {
    return this.connections.connectedIds();
  }

  /** Runs rounds until the configured number is complete, the federation stops, or close() is called; the server keeps serving after. */
  run(): Promise<ServerState> {
    this.running ??= this.rounds.roundLoop();
    return this.running;
  }
}

export { PROTOCOL_VERSION };
