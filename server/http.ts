import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { ServerMetrics } from './metrics.js';
import type { FederationStatus } from './status.js';

export interface HttpHandlerOptions {
  /** The operator's view of the federation; called once per /api/status request. */
  status: () => FederationStatus | Promise<FederationStatus>;
  metrics: ServerMetrics;
  /** Secret the operator types into the dashboard; sent as `Authorization: Bearer`. At least 16 characters. */
  operatorToken: string;
  /** Require the operator token on /metrics too (scrapers then send it as a bearer token). Default false. */
  metricsRequireToken?: boolean;
}

/** `metrics.requireToken` as configured, else on whenever the server listens beyond loopback. */
export function metricsRequireToken(config: { host: string; metrics: { requireToken?: boolean } }): boolean {
  return config.metrics.requireToken ?? !isLoopbackHost(config.host);
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void;

const dashboardDir = (name: string) => fileURLToPath(new URL(`./dashboard/${name}`, import.meta.url));
const require = createRequire(import.meta.url);

/** Every file the dashboard may load, by its exact name under /dashboard/assets/. Nothing else is served from disk. */
const ASSETS: Record<string, { path: () => string; type: string }> = {
  'dashboard.js': { path: () => dashboardDir('dashboard.js'), type: 'text/javascript; charset=utf-8' },
  'dashboard.css': { path: () => dashboardDir('dashboard.css'), type: 'text/css; charset=utf-8' },
  'uPlot.iife.min.js': { path: () => require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { path: () => require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};
const PAGE = { path: () => dashboardDir('index.html'), type: 'text/html; charset=utf-8' };

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

interface Cached {
  body: Buffer;
  etag: string;
}

/**
 * The operator's HTTP side of the aggregator: Prometheus metrics, the dashboard page and its
 * assets, and the JSON status the page polls. Mount it as the request listener of the http server
 * that socket.io is attached to (socket.io answers its own /socket.io/ paths first).
 *
 *   GET /metrics                   Prometheus text (no auth unless metricsRequireToken)
 *   GET /dashboard                 the page; it holds no data, only a login prompt until a token is given
 *   GET /dashboard/assets/<name>   the page's script and styles and the chart library, from a fixed list
 *   GET /api/status                FederationStatus as JSON; needs `Authorization: Bearer <operator token>`
 */
export function createHttpHandler(opts: HttpHandlerOptions): HttpHandler {
  if (typeof opts.operatorToken !== 'string' || opts.operatorToken.length < 16) {
    throw new Error('the operator token must be at least 16 characters');
  }
  const expected = sha256(opts.operatorToken);
  const authorized = (req: IncomingMessage): boolean => {
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([\x21-\x7e]{1,512})$/i.exec(header.trim()) : null;
    // Hashing first gives equal lengths, so the comparison time does not depend on the token.
    return timingSafeEqual(sha256(match ? match[1] : ''), expected) && match !== null;
  };

  const cache = new Map<string, Cached>();
  const load = async (path: string): Promise<Cached> => {
    let hit = cache.get(path);
    if (!hit) {
      const body = await readFile(path);
      hit = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
      cache.set(path, hit);
    }
    return hit;
  };

  const serveFile = async (req: IncomingMessage, res: ServerResponse, file: { path: () => string; type: string }) => {
    const { body, etag } = await load(file.path());
    const headers = { 'Content-Type': file.type, 'Cache-Control': 'no-cache', ETag: etag };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    // The raw path, never decoded or normalised: routes and asset names are matched exactly.
    const rawUrl = req.url ?? '';
    const path = rawUrl.split('?', 1)[0];
    const route = routeOf(path);
    if (!route) return sendJson(res, 404, { error: 'not-found' });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendJson(res, 405, { error: 'method-not-allowed' });
    }
    switch (route.kind) {
      case 'metrics': {
        if (opts.metricsRequireToken && !authorized(req)) return unauthorized(res);
        const text = await opts.metrics.text();
        res.writeHead(200, { 'Content-Type': opts.metrics.contentType, 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
        return;
      }
      case 'page':
        return serveFile(req, res, PAGE);
      case 'asset':
        return serveFile(req, res, route.asset);
      case 'status': {
        if (!authorized(req)) return unauthorized(res);
        const status = await opts.status();
        return sendJson(res, 200, withoutSecrets(status), req.method === 'HEAD');
      }
    }
  };

  return (req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: 'internal', message: 'the server could not answer this request' });
      else res.destroy();
    });
  };
}

type Route = { kind: 'metrics' } | { kind: 'page' } | { kind: 'status' } | { kind: 'asset'; asset: { path: () => string; type: string } };

function routeOf(path: string): Route | null {
  if (path === '/metrics') return { kind: 'metrics' };
  if (path === '/dashboard' || path === '/dashboard/') return { kind: 'page' };
  if (path === '/api/status') return { kind: 'status' };
  const prefix = '/dashboard/assets/';
  if (path.startsWith(prefix)) {
    const name = path.slice(prefix.length);
    if (Object.hasOwn(ASSETS, name)) return { kind: 'asset', asset: ASSETS[name] };
  }
  return null;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function unauthorized(res: ServerResponse): void {
  res.setHeader('WWW-Authenticate', 'Bearer realm="covey"');
  sendJson(res, 401, { error: 'unauthorized', message: 'an operator token is required (Authorization: Bearer <token>)' });
}

function sendJson(res: ServerResponse, code: number, body: unknown, headOnly = false): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(headOnly ? undefined : text);
}

/** The status type already omits secrets; this also holds when a caller passes the whole config at run time. */
function withoutSecrets(status: FederationStatus): FederationStatus {
  const config = { ...(status.config as Record<string, unknown>) };
  delete config.inviteToken;
  delete config.operatorToken;
  return { ...status, config: config as FederationStatus['config'] };
}
