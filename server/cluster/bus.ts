import { Redis } from 'ioredis';
import { z } from 'zod';
import { RoundStartSchema } from '../../src/core/protocol/messages.js';
import type { Logger } from '../logger.js';

/**
 * What the coordinator and its edges share through Redis (keys and channels under `covey:<federationId>:`):
 * - `attempt` (key and channel): the open plain attempt an edge accepts updates for, and its close;
 * - `edge:<id>` (key, EDGE_TTL_SECONDS): an edge is alive while it keeps refreshing it;
 * - `partial:<attemptId>:<edgeId>` (key): an edge's partial sum of one attempt, read once by the coordinator;
 * - `frame:<attemptId>` (key): the attempt's global weights, which edges attach to its round start (frames.ts).
 * The coordinator stays the only writer of durable state (its database); nothing here outlives a round.
 */
export const EDGE_TTL_SECONDS = 3;
const HEARTBEAT_MS = 1000;
const PARTIAL_TTL_SECONDS = 600;

/** What an edge needs to accept a member's update for an attempt: the cohort's keys and the round's bounds. */
export const AttemptInfoSchema = z
  .object({
    round: z.number().int().min(1),
    attemptId: z.string().min(1).max(64),
    deadline: z.number(),
    /** The signed round start the cohort received. */
    start: RoundStartSchema,
    policy: z.object({ maxWeight: z.number().positive().nullable(), normBound: z.number().positive().nullable() }).strict(),
    /** Each cohort member's box public key (base64url). */
    cohort: z.array(z.object({ clientId: z.string(), boxPublicKey: z.string() }).strict()),
  })
  .strict();
export type AttemptInfo = z.infer<typeof AttemptInfoSchema>;

const AttemptMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('open'), info: AttemptInfoSchema }).strict(),
  z.object({ type: z.literal('close'), attemptId: z.string() }).strict(),
]);
export type AttemptMessage = z.infer<typeof AttemptMessageSchema>;

/** One edge's contribution to an attempt: the float64 sum of its members' weighted, bounded updates. */
export interface Partial {
  edgeId: string;
  attemptId: string;
  /** The members whose updates are in `sum`, each once. */
  survivors: string[];
  totalWeight: number;
  sum: Float64Array;
}

const PartialHeaderSchema = z
  .object({
    edgeId: z.string(),
    attemptId: z.string(),
    survivors: z.array(z.string()),
    totalWeight: z.number().finite().min(0),
    length: z.number().int().min(0),
  })
  .strict();

/** [4-byte little-endian header length][JSON header][float64 sum, little-endian]. */
export function encodePartial(partial: Partial): Buffer {
  const { sum, ...rest } = partial;
  const header = Buffer.from(JSON.stringify({ ...rest, length: sum.length }), 'utf8');
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32LE(header.length);
  return Buffer.concat([prefix, header, Buffer.from(sum.buffer, sum.byteOffset, sum.byteLength)]);
}

/** The partial in `bytes`, or why it cannot be read. */
export function decodePartial(bytes: Buffer): Partial | Error {
  if (bytes.length < 4) return new Error('partial too short');
  const headerLength = bytes.readUInt32LE(0);
  if (4 + headerLength > bytes.length) return new Error('partial header overruns the payload');
  let json: unknown;
  try {
    json = JSON.parse(bytes.subarray(4, 4 + headerLength).toString('utf8'));
  } catch {
    return new Error('partial header is not JSON');
  }
  const header = PartialHeaderSchema.safeParse(json);
  if (!header.success) return new Error(`partial header: ${header.error.issues[0]?.message}`);
  const body = bytes.subarray(4 + headerLength);
  if (body.length !== header.data.length * 8) return new Error(`partial sum has ${body.length} bytes, expected ${header.data.length * 8}`);
  // Copied: the Buffer's offset need not be 8-byte aligned.
  const sum = new Float64Array(header.data.length);
  Buffer.from(sum.buffer).set(body);
  const { length: _length, ...rest } = header.data;
  return { ...rest, sum };
}

/** JSON read from Redis, or null when it is not JSON (the schema then refuses it). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** The coordinator's and the edges' connections to Redis: one for commands, one subscribed to the attempt channel. */
export class ClusterBus {
  private readonly prefix: string;
  private subscriber: Redis | null = null;
  private heartbeat: NodeJS.Timeout | null = null;

  private constructor(
    private readonly redis: Redis,
    private readonly url: string,
    federationId: string,
    private readonly log: Logger,
  ) {
    this.prefix = `covey:${federationId}:`;
  }

  /** Connects (and waits for Redis to answer); ioredis reconnects on its own after a Redis restart. */
  static async connect(url: string, federationId: string, log: Logger): Promise<ClusterBus> {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: null });
    redis.on('error', (err: Error) => log('warn', 'redis', { error: err.message }));
    try {
      await redis.connect();
    } catch (err) {
      redis.disconnect();
      throw new Error(`cannot reach Redis at ${url}: ${(err as Error).message}`, { cause: err });
    }
    return new ClusterBus(redis, url, federationId, log);
  }

  private key(name: string): string {
    return this.prefix + name;
  }

  /** Coordinator: the attempt edges accept updates for, stored (for an edge that starts later) and announced. */
  async openAttempt(info: AttemptInfo): Promise<void> {
    const message = JSON.stringify({ type: 'open', info } satisfies AttemptMessage);
    await this.redis.set(this.key('attempt'), JSON.stringify(info), 'EX', PARTIAL_TTL_SECONDS);
    await this.redis.publish(this.key('attempt'), message);
  }

  /** Coordinator: the attempt takes no more updates; each edge that holds some hands in its partial. */
  async closeAttempt(attemptId: string): Promise<void> {
    await this.redis.del(this.key('attempt'));
    await this.redis.publish(this.key('attempt'), JSON.stringify({ type: 'close', attemptId } satisfies AttemptMessage));
  }

  /** Edge: the attempt open now, if any. */
  async currentAttempt(): Promise<AttemptInfo | null> {
    const raw = await this.redis.get(this.key('attempt'));
    if (raw === null) return null;
    const parsed = AttemptInfoSchema.safeParse(parseJson(raw));
    return parsed.success ? parsed.data : null;
  }

  /** Edge: every open and close, as they are announced (a malformed message is logged and dropped). */
  async onAttempt(handler: (message: AttemptMessage) => void): Promise<void> {
    const channel = this.key('attempt');
    this.subscriber = new Redis(this.url, { maxRetriesPerRequest: null });
    this.subscriber.on('error', (err: Error) => this.log('warn', 'redis', { error: err.message }));
    this.subscriber.on('message', (from: string, text: string) => {
      if (from !== channel) return;
      const parsed = AttemptMessageSchema.safeParse(parseJson(text));
      if (!parsed.success) return this.log('warn', 'malformed attempt message on the cluster bus', { channel });
      handler(parsed.data);
    });
    await this.subscriber.subscribe(channel);
  }

  /** Edge: says it is alive now and every second after, until close. */
  async keepAlive(edgeId: string): Promise<void> {
    const beat = () => this.redis.set(this.key(`edge:${edgeId}`), String(Date.now()), 'EX', EDGE_TTL_SECONDS);
    await beat();
    this.heartbeat = setInterval(() => void beat().catch(() => undefined), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  async edgeAlive(edgeId: string): Promise<boolean> {
    return (await this.redis.exists(this.key(`edge:${edgeId}`))) === 1;
  }

  /** Edge: its partial of an attempt, for the coordinator to take. */
  async putPartial(partial: Partial): Promise<void> {
    await this.redis.set(this.key(`partial:${partial.attemptId}:${partial.edgeId}`), encodePartial(partial), 'EX', PARTIAL_TTL_SECONDS);
  }

  /** Coordinator: an attempt's global weights frame, for the edges to hand their members (frames.ts). */
  async putFrame(attemptId: string, frame: Uint8Array): Promise<void> {
    await this.redis.set(this.key(`frame:${attemptId}`), Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength), 'EX', PARTIAL_TTL_SECONDS);
  }

  /** Edge: an attempt's global weights frame, or null when there is none (expired, or lost with a Redis restart). */
  async frame(attemptId: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.key(`frame:${attemptId}`));
  }

  /** Coordinator: an edge's partial of an attempt and its size, once it is there (taken: a second read finds nothing). */
  async takePartial(attemptId: string, edgeId: string): Promise<{ partial: Partial | Error; bytes: number } | null> {
    const bytes = await this.redis.getdelBuffer(this.key(`partial:${attemptId}:${edgeId}`));
    return bytes === null ? null : { partial: decodePartial(bytes), bytes: bytes.length };
  }

  /** Drops both connections at once (a pending command fails rather than waiting for a Redis that is gone). */
  close(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.subscriber?.disconnect();
    this.redis.disconnect();
  }
}
