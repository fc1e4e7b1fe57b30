import react from '@vitejs/plugin-react';
import { defineConfig } from 'electron-vite';

// Entries follow electron-vite's conventions: src/main/index.ts, src/preload/index.ts, src/renderer/index.html -> out/{main,preload,renderer}.
export default defineConfig({
  // Main process: ESM (electron-vite's default for a "type": "module" package on Electron >= 28) -> out/main/index.js,
  // plus the utility process that runs the app core (federation client, training, ledger) -> out/main/core-host.js.
  main: {
    build: {
      rolldownOptions: {
        input: { index: 'src/main/index.ts', 'core-host': 'src/main/core-host.ts' },
      },
    },
  },
  // Sandboxed preload scripts cannot be ES modules (Electron docs, "ESM in Electron"), so the preload is one CommonJS file -> out/preload/index.cjs.
  preload: {
    build: { rolldownOptions: { output: { format: 'cjs', entryFileNames: '[name].cjs' } } },
  },
  renderer: {
    plugins: [react()],
  },
});
