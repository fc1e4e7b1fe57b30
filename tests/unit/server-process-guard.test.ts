import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPT = `
import { selectBackend } from ${JSON.stringify(resolve('src/core/train/index.ts'))};
import { keepAliveOnEscapedErrors } from ${JSON.stringify(resolve('server/process-guard.ts'))};
const backend = await selectBackend('wasm');
// The wasm backend (Emscripten) has installed process listeners that rethrow: the guard replaces them.
keepAliveOnEscapedErrors((level, event, fields) => console.log(JSON.stringify({ level, message: event, ...fields })));
setTimeout(() => { throw new Error('thrown in a timer'); }, 10);
setTimeout(() => void Promise.reject(new Error('rejected, never handled')), 20);
setTimeout(() => { console.log('alive on ' + backend.name); process.exit(0); }, 300);
`;

describe('finding 1: an error that escapes every handler does not end `covey server`', () => {
  it('logs an uncaught exception and an unhandled rejection and goes on, even with the wasm backend loaded', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(out).toMatch(/alive on wasm/);
    expect(code, out).toBe(0);
    expect(out).toMatch(/"message":"error escaped a handler; the server goes on".*thrown in a timer/);
    expect(out).toMatch(/"message":"error escaped a handler; the server goes on".*rejected, never handled/);
  });
});
