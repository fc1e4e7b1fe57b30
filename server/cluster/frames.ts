import type { Socket } from 'socket.io';
import { EVENTS, type RoundStart } from '../../src/core/protocol/messages.js';

/**
 * The global weights of a round start travel once per edge, not once per participant: the coordinator
 * puts the frame in Redis (bus.ts `putFrame`) and sends a member behind an edge the signed round start
 * with this empty frame in its place; the edge puts the frame back before it relays the message
 * (edge.ts). The member checks the frame against the signed digest as always, so an edge or a Redis
 * that swapped it is refused.
 */
export const FRAME_AT_EDGE = new Uint8Array(0);

/** Sends a member its round start; returns the weight bytes this process sent. */
export function sendRoundStart(socket: Socket, viaEdge: boolean, start: RoundStart, frame: Uint8Array): number {
  const sent = viaEdge ? FRAME_AT_EDGE : frame;
  socket.emit(EVENTS.roundStart, start, sent);
  return sent.byteLength;
}
