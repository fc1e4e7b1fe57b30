import { randomBytes } from 'node:crypto';
import type { Socket } from 'socket.io';
import { getSodium, sign, type Identity } from '../src/core/crypto/index.js';
import type { ModelSpec } from '../src/core/model/index.js';
import { serverProofMessage } from '../src/core/protocol/auth.js';
import {
  EVENTS,
  UpdateHeaderSchema,
  asBytes,
  type HelloResponse,
  type RejectReason,
  type RoundSettings,
  type UpdateAck,
} from '../src/core/protocol/messages.js';
import { FederationDoneBodySchema, type RoundAnnounce, type SignedFederationDone } from '../src/core/protocol/signed.js';
import { admit } from './admission.js';
import { acceptAvailability, afterDecline, AVAILABLE_AFTER_HELLO, drawableIds, watchManualMember, type MemberAvailability } from './availability.js';
import type { Attempt } from './attempt.js';
import type { ServerConfig } from './config.js';
import { describeEvent, total, type ConnectionGuard } from './connections.js';
import type { FederationDb } from './db.js';
import type { Logger } from './logger.js';
import type { ServerMetrics } from './metrics.js';
import { isAck } from '../src/core/protocol/ack.js';
import { previewReply } from './preview.js';
import { TokenBucket } from './rate-limit.js';
import { CLAIM_EVENT, type ClaimReply } from './cluster/claims.js';
import type { EdgeOrigin } from './cluster/edge-auth.js';
import { sendRoundStart } from './cluster/frames.js';

/** The events a participant may send. */
export const MEMBER_EVENTS = new Set<string>([EVENTS.hello, EVENTS.update, EVENTS.decline, EVENTS.preview, EVENTS.availability]);

/** A registered member with a live connection. */
export interface Member {
  clientId: string;
  signPublicKey: Uint8Array;
  boxPublicKey: Uint8Array;
  numExamples: number;
  socket: Socket | null;
  /** The edge its connection comes through (cluster/edge-auth.ts), or null when it is connected here directly. */
  edge: string | null;
  /** What the member last said about being drawn (availability.ts). */
  availability: MemberAvailability;
}

/** What connection handling needs from the server: its identity and state, the open attempt, and the accept path. */
export interface ConnectionHost {
  config: ServerConfig;
  identity: Identity;
  fingerprint: string;
  spec: ModelSpec;
  db: FederationDb;
  guard: ConnectionGuard;
  metrics: ServerMetrics;
  log: Logger;
  /** The open attempt, or null between attempts. */
  attempt: () => Attempt | null;
  /** The open attempt's signed announcement, re-sent to a member that connects while it runs. */
  announced: () => RoundAnnounce | null;
  roundSettings: () => RoundSettings;
  /** The signed `federation:done` once the federation has ended, sent to a member that connects afterwards. */
  ended: () => SignedFederationDone | null;
  acceptUpdate: (clientId: string, header: unknown, payload: unknown) => Promise<UpdateAck>;
  acceptDecline: (clientId: string, raw: unknown) => { ok: boolean; reason?: RejectReason; message?: string };
  /** A coordinator's grant of an edge's claim on a member's update (cluster/claims.ts). */
  acceptClaim: (edgeId: string, clientId: string, raw: unknown) => ClaimReply;
}

/**
 * The members and their sockets: the challenge and hello (admission), the preview, updates and
 * declines handed to the accept path, revocation, and the log line for anything refused.
 */
export class MemberConnections {
  readonly members = new Map<string, Member>();
  private readonly config: ServerConfig;
  private readonly identity: Identity;
  private readonly fingerprint: string;
  private readonly spec: ModelSpec;
  private readonly db: FederationDb;
  private readonly guard: ConnectionGuard;
  private readonly metrics: ServerMetrics;
  private readonly log: Logger;

  constructor(private readonly host: ConnectionHost) {
    this.config = host.config;
    this.identity = host.identity;
    this.fingerprint = host.fingerprint;
    this.spec = host.spec;
    this.db = host.db;
    this.guard = host.guard;
    this.metrics = host.metrics;
    this.log = host.log;
  }

  private get open(): Attempt | null {
    return this.host.attempt();
  }

  private get announced(): RoundAnnounce | null {
    return this.host.announced();
  }

  private roundSettings(): RoundSettings {
    return this.host.roundSettings();
  }

  connectedIds(): string[] {
    return [...this.members.values()].filter((m) => m.socket?.connected).map((m) => m.clientId);
  }

  /** The next draw's population: connected members that are available by their own word (availability.ts). */
  availableIds(): string[] {
    return drawableIds(this.members.values());
  }

  /** A connection, direct or relayed by the edge `edge` (verified, cluster/edge-auth.ts), which may also claim updates. */
  onConnection(socket: Socket, edge: EdgeOrigin | null = null): void {
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
      const reply = await this.onHello(socket, raw, used, edge);
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
      const ended = this.host.ended();
      ack(
        await previewReply(
          this.identity,
          {
            federationId,
            model: this.spec,
            rounds,
            currentRound: this.open?.round ?? this.db.completedRound(),
            settings: this.roundSettings(),
            ...(ended && { ended: FederationDoneBodySchema.parse(ended) }),
          },
          raw,
        ),
      );
    });
    // A stranger's update never reaches the accept path (attempt.ts): it is refused here, so its bytes never count in the metrics.
    on(EVENTS.update, async (header, payload, ack) => {
      const reply = clientId ? await this.host.acceptUpdate(clientId, header, payload) : this.strangerUpdate(socket, header, payload);
      if (isAck(ack)) ack(reply);
    });
    on(EVENTS.availability, async (raw, ack) => {
      const member = clientId ? this.members.get(clientId) : undefined;
      if (!member) this.reject(socket, 'malformed', 'availability before hello');
      const reply = member
        ? await acceptAvailability({ federationId: this.config.federationId, log: this.log }, member, raw)
        : { ok: false, message: 'say hello first' };
      if (isAck(ack)) ack(reply);
    });
    on(EVENTS.decline, (raw, ack) => {
      if (!clientId) this.reject(socket, 'malformed', 'decline before hello');
      const reply = clientId ? this.host.acceptDecline(clientId, raw) : { ok: false, message: 'say hello first' };
      if (reply.ok && clientId) afterDecline(this.members.get(clientId), raw, this.log);
      if (isAck(ack)) ack(reply);
    });
    if (edge) {
      on(CLAIM_EVENT, (raw, ack) => {
        const reply: ClaimReply = clientId
          ? this.host.acceptClaim(edge.edgeId, clientId, raw)
          : { ok: false, reason: 'unknown-client', message: 'say hello first' };
        if (isAck(ack)) ack(reply);
      });
    }
    on('disconnect', (reason) => {
      this.metrics.connectedClients(this.connectedIds().length);
      if (!clientId) return;
      this.log('info', 'client disconnected', { clientId, reason: describeEvent(reason) });
      const member = this.members.get(clientId);
      if (member) watchManualMember(this.open, member, this.config.cohort.manualApprovalSeconds, this.log);
    });
    // Runs before the rate limiter, on anything the parser let through: an event name may be missing or of any type.
    socket.onAny(
      total(this.log, 'any', (event: unknown) => {
        const known = MEMBER_EVENTS.has(event as string) || (edge !== null && event === CLAIM_EVENT);
        if (!known) {
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
  onRevoked(clientId: string): void {
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

  private async onHello(socket: Socket, raw: unknown, nonce: Uint8Array, edge: EdgeOrigin | null): Promise<HelloResponse> {
    const admitted = await admit({ raw, nonce, serverFingerprint: this.fingerprint, db: this.db, now: new Date() });
    if (!admitted.ok) {
      this.reject(socket, admitted.reason, admitted.message);
      return admitted;
    }
    const sodium = await getSodium();
    const { clientId, challenge } = admitted;
    const existing = this.members.get(clientId);
    if (existing?.socket && existing.socket.id !== socket.id) existing.socket.disconnect(true);
    this.members.set(clientId, {
      clientId,
      signPublicKey: admitted.signPublicKey,
      boxPublicKey: admitted.boxPublicKey,
      numExamples: admitted.numExamples,
      socket,
      edge: edge?.edgeId ?? null,
      availability: AVAILABLE_AFTER_HELLO,
    });
    if (admitted.registered) this.log('info', 'member registered', { clientId });
    this.metrics.connectedClients(this.connectedIds().length);
    const proof = await sign(this.identity, serverProofMessage(challenge, { federationId: this.config.federationId, clientId }));
    this.log('info', 'client joined', { clientId, numExamples: admitted.numExamples, connected: this.connectedIds().length });
    const announced = this.announced;
    if (announced) {
      // The member is connected now, so it is in the population this attempt could have drawn from (protocol/signed.ts).
      setImmediate(() => socket.emit(EVENTS.roundAnnounce, announced));
    }
    const ended = this.host.ended();
    // A member that connects after the end learns it at once, signed, whatever it missed.
    if (ended) setImmediate(() => socket.emit(EVENTS.federationDone, ended));
    const open = this.open;
    if (open && !open.start.secagg && open.collecting && open.cohort.has(clientId) && !open.received.has(clientId)) {
      // A cohort member that reconnects mid-round gets the round again (after this reply); with
      // secure aggregation a member that lost its connection has dropped out of the attempt.
      setImmediate(() => {
        this.metrics.bytesOut(sendRoundStart(socket, edge !== null, open.start, open.weightsFrame));
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
}
