import { challengeMessage, getSodium, verify } from '../core/crypto/index.js';
import { decodeFrame } from '../core/protocol/frame.js';
import { asBytes, roundStartSigningContext, RoundStartSchema, type RoundStart } from '../core/protocol/messages.js';
import { ClientError } from './errors.js';

/**
 * A round start checked against the pinned server key: its settings signed together with the
 * digest of the global weights it carries, for this federation; returns the decoded weights.
 */
export async function verifyRoundStart(
  msg: unknown,
  weights: unknown,
  session: { federationId: string; serverSignKey: Uint8Array; modelLength: number },
): Promise<{ start: RoundStart; global: Float32Array }> {
  const sodium = await getSodium();
  const start = RoundStartSchema.parse(msg);
  const frame = asBytes(weights);
  if (!frame) throw new ClientError('protocol', 'round start without weights');
  const digest = sodium.crypto_generichash(32, frame, null);
  if (sodium.to_base64(digest) !== start.weightsDigest) throw new ClientError('protocol', 'global weights digest mismatch');
  const { signature, ...unsigned } = start;
  const signed = challengeMessage('round-start', digest, roundStartSigningContext(unsigned));
  if (!(await verify(session.serverSignKey, signed, sodium.from_base64(signature)))) {
    throw new ClientError('protocol', 'round start not signed by the pinned server key');
  }
  if (start.federationId !== session.federationId) throw new ClientError('protocol', 'round start for another federation');
  const global = decodeFrame(frame, { kind: 'global', length: session.modelLength, round: start.round }).values;
  return { start, global };
}
