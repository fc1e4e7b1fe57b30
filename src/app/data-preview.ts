/** Loads the participant's data where it lives and summarises it for the Data screen. */
import { deflateSync, crc32 } from 'node:zlib';
import { type DataFormat, type Dataset, describeDataset, featureSize, fitToInputShape, loadDataPath, loadTrainingData } from '../core/data/index.js';
import type { DataPreview, DataSource, DataSummary } from './contract.js';

const PREVIEWS = 10;

const FORMAT_NAMES: Record<DataFormat, string> = { 'embedded-mnist': 'Embedded MNIST digits', idx: 'IDX folder', csv: 'CSV file' };

/** A grayscale PNG (8-bit) of `pixels` in [0, 1], as a data: URL. */
export function grayscalePng(pixels: ArrayLike<number>, width: number, height: number): string {
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width + 1)] = 0; // filter type: none
    for (let x = 0; x < width; x++) {
      const v = Math.round(Math.min(1, Math.max(0, pixels[y * width + x])) * 255);
      raw[y * (width + 1) + 1 + x] = 255 - v; // dark ink on a light background
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // grayscale
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
  return `data:image/png;base64,${png.toString('base64')}`;
}

/** One example per class first (as many classes as fit), then the next examples in order. */
function previewIndices(d: Dataset, n: number): number[] {
  const chosen: number[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < d.count && chosen.length < n; i++) {
    if (!seen.has(d.labels[i])) {
      seen.add(d.labels[i]);
      chosen.push(i);
    }
  }
  for (let i = 0; i < d.count && chosen.length < n; i++) if (!chosen.includes(i)) chosen.push(i);
  return chosen.sort((a, b) => d.labels[a] - d.labels[b] || a - b);
}

export function previews(d: Dataset, n = PREVIEWS): DataPreview[] {
  const size = featureSize(d);
  const [height, width, channels = 1] = d.inputShape;
  const isImage = d.inputShape.length >= 2 && channels === 1 && width !== undefined;
  return previewIndices(d, n).map((i) => {
    const features = d.features.subarray(i * size, (i + 1) * size);
    if (isImage) return { label: d.labels[i], image: grayscalePng(features, width, height) };
    return { label: d.labels[i], values: Array.from(features.subarray(0, 8), (v) => Math.round(v * 1e4) / 1e4) };
  });
}

/** A data source as read, before it is fitted to any federation's model. */
export interface LoadedSource {
  source: DataSource;
  dataset: Dataset;
  format: DataFormat;
}

export async function readSource(source: DataSource): Promise<LoadedSource> {
  // A path is always a path here ('mnist' is a folder of that name), never a catalog name.
  const { dataset, format } =
    source.kind === 'embedded' ? await loadTrainingData('mnist') : await loadDataPath(source.path, { labelColumn: source.labelColumn });
  return { source, dataset, format };
}

function shapeText(shape: readonly number[]): string {
  return shape.join('×');
}

/**
 * The data as a federation's model takes it (core/data/fit.ts), or null when its examples are
 * another size; without a model yet, the data as read.
 */
export function fitData(loaded: LoadedSource, model: { name: string; inputShape: number[] } | null): { dataset: Dataset; note?: string } | null {
  if (!model) return { dataset: loaded.dataset };
  const fitted = fitToInputShape(loaded.dataset, model.inputShape);
  if (!fitted) return null;
  if (!fitted.reshaped) return { dataset: fitted.dataset };
  const scaled = fitted.rescaled ? '; its 8-bit pixel values (0–255) are scaled to 0–1' : '';
  return {
    dataset: fitted.dataset,
    note: `Each row's ${featureSize(loaded.dataset)} values are read as one ${shapeText(model.inputShape)} example, the input of this federation's model (${model.name})${scaled}.`,
  };
}

export function summarize(loaded: LoadedSource, fitted: { dataset: Dataset; note?: string }): DataSummary {
  const { source, format } = loaded;
  const { dataset } = fitted;
  const location = source.kind === 'embedded' ? `the ${dataset.count.toLocaleString('en')} training digits that ship with Covey` : source.path;
  const described = describeDataset(dataset);
  return {
    source,
    format: FORMAT_NAMES[format],
    location,
    count: described.count,
    numClasses: described.numClasses,
    classCounts: described.classCounts,
    inputShape: described.inputShape,
    ...(fitted.note && { shapeNote: fitted.note }),
    previews: previews(dataset),
  };
}
