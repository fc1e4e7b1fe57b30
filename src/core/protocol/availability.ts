/**
 * `member:availability`: a member tells the server, signed with its own identity key, whether it
 * may be drawn into the next cohorts: available, paused, or out of its privacy budget. The server
 * draws only from members that are connected and available (server/availability.ts), so a paused
 * or capped member is never sampled, and never holds a cohort up or makes it retry.
 */
import { z } from 'zod';
import { id } from './primitives.js';

/** What a member says about itself; `available` is the default for a member that has just said hello. */
export const AVAILABILITY_STATUSES = ['available', 'paused', 'out-of-budget'] as const;
export const AvailabilityStatusSchema = z.enum(AVAILABILITY_STATUSES);
export type AvailabilityStatus = z.infer<typeof AvailabilityStatusSchema>;

export const AvailabilityBodySchema = z.object({
  federationId: id,
  /** The member this is about: it must be the one that signed it and said hello on this connection. */
  clientId: id,
  status: AvailabilityStatusSchema,
  /**
   * With `available`: for one attempt only (one round at a time, approved by hand). The member is
   * paused again as soon as an attempt whose cohort holds it ends.
   */
  once: z.boolean(),
  /** Unix ms when the member said it: the server keeps only the newest word of each member. */
  at: z.number().int().min(0),
});
export type Availability = z.infer<typeof AvailabilityBodySchema>;

/** The server's acknowledgement of an availability message. */
export const AvailabilityAckSchema = z.object({ ok: z.boolean(), message: z.string().max(500).optional() });
export type AvailabilityAck = z.infer<typeof AvailabilityAckSchema>;
