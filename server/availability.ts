/**
 * Which members the next cohort is drawn from: those connected and available by their own signed
 * word (protocol/availability.ts). A member that is paused or out of its privacy budget is left out
 * of the draw, so it never holds a cohort up, makes an attempt fail, or makes the others pay for
 * retries.
 *
 * Why this keeps the sampling analysis (issue 11) intact. The accountant charges every draw as one
 * Poisson-subsampled Gaussian at q (Mironov, Talwar, Zhang 2019): each member in the population a
 * draw runs over must be included independently with probability q, and no draw may be redrawn or
 * dropped because of its outcome. A member leaves the population only by its own word, before the
 * draw: that changes who is drawn from, never anyone's inclusion probability, and depends on no
 * draw's outcome and on no other member's data. So for every member drawn from, q is exact; an
 * excluded member is sampled with probability 0 ≤ q, and the promised view it keeps still bounds it.
 * With DP on, the denominator is the fixed n̄ (sampling.ts): a member outside the population changes
 * the release exactly as a sampled member sending a zero update would, so sitting out is, for the
 * analysis, the member choosing its own later contributions, which adaptive composition allows
 * (a member sees whether it was sampled in DP-FedAvg anyway; `once` acts on that only after the
 * attempt ends, and only on later populations).
 */
import type { Socket } from 'socket.io';
import { DeclineSchema } from '../src/core/protocol/messages.js';
import { verifyMessage } from '../src/core/protocol/signed.js';
import type { AvailabilityAck, AvailabilityStatus } from '../src/core/protocol/availability.js';
import type { Attempt } from './attempt.js';
import type { Logger } from './logger.js';

/** What a member last said about itself; a member that has just said hello is available. */
export interface MemberAvailability {
  status: AvailabilityStatus;
  /** Available for one attempt only (one round at a time): paused again when an attempt that drew it ends. */
  once: boolean;
  /** When the member said it (its own clock, Unix ms): older words are ignored. */
  at: number;
}

export const AVAILABLE_AFTER_HELLO: MemberAvailability = { status: 'available', once: false, at: 0 };

/** The member fields this module reads and writes. */
export interface AvailabilityMember {
  clientId: string;
  signPublicKey: Uint8Array;
  socket: Socket | null;
  availability: MemberAvailability;
}

/** A signed availability message from `member` (the connection's admitted member): checked, then kept if newer. */
export async function acceptAvailability(ctx: { federationId: string; log: Logger }, member: AvailabilityMember, raw: unknown): Promise<AvailabilityAck> {
  const checked = await verifyMessage(member.signPublicKey, 'availability', raw);
  if (!checked.ok) return refuse(ctx.log, member.clientId, checked.problem);
  const body = checked.body;
  if (body.clientId !== member.clientId) return refuse(ctx.log, member.clientId, 'availability of another member');
  if (body.federationId !== ctx.federationId) return refuse(ctx.log, member.clientId, 'availability for another federation');
  if (body.once && body.status !== 'available') return refuse(ctx.log, member.clientId, "'once' goes only with 'available'");
  if (body.at <= member.availability.at) return { ok: false, message: 'an older word than the last one: ignored' };
  member.availability = { status: body.status, once: body.once, at: body.at };
  ctx.log('info', 'member availability', { clientId: member.clientId, status: body.status, once: body.once });
  return { ok: true };
}

function refuse(log: Logger, clientId: string, message: string): AvailabilityAck {
  log('warn', 'message rejected', { reason: 'malformed', message, clientId });
  return { ok: false, message };
}

function connected(member: AvailabilityMember): boolean {
  return member.socket?.connected === true;
}

/** The population of the next draw: connected members that are available. */
export function drawableIds(members: Iterable<AvailabilityMember>): string[] {
  return [...members].filter((m) => connected(m) && m.availability.status === 'available').map((m) => m.clientId);
}

/** Connected members that said they are out of their privacy budget. */
export function outOfBudgetIds(members: Iterable<AvailabilityMember>): string[] {
  return [...members].filter((m) => connected(m) && m.availability.status === 'out-of-budget').map((m) => m.clientId);
}

/**
 * A member that declined an attempt for its privacy budget has said it is out of budget: it is
 * not drawn again until it says otherwise. Taken from the decline itself (which arrives before the
 * attempt can end), so the next draw never races the member's own availability message.
 */
export function afterDecline(member: AvailabilityMember | undefined, raw: unknown, log: Logger): void {
  const decline = DeclineSchema.safeParse(raw);
  if (!member || !decline.success || decline.data.reason !== 'budget') return;
  member.availability = { ...member.availability, status: 'out-of-budget', once: false };
  log('info', 'member availability', { clientId: member.clientId, status: 'out-of-budget', once: false, after: 'a budget decline' });
}

/** After an attempt ends: a one-round-at-a-time member it drew is paused until it says otherwise. */
export function endOnce(members: ReadonlyMap<string, AvailabilityMember>, cohort: readonly string[], log: Logger): void {
  for (const id of cohort) {
    const member = members.get(id);
    if (!member?.availability.once) continue;
    member.availability = { ...member.availability, status: 'paused', once: false };
    log('info', 'member availability', { clientId: id, status: 'paused', once: false, after: 'its one round' });
  }
}

/**
 * A one-round-at-a-time member lost its connection during a plain attempt that drew it: it is waited
 * for `seconds` (cohort.manualApprovalSeconds), not the whole round, then counted as declined
 * (its owner paused it: it is not a dropout to wait for).
 */
export function watchManualMember(open: Attempt | null, member: AvailabilityMember, seconds: number, log: Logger): void {
  if (!open || open.start.secagg || !member.availability.once || !open.cohort.has(member.clientId)) return;
  const timer = setTimeout(() => {
    const id = member.clientId;
    if (!open.collecting || connected(member) || open.received.has(id) || open.declined.has(id)) return;
    open.declined.add(id);
    log('info', 'client declined', { clientId: id, round: open.round, reason: 'paused', message: `one round at a time: gone for ${seconds} s` });
    if (open.received.size + open.declined.size === open.cohort.size) open.allIn();
  }, seconds * 1000);
  timer.unref();
}
