import { RandomStream } from '../core/privacy/csprng.js';
import { encodeFrame, encodeInt8Frame } from '../core/protocol/frame.js';
import { quantizeInt8 } from '../core/protocol/int8.js';
import type { RoundSettings } from '../core/protocol/messages.js';

const TWO_POW_32 = 2 ** 32;

/**
 * A plain round's update frame, after the DP step: float32, or quantized to 8 bits when the round
 * asks for compression (stochastic rounding on uniforms from the OS CSPRNG: csprng.ts).
 */
export function plainUpdateFrame(settings: Pick<RoundSettings, 'compression'>, round: number, numExamples: number, values: Float32Array): Uint8Array {
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
