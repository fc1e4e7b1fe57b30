import { z } from 'zod';
import { REJECT_REASONS, type RejectReason } from '../../src/core/protocol/messages.js';
import { secondAnswer } from '../answers.js';
import type { Attempt } from '../attempt.js';
import { reportAccepted, type UpdateObservers } from '../update-outcome.js';

/**
 * One answer per member per attempt across edges: an edge that has opened and bounded a member's update
 * claims it at the coordinator (over that member's upstream connection) before adding it to its partial.
 * The coordinator, which also takes every decline, grants the claim once; what it granted is what it
 * counts (received, norms, bytes), and only a granted member's update may appear in that edge's partial.
 */
export const CLAIM_EVENT = 'edge:claim';

export const ClaimSchema = z
  .object({
    round: z.number().int().min(1),
    attemptId: z.string().min(1).max(64),
    clientId: z.string().min(1),
    /** The update's norm as sent, and its sealed size: the coordinator's round statistics. */
    norm: z.number().finite().min(0),
    bytes: z.number().int().min(0),
  })
  .strict();
export type Claim = z.infer<typeof ClaimSchema>;

export const ClaimReplySchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true) }).strict(),
  z.object({ ok: z.literal(false), reason: z.enum(REJECT_REASONS), message: z.string() }).strict(),
]);
export type ClaimReply = z.infer<typeof ClaimReplySchema>;

/** Coordinator: grants `clientId`'s claim by `edgeId` when its update may still count in the open attempt. */
export function acceptClaim(ctx: UpdateObservers & { attempt: () => Attempt | null }, edgeId: string, clientId: string, raw: unknown): ClaimReply {
  const parsed = ClaimSchema.safeParse(raw);
  if (!parsed.success || parsed.data.clientId !== clientId) return { ok: false, reason: 'malformed', message: 'malformed claim' };
  const claim = parsed.data;
  const open = ctx.attempt();
  if (!open || claim.round !== open.round || claim.attemptId !== open.attemptId || !open.collecting) {
    return { ok: false, reason: 'round-closed', message: `round ${claim.round} is not open` };
  }
  if (!open.cohort.has(clientId)) return { ok: false, reason: 'not-in-cohort', message: `not selected for round ${open.round}` };
  const answered = secondAnswer(open, clientId);
  if (answered) return { ok: false, reason: answered.reason, message: answered.message };
  open.claims.set(clientId, edgeId);
  open.received.add(clientId);
  open.acceptedNorms.push(claim.norm);
  open.bytesUp += claim.bytes;
  ctx.metrics.bytesIn(claim.bytes);
  reportAccepted(ctx, { clientId, round: open.round, received: open.received.size, cohort: open.cohort.size, norm: claim.norm, edge: edgeId });
  if (open.received.size + open.declined.size === open.cohort.size) open.allIn();
  return { ok: true };
}

/** Edge: the coordinator's reply to a claim, or a refusal when it gave none that parses. */
export function claimReply(raw: unknown): { reason: RejectReason; message: string } | null {
  const parsed = ClaimReplySchema.safeParse(raw);
  if (!parsed.success) return { reason: 'round-closed', message: 'the coordinator did not confirm the update' };
  return parsed.data.ok ? null : { reason: parsed.data.reason, message: parsed.data.message };
}
