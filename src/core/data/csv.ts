/** Tabular data: a CSV file with a header row, one numeric feature per column plus a label column. */
import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import type { Dataset } from './dataset.js';
import { DataError, describeFsError, excerpt } from './errors.js';

/** Column names are quoted longer than cells: they name what the error is about. */
const COLUMN_NAME_CHARS = 24;
/** How many column names an error lists before it gives only the count. */
const LISTED_COLUMNS = 6;

/** The first few column names and how many there are, e.g. `"a", "b", … (785 columns)`. */
export function describeColumns(columns: readonly string[], listed = LISTED_COLUMNS): string {
  const names = columns.slice(0, listed).map((c) => excerpt(c, COLUMN_NAME_CHARS));
  const more = columns.length > listed ? ', …' : '';
  return `${names.join(', ')}${more} (${columns.length} column${columns.length === 1 ? '' : 's'})`;
}

interface ParsedRecord {
  record: string[];
  info: { lines: number };
}

function parseCsv(path: string, text: string): ParsedRecord[] {
  try {
    // `info: true` makes each record { record, info }, so errors can name the line.
    return parse(text, { bom: true, trim: true, skip_empty_lines: true, info: true }) as unknown as ParsedRecord[];
  } catch (error) {
    // The parser's own message may quote the offending text: only an excerpt of it is kept.
    const detail = (error instanceof Error ? error.message : String(error)).replace(/"([^"]*)"/g, (_, text: string) => excerpt(text));
    throw new DataError(path, `malformed CSV: ${detail}`, { cause: error });
  }
}

/**
 * Loads a CSV file whose first row names the columns. The column named `labelColumn` holds class
 * indices (non-negative integers up to 255); every other column is a numeric feature, kept as is
 * (not rescaled). inputShape is [number of features]; numClasses is the largest label + 1.
 */
export async function loadCsvDataset(path: string, options: { labelColumn: string }): Promise<Dataset> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new DataError(path, `cannot read: ${describeFsError(error)}`, { cause: error });
  }
  const [header, ...rows] = parseCsv(path, text);
  if (header === undefined) throw new DataError(path, 'the file is empty; a header row naming the columns is required');
  const columns = header.record;
  const labelIndex = columns.indexOf(options.labelColumn);
  if (labelIndex < 0) {
    throw new DataError(path, `no label column "${options.labelColumn}" in the header; the columns are: ${describeColumns(columns)}`);
  }
  if (columns.lastIndexOf(options.labelColumn) !== labelIndex) {
    throw new DataError(path, `the header names the label column "${options.labelColumn}" more than once`);
  }
  const featureColumns = columns.length - 1;
  if (featureColumns === 0) throw new DataError(path, `no feature columns besides the label column "${options.labelColumn}"`);
  if (rows.length === 0) throw new DataError(path, 'no data rows after the header');

  const features = new Float32Array(rows.length * featureColumns);
  const labels = new Uint8Array(rows.length);
  let maxLabel = 0;
  rows.forEach(({ record, info }, row) => {
    let f = row * featureColumns;
    record.forEach((cell, column) => {
      const value = cell === '' ? Number.NaN : Number(cell);
      const where = `line ${info.lines}, column ${excerpt(columns[column], COLUMN_NAME_CHARS)}`;
      if (column === labelIndex) {
        if (!Number.isInteger(value) || value < 0 || value > 255) {
          throw new DataError(path, `${where}: label ${excerpt(cell)} is not an integer class index in 0..255`);
        }
        labels[row] = value;
        maxLabel = Math.max(maxLabel, value);
      } else {
        if (!Number.isFinite(value)) throw new DataError(path, `${where}: ${excerpt(cell)} is not a number`);
        features[f++] = value;
      }
    });
  });
  return { features, labels, count: rows.length, inputShape: [featureColumns], numClasses: maxLabel + 1 };
}
