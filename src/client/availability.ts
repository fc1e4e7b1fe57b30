/**
 * The member's side of `member:availability` (protocol/availability.ts): signs and sends its word on
 * being drawn, and the one rule `covey join` and the app share: a round declined for the privacy
 * budget means this member is out of budget, so the server stops drawing it (it would decline every
 * later round of the same federation, and each decline could cost the others an attempt).
 */
import type { Socket } from 'socket.io-client';
import type { Identity } from '../core/crypto/index.js';
import { AvailabilityAckSchema, type AvailabilityStatus } from '../core/protocol/availability.js';
import { EVENTS } from '../core/protocol/messages.js';
import { signMessage } from '../core/protocol/signed.js';
import type { FederationClient } from './federation-client.js';

let lastAt = 0;

/** Strictly increasing Unix ms: the server keeps only a member's newest word. */
function nextAt(): number {
  lastAt = Math.max(Date.now(), lastAt + 1);
  return lastAt;
}

/** Signs and sends this member's availability; true once the server has taken it. */
export async function sendAvailability(
  socket: Socket,
  identity: Identity,
  member: { federationId: string; clientId: string },
  status: AvailabilityStatus,
  once: boolean,
): Promise<boolean> {
  const signed = await signMessage(identity, 'availability', { ...member, status, once, at: nextAt() });
  try {
    const ack = AvailabilityAckSchema.safeParse(await socket.timeout(10_000).emitWithAck(EVENTS.availability, signed));
    return ack.success && ack.data.ok;
  } catch {
    return false; // no answer: the server also stops drawing a member whose connection is gone
  }
}

/** After a round declined for the privacy budget, tells the server this member is out of budget. */
export function sitOutWhenOutOfBudget(client: FederationClient): void {
  client.on('event', (event) => {
    if (event.type === 'declined' && event.reason === 'budget') void client.setAvailability('out-of-budget');
  });
}
