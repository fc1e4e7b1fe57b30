import type { Socket } from 'socket.io-client';
import { fingerprintHex, getSodium, sign, verify, type Identity } from '../core/crypto/index.js';
import { clientHelloMessage, serverProofMessage, type UnsignedHello } from '../core/protocol/auth.js';
import type { Invite } from '../core/protocol/invite.js';
import { EVENTS, HelloResponseSchema, PROTOCOL_VERSION, type HelloResponse } from '../core/protocol/messages.js';
import { ClientError } from './errors.js';

export interface ServerChallenge {
  nonce: string;
  server: { signPublicKey: string; boxPublicKey: string };
}

export interface Admission {
  hello: Extract<HelloResponse, { ok: true }>;
  serverSignKey: Uint8Array;
  serverBoxKey: Uint8Array;
  /** The server key fingerprint, equal to the invite's. */
  fingerprint: string;
}

/**
 * The client side of admission (protocol v2): check the server's announced keys against the
 * invite before signing anything, sign this connection's nonce, send the hello, then pin the
 * keys in the reply and make the server prove it holds them by signing our own challenge.
 */
export async function handshake(
  socket: Socket,
  args: { serverChallenge: ServerChallenge; identity: Identity; invite: Invite; numExamples: number; timeoutMs: number },
): Promise<Admission> {
  const sodium = await getSodium();
  const { serverChallenge, identity, invite } = args;
  const announced = await fingerprintHex({
    signPublicKey: sodium.from_base64(serverChallenge.server.signPublicKey),
    boxPublicKey: sodium.from_base64(serverChallenge.server.boxPublicKey),
  });
  if (announced !== invite.fingerprintHex) {
    throw new ClientError('server-key-mismatch', 'the server key does not match the invite: refusing to connect');
  }
  const challenge = sodium.randombytes_buf(32);
  const unsigned: UnsignedHello = {
    protocolVersion: PROTOCOL_VERSION,
    token: invite.token,
    signPublicKey: sodium.to_base64(identity.signPublicKey),
    boxPublicKey: sodium.to_base64(identity.boxPublicKey),
    challenge: sodium.to_base64(challenge),
    numExamples: args.numExamples,
  };
  const signature = await sign(identity, await clientHelloMessage(sodium.from_base64(serverChallenge.nonce), invite.fingerprintHex, unsigned));
  let raw: unknown;
  try {
    raw = await socket.timeout(args.timeoutMs).emitWithAck(EVENTS.hello, { ...unsigned, signature: sodium.to_base64(signature) });
  } catch {
    throw new ClientError('unreachable', 'the server did not answer the hello');
  }
  const reply = HelloResponseSchema.safeParse(raw);
  if (!reply.success) throw new ClientError('protocol', 'the server sent an unreadable reply');
  if (!reply.data.ok) throw new ClientError(reply.data.reason, `the server refused to admit this client: ${reply.data.message}`);
  const hello = reply.data;
  const serverSignKey = sodium.from_base64(hello.server.signPublicKey);
  const serverBoxKey = sodium.from_base64(hello.server.boxPublicKey);
  const fingerprint = await fingerprintHex({ signPublicKey: serverSignKey, boxPublicKey: serverBoxKey });
  if (fingerprint !== invite.fingerprintHex) {
    throw new ClientError('server-key-mismatch', 'the server key does not match the invite: refusing to connect');
  }
  const proof = serverProofMessage(challenge, { federationId: hello.federationId, clientId: hello.clientId });
  if (!(await verify(serverSignKey, proof, sodium.from_base64(hello.proof)))) {
    throw new ClientError('server-key-mismatch', 'the server could not prove it holds the invite key');
  }
  return { hello, serverSignKey, serverBoxKey, fingerprint };
}
