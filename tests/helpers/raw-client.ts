import { io, type Socket } from 'socket.io-client';
import { getSodium, sign, type Identity } from '../../src/core/crypto/index.js';
import { clientHelloMessage, type UnsignedHello } from '../../src/core/protocol/auth.js';
import { EVENTS, PROTOCOL_VERSION } from '../../src/core/protocol/messages.js';

/** A hand-driven socket.io client, to send exactly what a test needs (valid or not). */
const nonces = new WeakMap<Socket, Promise<string>>();

export function connectRaw(url: string, onSocket?: (s: Socket) => void): Promise<Socket> {
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  nonces.set(socket, new Promise((resolve) => socket.once(EVENTS.challenge, (m: { nonce: string }) => resolve(m.nonce))));
  onSocket?.(socket);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

export async function serverNonce(socket: Socket): Promise<Uint8Array> {
  const sodium = await getSodium();
  return sodium.from_base64(await nonces.get(socket)!);
}

/** The hello the real client sends; `overrides` replace fields of it (e.g. a forged signature). */
export async function helloPayload(socket: Socket, identity: Identity, fingerprint: string, token?: string): Promise<Record<string, unknown>> {
  const sodium = await getSodium();
  const nonce = await serverNonce(socket);
  const unsigned: UnsignedHello = {
    protocolVersion: PROTOCOL_VERSION,
    ...(token !== undefined && { token }),
    signPublicKey: sodium.to_base64(identity.signPublicKey),
    boxPublicKey: sodium.to_base64(identity.boxPublicKey),
    challenge: sodium.to_base64(sodium.randombytes_buf(32)),
    numExamples: 100,
  };
  return { ...unsigned, signature: sodium.to_base64(await sign(identity, await clientHelloMessage(nonce, fingerprint, unsigned))) };
}

/** The server's answer to a hello, as the tests read it. */
export interface HelloReply {
  ok: boolean;
  reason?: string;
  message?: string;
  clientId?: string;
  server?: { boxPublicKey: string };
}

export async function sendHello(socket: Socket, payload: Record<string, unknown>): Promise<HelloReply> {
  return socket.timeout(10_000).emitWithAck(EVENTS.hello, payload) as Promise<HelloReply>;
}
