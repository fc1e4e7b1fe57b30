import { RandomStream } from '../core/privacy/csprng.js';
import { encodeEvalCounts, type EvalCounts } from '../core/protocol/federated-eval.js';
import { encodeFrame, encodeInt8Frame } from '../core/protocol/frame.js';
import { quantizeInt8 } from '../core/protocol/int8.js';
import type { RoundSettings } from '../core/protocol/messages.js';

const TWO_POW_32 = 2 ** 32;

/**
 * A plain round's update frame, after the DP step: float32, or quantized to 8 bits when the round
 * asks for compression (stochastic rounding on uniforms from the OS CSPRNG: csprng.ts); the
 * member's federated evaluation counts, when it has any, follow it (protocol/federated-eval.ts).
 */
export function plainUpdateFrame(
  settings: Pick<RoundSettings, 'compression'>,
  round: number,
  numExamples: number,
  values: Float32Array,
  evaluation?: EvalCounts,
): Uint8Array {
  const frame = updateFrame(settings, round, numExamples, values);
  if (!evaluation) return frame;
  const counts = encodeEvalCounts(evaluation);
  const out = new Uint8Array(frame.byteLength + counts.byteLength);
  out.set(frame);
  out.set(counts, frame.byteLength);
  return out;
}

function updateFrame(settings: Pick<RoundSettings, 'compression'>, round: number, numExamples: number, values: Float32Array): Uint8Array {
  if (settings.compression !== 'int8') return encodeFrame({ kind: 'update', round, numExamples, values });
  const stream = new RandomStream(4 * values.length);
  try {
    return encodeInt8Frame(
      round,
      numExamples,
      quantizeInt8(values, () => stream.word() / TWO_POW_32),
    );
  } finally {
    stream.dispose();
  }
}
