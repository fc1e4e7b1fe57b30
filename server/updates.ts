import { EnvelopeError, openUpdate, type Identity } from '../src/core/crypto/index.js';
import { EVAL_COUNTS_MAX_BYTES, decodeEvalCounts } from '../src/core/protocol/federated-eval.js';
import { declaredUpdateFrameBytes, decodeUpdateFrame, FrameError, frameBytes, type TensorFrame } from '../src/core/protocol/frame.js';
import type { RejectReason } from '../src/core/protocol/messages.js';

/** Bytes a sealed update of `length` weights takes: version(1) + nonce(24) + frame + tag(16). */
export function sealedUpdateBytes(length: number): number {
  return 1 + 24 + frameBytes(length) + 16;
}

/** The most bytes one sealed update may take: its frame, and the evaluation counts where the round asks for them. */
function maxSealedBytes(length: number, federatedEval: boolean): number {
  return sealedUpdateBytes(length) + (federatedEval ? EVAL_COUNTS_MAX_BYTES : 0);
}

/**
 * engine.io's maxHttpBufferSize for this federation: one sealed update (or masked input, the same
 * size) plus room for its header, no larger. A bigger message closes the connection.
 */
export function maxFrameBytes(length: number, federatedEval: boolean): number {
  return maxSealedBytes(length, federatedEval) + 64 * 1024;
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

/**
 * bytes -> open -> decode -> validated update, or an UpdateRejection saying why not. In a round with
 * federated evaluation the member's counts may follow the frame: returned as parsed JSON, unchecked
 * (the accept path checks them: federated-eval.ts); in any other round nothing may follow it.
 */
export async function openAndDecodeUpdate(args: {
  sealed: Uint8Array;
  context: { federationId: string; round: number; attemptId: string; clientId: string };
  server: Pick<Identity, 'boxPublicKey' | 'boxSecretKey'>;
  clientBoxPublicKey: Uint8Array;
  modelLength: number;
  federatedEval: boolean;
}): Promise<{ values: Float32Array; numExamples: number; evaluation?: unknown }> {
  const limit = maxSealedBytes(args.modelLength, args.federatedEval);
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
  const frameEnd = args.federatedEval ? Math.min(plaintext.byteLength, declaredUpdateFrameBytes(plaintext) ?? plaintext.byteLength) : plaintext.byteLength;
  let frame: TensorFrame;
  try {
    // float32 or 8-bit (a member asked to compress may send either; both decode to the same values).
    frame = decodeUpdateFrame(plaintext.subarray(0, frameEnd), { length: args.modelLength, round: args.context.round });
  } catch (err) {
    if (err instanceof FrameError) {
      const reason: RejectReason = err.code === 'non-finite' ? 'non-finite' : err.code === 'wrong-shape' ? 'wrong-shape' : 'malformed';
      throw new UpdateRejection(reason, err.message);
    }
    throw err;
  }
  const update = { values: frame.values, numExamples: frame.numExamples };
  if (frameEnd === plaintext.byteLength) return update;
  try {
    return { ...update, evaluation: decodeEvalCounts(plaintext.subarray(frameEnd)) };
  } catch {
    throw new UpdateRejection('bad-evaluation', 'the federated evaluation counts after the update are not JSON');
  }
}
