import { challengeMessage, getSodium } from '../crypto/index.js';
import type { HelloRequest } from './messages.js';

/** The hello as sent, less its signature: every field of it is signed. */
export type UnsignedHello = Omit<HelloRequest, 'signature'>;

/**
 * What a client signs to prove its identity on one connection: the server's fresh nonce, the
 * server key it pinned, and every field of its hello (both public keys, the BLAKE2b-256 hash of the invite
 * token, the example count, the protocol version, its own challenge), so that an on-path party can
 * change none of them, e.g. bind its own encryption key to the client's identity.
 */
export async function clientHelloMessage(nonce: Uint8Array, serverFingerprint: string, hello: UnsignedHello): Promise<Uint8Array> {
  const sodium = await getSodium();
  return challengeMessage('client-hello', nonce, {
    serverFingerprint,
    protocolVersion: hello.protocolVersion,
    signPublicKey: hello.signPublicKey,
    boxPublicKey: hello.boxPublicKey,
    inviteTokenHash: hello.token === undefined ? '' : sodium.to_hex(sodium.crypto_generichash(32, sodium.from_string(hello.token), null)),
    numExamples: hello.numExamples,
    challenge: hello.challenge,
  });
}

/** What the server signs to prove it holds the key pinned by the invite: the client's own random challenge. */
export function serverProofMessage(challenge: Uint8Array, context: { federationId: string; clientId: string }): Uint8Array {
  return challengeMessage('server-proof', challenge, context);
}
