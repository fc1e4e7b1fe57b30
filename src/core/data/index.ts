export { type Dataset, featureSize, subset } from './dataset.js';
export { DataError } from './errors.js';
export { type IdxSplit, encodeIdx, listIdxSplits, loadIdxDataset, parseIdx, readIdxFile, writeIdxDataset } from './idx.js';
export { loadCsvDataset } from './csv.js';
export { loadEmbeddedMnist, splitTrainTest } from './mnist.js';
export { FASHION_MNIST_DIR, loadFashionMnist } from './fashion.js';
export { Rng } from './rng.js';
export { DIRICHLET_MIN_EXAMPLES, type PartitionSpec, parsePartitionSpec, partition } from './partition.js';
export { DEFAULT_LABEL_COLUMN, describeDataset, loadDataPath } from './load.js';
