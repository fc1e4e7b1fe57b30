import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * The eval'd bootstrap of a worker thread: registers tsx when running from TypeScript sources,
 * runs `prelude`, then loads the module `<name>.ts` (or `.js` when built) beside `callerUrl`.
 * A module that fails to load is reported to the parent as `{ type: 'fatal', message }`.
 */
export function workerBootstrap(callerUrl: string, name: string, prelude = ''): string {
  const fromSource = /\.[cm]?ts$/.test(new URL(callerUrl).pathname);
  const impl = new URL(`./${name}.${fromSource ? 'ts' : 'js'}`, callerUrl).href;
  let register = '';
  if (fromSource) {
    // tsx's ESM API (the package exports it for `import` only; resolve its CommonJS twin's folder).
    const tsxApi = pathToFileURL(path.join(path.dirname(createRequire(callerUrl).resolve('tsx/esm/api')), 'index.mjs')).href;
    register = `const tsx = await import(${JSON.stringify(tsxApi)}); tsx.register();`;
  }
  return `
const { parentPort } = require('node:worker_threads');
${prelude}
(async () => { ${register} await import(${JSON.stringify(impl)}); })()
  .catch((e) => parentPort.postMessage({ type: 'fatal', message: String((e && e.stack) || e) }));
`;
}
