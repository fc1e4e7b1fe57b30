import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

/** A throwaway Redis on loopback (Debian's redis-server): for `covey sim --edges`, the tests and the scale bench. */
export interface LocalRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const READY = /ready to accept connections/i;
const START_TIMEOUT_MS = 10_000;

/** Starts `redis-server` with nothing persisted on a free loopback port (or `port`); resolves once it accepts connections. */
export async function startLocalRedis(port?: number): Promise<LocalRedis> {
  const chosen = port ?? (await freePort());
  const child = spawn('redis-server', ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`redis-server did not start within ${START_TIMEOUT_MS / 1000} s: ${output.slice(-300)}`)), START_TIMEOUT_MS);
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    child.once('error', (err: NodeJS.ErrnoException) =>
      fail(err.code === 'ENOENT' ? new Error('redis-server not found: install it (Debian: apt-get install redis-server)') : err),
    );
    const exited = (code: number | null) => fail(new Error(`redis-server exited with ${code}: ${output.slice(-300)}`));
    child.once('exit', exited);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (READY.test(output)) {
        clearTimeout(timer);
        // Only this listener: Node's own 'exit' listeners on a child must stay.
        child.removeListener('exit', exited);
        resolve();
      }
    });
  });
  child.stdout.resume();
  child.stderr.resume();
  return {
    url: `redis://127.0.0.1:${chosen}`,
    port: chosen,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
