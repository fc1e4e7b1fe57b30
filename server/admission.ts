import { getSodium, verify } from '../src/core/crypto/index.js';
import { clientHelloMessage } from '../src/core/protocol/auth.js';
import { HelloRequestSchema } from '../src/core/protocol/messages.js';
import type { FederationDb, InviteRefusal } from './db.js';
import { hashToken } from './invites.js';
import type { AdmissionRefusal } from '../src/core/protocol/reasons.js';

export interface Admitted {
  ok: true;
  clientId: string;
  signPublicKey: Uint8Array;
  boxPublicKey: Uint8Array;
  numExamples: number;
  /** The client's own challenge, for the server's proof. */
  challenge: Uint8Array;
  registered: boolean;
}

export type { AdmissionRefusal };

export interface Refused {
  ok: false;
  reason: AdmissionRefusal;
  message: string;
}

const INVITE_REFUSALS: Record<InviteRefusal, Refused> = {
  unknown: { ok: false, reason: 'bad-invite', message: 'this invite is not valid for this federation' },
  expired: { ok: false, reason: 'invite-expired', message: 'this invite has expired: ask the operator for a new one' },
  'used-up': { ok: false, reason: 'invite-used-up', message: 'this invite has already been used: ask the operator for a new one' },
  revoked: { ok: false, reason: 'invite-revoked', message: 'this invite was revoked by the operator' },
};

/**
 * Admission of one connection: the client proves its Ed25519 identity by signing this
 * connection's fresh nonce together with every field of its hello (so a recorded hello cannot be
 * replayed, nor its keys, token or example count changed on the way); a new identity needs a
 * valid invite, which registration uses up atomically; a known one must present both keys it
 * registered.
 */
export async function admit(args: { raw: unknown; nonce: Uint8Array; serverFingerprint: string; db: FederationDb; now: Date }): Promise<Admitted | Refused> {
  const parsed = HelloRequestSchema.safeParse(args.raw);
  if (!parsed.success) {
    return { ok: false, reason: 'malformed', message: `malformed hello: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
  }
  const hello = parsed.data;
  const sodium = await getSodium();
  let signPublicKey: Uint8Array, boxPublicKey: Uint8Array, challenge: Uint8Array, signature: Uint8Array;
  try {
    signPublicKey = sodium.from_base64(hello.signPublicKey);
    boxPublicKey = sodium.from_base64(hello.boxPublicKey);
    challenge = sodium.from_base64(hello.challenge);
    signature = sodium.from_base64(hello.signature);
  } catch {
    return { ok: false, reason: 'malformed', message: 'keys, challenge or signature are not valid base64' };
  }
  if (signPublicKey.length !== 32 || boxPublicKey.length !== 32 || challenge.length !== 32) {
    return { ok: false, reason: 'malformed', message: 'keys and challenge must be 32 bytes' };
  }
  const { signature: _signature, ...unsigned } = hello;
  if (!(await verify(signPublicKey, await clientHelloMessage(args.nonce, args.serverFingerprint, unsigned), signature))) {
    return { ok: false, reason: 'bad-signature', message: 'the hello is not signed for this connection by the key it presents' };
  }
  // A client's id is derived from its signing key, so an id cannot be taken over by another key.
  const clientId = 'c-' + sodium.to_hex(sodium.crypto_generichash(8, signPublicKey, null));
  const base = { ok: true as const, clientId, signPublicKey, boxPublicKey, numExamples: hello.numExamples, challenge };
  const member = args.db.member(clientId);
  if (member) {
    if (member.revokedAt) return { ok: false, reason: 'revoked', message: 'the operator revoked this participant' };
    // The id is a 64-bit hash of the signing key: compare the stored keys themselves, both of them.
    if (sodium.compare(member.signPublicKey, signPublicKey) !== 0 || sodium.compare(member.boxPublicKey, boxPublicKey) !== 0) {
      return { ok: false, reason: 'key-mismatch', message: 'this identity is registered with other keys' };
    }
    args.db.touchMember(clientId, args.now);
    return { ...base, registered: false };
  }
  if (!hello.token) return INVITE_REFUSALS.unknown;
  const registered = args.db.registerMember(hashToken(hello.token), { clientId, signPublicKey, boxPublicKey }, args.now);
  if (!registered.ok) return INVITE_REFUSALS[registered.reason];
  return { ...base, registered: true };
}
