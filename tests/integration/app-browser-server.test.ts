/** Browser mode's loopback server: the per-launch token, Host and Origin checks, and the API over WebSocket. */
import { request } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_UPLOAD_BYTES, startBrowserServer, type BrowserServer } from '../../src/app/browser-server.js';
import type { AppEvent } from '../../src/app/contract.js';

let dir: string;
let server: BrowserServer;
let emit: (event: AppEvent) => void = () => {};
const calls: [unknown, unknown][] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covey-browser-'));
  await mkdir(join(dir, 'renderer', 'assets'), { recursive: true });
  await writeFile(join(dir, 'renderer', 'index.html'), '<!doctype html><title>Covey</title>');
  await writeFile(join(dir, 'renderer', 'assets', 'app.js'), 'console.log(1)');
  await writeFile(join(dir, 'secret.txt'), 'not for the browser');
  server = await startBrowserServer({
    rendererDir: join(dir, 'renderer'),
    uploadDir: join(dir, 'uploads'),
    dispatch: async (method, arg) => {
      calls.push([method, arg]);
      return method === 'getState' ? { ok: true, value: { hello: 'state' } } : { ok: false, error: { code: 'invalid-argument', message: 'no' } };
    },
    subscribe: (listener) => {
      emit = listener;
      return () => {};
    },
  });
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

function get(path: string, headers: Record<string, string> = {}, method = 'GET') {
  const { port } = new URL(server.origin);
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The link's first (and only) use, and the session cookie it set. */
let swapped: ReturnType<typeof get> | null = null;
function swap() {
  swapped ??= get(`/?token=${server.token}`);
  return swapped;
}

async function cookie(): Promise<string> {
  return String((await swap()).headers['set-cookie']).split(';')[0];
}

function socket(headers: Record<string, string>, path = '/api') {
  return new WebSocket(server.origin.replace('http', 'ws') + path, { headers });
}

function refused(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => {
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(-1));
  });
}

describe('browser mode server', () => {
  it('serves nothing without the token', async () => {
    expect((await get('/')).status).toBe(403);
    expect((await get('/assets/app.js')).status).toBe(403);
    expect((await get('/?token=wrong')).status).toBe(403);
    expect((await get('/', { Cookie: `covey_token_${new URL(server.origin).port}=wrong` })).status).toBe(403);
    expect(server.url).toBe(`${server.origin}/?token=${server.token}`);
    expect(server.token.length).toBeGreaterThanOrEqual(32);
  });

  it('swaps the token in the link for an HTTP-only same-site cookie, then serves the app with a strict CSP', async () => {
    const first = await swap();
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/');
    expect(String(first.headers['set-cookie'])).toMatch(/HttpOnly; SameSite=Strict; Path=\//);
    // The cookie is a session secret of its own, not the link's token.
    expect(await cookie()).not.toContain(server.token);
    const page = await get('/', { Cookie: await cookie() });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>Covey</title>');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain(`connect-src 'self' ${server.origin.replace('http', 'ws')}`);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect((await get('/assets/app.js', { Cookie: await cookie() })).headers['content-type']).toMatch(/javascript/);
  });

  it('opens the link once: a second browser without the cookie gets 403, the first one is let in again', async () => {
    const auth = { Cookie: await cookie() };
    const again = await get(`/?token=${server.token}`);
    expect(again.status).toBe(403);
    expect(again.body).toMatch(/opened already, in another browser/);
    const sameBrowser = await get(`/?token=${server.token}`, auth);
    expect(sameBrowser.status).toBe(303);
    expect(sameBrowser.headers['set-cookie']).toBeUndefined();
    expect((await get('/', auth)).status).toBe(200);
  });

  it('takes a CSV file from its own page only, stores it in the upload folder and answers with its path', async () => {
    const post = (path: string, body: string, headers: Record<string, string>) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const { port } = new URL(server.origin);
        const req = request(
          { host: '127.0.0.1', port, path, method: 'POST', headers: { 'Content-Length': String(Buffer.byteLength(body)), ...headers } },
          (res) => {
            let text = '';
            res.setEncoding('utf8').on('data', (c) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode!, body: text }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const own = { Cookie: await cookie(), Origin: server.origin };
    const csv = 'label,a\n1,0.5\n';
    const stored = await post('/upload?name=..%2F..%2Fmy%20digits.csv', csv, own);
    expect(stored.status).toBe(200);
    const { path } = JSON.parse(stored.body) as { path: string };
    expect(path.startsWith(join(dir, 'uploads') + '/')).toBe(true);
    expect(path).toMatch(/-my_digits\.csv$/);
    expect(await readFile(path, 'utf8')).toBe(csv);
    expect((await post('/upload?name=a.csv', csv, { Origin: server.origin })).status).toBe(403);
    expect((await post('/upload?name=a.csv', csv, { ...own, Origin: 'http://evil.example' })).status).toBe(403);
    expect((await post('/upload?name=run.sh', csv, own)).status).toBe(415);
    expect((await post('/upload?name=a.csv', csv, { ...own, 'Content-Length': String(MAX_UPLOAD_BYTES + 1) })).status).toBe(413);
  });

  it('refuses another Host name (DNS rebinding), other methods, and paths outside the renderer', async () => {
    const auth = { Cookie: await cookie() };
    expect((await get('/', { ...auth, Host: `evil.example:${new URL(server.origin).port}` })).status).toBe(421);
    expect((await get('/', auth, 'POST')).status).toBe(405);
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/nope.js']) {
      const res = await get(path, auth);
      expect(res.status, path).toBe(404);
      expect(res.body).not.toContain('not for the browser');
    }
  });

  it('serves the API over a WebSocket to its own page only', async () => {
    const good = { Cookie: await cookie(), Origin: server.origin };
    expect(await refused(socket({ Origin: server.origin }))).toBe(403);
    expect(await refused(socket({ ...good, Origin: 'http://evil.example' }))).toBe(403);
    expect(await refused(socket(good, '/other'))).toBe(403);

    const ws = socket(good);
    const messages: unknown[] = [];
    ws.on('message', (data) => messages.push(JSON.parse((data as Buffer).toString()))); // ws's default binaryType: one Buffer a message
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ id: 1, method: 'getState' }));
    ws.send(JSON.stringify({ id: 2, method: 'setCap', arg: { epsilon: -1 } }));
    await new Promise((r) => setTimeout(r, 100));
    emit({ type: 'state', state: { participation: 'active' } as never });
    await new Promise((r) => setTimeout(r, 100));
    expect(messages).toEqual([
      { id: 1, result: { ok: true, value: { hello: 'state' } } },
      { id: 2, result: { ok: false, error: { code: 'invalid-argument', message: 'no' } } },
      { event: { type: 'state', state: { participation: 'active' } } },
    ]);
    expect(calls).toEqual([
      ['getState', undefined],
      ['setCap', { epsilon: -1 }],
    ]);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send('not json');
    expect(await closed).toBe(1003);
  });
});
