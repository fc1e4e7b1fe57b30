import type { ResultAccumulator } from '../src/core/aggregate/index.js';
import type { Identity } from '../src/core/crypto/index.js';
import { UpdateHeaderSchema, DeclineSchema, asBytes, type RejectReason, type RoundStart, type UpdateAck } from '../src/core/protocol/messages.js';
import type { FederatedEvalTally } from './federated-eval.js';
import type { Logger } from './logger.js';
import { UpdateRejection } from './updates.js';
import { openForAccumulator } from './ingest.js';
import { secondAnswer } from './answers.js';
import type { UpdatePolicy } from './update-policy.js';

/** What an attempt is opened with; the deadline is an input (wall-clock ms), never read from a clock here. */
export interface AttemptInit {
  round: number;
  attemptId: string;
  cohort: readonly string[];
  /** The strategy's accumulator of this attempt's plain updates (Strategy.configureRound; unused in secure rounds). */
  accumulator: ResultAccumulator;
  /** The weight cap and norm bound of this attempt, fixed when its cohort was drawn (update-policy.ts). */
  policy: UpdatePolicy;
  /** The attempt's federated evaluation, when its round settings ask for it (plain rounds only). */
  federatedEval: FederatedEvalTally | null;
  deadline: number;
  /** The signed round start and weights, re-sent to a cohort member that reconnects mid-round. */
  start: RoundStart;
  weightsFrame: Uint8Array;
  /** True once the server is shutting down: answering then also stops a secure round's stages. */
  stopping: () => boolean;
}

/**
 * One attempt at a round: its cohort, who answered (an update or a decline), the strategy's
 * accumulator of the plain updates accepted so far, and the promise the round loop waits on.
 * It holds no socket: the accept path (`acceptUpdate`, `acceptDecline`) is called with what arrived.
 */
export class Attempt {
  readonly round: number;
  readonly attemptId: string;
  readonly cohort: Set<string>;
  readonly received = new Set<string>();
  readonly declined = new Set<string>();
  readonly accumulator: ResultAccumulator;
  readonly policy: UpdatePolicy;
  readonly federatedEval: FederatedEvalTally | null;
  /** The norms (as sent) of the plain updates accepted so far: one number per member, never an update. */
  readonly acceptedNorms: number[] = [];
  /** Bytes of the sealed plain updates accepted so far (bytesUp of the round). */
  bytesUp = 0;
  /** Members whose update an edge holds in its partial sum, and which edge (cluster/claims.ts); empty on a single server. */
  readonly claims = new Map<string, string>();
  readonly deadline: number;
  readonly start: RoundStart;
  readonly weightsFrame: Uint8Array;
  /** Resolves once every cohort member has answered (or the attempt was ended early). */
  readonly everyoneAnswered: Promise<void>;
  /** Aborted when the attempt is abandoned, or answered while the server stops: ends a secure round's stages. */
  readonly stop = new AbortController();
  /** True while updates are collected (the server's 'training' phase). */
  collecting = false;
  abandoned: string | null = null;
  private resolveAllIn: () => void = () => {};
  private readonly stopping: () => boolean;

  constructor(init: AttemptInit) {
    this.round = init.round;
    this.attemptId = init.attemptId;
    this.cohort = new Set(init.cohort);
    this.accumulator = init.accumulator;
    this.policy = init.policy;
    this.federatedEval = init.federatedEval;
    this.deadline = init.deadline;
    this.start = init.start;
    this.weightsFrame = init.weightsFrame;
    this.stopping = init.stopping;
    this.everyoneAnswered = new Promise<void>((resolve) => (this.resolveAllIn = resolve));
  }

  /** Resolves early once every cohort member has answered. */
  allIn(): void {
    this.resolveAllIn();
    if (this.stopping()) this.stop.abort();
  }

  /** Ends the attempt early without applying anything (e.g. a cohort member was revoked). */
  abandon(reason: string): void {
    this.abandoned = reason;
    this.resolveAllIn();
    this.stop.abort();
  }
}

/** What the accept path needs from the server: the open attempt, the members' keys. No socket, no logging. */
export interface AcceptContext {
  /** The open attempt, or null between attempts. */
  attempt: () => Attempt | null;
  completedRound: () => number;
  /** A member admitted since the server started (its box key), or undefined. */
  member: (clientId: string) => { clientId: string; boxPublicKey: Uint8Array } | undefined;
  federationId: string;
  server: Identity;
  modelLength: number;
  /**
   * An edge's last check before it adds an update (cluster/claims.ts): the coordinator grants the member's
   * one answer, or says why not. Absent on a single server, whose attempt is the only place answers land.
   */
  claim?: (open: Attempt, clientId: string, seen: { norm: number; bytes: number }) => Promise<{ reason: RejectReason; message: string } | null>;
}

/**
 * What became of one plain update: the ack for its sender, and what happened, for the caller to log and
 * count (update-outcome.ts). `bytesIn`: the payload's size when it was bytes at all.
 */
export type UpdateOutcome = { clientId: string | null; bytesIn: number | null } & (
  | {
      kind: 'accepted';
      ack: UpdateAck;
      round: number;
      /** Updates received in this attempt so far, and its cohort size. */
      received: number;
      cohort: number;
      /** The update's norm as sent, the bound it was held to, and whether it was scaled down to it. */
      norm: number;
      normBound: number;
      clipped: boolean;
    }
  | {
      kind: 'rejected';
      ack: UpdateAck;
      reason: RejectReason;
      message: string;
      /** An unexpected error while processing it (a bug, not the sender's fault), when that was the cause. */
      failure?: string;
    }
);

/** One plain update: parse header, checks, open + decode, bound, accumulate → outcome (with the ack). */
export async function acceptUpdate(ctx: AcceptContext, clientId: string | null, rawHeader: unknown, payload: unknown): Promise<UpdateOutcome> {
  const currentRound = ctx.attempt()?.round ?? ctx.completedRound();
  const parsed = UpdateHeaderSchema.safeParse(rawHeader);
  const sealed = asBytes(payload);
  const seen = { clientId, bytesIn: sealed ? sealed.byteLength : null };
  const refuse = (reason: RejectReason, message: string, failure?: string): UpdateOutcome => ({
    ...seen,
    kind: 'rejected',
    ack: { accepted: false, reason, message, currentRound },
    reason,
    message,
    ...(failure !== undefined && { failure }),
  });
  if (!parsed.success || !sealed) return refuse('malformed', 'update header or payload is malformed');
  const header = parsed.data;
  const member = clientId ? ctx.member(clientId) : undefined;
  if (!member || header.clientId !== clientId) return refuse('unknown-client', 'say hello before sending updates');
  if (header.federationId !== ctx.federationId) return refuse('malformed', 'wrong federation');
  const open = ctx.attempt();
  if (!open || header.round !== open.round || header.attemptId !== open.attemptId || !open.collecting) {
    return refuse('stale-round', `round ${header.round} is not open (current round ${currentRound})`);
  }
  if (open.start.secagg) return refuse('malformed', `round ${open.round} uses secure aggregation: updates travel as masked inputs`);
  if (!open.cohort.has(member.clientId)) return refuse('not-in-cohort', `not selected for round ${open.round}`);
  const answered = secondAnswer(open, member.clientId);
  if (answered) return refuse(answered.reason, answered.message);
  try {
    // Opened, decoded and bounded (on an ingest worker when the accumulator is a ParallelSum, ingest.ts), not yet added.
    const bounded = await openForAccumulator(
      {
        sealed,
        context: { federationId: header.federationId, round: header.round, attemptId: open.attemptId, clientId: member.clientId },
        server: ctx.server,
        clientBoxPublicKey: member.boxPublicKey,
        modelLength: ctx.modelLength,
        federatedEval: open.federatedEval !== null,
      },
      open.policy,
      open.accumulator,
    );
    // The round may have closed while this update was being opened.
    if (ctx.attempt() !== open || !open.collecting) {
      bounded.discard();
      return refuse('round-closed', 'the round closed');
    }
    // A decline or another update may have arrived while this one was being opened.
    const answeredMeanwhile = secondAnswer(open, member.clientId);
    if (answeredMeanwhile) {
      bounded.discard();
      return refuse(answeredMeanwhile.reason, answeredMeanwhile.message);
    }
    // Counts that fail their checks take the update down with them: one answer per member, whole or not at all.
    const counts = open.federatedEval?.check(member.clientId, bounded.evaluation) ?? null;
    if (counts && 'problem' in counts) {
      bounded.discard();
      return refuse('bad-evaluation', counts.problem);
    }
    const refused = ctx.claim ? await ctx.claim(open, member.clientId, { norm: bounded.norm, bytes: sealed.byteLength }) : null;
    if (refused) {
      bounded.discard();
      return refuse(refused.reason, refused.message);
    }
    // Weight capped, norm clipped to the bound of this mode: one member's influence is bounded (update-policy.ts).
    bounded.commit();
    if (counts) open.federatedEval?.add(counts);
    open.acceptedNorms.push(bounded.norm);
    open.bytesUp += sealed.byteLength;
    open.received.add(member.clientId);
    if (open.received.size + open.declined.size === open.cohort.size) open.allIn();
    return {
      ...seen,
      kind: 'accepted',
      ack: { accepted: true },
      round: open.round,
      received: open.received.size,
      cohort: open.cohort.size,
      norm: bounded.norm,
      normBound: bounded.normBound,
      clipped: bounded.clipped,
    };
  } catch (err) {
    if (err instanceof UpdateRejection) return refuse(err.reason, err.message);
    return refuse('malformed', 'the update could not be processed', (err as Error).message);
  }
}

/** A cohort member sitting the round out on its own terms: not a dropout, and not waited for. */
export function acceptDecline(
  ctx: Pick<AcceptContext, 'attempt'> & { log: Logger },
  clientId: string | null,
  raw: unknown,
): { ok: boolean; reason?: RejectReason; message?: string } {
  const parsed = DeclineSchema.safeParse(raw);
  const open = ctx.attempt();
  if (!parsed.success || !clientId || parsed.data.clientId !== clientId) {
    ctx.log('warn', 'message rejected', { reason: 'malformed', message: 'malformed decline', clientId });
    return { ok: false, message: 'malformed decline' };
  }
  const decline = parsed.data;
  if (!open || decline.round !== open.round || decline.attemptId !== open.attemptId || !open.cohort.has(clientId)) {
    return { ok: false, message: `round ${decline.round} is not awaiting this client` };
  }
  const answered = secondAnswer(open, clientId);
  if (answered) {
    ctx.log('warn', 'message rejected', { reason: 'already-answered', message: answered.message, clientId });
    return { ok: false, reason: 'already-answered', message: answered.message };
  }
  open.declined.add(clientId);
  ctx.log('info', 'client declined', { clientId, round: open.round, reason: decline.reason, message: decline.message });
  if (open.received.size + open.declined.size === open.cohort.size) open.allIn();
  return { ok: true };
}
