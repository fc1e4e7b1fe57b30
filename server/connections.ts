import type { IncomingMessage } from 'node:http';
import type { Socket as EngineSocket } from 'engine.io';
import type { ServerConfig } from './config.js';
import type { Logger } from './logger.js';
import type { ServerMetrics } from './metrics.js';

/** Attachments one socket.io binary packet may announce: Covey's events carry at most one byte payload. */
export const MAX_ATTACHMENTS = 2;

/** Rejections logged per connection before the rest are only counted (logged once, at close). */
export const LOGGED_REJECTIONS_PER_CONNECTION = 3;

type Limits = ServerConfig['connections'];

interface Tracked {
  address: string;
  authenticated: boolean;
  /** Bytes received before admission. */
  bytes: number;
  timer: NodeJS.Timeout | null;
  logged: number;
  suppressed: number;
}

/**
 * Connection discipline for the aggregator's engine.io connections, before and after admission:
 * Origin check and caps on unauthenticated connections at the handshake (socket.io's
 * `allowRequest`), a hello deadline, a byte budget before admission, a bound on the attachments
 * a binary packet may announce (socket.io-parser buffers them until the last arrives), and
 * rejection logs sampled per connection so that log volume is not the sender's to choose.
 */
export class ConnectionGuard {
  private readonly tracked = new Map<EngineSocket, Tracked>();
  private readonly unauthenticatedByAddress = new Map<string, number>();
  private unauthenticated = 0;

  constructor(
    private readonly limits: Limits,
    private readonly log: Logger,
    private readonly metrics: ServerMetrics,
    /** Whose connection a request is, for the per-address caps: on a coordinator, an edge's verified forwarded address (cluster/edge-auth.ts). */
    private readonly addressOf: (req: IncomingMessage) => string = (req) => req.socket.remoteAddress ?? 'unknown',
  ) {}

  /** socket.io `allowRequest`: runs on every new engine.io handshake (polling or websocket). */
  readonly allowRequest = (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void): void => {
    const refusal = this.refusal(req);
    if (refusal) {
      this.metrics.messageRejected(refusal.reason);
      callback(refusal.message, false);
    } else callback(null, true);
  };

  private refusal(req: IncomingMessage): { reason: string; message: string } | null {
    const origin = req.headers.origin;
    if (origin !== undefined && !this.originAllowed(origin, req.headers.host)) {
      return { reason: 'forbidden-origin', message: 'cross-origin connections are refused' };
    }
    const address = this.addressOf(req);
    if (this.unauthenticated >= this.limits.maxUnauthenticated) {
      return { reason: 'too-many-connections', message: 'too many connections are waiting to say hello: try again later' };
    }
    if ((this.unauthenticatedByAddress.get(address) ?? 0) >= this.limits.maxUnauthenticatedPerAddress) {
      return { reason: 'too-many-connections', message: 'too many connections from this address are waiting to say hello' };
    }
    return null;
  }

  /** No Origin (the app's main process, `covey join`), the server's own, or one the operator listed. */
  private originAllowed(origin: string, host: string | undefined): boolean {
    if (this.limits.allowedOrigins.includes(origin)) return true;
    try {
      const url = new URL(origin);
      return host !== undefined && (url.protocol === 'http:' || url.protocol === 'https:') && url.host === host;
    } catch {
      return false;
    }
  }

  /** A new engine.io connection: unauthenticated until `admitted`, closed at the hello deadline. */
  track(conn: EngineSocket): void {
    const address = this.addressOf(conn.request);
    const entry: Tracked = { address, authenticated: false, bytes: 0, timer: null, logged: 0, suppressed: 0 };
    this.tracked.set(conn, entry);
    this.countUnauthenticated(address, +1);
    // A handshake that raced past allowRequest's caps is closed here.
    if (this.unauthenticated > this.limits.maxUnauthenticated || (this.unauthenticatedByAddress.get(address) ?? 0) > this.limits.maxUnauthenticatedPerAddress) {
      this.cut(conn, 'too-many-connections', 'too many unauthenticated connections');
    }
    entry.timer = setTimeout(
      () => this.cut(conn, 'hello-timeout', `no hello within ${this.limits.helloTimeoutSeconds} s`),
      this.limits.helloTimeoutSeconds * 1000,
    );
    entry.timer.unref();
    // 'packet' fires before socket.io's decoder sees the data, so an oversized or over-announced packet never reaches it.
    conn.on('packet', (packet: { type: string; data?: unknown }) => {
      if (packet.type === 'message') this.onMessage(conn, entry, packet.data);
    });
    conn.once('close', () => {
      if (entry.timer) clearTimeout(entry.timer);
      if (!entry.authenticated) this.countUnauthenticated(address, -1);
      if (entry.suppressed > 0) this.log('warn', 'messages rejected (not logged one by one)', { count: entry.suppressed, address });
      this.tracked.delete(conn);
    });
  }

  /** The connection said a valid hello: no deadline, no pre-admission budget, bytes now count in metrics. */
  admitted(conn: EngineSocket): void {
    const entry = this.tracked.get(conn);
    if (!entry || entry.authenticated) return;
    entry.authenticated = true;
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = null;
    this.countUnauthenticated(entry.address, -1);
  }

  isAdmitted(conn: EngineSocket): boolean {
    return this.tracked.get(conn)?.authenticated === true;
  }

  /** Logs a rejected message, at most LOGGED_REJECTIONS_PER_CONNECTION per connection; the rest are counted. */
  rejected(conn: EngineSocket, fields: Record<string, unknown>): void {
    const entry = this.tracked.get(conn);
    if (entry && entry.logged >= LOGGED_REJECTIONS_PER_CONNECTION) {
      entry.suppressed += 1;
      return;
    }
    if (entry) entry.logged += 1;
    this.log('warn', 'message rejected', fields);
  }

  get unauthenticatedCount(): number {
    return this.unauthenticated;
  }

  private onMessage(conn: EngineSocket, entry: Tracked, data: unknown): void {
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data instanceof ArrayBuffer || ArrayBuffer.isView(data) ? data.byteLength : 0;
    this.metrics.socketBytesIn(size);
    if (!entry.authenticated) {
      entry.bytes += size;
      if (entry.bytes > this.limits.unauthenticatedBytes) {
        return this.cut(conn, 'unauthenticated-bytes', `more than ${this.limits.unauthenticatedBytes} bytes before a hello`);
      }
    }
    const attachments = typeof data === 'string' ? announcedAttachments(data) : 0;
    if (attachments > MAX_ATTACHMENTS) this.cut(conn, 'malformed', `a packet announced ${attachments} binary attachments (at most ${MAX_ATTACHMENTS})`);
  }

  private cut(conn: EngineSocket, reason: string, message: string): void {
    // A connection stuck in 'closing' (engine.io waits for a drain that a silent polling client never gives) is closed too.
    if (conn.readyState === 'closed') return;
    this.metrics.messageRejected(reason);
    this.rejected(conn, { reason, message, address: conn.remoteAddress });
    // Discarding the write buffer closes at once, so socket.io's decoder (and any partial packet it holds) is freed now.
    conn.close(true);
  }

  private countUnauthenticated(address: string, delta: 1 | -1): void {
    this.unauthenticated += delta;
    const next = (this.unauthenticatedByAddress.get(address) ?? 0) + delta;
    if (next <= 0) this.unauthenticatedByAddress.delete(address);
    else this.unauthenticatedByAddress.set(address, next);
  }
}

/** The attachment count of a socket.io BINARY_EVENT/BINARY_ACK header (`5<n>-...`, `6<n>-...`); 0 for any other packet. */
export function announcedAttachments(packet: string): number {
  const match = /^[56](\d{1,12})-/.exec(packet);
  return match ? Number(match[1]) : 0;
}

/**
 * Wraps a socket or HTTP handler so that nothing it throws or rejects with escapes: the error is
 * logged (its message only, cut short) and the connection goes on.
 */
export function total<A extends unknown[]>(log: Logger, name: string, handler: (...args: A) => unknown): (...args: A) => void {
  const report = (err: unknown) => log('error', 'handler failed', { handler: name, error: String((err as Error)?.message ?? err).slice(0, 200) });
  return (...args: A) => {
    try {
      const result = handler(...args);
      if (result instanceof Promise) result.catch(report);
    } catch (err) {
      report(err);
    }
  };
}

/** A short, printable description of an event name as received: any type, never more than 64 characters. */
export function describeEvent(event: unknown): string {
  if (typeof event === 'string') return JSON.stringify(event.slice(0, 64));
  if (typeof event === 'number') return String(event);
  return `(${typeof event})`;
}
