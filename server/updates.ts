import { EnvelopeError, openUpdate, type Identity } from '../src/core/crypto/index.js';
import { decodeUpdateFrame, FrameError, frameBytes } from '../src/core/protocol/frame.js';
import type { RejectReason } from '../src/core/protocol/messages.js';

/** Bytes a sealed update of `length` weights takes: version(1) + nonce(24) + frame + tag(16). */
export function sealedUpdateBytes(length: number): number {
  return 1 + 24 + frameBytes(length) + 16;
}

/**
 * engine.io's maxHttpBufferSize for this federation: one sealed update (or masked input, the same
 * size) plus room for its header, no larger. A bigger message closes the connection.
 */
export function maxFrameBytes(length: number): number {
  return sealedUpdateBytes(length) + 64 * 1024;
}

export class UpdateRejection extends Error {
  constructor(
    readonly reason: RejectReason,
    message: string,
  ) {
    super(message);
    this.name = 'UpdateRejection';
  }
}

/** bytes -> open -> decode -> validated update, or an UpdateRejection saying why not. */
export async function openAndDecodeUpdate(args: {
  sealed: Uint8Array;
  context: { federationId: string; round: number; attemptId: string; clientId: string };
  server: Pick<Identity, 'boxPublicKey' | 'boxSecretKey'>;
  clientBoxPublicKey: Uint8Array;
  modelLength: number;
}): Promise<{ values: Float32Array; numExamples: number }> {
  const limit = sealedUpdateBytes(args.modelLength);
  if (args.sealed.byteLength > limit) {
    throw new UpdateRejection('oversized', `update is ${args.sealed.byteLength} bytes, the limit is ${limit}`);
  }
  let plaintext: Uint8Array;
  try {
    plaintext = await openUpdate({
      sealed: args.sealed,
      context: args.context,
      recipient: args.server,
      senderBoxPublicKey: args.clientBoxPublicKey,
    });
  } catch (err) {
    if (err instanceof EnvelopeError) throw new UpdateRejection('envelope', err.message);
    throw err;
  }
  try {
    // float32 or 8-bit (a member asked to compress may send either; both decode to the same values).
    const frame = decodeUpdateFrame(plaintext, { length: args.modelLength, round: args.context.round });
    return { values: frame.values, numExamples: frame.numExamples };
  } catch (err) {
    if (err instanceof FrameError) {
      const reason: RejectReason = err.code === 'non-finite' ? 'non-finite' : err.code === 'wrong-shape' ? 'wrong-shape' : 'malformed';
      throw new UpdateRejection(reason, err.message);
    }
    throw err;
  }
}
