/**
 * Browser mode: serves the built renderer on 127.0.0.1 and implements `CoveyApi` over a loopback
 * WebSocket to the app core. Guarded by a random token made per launch: the printed URL carries
 * it, and its first use swaps it for a same-site, HTTP-only session cookie (another random
 * secret); the link then works only in the browser holding that cookie, and every request and
 * the WebSocket without the cookie are refused. The Host and Origin headers must name this server, so that
 * another web page (or a DNS-rebinding name) cannot drive the app.
 */
import { timingSafeEqual, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AppEvent } from './contract.js';
import type { Dispatch } from './dispatch.js';

export interface BrowserServerOptions {
  dispatch: Dispatch;
  /** Subscribes to app events; returns the unsubscribe function. */
  subscribe: (listener: (event: AppEvent) => void) => () => void;
  /** The built renderer (index.html and assets/). */
  rendererDir: string;
  port?: number;
  /** Fixed token (tests); random otherwise. */
  token?: string;
  /** Where a CSV file chosen in the page is stored (POST /upload), on this machine; no upload without it. */
  uploadDir?: string;
}

export interface BrowserServer {
  /** The address to open, with the token. */
  url: string;
  origin: string;
  token: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

const MAX_MESSAGE_BYTES = 1 << 20;
/** The largest CSV file the page may hand over (POST /upload). */
export const MAX_UPLOAD_BYTES = 512 * 1024 * 1024;

/** A file name safe to store: its last path part, other characters than letters, digits, '.', '-', '_' replaced. */
function safeName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  return (
    base
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .replace(/^\.+/, '')
      .slice(-100) || 'data.csv'
  );
}

/**
 * Stores the request body (a CSV file the person picked in the page) in `dir` under a fresh name:
 * the browser's file picker is how browser mode reads a file; it goes no further than this machine.
 */
async function storeUpload(req: IncomingMessage, dir: string, name: string): Promise<{ path: string } | 'too-large'> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${randomBytes(6).toString('hex')}-${name}`);
  let bytes = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      done(bytes > MAX_UPLOAD_BYTES ? new RangeError('too large') : null, chunk);
    },
  });
  try {
    await pipeline(req, limit, createWriteStream(path, { mode: 0o600 }));
    return { path };
  } catch (err) {
    await rm(path, { force: true });
    if (err instanceof RangeError) return 'too-large';
    throw err;
  }
}

export function contentSecurityPolicy(origin: string): string {
  const ws = origin.replace(/^http/, 'ws');
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self' ${ws}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function sameToken(given: string | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

export async function startBrowserServer(options: BrowserServerOptions): Promise<BrowserServer> {
  const token = options.token ?? randomBytes(24).toString('base64url');
  // The cookie's secret is not the link's: a copy of the link is useless once it has been opened.
  const session = randomBytes(24).toString('base64url');
  let linkUsed = false;
  const rendererDir = normalize(options.rendererDir);
  let origin = '';
  let cookieName = '';
  const allowedHosts = new Set<string>();

  const refuse = (res: ServerResponse, status: number, text: string) => {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' }).end(text + '\n');
  };

  const server = createServer((req, res) => {
    void (async () => {
      if (!allowedHosts.has(req.headers.host ?? '')) return refuse(res, 421, 'Wrong host.');
      const url = new URL(req.url ?? '/', origin);
      const viaQuery = url.searchParams.get('token') ?? undefined;
      const hasSession = sameToken(cookie(req, cookieName), session);
      if (req.method === 'POST' && url.pathname === '/upload' && options.uploadDir) {
        // A refused upload's body is never read: the connection closes after the answer.
        res.setHeader('Connection', 'close');
        if (!hasSession || req.headers.origin !== origin) return refuse(res, 403, 'Only this app page can hand over a file.');
        const name = safeName(url.searchParams.get('name') ?? '');
        if (!/\.csv$/i.test(name)) return refuse(res, 415, 'Only a .csv file can be chosen here; for a folder of IDX files, type its path.');
        if (Number(req.headers['content-length'] ?? 0) > MAX_UPLOAD_BYTES)
          return refuse(res, 413, `The file is larger than ${MAX_UPLOAD_BYTES / 2 ** 20} MiB.`);
        const stored = await storeUpload(req, options.uploadDir, name);
        if (stored === 'too-large') return refuse(res, 413, `The file is larger than ${MAX_UPLOAD_BYTES / 2 ** 20} MiB.`);
        res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        return res.end(JSON.stringify(stored));
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'Method not allowed.');
      if (viaQuery !== undefined && (hasSession || (!linkUsed && sameToken(viaQuery, token)))) {
        // The first use swaps the token in the address for a session cookie, so it leaves the address bar and history.
        const first = !hasSession;
        linkUsed = true;
        res.writeHead(303, {
          Location: '/',
          ...(first && { 'Set-Cookie': `${cookieName}=${session}; HttpOnly; SameSite=Strict; Path=/` }),
          'Cache-Control': 'no-store',
          'Referrer-Policy': 'no-referrer',
        });
        return res.end();
      }
      if (viaQuery !== undefined && linkUsed && sameToken(viaQuery, token)) {
        return refuse(res, 403, 'This link has been opened already, in another browser: it works once. Run `covey app --browser` again for a new link.');
      }
      if (!hasSession) {
        return refuse(res, 403, 'This Covey app page needs the link printed by `covey app --browser` (it carries a one-time token).');
      }
      const relative = url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname).replace(/^\/+/, '');
      const file = normalize(join(rendererDir, relative));
      if (!file.startsWith(rendererDir + sep)) return refuse(res, 404, 'Not found.');
      let body: Buffer;
      try {
        body = await readFile(file);
      } catch {
        return refuse(res, 404, 'Not found.');
      }
      res.writeHead(200, {
        'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
        'Content-Security-Policy': contentSecurityPolicy(origin),
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
        'X-Frame-Options': 'DENY',
        'Cache-Control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    })().catch(() => refuse(res, 500, 'Internal error.'));
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  const clients = new Set<WebSocket>();
  const unsubscribe = options.subscribe((event) => {
    const text = JSON.stringify({ event });
    for (const ws of clients) ws.send(text);
  });

  server.on('upgrade', (req, socket, head) => {
    const ok =
      allowedHosts.has(req.headers.host ?? '') &&
      req.headers.origin === origin &&
      new URL(req.url ?? '/', origin).pathname === '/api' &&
      sameToken(cookie(req, cookieName), session);
    if (!ok) {
      socket.write('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      clients.add(ws);
      ws.on('close', () => clients.delete(ws));
      ws.on('message', (data) => {
        let message: { id?: unknown; method?: unknown; arg?: unknown };
        try {
          const text = Array.isArray(data) ? Buffer.concat(data).toString() : data instanceof ArrayBuffer ? Buffer.from(data).toString() : data.toString();
          message = JSON.parse(text) as typeof message;
        } catch {
          return ws.close(1003, 'not JSON');
        }
        if (typeof message !== 'object' || message === null || typeof message.id !== 'number') return ws.close(1003, 'no id');
        const { id } = message;
        void options.dispatch(message.method, message.arg).then((result) => {
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ id, result }));
        });
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  cookieName = `covey_token_${port}`;
  allowedHosts.add(`127.0.0.1:${port}`);
  return {
    url: `${origin}/?token=${token}`,
    origin,
    token,
    async close() {
      unsubscribe();
      for (const ws of clients) ws.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
