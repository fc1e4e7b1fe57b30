#!/usr/bin/env node
// `npm start`: build and launch the desktop app. The Electron binary is fetched on first use
// (npm install skips Electron's download so that installs succeed offline); when it cannot be
// fetched, say so plainly and point at what works without it.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const electronDir = dirname(require.resolve('electron/package.json'));

function electronBinaryPresent() {
  try {
    const relative = readFileSync(join(electronDir, 'path.txt'), 'utf8');
    return existsSync(join(electronDir, 'dist', relative));
  } catch {
    return false;
  }
}

if (!electronBinaryPresent()) {
  console.log('Fetching the Electron binary (first launch only)…');
  const env = { ...process.env };
  delete env.ELECTRON_SKIP_BINARY_DOWNLOAD;
  const result = spawnSync(process.execPath, [join(electronDir, 'install.js')], { stdio: 'inherit', env });
  if (result.status !== 0 || !electronBinaryPresent()) {
    console.error(
      '\nThe desktop window needs the Electron binary, which could not be downloaded on this machine.\n' +
        'Everything else works without it: `npx covey sim`, `npx covey server`, `npx covey join`, `npx covey privacy`.\n' +
        'On a machine with internet access, run `npm start` again to fetch it.',
    );
    process.exit(1);
  }
}

const electronVite = join(dirname(require.resolve('electron-vite/package.json')), 'bin', 'electron-vite.js');
for (const args of [['build'], ['preview', '--skipBuild']]) {
  const run = spawnSync(process.execPath, [electronVite, ...args], { stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
