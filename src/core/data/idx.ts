/**
 * The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a 4-byte magic
 * number `00 00 <type> <ndims>`, then `ndims` big-endian uint32 dimensions, then the values.
 * Only the unsigned-byte type (0x08) is supported: images are 0x00000803, labels 0x00000801.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { Dataset } from './dataset.js';
import { DataError, describeFsError } from './errors.js';

export type IdxSplit = 'train' | 't10k';

const UBYTE = 0x08;
const TYPE_NAMES: Record<number, string> = {
  0x09: 'signed byte',
  0x0b: 'short',
  0x0c: 'int',
  0x0d: 'float',
  0x0e: 'double',
};
const MAX_DIM = 0xffffffff;

const gunzipAsync = promisify(gunzip);

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

/** Parses an uncompressed IDX buffer of unsigned bytes. `source` names it in errors. */
export function parseIdx(buffer: Uint8Array, source = '<buffer>'): { dims: number[]; data: Uint8Array } {
  if (buffer.length < 4) {
    throw new DataError(source, `not an IDX file: only ${buffer.length} bytes, too short for the 4-byte magic number`);
  }
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const magic = view.getUint32(0);
  const type = buffer[2];
  const ndims = buffer[3];
  if (buffer[0] !== 0 || buffer[1] !== 0) {
    throw new DataError(source, `not an IDX file: magic number ${hex(magic)} does not start with two zero bytes`);
  }
  if (type !== UBYTE) {
    const name = TYPE_NAMES[type] ? `${TYPE_NAMES[type]} values` : 'an unknown value type';
    throw new DataError(
      source,
      `IDX magic number ${hex(magic)} declares ${name} (0x${type.toString(16).padStart(2, '0')}); only unsigned bytes (0x08, e.g. 0x00000801 labels, 0x00000803 images) are supported`,
    );
  }
  if (ndims === 0) {
    throw new DataError(source, `IDX magic number ${hex(magic)} declares zero dimensions`);
  }
  const headerSize = 4 + 4 * ndims;
  if (buffer.length < headerSize) {
    throw new DataError(source, `truncated IDX header: ${ndims} dimensions need ${headerSize} header bytes, the file has ${buffer.length}`);
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = buffer.length - headerSize;
  if (actual < expected) {
    throw new DataError(source, `truncated IDX data: dimensions [${dims.join(', ')}] need ${expected} bytes of data, the file has ${actual}`);
  }
  if (actual > expected) {
    throw new DataError(source, `IDX dimensions [${dims.join(', ')}] need ${expected} bytes of data, but the file has ${actual - expected} bytes more`);
  }
  return { dims, data: buffer.subarray(headerSize) };
}

/** Reads and parses an IDX file, gunzipping it first when it is gzip-compressed (whatever its name). */
export async function readIdxFile(path: string): Promise<{ dims: number[]; data: Uint8Array }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new DataError(path, `cannot read: ${describeFsError(error)}`, { cause: error });
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = await gunzipAsync(bytes);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new DataError(path, `cannot decompress gzip data (truncated or corrupt file?): ${detail}`, { cause: error });
    }
  }
  // A plain Uint8Array view, not a Buffer, so callers get the type they were promised.
  return parseIdx(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

/** Encodes unsigned bytes as an uncompressed IDX buffer with the given dimensions. */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  if (dims.length < 1 || dims.length > 255) {
    throw new RangeError(`encodeIdx: IDX holds 1 to 255 dimensions, got ${dims.length}`);
  }
  for (const dim of dims) {
    if (!Number.isInteger(dim) || dim < 0 || dim > MAX_DIM) {
      throw new RangeError(`encodeIdx: dimension ${dim} is not an integer in 0..${MAX_DIM}`);
    }
  }
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected) {
    throw new RangeError(`encodeIdx: dimensions [${dims.join(', ')}] need ${expected} bytes, got ${data.length}`);
  }
  const headerSize = 4 + 4 * dims.length;
  const out = new Uint8Array(headerSize + data.length);
  const view = new DataView(out.buffer);
  out[2] = UBYTE;
  out[3] = dims.length;
  dims.forEach((dim, i) => view.setUint32(4 + 4 * i, dim));
  out.set(data, headerSize);
  return out;
}

function candidateNames(split: IdxSplit, kind: 'images' | 'labels'): string[] {
  const rank = kind === 'images' ? 3 : 1;
  const names = [`${split}-${kind}-idx${rank}-ubyte`, `${split}-${kind}.idx${rank}-ubyte`];
  return names.flatMap((name) => [name, `${name}.gz`]);
}

async function listFolder(dir: string): Promise<Set<string>> {
  try {
    return new Set(await readdir(dir));
  } catch (error) {
    throw new DataError(dir, `cannot read folder: ${describeFsError(error)}`, { cause: error });
  }
}

function findFile(entries: Set<string>, split: IdxSplit, kind: 'images' | 'labels'): string | undefined {
  return candidateNames(split, kind).find((name) => entries.has(name));
}

/** The splits (`train`, `t10k`) whose images file is present in `dir`. */
export async function listIdxSplits(dir: string): Promise<IdxSplit[]> {
  const entries = await listFolder(dir);
  return (['train', 't10k'] as const).filter((split) => findFile(entries, split, 'images') !== undefined);
}

/**
 * Loads `<split>-images-idx3-ubyte[.gz]` and `<split>-labels-idx1-ubyte[.gz]` (or the dotted
 * `<split>-images.idx3-ubyte` variant) from `dir`. Pixels are scaled to [0, 1];
 * numClasses is 10, or the largest label + 1 when that is more.
 */
export async function loadIdxDataset(dir: string, split: IdxSplit): Promise<Dataset> {
  const entries = await listFolder(dir);
  const located = (['images', 'labels'] as const).map((kind) => {
    const name = findFile(entries, split, kind);
    if (name === undefined) {
      throw new DataError(dir, `no ${split} ${kind} file: expected one of ${candidateNames(split, kind).join(', ')}`);
    }
    return join(dir, name);
  });
  const [imagesPath, labelsPath] = located;
  const [images, labels] = await Promise.all([readIdxFile(imagesPath), readIdxFile(labelsPath)]);
  if (images.dims.length !== 3) {
    throw new DataError(
      imagesPath,
      `an images file needs 3 dimensions [count, rows, cols] (magic 0x00000803), this one has ${images.dims.length}: [${images.dims.join(', ')}]`,
    );
  }
  if (labels.dims.length !== 1) {
    throw new DataError(
      labelsPath,
      `a labels file needs 1 dimension [count] (magic 0x00000801), this one has ${labels.dims.length}: [${labels.dims.join(', ')}]`,
    );
  }
  const [count, rows, cols] = images.dims;
  if (labels.dims[0] !== count) {
    throw new DataError(labelsPath, `inconsistent label count: ${labels.dims[0]} labels for ${count} images in ${imagesPath}`);
  }
  if (count === 0) throw new DataError(imagesPath, 'the images file holds no images');
  if (rows === 0 || cols === 0) throw new DataError(imagesPath, `empty image size ${rows}x${cols}`);

  const features = new Float32Array(images.data.length);
  for (let i = 0; i < features.length; i++) features[i] = images.data[i] / 255;
  const labelBytes = Uint8Array.from(labels.data);
  const maxLabel = labelBytes.reduce((a, b) => Math.max(a, b), 0);
  return { features, labels: labelBytes, count, inputShape: [rows, cols, 1], numClasses: Math.max(10, maxLabel + 1) };
}

/**
 * Writes a single-channel image dataset (inputShape [rows, cols, 1], values in [0, 1]) as an
 * uncompressed `<split>-images-idx3-ubyte` / `<split>-labels-idx1-ubyte` pair, pixels as round(x * 255).
 * Creates `dir` if needed. Returns the two paths written.
 */
export async function writeIdxDataset(dir: string, split: IdxSplit, dataset: Dataset): Promise<{ images: string; labels: string }> {
  const [rows, cols, channels] = dataset.inputShape;
  if (dataset.inputShape.length !== 3 || channels !== 1) {
    throw new DataError(dir, `IDX files hold single-channel images [rows, cols, 1]; this dataset's examples have shape [${dataset.inputShape.join(', ')}]`);
  }
  const pixels = new Uint8Array(dataset.features.length);
  for (let i = 0; i < pixels.length; i++) {
    const value = dataset.features[i];
    if (!(value >= 0 && value <= 1)) {
      throw new DataError(dir, `feature ${i} is ${value}; IDX images need values in [0, 1]`);
    }
    pixels[i] = Math.round(value * 255);
  }
  const images = join(dir, `${split}-images-idx3-ubyte`);
  const labels = join(dir, `${split}-labels-idx1-ubyte`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(images, encodeIdx([dataset.count, rows, cols], pixels));
    await writeFile(labels, encodeIdx([dataset.count], dataset.labels));
  } catch (error) {
    throw new DataError(dir, `cannot write IDX files: ${describeFsError(error)}`, { cause: error });
  }
  return { images, labels };
}
