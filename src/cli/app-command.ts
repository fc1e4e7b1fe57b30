import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { nonNegativeInt } from './options.js';

interface AppOptions {
  browser?: boolean;
  port?: number;
  stateDir: string;
  rendererDir?: string;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** `covey app`: the desktop app, or with --browser the same screens served to a local browser. */
export function registerAppCommand(program: Command): void {
  program
    .command('app')
    .description('The participant app: the desktop window, or with --browser the same app in a local browser tab')
    .option('--browser', 'serve the app on 127.0.0.1 for a browser (headless machines, tests) instead of opening a window')
    .option('--port <port>', 'browser mode: port on 127.0.0.1 (0 = any free port)', nonNegativeInt, 0)
    .option('--state-dir <dir>', 'where this participant keeps its identity, ledger and settings', join(homedir(), '.covey'))
    .option('--renderer-dir <dir>', 'browser mode: the built renderer to serve (default: out/renderer, built on first use)')
    .action(async (opts: AppOptions) => {
      if (!opts.browser) {
        const run = spawnSync(process.execPath, [join(ROOT, 'scripts', 'start-desktop.mjs')], { stdio: 'inherit', cwd: ROOT });
        if (run.status !== 0) {
          throw new Error('the desktop window could not start here; `covey app --browser` serves the same app to a browser');
        }
        return;
      }
      const rendererDir = resolve(opts.rendererDir ?? join(ROOT, 'out', 'renderer'));
      if (!existsSync(join(rendererDir, 'index.html'))) {
        if (opts.rendererDir) throw new Error(`no built renderer in ${rendererDir} (index.html is missing)`);
        process.stdout.write('Building the app (first launch only)…\n');
        const electronVite = join(ROOT, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js');
        const build = spawnSync(process.execPath, [electronVite, 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
        if (build.status !== 0) throw new Error('building the app failed; run `npm run build` to see why');
      }
      const { AppCore } = await import('../app/core.js');
      const { createDispatcher } = await import('../app/dispatch.js');
      const { startBrowserServer } = await import('../app/browser-server.js');
      const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
      const core = await AppCore.open({ stateDir: resolve(opts.stateDir), shell: 'browser', nativeDialogs: false, version });
      const server = await startBrowserServer({
        dispatch: createDispatcher(core),
        subscribe: (listener) => {
          core.on('event', listener);
          return () => core.off('event', listener);
        },
        rendererDir,
        port: opts.port,
        // A CSV file picked in the page is stored here, beside the app's other state.
        uploadDir: join(resolve(opts.stateDir), 'uploads'),
      });
      process.stdout.write(
        [
          `Covey app (browser mode) for state folder ${resolve(opts.stateDir)}`,
          `Open: ${server.url}`,
          'The link carries a one-time token: only a browser that opens it can use the app. Ctrl-C stops.',
          '',
        ].join('\n'),
      );
      const shutdown = async () => {
        await server.close();
        await core.shutdown();
        process.exit(0);
      };
      process.once('SIGINT', () => void shutdown());
      process.once('SIGTERM', () => void shutdown());
      await new Promise(() => {});
    });
}
