import { challengeMessage } from '../crypto/index.js';

/** What a client signs to prove its identity on one connection: the server's fresh nonce, bound to the server key it pinned. */
export function clientHelloMessage(nonce: Uint8Array, serverFingerprint: string): Uint8Array {
  return challengeMessage('client-hello', nonce, { serverFingerprint });
}

/** What the server signs to prove it holds the key pinned by the invite: the client's own random challenge. */
export function serverProofMessage(challenge: Uint8Array, context: { federationId: string; clientId: string }): Uint8Array {
  return challengeMessage('server-proof', challenge, context);
}
