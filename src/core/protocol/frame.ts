/**
 * Binary framing of weight vectors. Weights travel as raw little-endian float32 behind a
 * 20-byte header, never as JSON numbers: a 1.66M-parameter vector is 6.65 MB on the wire.
 *
 * layout: magic(4) | version u8 | reserved(3) | round u32 | numExamples u32 | length u32 | f32[length]
 * (an 8-bit update, int8.ts, replaces f32[length] by f32 lo[blocks] | f32 scale[blocks] | u8[length];
 * in a round with federated evaluation, the member's counts follow an update frame: federated-eval.ts)
 */
import { dequantizeInt8, int8Blocks, type Int8Update } from './int8.js';

export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 20;

export type FrameKind = 'update' | 'global';
const MAGIC: Record<FrameKind | 'masked' | 'int8', number> = {
  update: 0x55595643 /* "CVYU" */,
  global: 0x47595643 /* "CVYG" */,
  masked: 0x4d595643 /* "CVYM" */,
  /** An update quantized to 8 bits (int8.ts): per block f32 lo, f32 scale, then one u8 code per value. */
  int8: 0x51595643 /* "CVYQ" */,
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

/** Bytes of an int8 update frame of `length` values: the header, 8 bytes per block, 1 per value. */
export function int8FrameBytes(length: number): number {
  return FRAME_HEADER_BYTES + 8 * int8Blocks(length) + length;
}

function encodeHeader(kind: FrameKind | 'masked' | 'int8', round: number, numExamples: number, length: number, bytes = frameBytes(length)): Uint8Array {
  for (const [name, value] of [
    ['round', round],
    ['numExamples', numExamples],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`${name} must be a uint32, got ${value}`);
  }
  const out = new Uint8Array(bytes);
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
  kind: FrameKind | 'masked' | 'int8',
  expected: { length: number; round?: number },
): { round: number; numExamples: number; length: number } {
  const sizeOf = kind === 'int8' ? int8FrameBytes : frameBytes;
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
  if (bytes.byteLength !== sizeOf(length)) {
    throw new FrameError('wrong-shape', `frame is ${bytes.byteLength} bytes, header says ${sizeOf(length)}`);
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

/** An update frame quantized to 8 bits: header | lo f32[blocks] | scale f32[blocks] | codes u8[length]. */
export function encodeInt8Frame(round: number, numExamples: number, update: Int8Update): Uint8Array {
  const length = update.codes.length;
  const blocks = int8Blocks(length);
  const out = encodeHeader('int8', round, numExamples, length, int8FrameBytes(length));
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    view.setFloat32(FRAME_HEADER_BYTES + 4 * b, update.lo[b], true);
    view.setFloat32(FRAME_HEADER_BYTES + 4 * (blocks + b), update.scale[b], true);
  }
  out.set(update.codes, FRAME_HEADER_BYTES + 8 * blocks);
  return out;
}

/** The bytes an update frame (float32 or 8-bit) says it takes, from its header; null when too short for one. */
export function declaredUpdateFrameBytes(bytes: Uint8Array): number | null {
  if (bytes.byteLength < FRAME_HEADER_BYTES) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(16, true);
  return view.getUint32(0, true) === MAGIC.int8 ? int8FrameBytes(length) : frameBytes(length);
}

/**
 * Parses and checks an update frame in either encoding, float32 ("CVYU") or 8-bit ("CVYQ"),
 * dequantizing the latter; the values are checked finite as `decodeFrame` does.
 */
export function decodeUpdateFrame(bytes: Uint8Array, expected: { length: number; round?: number }): TensorFrame {
  const view = bytes.byteLength >= 4 ? new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) : null;
  if (view?.getUint32(0, true) !== MAGIC.int8) return decodeFrame(bytes, { kind: 'update', ...expected });
  const { round, numExamples, length } = checkHeader(bytes, 'int8', expected);
  const blocks = int8Blocks(length);
  const lo = new Float32Array(blocks);
  const scale = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    lo[b] = view.getFloat32(FRAME_HEADER_BYTES + 4 * b, true);
    scale[b] = view.getFloat32(FRAME_HEADER_BYTES + 4 * (blocks + b), true);
    if (!Number.isFinite(lo[b]) || !Number.isFinite(scale[b]) || scale[b] < 0) {
      throw new FrameError('non-finite', `block ${b} has a non-finite or negative range (lo ${lo[b]}, scale ${scale[b]})`);
    }
  }
  const codes = bytes.slice(FRAME_HEADER_BYTES + 8 * blocks);
  const values = dequantizeInt8({ lo, scale, codes });
  for (let i = 0; i < length; i++) {
    if (!Number.isFinite(values[i])) throw new FrameError('non-finite', `non-finite value (${values[i]}) at index ${i}`);
  }
  return { kind: 'update', round, numExamples, values };
}
