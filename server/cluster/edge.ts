import { createServer, type Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Server as SocketServer, type Socket } from 'socket.io';
import { io as connectUpstream, type Socket as UpstreamSocket } from 'socket.io-client';
import type { Socket as EngineSocket } from 'engine.io';
import { createStrategy, type Strategy } from '../../src/core/aggregate/index.js';
import type { Identity } from '../../src/core/crypto/index.js';
import { loadIdentityFile } from '../../src/core/crypto/identity-file.js';
import { modelSpecFor, trainableSlice } from '../../src/core/model/index.js';
import { isAck } from '../../src/core/protocol/ack.js';
import { EVENTS, RoundStartSchema, UpdateHeaderSchema, type UpdateAck } from '../../src/core/protocol/messages.js';
import { acceptUpdate, Attempt, type AcceptContext } from '../attempt.js';
import type { ServerConfig } from '../config.js';
import { ConnectionGuard, describeEvent, total } from '../connections.js';
import { roundAccumulator, settleAccumulator, warmIngest } from '../ingest.js';
import type { Logger } from '../logger.js';
import { ServerMetrics } from '../metrics.js';
import { TokenBucket } from '../rate-limit.js';
import { reportUpdate, type UpdateObservers } from '../update-outcome.js';
import { maxFrameBytes } from '../updates.js';
import { MEMBER_EVENTS } from '../member-connections.js';
import { metricsRequireToken } from '../http.js';
import { ClusterBus, type AttemptInfo, type AttemptMessage } from './bus.js';
import { CLAIM_EVENT, claimReply } from './claims.js';
import { edgeHeaders, isEdgeId } from './edge-auth.js';
import { FRAME_AT_EDGE } from './frames.js';

/** How long an edge waits for the coordinator to grant a claim before refusing the update. */
const CLAIM_TIMEOUT_MS = 10_000;

export interface EdgeOptions {
  /** The federation's config (as the coordinator's): model, trainable layers, strategy, connection limits; host and port are the edge's own. */
  config: ServerConfig;
  /** The federation's identity (the coordinator's identity.json): opens sealed updates, signs the edge link. */
  identity: Identity;
  coordinatorUrl: string;
  edgeId: string;
  bus: ClusterBus;
  logger: Logger;
}

/** An attempt as an edge holds it: the coordinator's announcement and this edge's partial sum of it. */
interface EdgeAttempt {
  open: Attempt;
  keys: Map<string, Uint8Array>;
  /** Updates being opened or claimed: awaited before the partial is handed in. */
  pending: Set<Promise<unknown>>;
}

/**
 * An edge (`covey server --role edge`): a stateless front for the coordinator. Each participant's
 * connection is relayed over its own upstream connection to the coordinator (signed as coming from this
 * edge, edge-auth.ts), so admission, announcements, round starts, declines and secure aggregation stages
 * are the coordinator's, unchanged. Plain updates stop here: opened, bounded, claimed at the coordinator
 * (one answer per member, claims.ts) and added to this edge's partial sum, handed in through Redis when
 * the coordinator closes the attempt (bus.ts). The edge writes nothing durable.
 */
export class EdgeServer {
  readonly metrics = new ServerMetrics();
  private readonly http: HttpServer;
  private readonly io: SocketServer;
  private readonly guard: ConnectionGuard;
  private readonly strategy: Strategy;
  private readonly length: number;
  private current: EdgeAttempt | null = null;
  /** Global weights frames by attempt id, read from Redis once each (frames.ts). */
  private readonly frames = new Map<string, Promise<Buffer | null>>();
  private url = '';

  constructor(private readonly options: EdgeOptions) {
    const { config } = options;
    this.strategy = createStrategy(config.strategy);
    this.length = trainableSlice(modelSpecFor(config.model), config.training.trainable).length;
    // GET /metrics, where the coordinator would serve it without a token (loopback); nothing else.
    const metricsOpen = !metricsRequireToken(config);
    this.http = createServer((req, res) => {
      if (!metricsOpen || req.method !== 'GET' || req.url !== '/metrics') return void res.writeHead(404).end();
      void this.metrics.text().then((text) => res.writeHead(200, { 'Content-Type': this.metrics.contentType }).end(text));
    });
    this.guard = new ConnectionGuard(config.connections, options.logger, this.metrics);
    this.io = new SocketServer(this.http, {
      maxHttpBufferSize: maxFrameBytes(this.length, false),
      serveClient: false,
      allowRequest: this.guard.allowRequest,
    });
    this.io.engine.on('connection', (conn: EngineSocket) => this.guard.track(conn));
    this.io.on(
      'connection',
      total(options.logger, 'connection', (socket: Socket) => this.relay(socket)),
    );
    warmIngest(this.strategy, this.length);
  }

  private get log(): Logger {
    return this.options.logger;
  }

  get serverUrl(): string {
    return this.url;
  }

  /** Follows the coordinator's attempts, says it is alive, and listens for participants. */
  async listen(): Promise<string> {
    const { bus, edgeId } = this.options;
    await bus.onAttempt(
      (message) => void this.onAttemptMessage(message).catch((err: Error) => this.log('error', 'edge attempt handling failed', { error: err.message })),
    );
    await bus.keepAlive(edgeId);
    const current = await bus.currentAttempt();
    if (current) this.install(current);
    const { host, port } = this.options.config;
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => resolve());
    });
    const address = this.http.address() as AddressInfo;
    this.url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    this.log('info', 'edge listening', { url: this.url, edgeId, coordinator: this.options.coordinatorUrl });
    return this.url;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => void this.io.close(() => resolve()));
    this.options.bus.close();
  }

  private async onAttemptMessage(message: AttemptMessage): Promise<void> {
    if (message.type === 'open') this.install(message.info);
    else await this.handIn(message.attemptId);
  }

  /** The coordinator's new attempt replaces any earlier one, which it closed or abandoned. */
  private install(info: AttemptInfo): EdgeAttempt {
    if (this.current?.open.attemptId === info.attemptId) return this.current;
    const open = new Attempt({
      round: info.round,
      attemptId: info.attemptId,
      cohort: info.cohort.map((m) => m.clientId),
      accumulator: roundAccumulator(this.strategy, this.length),
      policy: info.policy,
      federatedEval: null,
      deadline: info.deadline,
      start: info.start,
      weightsFrame: new Uint8Array(0),
      stopping: () => false,
    });
    open.collecting = true;
    const keys = new Map(info.cohort.map((m) => [m.clientId, new Uint8Array(Buffer.from(m.boxPublicKey, 'base64url'))]));
    this.current = { open, keys, pending: new Set() };
    return this.current;
  }

  /** The coordinator closed the attempt: once the updates in flight are settled, this edge's partial goes to Redis. */
  private async handIn(attemptId: string): Promise<void> {
    const current = this.current;
    if (!current || current.open.attemptId !== attemptId || !current.open.collecting) return;
    const { open } = current;
    open.collecting = false;
    await Promise.allSettled([...current.pending]);
    await settleAccumulator(open.accumulator);
    const aggregate = open.accumulator.finish();
    if (aggregate.kind !== 'sum') throw new Error(`an edge sums updates: the strategy gave ${aggregate.kind}`);
    if (open.received.size === 0) return;
    const sum = aggregate.sum instanceof Float64Array ? aggregate.sum : Float64Array.from(aggregate.sum);
    const { edgeId } = this.options;
    await this.options.bus.putPartial({ edgeId, attemptId, survivors: [...open.received], totalWeight: aggregate.totalWeight, sum });
    this.log('info', 'partial handed in', { round: open.round, attemptId, members: open.received.size, totalWeight: aggregate.totalWeight });
  }

  /** A relayed round start's arguments, with the frame the coordinator left at this edge put back. */
  private async withFrame(args: unknown[]): Promise<unknown[]> {
    const [start, frame] = args;
    const parsed = RoundStartSchema.safeParse(start);
    if (!parsed.success || !(frame instanceof Uint8Array) || frame.byteLength !== FRAME_AT_EDGE.byteLength) return args;
    const { attemptId } = parsed.data;
    let cached = this.frames.get(attemptId);
    if (!cached) {
      cached = this.options.bus.frame(attemptId);
      // The frames of the two latest attempts are kept: a member that reconnects mid-round gets its round start again.
      this.frames.set(attemptId, cached);
      for (const key of [...this.frames.keys()].slice(0, -2)) this.frames.delete(key);
      cached.catch(() => this.frames.delete(attemptId));
    }
    const held = await cached;
    if (!held) {
      this.frames.delete(attemptId);
      this.log('warn', 'round start relayed without its weights: none in Redis', { attemptId });
      return args;
    }
    this.metrics.bytesOut(held.byteLength);
    return [start, held, ...args.slice(2)];
  }

  /** The attempt an update names: the one held, or the coordinator's current one when its announcement has not reached here yet. */
  private async attemptFor(header: unknown): Promise<EdgeAttempt | null> {
    const parsed = UpdateHeaderSchema.safeParse(header);
    if (!parsed.success || this.current?.open.attemptId === parsed.data.attemptId) return this.current;
    const info = await this.options.bus.currentAttempt();
    return info && info.attemptId === parsed.data.attemptId ? this.install(info) : this.current;
  }

  /** Opens, bounds and claims one plain update, and adds it to this edge's partial once the coordinator grants it. */
  private async acceptHere(upstream: UpstreamSocket, clientId: string | null, header: unknown, payload: unknown): Promise<UpdateAck> {
    const held = await this.attemptFor(header);
    const ctx: AcceptContext & UpdateObservers = {
      attempt: () => held?.open ?? null,
      completedRound: () => (held ? held.open.round - 1 : 0),
      // A member outside the cohort is known by name only: the cohort check refuses it before anything is opened.
      member: (id) => {
        const key = held?.keys.get(id) ?? (id === clientId ? new Uint8Array(0) : undefined);
        return key ? { clientId: id, boxPublicKey: key } : undefined;
      },
      federationId: this.options.config.federationId,
      server: this.options.identity,
      modelLength: this.length,
      claim: async (open, member, seen) => {
        const raw: unknown = await upstream
          .timeout(CLAIM_TIMEOUT_MS)
          .emitWithAck(CLAIM_EVENT, { round: open.round, attemptId: open.attemptId, clientId: member, ...seen })
          .catch(() => null);
        return claimReply(raw);
      },
      log: this.log,
      metrics: this.metrics,
      progress: () => {},
    };
    const work = acceptUpdate(ctx, clientId, header, payload);
    held?.pending.add(work);
    try {
      return reportUpdate(ctx, await work);
    } finally {
      held?.pending.delete(work);
    }
  }

  /** One participant's connection, relayed to the coordinator over its own upstream connection. */
  private relay(socket: Socket): void {
    const { config, identity, edgeId, coordinatorUrl } = this.options;
    const address = socket.handshake.address;
    const upstream = connectUpstream(coordinatorUrl, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      extraHeaders: edgeHeaders(identity, config.federationId, edgeId, address),
    });
    let clientId: string | null = null;
    const bucket = new TokenBucket(config.rateLimit.burst, config.rateLimit.perSecond);
    socket.use((_packet, next) => {
      if (bucket.take()) return next();
      this.guard.rejected(socket.conn, { reason: 'rate-limited', message: 'too many messages: connection closed', clientId });
      socket.disconnect(true);
    });
    socket.on(
      EVENTS.update,
      total(this.log, EVENTS.update, async (header: unknown, payload: unknown, ack: unknown) => {
        const reply = await this.acceptHere(upstream, clientId, header, payload);
        if (isAck(ack)) ack(reply);
      }),
    );
    // Everything else goes to the coordinator as sent, acks included; the hello's reply also admits the connection here.
    socket.onAny(
      total(this.log, 'any', (event: unknown, ...args: unknown[]) => {
        if (event === EVENTS.update) return;
        if (typeof event !== 'string' || !MEMBER_EVENTS.has(event)) {
          this.metrics.messageRejected('malformed');
          return this.guard.rejected(socket.conn, { reason: 'malformed', message: `unknown event ${describeEvent(event)}`, clientId });
        }
        const ack = args.length > 0 && isAck(args[args.length - 1]) ? (args.pop() as (reply: unknown) => void) : null;
        if (!ack) return void upstream.emit(event, ...args);
        upstream.emit(event, ...args, (reply: unknown) => {
          if (event === EVENTS.hello && isAdmitted(reply)) {
            clientId = reply.clientId;
            this.guard.admitted(socket.conn);
          }
          ack(reply);
        });
      }),
    );
    // The coordinator's messages reach the participant in the order sent, a round start with its weights put back (frames.ts).
    let forwarding = Promise.resolve();
    upstream.onAny((event: string, ...args: unknown[]) => {
      const ack = args.length > 0 && isAck(args[args.length - 1]) ? (args.pop() as (reply: unknown) => void) : null;
      forwarding = forwarding
        .then(async () => {
          if (event === EVENTS.roundStart) args = await this.withFrame(args);
          if (ack) socket.emit(event, ...args, ack);
          else socket.emit(event, ...args);
        })
        .catch((err: Error) => this.log('error', 'relay to participant failed', { error: err.message }));
    });
    // Either side gone closes the other: the participant reconnects (to this or another edge) and says hello again.
    socket.on('disconnect', () => upstream.disconnect());
    upstream.on('disconnect', () => socket.disconnect(true));
    upstream.on('connect_error', (err: Error) => {
      this.log('warn', 'coordinator unreachable', { error: err.message });
      socket.disconnect(true);
    });
  }
}

function isAdmitted(reply: unknown): reply is { ok: true; clientId: string } {
  return (
    typeof reply === 'object' && reply !== null && (reply as { ok?: unknown }).ok === true && typeof (reply as { clientId?: unknown }).clientId === 'string'
  );
}

/** An edge of the federation whose identity file is in config.stateDir (copied from the coordinator's), connected to its Redis. */
export async function startEdge(args: { config: ServerConfig; coordinatorUrl: string; edgeId: string; logger: Logger }): Promise<EdgeServer> {
  const { config, coordinatorUrl, edgeId, logger } = args;
  if (!config.cluster) throw new Error('an edge needs the federation Redis URL (--redis or the config cluster.redis)');
  if (!isEdgeId(edgeId)) throw new Error(`edge id ${JSON.stringify(edgeId)}: use 1–64 letters, digits, '-' or '_'`);
  const identityPath = join(config.stateDir, 'identity.json');
  const identity = await loadIdentityFile(identityPath);
  if (!identity) throw new Error(`no federation identity at ${identityPath}: copy the coordinator's identity.json there`);
  const bus = await ClusterBus.connect(config.cluster.redis, config.federationId, logger);
  const edge = new EdgeServer({ config, identity, coordinatorUrl, edgeId, bus, logger });
  try {
    await edge.listen();
  } catch (err) {
    await edge.close();
    throw err;
  }
  return edge;
}
