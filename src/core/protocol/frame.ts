/**
 * Binary framing of weight vectors. Weights travel as raw little-endian float32 behind a
 * 20-byte header, never as JSON numbers: a 1.66M-parameter vector is 6.65 MB on the wire.
 *
 * layout: magic(4) | version u8 | reserved(3) | round u32 | numExamples u32 | length u32 | f32[length]
 */
export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 20;

export type FrameKind = 'update' | 'global';
const MAGIC: Record<FrameKind | 'masked', number> = {
  update: 0x55595643 /* "CVYU" */,
  global: 0x47595643 /* "CVYG" */,
  masked: 0x4d595643 /* "CVYM" */,
};

export interface TensorFrame {
  kind: FrameKind;
  round: number;
  numExamples: number;
  values: Float32Array;
}

export type FrameErrorCode = 'malformed' | 'wrong-shape' | 'non-finite' | 'wrong-round';

export class FrameError extends Error {
  constructor(
    readonly code: FrameErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

export function frameBytes(length: number): number {
  return FRAME_HEADER_BYTES + 4 * length;
}

function encodeHeader(kind: FrameKind | 'masked', round: number, numExamples: number, length: number): Uint8Array {
  for (const [name, value] of [
    ['round', round],
    ['numExamples', numExamples],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`${name} must be a uint32, got ${value}`);
  }
  const out = new Uint8Array(frameBytes(length));
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC[kind], true);
  view.setUint8(4, FRAME_VERSION);
  view.setUint32(8, round, true);
  view.setUint32(12, numExamples, true);
  view.setUint32(16, length, true);
  return out;
}

export function encodeFrame(frame: TensorFrame): Uint8Array {
  const out = encodeHeader(frame.kind, frame.round, frame.numExamples, frame.values.length);
  new Float32Array(out.buffer, FRAME_HEADER_BYTES, frame.values.length).set(frame.values);
  return out;
}

/** A secure-aggregation masked input: uint32 values in Z_2^32 (uniform-looking, so no finiteness check applies). */
export function encodeMaskedFrame(round: number, values: Uint32Array): Uint8Array {
  const out = encodeHeader('masked', round, 0, values.length);
  new Uint32Array(out.buffer, FRAME_HEADER_BYTES, values.length).set(values);
  return out;
}

export function decodeMaskedFrame(bytes: Uint8Array, expected: { length: number; round: number }): Uint32Array {
  const length = checkHeader(bytes, 'masked', expected).length;
  const values = new Uint32Array(length);
  new Uint8Array(values.buffer).set(bytes.subarray(FRAME_HEADER_BYTES));
  return values;
}

function checkHeader(
  bytes: Uint8Array,
  kind: FrameKind | 'masked',
  expected: { length: number; round?: number },
): { round: number; numExamples: number; length: number } {
  if (bytes.byteLength < FRAME_HEADER_BYTES) throw new FrameError('malformed', `frame too short (${bytes.byteLength} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC[kind]) throw new FrameError('malformed', `not a ${kind} frame`);
  const version = view.getUint8(4);
  if (version !== FRAME_VERSION) throw new FrameError('malformed', `unsupported frame version ${version}`);
  const round = view.getUint32(8, true);
  const numExamples = view.getUint32(12, true);
  const length = view.getUint32(16, true);
  if (length !== expected.length) {
    throw new FrameError('wrong-shape', `wrong shape: ${length} values, model has ${expected.length}`);
  }
  if (bytes.byteLength !== frameBytes(length)) {
    throw new FrameError('wrong-shape', `frame is ${bytes.byteLength} bytes, header says ${frameBytes(length)}`);
  }
  if (expected.round !== undefined && round !== expected.round) {
    throw new FrameError('wrong-round', `frame is for round ${round}, expected round ${expected.round}`);
  }
  return { round, numExamples, length };
}

/** Parses and checks a frame; `expected` pins what the receiver will accept. */
export function decodeFrame(bytes: Uint8Array, expected: { kind: FrameKind; length: number; round?: number }): TensorFrame {
  const { round, numExamples, length } = checkHeader(bytes, expected.kind, expected);
  // Copy into an aligned buffer: the frame may sit at any offset inside a socket buffer.
  const values = new Float32Array(length);
  new Uint8Array(values.buffer).set(bytes.subarray(FRAME_HEADER_BYTES));
  for (let i = 0; i < length; i++) {
    if (!Number.isFinite(values[i])) throw new FrameError('non-finite', `non-finite value (${values[i]}) at index ${i}`);
  }
  return { kind: expected.kind, round, numExamples, values };
}
