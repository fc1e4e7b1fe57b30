import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCsvDataset } from '../../src/core/data/csv.js';
import { DataError } from '../../src/core/data/errors.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covey-csv-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function csv(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function loadError(path: string, labelColumn = 'label'): Promise<DataError> {
  const error = await loadCsvDataset(path, { labelColumn }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DataError);
  expect((error as DataError).path).toBe(path);
  return error as DataError;
}

describe('loadCsvDataset', () => {
  it('reads features and the label column by name, wherever it is', async () => {
    const path = await csv('iris.csv', '\uFEFFsepal, species ,petal\n5.1,0,1.4\n\n4.9, 2 ,1e-1\n"6.3",1,-2\n');
    const dataset = await loadCsvDataset(path, { labelColumn: 'species' });
    expect(dataset.count).toBe(3);
    expect(dataset.inputShape).toEqual([2]);
    expect(dataset.numClasses).toBe(3);
    expect([...dataset.labels]).toEqual([0, 2, 1]);
    expect([...dataset.features]).toEqual([5.1, 1.4, 4.9, 0.1, 6.3, -2].map(Math.fround));
  });

  it('names the line and column of a non-numeric cell', async () => {
    const path = await csv('bad-cell.csv', 'a,b,label\n1,2,0\n\n3,abc,1\n');
    expect((await loadError(path)).message).toBe(`${path}: line 4, column "b": "abc" is not a number`);
    const empty = await csv('empty-cell.csv', 'a,b,label\n1,,0\n');
    expect((await loadError(empty)).message).toMatch(/line 2, column "b": "" is not a number/);
  });

  it('finding 10: quotes at most a short, marked excerpt of a cell, never the whole value', async () => {
    const path = await csv('secret.csv', 'a,b,label\n1,hunter2-API-KEY-abc123,0\n');
    const message = (await loadError(path)).message;
    expect(message).toBe(`${path}: line 2, column "b": "hun…" (22 characters, cut) is not a number`);
    expect(message).not.toMatch(/API-KEY|abc123/);
    const label = await csv('secret-label.csv', 'x,label\n0.5,sk-live-0123456789\n');
    expect((await loadError(label)).message).not.toMatch(/live|0123456789/);
  });

  it('lists the columns when the label column is missing', async () => {
    const path = await csv('no-label.csv', 'a,b,class\n1,2,0\n');
    expect((await loadError(path)).message).toMatch(/no label column "label" in the header; the columns are: "a", "b", "class" \(3 columns\)$/);
  });

  it('rejects labels that are not non-negative integers in 0..255', async () => {
    for (const label of ['-1', '1.5', '256', 'cat']) {
      const path = await csv(`label-${label}.csv`, `x,label\n0.5,${label}\n`);
      expect((await loadError(path)).message).toMatch(`label "${label}" is not an integer class index in 0..255`);
    }
  });

  it('rejects ragged rows, empty files, header-only files and label-only files', async () => {
    expect((await loadError(await csv('ragged.csv', 'a,label\n1,0\n2\n'))).message).toMatch(/malformed CSV: .*line 3/);
    expect((await loadError(await csv('empty.csv', ''))).message).toMatch(/the file is empty/);
    expect((await loadError(await csv('header.csv', 'a,label\n'))).message).toMatch(/no data rows/);
    expect((await loadError(await csv('only-label.csv', 'label\n1\n'))).message).toMatch(/no feature columns/);
    expect((await loadError(await csv('twice.csv', 'label,a,label\n1,2,3\n'))).message).toMatch(/more than once/);
    expect((await loadError(join(dir, 'absent.csv'))).message).toMatch(/cannot read: no such file or folder/);
  });
});
