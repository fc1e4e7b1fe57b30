import WebSocket from 'ws';
import { generateIdentity, getSodium, sign } from '../../src/core/crypto/index.js';
import { clientHelloMessage, type UnsignedHello } from '../../src/core/protocol/auth.js';
import { PROTOCOL_VERSION } from '../../src/core/protocol/messages.js';

/**
 * A protocol fuzzer for the aggregator, as a stranger on the network sees it: mutated engine.io /
 * socket.io frames over raw WebSockets and long-polling, unauthenticated events of every shape,
 * truncated and bit-flipped binary events, replayed hellos and garbage acknowledgements. Seeded,
 * so that a failure can be replayed.
 */

export interface FuzzStats {
  sent: number;
  connections: number;
  refusedConnections: number;
  byKind: Record<string, number>;
}

/** xorshift32: reproducible test input, nothing secret. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

type Frame = string | Uint8Array;

const EVENT_NAMES = [
  'hello',
  'update',
  'decline',
  'secagg',
  'challenge',
  'round:start',
  'round:result',
  'federation:done',
  'connect',
  'disconnect',
  '__proto__',
  'constructor',
  '',
  'x'.repeat(300),
];
const PREFIXES = [
  '0',
  '1',
  '2',
  '3',
  '4',
  '5',
  '6',
  '40',
  '41',
  '42',
  '43',
  '44',
  '45',
  '46',
  '451-',
  '461-',
  '4510-',
  '42/',
  '42/,',
  '4299999',
  '42/,7',
  '421',
  '4',
  '49',
  '4-1',
  '45a-',
  '459999999999-',
];

export class Fuzzer {
  private readonly random: () => number;
  private recordedHello: string | null = null;
  readonly stats: FuzzStats = { sent: 0, connections: 0, refusedConnections: 0, byKind: {} };

  constructor(
    private readonly url: string,
    private readonly serverFingerprint: string,
    seed: number,
  ) {
    this.random = rng(seed);
  }

  private int(n: number): number {
    return Math.floor(this.random() * n);
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  private bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  private value(depth = 0): unknown {
    switch (this.int(depth > 2 ? 6 : 9)) {
      case 0:
        return null;
      case 1:
        return this.pick([0, -1, 1e308, -1e308, 4294967295, 2 ** 53 + 1, 0.5, Number.MAX_SAFE_INTEGER]);
      case 2:
        return this.pick(['', 'c-0011223344556677', 'a'.repeat(this.int(5000)), '\u0000', '💥', '{"_placeholder":true,"num":0}']);
      case 3:
        return this.int(2) === 0;
      case 4:
        return { _placeholder: true, num: this.pick([0, 1, 7, -1, 99, 'x']) };
      case 5:
        return { federationId: 'fuzz', round: this.pick([0, 1, 2, -1, 1e9]), attemptId: 'ab', clientId: 'c-' + '0'.repeat(16) };
      case 6:
        return Array.from({ length: this.int(4) }, () => this.value(depth + 1));
      case 7:
        return Object.fromEntries(
          Array.from({ length: this.int(4) }, (_, i) => [
            this.pick(['protocolVersion', 'token', 'signPublicKey', 'numExamples', 'round', `k${i}`]),
            this.value(depth + 1),
          ]),
        );
      default:
        return this.pick([PROTOCOL_VERSION, 'AAAA', 'not base64!!', -0]);
    }
  }

  /** One mutated frame of a random kind, plus that kind's name. */
  private frame(): { kind: string; frames: Frame[] } {
    switch (this.int(8)) {
      case 0: {
        // Known prefixes with nothing or junk after them: events with no arguments, bad ids, bad namespaces.
        const tail = this.pick(['', '[]', '[', ']', '{}', '"x"', '[null]', JSON.stringify([this.value()]), String(this.int(1e6))]);
        return { kind: 'raw-prefix', frames: [this.pick(PREFIXES) + tail] };
      }
      case 1: {
        const args = Array.from({ length: this.int(4) }, () => this.value());
        const id = this.int(3) === 0 ? String(this.int(1e6)) : '';
        return { kind: 'event', frames: [`42${id}${JSON.stringify([this.pick(EVENT_NAMES), ...args])}`] };
      }
      case 2: {
        // Binary event: announced attachments vs. those that arrive, truncated or bit-flipped.
        const announced = this.pick([1, 2, 3, 10]);
        const header = `45${announced}-${JSON.stringify(['update', this.value(), { _placeholder: true, num: 0 }])}`;
        const sent = this.int(announced + 1);
        const frames: Frame[] = [header];
        for (let i = 0; i < sent; i++) frames.push(this.bytes(this.int(2048)));
        return { kind: 'binary-event', frames };
      }
      case 3: {
        // A well-formed binary header, then flipped bits in it.
        const header = Buffer.from(`451-["update",{"federationId":"fuzz","round":1,"attemptId":"a","clientId":"c-1"},{"_placeholder":true,"num":0}]`);
        for (let i = 0; i < 1 + this.int(4); i++) header[this.int(header.length)] ^= 1 << this.int(8);
        return { kind: 'bit-flipped', frames: [header.toString('latin1'), this.bytes(this.int(512))] };
      }
      case 4:
        return { kind: 'garbage-ack', frames: [this.pick(['43', '431', '4399', '46', '461-', '431[', '43' + this.int(100)]) + JSON.stringify([this.value()])] };
      case 5:
        return { kind: 'replayed-hello', frames: [this.recordedHello ?? '42["hello",{}]'] };
      case 6:
        return {
          kind: 'random-bytes',
          frames: [this.int(2) === 0 ? this.bytes(1 + this.int(4096)) : Buffer.from(this.bytes(1 + this.int(256))).toString('latin1')],
        };
      default: {
        const s = JSON.stringify([this.pick(EVENT_NAMES), this.value(), this.value()]);
        return { kind: 'truncated', frames: ['42' + s.slice(0, this.int(s.length))] };
      }
    }
  }

  /** A hello signed for a connection's nonce, sent later on other connections: always a replay there. */
  async recordHello(): Promise<void> {
    const sodium = await getSodium();
    const identity = await generateIdentity();
    const unsigned: UnsignedHello = {
      protocolVersion: PROTOCOL_VERSION,
      token: 'A'.repeat(43),
      signPublicKey: sodium.to_base64(identity.signPublicKey),
      boxPublicKey: sodium.to_base64(identity.boxPublicKey),
      challenge: sodium.to_base64(sodium.randombytes_buf(32)),
      numExamples: 100,
    };
    const signature = await sign(identity, await clientHelloMessage(sodium.randombytes_buf(32), this.serverFingerprint, unsigned));
    this.recordedHello = `421${JSON.stringify(['hello', { ...unsigned, signature: sodium.to_base64(signature) }])}`;
  }

  private count(kind: string, n: number): void {
    this.stats.sent += n;
    this.stats.byKind[kind] = (this.stats.byKind[kind] ?? 0) + n;
  }

  /** One WebSocket connection: `40` (most of the time), then up to `perConnection` mutated messages, until the server cuts it. */
  private async wsConnection(perConnection: number, budget: () => number): Promise<void> {
    const ws = new WebSocket(`${this.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
    ws.on('error', () => {});
    this.stats.connections += 1;
    const opened = await new Promise<boolean>((resolve) => {
      ws.once('open', () => resolve(true));
      ws.once('unexpected-response', () => resolve(false));
      ws.once('close', () => resolve(false));
    });
    if (!opened) return this.refused();
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    if (this.int(10) > 0) ws.send('40');
    for (let i = 0; i < perConnection && budget() > 0 && ws.readyState === ws.OPEN; i++) {
      const { kind, frames } = this.frame();
      for (const f of frames) ws.send(f);
      this.count(kind, 1);
      // Let the socket's buffer drain now and then, so that the server reads what was sent.
      if (i % 8 === 7) await new Promise((r) => setImmediate(r));
    }
    ws.close();
    await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
    ws.terminate();
  }

  /** One long-polling session: a handshake, then bodies of several record-separated frames. */
  private async pollingSession(perConnection: number, budget: () => number): Promise<void> {
    this.stats.connections += 1;
    const base = `${this.url}/socket.io/?EIO=4&transport=polling`;
    let sid: string;
    try {
      const res = await fetch(base, { signal: AbortSignal.timeout(10_000) });
      const body = await res.text();
      if (res.status !== 200) return this.refused();
      sid = (JSON.parse(body.slice(1)) as { sid: string }).sid;
    } catch {
      return this.refused();
    }
    const post = (body: string) =>
      fetch(`${base}&sid=${sid}`, { method: 'POST', body, signal: AbortSignal.timeout(10_000) })
        .then((r) => r.text().then(() => r.status))
        .catch(() => 0);
    await post('40');
    for (let i = 0; i < perConnection && budget() > 0; i++) {
      const batch: string[] = [];
      for (let j = 0; j < 1 + this.int(5); j++) {
        const { frames } = this.frame();
        // Polling carries text; binary frames travel base64-encoded with a 'b' prefix.
        batch.push(...frames.map((f) => (typeof f === 'string' ? f : 'b' + Buffer.from(f).toString('base64'))));
      }
      this.count('polling', batch.length);
      if ((await post(batch.join('\x1e'))) !== 200) return;
    }
    // engine.io's close packet: the session ends now rather than at the hello deadline.
    await post('1');
  }

  /** A refused handshake (a cap is full): back off a little instead of spinning on refusals. */
  private async refused(): Promise<void> {
    this.stats.refusedConnections += 1;
    await new Promise((r) => setTimeout(r, 100));
  }

  /** Sends `total` messages over `concurrency` connections at a time (one in five a polling session). */
  async run(opts: { total: number; concurrency: number; perConnection?: number; stop?: () => boolean }): Promise<FuzzStats> {
    await this.recordHello();
    const perConnection = opts.perConnection ?? 20;
    const budget = () => (opts.stop?.() ? 0 : opts.total - this.stats.sent);
    const worker = async () => {
      while (budget() > 0) {
        if (this.int(5) === 0) await this.pollingSession(perConnection / 4, budget);
        else await this.wsConnection(perConnection, budget);
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
    return this.stats;
  }
}

/** Resident set size of a process, from /proc (Linux), in MB. */
export async function rssMb(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}
