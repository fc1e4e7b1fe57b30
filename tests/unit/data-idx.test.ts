import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/core/data/dataset.js';
import { DataError } from '../../src/core/data/errors.js';
import { encodeIdx, listIdxSplits, loadIdxDataset, parseIdx, readIdxFile, writeIdxDataset } from '../../src/core/data/idx.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covey-idx-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A small image set: 5 images of 3x4 with distinct byte values, labels 0..4. */
function images(): { pixels: Uint8Array; labels: Uint8Array } {
  return {
    pixels: Uint8Array.from({ length: 5 * 3 * 4 }, (_, i) => (i * 37) % 256),
    labels: Uint8Array.from([0, 1, 2, 3, 4]),
  };
}

async function expectDataError(promise: Promise<unknown>, pattern: RegExp): Promise<DataError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DataError);
  expect((error as DataError).message).toMatch(pattern);
  return error as DataError;
}

function parseError(buffer: Uint8Array): DataError {
  try {
    parseIdx(buffer, 'test.idx');
  } catch (error) {
    expect(error).toBeInstanceOf(DataError);
    expect((error as DataError).path).toBe('test.idx');
    return error as DataError;
  }
  throw new Error('parseIdx accepted a bad buffer');
}

describe('encodeIdx / parseIdx', () => {
  it('writes the big-endian header of the IDX format', () => {
    const bytes = encodeIdx([2, 3, 258], new Uint8Array(2 * 3 * 258));
    expect([...bytes.subarray(0, 16)]).toEqual([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 1, 2]);
    expect(bytes.length).toBe(16 + 2 * 3 * 258);
  });

  it('round-trips dims and data', () => {
    const { pixels, labels } = images();
    expect(parseIdx(encodeIdx([5, 3, 4], pixels))).toEqual({ dims: [5, 3, 4], data: pixels });
    expect(parseIdx(encodeIdx([5], labels))).toEqual({ dims: [5], data: labels });
  });

  it('refuses to encode data that does not fill the dims', () => {
    expect(() => encodeIdx([2, 2], new Uint8Array(3))).toThrow(/need 4 bytes, got 3/);
  });

  it('rejects a wrong magic number', () => {
    const bytes = encodeIdx([5], images().labels);
    bytes[0] = 0x1f;
    expect(parseError(bytes).message).toMatch(/not an IDX file: magic number 0x1f000801/);
  });

  it('rejects IDX value types other than unsigned bytes, naming the type', () => {
    const bytes = encodeIdx([5], images().labels);
    bytes[2] = 0x0d;
    expect(parseError(bytes).message).toMatch(/0x00000d01 declares float values.*only unsigned bytes/);
  });

  it('rejects a file too short for its magic number or header', () => {
    expect(parseError(new Uint8Array([0, 0])).message).toMatch(/too short/);
    expect(parseError(encodeIdx([5, 3, 4], images().pixels).subarray(0, 10)).message).toMatch(
      /truncated IDX header: 3 dimensions need 16 header bytes, the file has 10/,
    );
  });

  it('rejects truncated data', () => {
    const bytes = encodeIdx([5, 3, 4], images().pixels);
    expect(parseError(bytes.subarray(0, bytes.length - 7)).message).toMatch(
      /truncated IDX data: dimensions \[5, 3, 4\] need 60 bytes of data, the file has 53/,
    );
  });

  it('rejects data longer than its dims', () => {
    const bytes = encodeIdx([5, 3, 4], images().pixels);
    const view = new DataView(bytes.buffer);
    view.setUint32(4, 4); // header now claims 4 images, the file holds 5
    expect(parseError(bytes).message).toMatch(/need 48 bytes of data, but the file has 12 bytes more/);
  });
});

describe('readIdxFile', () => {
  it('reads a raw file and a gzipped one alike', async () => {
    const { pixels } = images();
    const encoded = encodeIdx([5, 3, 4], pixels);
    await writeFile(join(dir, 'raw.idx'), encoded);
    await writeFile(join(dir, 'packed.idx.gz'), gzipSync(encoded));
    expect(await readIdxFile(join(dir, 'raw.idx'))).toEqual({ dims: [5, 3, 4], data: pixels });
    expect(await readIdxFile(join(dir, 'packed.idx.gz'))).toEqual({ dims: [5, 3, 4], data: pixels });
  });

  it('reports a truncated gzip file, a missing file, and names the path', async () => {
    const gz = gzipSync(encodeIdx([5, 3, 4], images().pixels));
    const path = join(dir, 'cut.idx.gz');
    await writeFile(path, gz.subarray(0, gz.length - 20));
    const error = await expectDataError(readIdxFile(path), /cannot decompress gzip data/);
    expect(error.path).toBe(path);
    await expectDataError(readIdxFile(join(dir, 'absent.idx')), /cannot read: no such file or folder/);
  });
});

describe('loadIdxDataset / writeIdxDataset', () => {
  it('loads a gzipped pair, scaling pixels to [0, 1]', async () => {
    const folder = join(dir, 'gz');
    const { pixels, labels } = images();
    await writeIdxDataset(folder, 'train', {
      features: Float32Array.from(pixels, (p) => p / 255),
      labels,
      count: 5,
      inputShape: [3, 4, 1],
      numClasses: 10,
    });
    for (const kind of ['images-idx3', 'labels-idx1']) {
      const raw = join(folder, `train-${kind}-ubyte`);
      await writeFile(`${raw}.gz`, gzipSync(await readFile(raw)));
      await rm(raw);
    }
    const dataset = await loadIdxDataset(folder, 'train');
    expect(dataset.count).toBe(5);
    expect(dataset.inputShape).toEqual([3, 4, 1]);
    expect(dataset.numClasses).toBe(10);
    expect([...dataset.labels]).toEqual([0, 1, 2, 3, 4]);
    expect(dataset.features[1]).toBeCloseTo(37 / 255, 6);
    expect(Math.max(...dataset.features)).toBeLessThanOrEqual(1);
  });

  it('accepts the dotted file-name variant', async () => {
    const folder = join(dir, 'dotted');
    const { pixels, labels } = images();
    await writeIdxDataset(folder, 't10k', {
      features: Float32Array.from(pixels, (p) => p / 255),
      labels,
      count: 5,
      inputShape: [3, 4, 1],
      numClasses: 10,
    });
    await writeFile(join(folder, 'train-images.idx3-ubyte'), await readFile(join(folder, 't10k-images-idx3-ubyte')));
    await writeFile(join(folder, 'train-labels.idx1-ubyte'), await readFile(join(folder, 't10k-labels-idx1-ubyte')));
    expect(await listIdxSplits(folder)).toEqual(['train', 't10k']);
    expect((await loadIdxDataset(folder, 'train')).count).toBe(5);
  });

  it('round-trips a dataset through files byte for byte', async () => {
    const folder = join(dir, 'roundtrip');
    const original: Dataset = {
      features: Float32Array.from({ length: 3 * 2 * 2 }, (_, i) => (i * 20) / 255),
      labels: Uint8Array.from([3, 14, 1]),
      count: 3,
      inputShape: [2, 2, 1],
      numClasses: 15,
    };
    const paths = await writeIdxDataset(folder, 'train', original);
    expect(paths.images).toBe(join(folder, 'train-images-idx3-ubyte'));
    const loaded = await loadIdxDataset(folder, 'train');
    expect(loaded).toEqual(original); // numClasses: largest label 14 -> 15
  });

  it('rejects inconsistent label counts, missing labels and wrong ranks', async () => {
    const folder = join(dir, 'bad');
    const { pixels, labels } = images();
    await writeIdxDataset(folder, 'train', {
      features: Float32Array.from(pixels, (p) => p / 255),
      labels,
      count: 5,
      inputShape: [3, 4, 1],
      numClasses: 10,
    });
    const labelsPath = join(folder, 'train-labels-idx1-ubyte');
    await writeFile(labelsPath, encodeIdx([4], labels.subarray(0, 4)));
    const error = await expectDataError(loadIdxDataset(folder, 'train'), /inconsistent label count: 4 labels for 5 images/);
    expect(error.path).toBe(labelsPath);

    await writeFile(labelsPath, encodeIdx([5, 1], labels));
    await expectDataError(loadIdxDataset(folder, 'train'), /labels file needs 1 dimension/);

    await rm(labelsPath);
    await expectDataError(loadIdxDataset(folder, 'train'), /no train labels file: expected one of train-labels-idx1-ubyte/);
    await expectDataError(loadIdxDataset(join(dir, 'nowhere'), 'train'), /cannot read folder: no such file or folder/);
  });

  it('refuses to write non-image data as IDX', async () => {
    const table: Dataset = { features: new Float32Array(4), labels: new Uint8Array(2), count: 2, inputShape: [2], numClasses: 2 };
    await expectDataError(writeIdxDataset(join(dir, 'table'), 'train', table), /single-channel images/);
  });
});
