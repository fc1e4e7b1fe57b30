/**
 * The layer check (`npm run check:layers`, dependency-cruiser with .dependency-cruiser.cjs) passes
 * on this tree and fails on each kind of wrong import, shown on small fixture trees in a temp folder.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const CRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');

function checkLayers(cwd: string, paths: string[]): { status: number | null; output: string } {
  const run = spawnSync(process.execPath, [CRUISE, '--config', CONFIG, ...paths], { cwd, encoding: 'utf8' });
  return { status: run.status, output: run.stdout + run.stderr };
}

const folders: string[] = [];
afterAll(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

/** A fixture tree: path -> source. */
async function fixture(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'covey-layers-'));
  folders.push(root);
  await writeFile(join(root, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'ESNext', moduleResolution: 'Bundler', strict: true } }));
  for (const [path, source] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), source);
  }
  return root;
}

/** Modules every fixture can import. */
const BASE = {
  'src/core/privacy/clip.ts': 'export const clip = (x: number) => x;\n',
  'src/core/privacy/ledger-file.ts': "import { readFile } from 'node:fs/promises';\nexport const read = readFile;\n",
  'src/client/federation-client.ts': "import { clip } from '../core/privacy/clip.js';\nexport const join = clip;\n",
  'src/cli/data-source.ts': 'export const load = () => 1;\n',
  'src/app/contract.ts': 'export interface AppState { round: number }\n',
  'src/app/core.ts': "import { join } from '../client/federation-client.js';\nexport const start = join;\n",
  'server/aggregator.ts': "import { clip } from '../src/core/privacy/clip.js';\nexport const run = clip;\n",
};

describe('the layer check', () => {
  it('passes on this tree', () => {
    const { status, output } = checkLayers(ROOT, ['src', 'server', 'bin']);
    expect(output).toMatch(/no dependency violations found/);
    expect(status).toBe(0);
  });

  it('passes on a fixture that follows the arrows', async () => {
    const root = await fixture({
      ...BASE,
      'src/renderer/src/App.tsx': "import type { AppState } from '../../app/contract.js';\nexport const round = (s: AppState) => s.round;\n",
    });
    const { status, output } = checkLayers(root, ['src', 'server']);
    expect(output).toMatch(/no dependency violations found/);
    expect(status).toBe(0);
  });

  const wrong: [string, Record<string, string>, string][] = [
    [
      'core importing the client',
      { 'src/core/privacy/noise.ts': "import { join } from '../../client/federation-client.js';\nexport const n = join;\n" },
      'core-imports-nothing-above: src/core/privacy/noise.ts → src/client/federation-client.ts',
    ],
    [
      'the app importing the CLI (the old data-preview leak)',
      { 'src/app/data-preview.ts': "import { load } from '../cli/data-source.js';\nexport const p = load;\n" },
      'app-below-main-and-cli: src/app/data-preview.ts → src/cli/data-source.ts',
    ],
    [
      'the renderer importing core',
      { 'src/renderer/src/App.tsx': "import { clip } from '../../core/privacy/clip.js';\nexport const c = clip;\n" },
      'renderer-only-app-contract: src/renderer/src/App.tsx → src/core/privacy/clip.ts',
    ],
    [
      'the server importing the client',
      { 'server/http.ts': "import { join } from '../src/client/federation-client.js';\nexport const h = join;\n" },
      'server-uses-core-only: server/http.ts → src/client/federation-client.ts',
    ],
    [
      'a math module reading files',
      { 'src/core/privacy/rdp.ts': "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n" },
      'core-math-no-io: src/core/privacy/rdp.ts → fs',
    ],
    [
      'a math module using a file adapter',
      { 'src/core/privacy/prv.ts': "import { read } from './ledger-file.js';\nexport const p = read;\n" },
      'core-math-no-adapters: src/core/privacy/prv.ts → src/core/privacy/ledger-file.ts',
    ],
    [
      'a math index re-exporting a file adapter (the old LedgerFile and identity-file re-exports)',
      { 'src/core/privacy/index.ts': "export { clip } from './clip.js';\nexport { read } from './ledger-file.js';\n" },
      'core-math-no-adapters: src/core/privacy/index.ts → src/core/privacy/ledger-file.ts',
    ],
  ];
  it('fails on each wrong import, naming the rule and the import', async () => {
    // One fixture tree holding every wrong import (one run of the check, not one per case).
    const root = await fixture(Object.assign({}, BASE, ...wrong.map(([, files]) => files)) as Record<string, string>);
    const { status, output } = checkLayers(root, ['src', 'server']);
    for (const [what, , violation] of wrong) expect(output, what).toContain(`error ${violation}`);
    expect(output).toContain(`x ${wrong.length} dependency violations`);
    expect(status).not.toBe(0);
  });
});
