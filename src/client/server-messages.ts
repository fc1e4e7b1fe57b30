import { challengeMessage, getSodium, verify } from '../core/crypto/index.js';
import { decodeFrame } from '../core/protocol/frame.js';
import { asBytes, roundStartSigningContext, RoundStartSchema, type RoundStart } from '../core/protocol/messages.js';
import { verifyMessage, type MemberRoundResult, type VerifiedMessage } from '../core/protocol/signed.js';
import { ClientError } from './errors.js';

/** The pinned server key and the federation and member it admitted this client as. */
interface Pinned {
  federationId: string;
  clientId: string;
  serverSignKey: Uint8Array;
}

/**
 * A round start checked against the pinned server key: its settings signed together with the
 * digest of the global weights it carries, for this federation; returns the decoded weights.
 */
export async function verifyRoundStart(
  msg: unknown,
  weights: unknown,
  session: Pinned & { modelLength: number },
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

/** A round result or federation end checked against the pinned key, for this federation and (a result) this member. */
export async function verifyForMember<K extends 'result' | 'done'>(session: Pinned, kind: K, raw: unknown): Promise<VerifiedMessage<K>> {
  const checked = await verifyMessage(session.serverSignKey, kind, raw);
  if (!checked.ok) return checked;
  if (checked.body.federationId !== session.federationId) return { ok: false, problem: `${kind} for another federation` };
  if (kind === 'result' && (checked.body as MemberRoundResult).clientId !== session.clientId) {
    return { ok: false, problem: 'round result addressed to another member' };
  }
  return checked;
}
