import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Aggregator } from '../../server/aggregator.js';
import { parseServerConfig, type ServerConfigInput } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import { generateIdentity } from '../../src/core/crypto/index.js';
import { parseInvite } from '../../src/core/protocol/invite.js';
import { writeClientPartitions } from '../helpers/federation-data.js';
import { connectRaw, helloPayload, sendHello } from '../helpers/raw-client.js';
import { openRawWs, RawPolling } from '../helpers/raw-engine.js';

interface LogLine {
  level: string;
  event: string;
  reason?: string;
  message?: string;
  count?: number;
}

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function startServer(overrides: Partial<ServerConfigInput> = {}) {
  const { root } = await writeClientPartitions(1, 10, 1);
  cleanup.push(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
  const logs: LogLine[] = [];
  const logger = createLogger({ json: true, write: (line) => logs.push(JSON.parse(line) as LogLine) });
  const config = parseServerConfig({ federationId: 'conn', port: 0, model: 'logreg', rounds: 1, stateDir: join(root, 'server'), ...overrides });
  const server = await Aggregator.create({ config, logger });
  const url = await server.listen();
  cleanup.push(() => server.close());
  return { server, url, logs };
}

/** The server still admits a real client and answers /metrics. */
async function stillServing(url: string, server: Aggregator): Promise<void> {
  const socket = await connectRaw(url);
  const { token, fingerprintHex } = parseInvite(server.inviteCode);
  expect(await sendHello(socket, await helloPayload(socket, await generateIdentity(), fingerprintHex, token))).toMatchObject({ ok: true });
  socket.disconnect();
  expect((await fetch(`${url}/metrics`)).status).toBe(200);
}

const NO_ARGUMENT_EVENTS = ['42', '421', '42/,7', '4299999', '42[]', '42[null]', '42{}', '43', '431[1]', '4', '49', '42["hello"]', '42["hello",null,null]'];

describe('finding 1: every handler is total', () => {
  it('survives events with no arguments (and other malformed packets) over a raw WebSocket and over long-polling', async () => {
    const { server, url, logs } = await startServer();
    const ws = await openRawWs(url);
    ws.send('40');
    for (const frame of NO_ARGUMENT_EVENTS) ws.send(frame);
    const polling = await RawPolling.open(url);
    expect(await polling.post('40')).toBe(200);
    for (const frame of NO_ARGUMENT_EVENTS) await polling.post(frame);
    await polling.post(NO_ARGUMENT_EVENTS.join('\x1e'));
    await new Promise((r) => setTimeout(r, 200));
    await stillServing(url, server);
    expect(logs.filter((l) => l.level === 'error')).toEqual([]);
    ws.ws.close();
  });

  it('refuses a foreign Origin at the handshake; no Origin and the server’s own are let in', async () => {
    const { url } = await startServer();
    await expect(openRawWs(url, { Origin: 'https://evil.example' })).rejects.toThrow(/refused/);
    await expect(RawPolling.open(url, { Origin: 'https://evil.example' })).rejects.toThrow(/refused: 403/);
    await expect(RawPolling.open(url, { Origin: 'null' })).rejects.toThrow(/refused: 403/);
    const own = await openRawWs(url, { Origin: url });
    own.ws.close();
    const none = await openRawWs(url);
    none.ws.close();
  });

  it('sizes engine.io’s buffer from the federation’s frame size', async () => {
    const { url } = await startServer();
    const ws = await openRawWs(url);
    const open = JSON.parse(ws.received[0].slice(1)) as { maxPayload: number };
    // logreg on MNIST: 7,850 weights, one sealed frame of ~31 kB plus 64 kB of headroom.
    expect(open.maxPayload).toBeGreaterThan(7850 * 4);
    expect(open.maxPayload).toBeLessThan(7850 * 4 + 100 * 1024);
    ws.ws.close();
  });
});

describe('finding 3: connection discipline', () => {
  it('closes every idle unauthenticated connection at the hello deadline (500 sockets)', async () => {
    const { server, url } = await startServer({ connections: { helloTimeoutSeconds: 1, maxUnauthenticated: 1000, maxUnauthenticatedPerAddress: 1000 } });
    const sockets = [];
    for (let i = 0; i < 500; i++) sockets.push(await openRawWs(url));
    const started = Date.now();
    await Promise.all(sockets.map((s) => s.closed));
    // Closed by the deadline (1 s), not by engine.io's ping timeout (45 s).
    expect(Date.now() - started).toBeLessThan(15_000);
    await stillServing(url, server);
  }, 60_000);

  it('releases at the hello deadline a polling session that socket.io left closing (its buffer never drained)', async () => {
    const { url } = await startServer({ connections: { helloTimeoutSeconds: 1, maxUnauthenticatedPerAddress: 3, maxUnauthenticated: 10 } });
    for (let i = 0; i < 3; i++) {
      const session = await RawPolling.open(url);
      await session.post('40');
      // A packet socket.io cannot parse: it closes the connection gently, waiting for a GET that never comes.
      await session.post('4x');
    }
    await expect(openRawWs(url)).rejects.toThrow(/refused/);
    await new Promise((r) => setTimeout(r, 2500));
    const after = await openRawWs(url);
    after.ws.close();
  });

  it('caps unauthenticated connections per address and in total', async () => {
    const { url } = await startServer({ connections: { maxUnauthenticatedPerAddress: 3, maxUnauthenticated: 10 } });
    const held = [await openRawWs(url), await openRawWs(url), await openRawWs(url)];
    await expect(openRawWs(url)).rejects.toThrow(/refused/);
    await expect(RawPolling.open(url)).rejects.toThrow(/refused: 403/);
    held[0].ws.close();
    await held[0].closed;
    await new Promise((r) => setTimeout(r, 100));
    const again = await openRawWs(url);
    again.ws.close();
    held.slice(1).forEach((s) => s.ws.close());
  });

  it('cuts a connection that announces too many attachments, or sends more than its pre-admission budget', async () => {
    const { server, url } = await startServer();
    const pinning = await openRawWs(url);
    pinning.send('40');
    pinning.send('4510-["update",{"_placeholder":true,"num":0}]');
    pinning.send(new Uint8Array(1000));
    expect(await pinning.closed).toBeGreaterThan(0);
    const big = await openRawWs(url);
    big.send('40');
    big.send('451-["update",{},{"_placeholder":true,"num":0}]');
    big.send(new Uint8Array(70 * 1024 - 100));
    await big.closed;
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/covey_rejected_messages_total\{reason="unauthenticated-bytes"\} 1/);
    expect(metrics).toMatch(/covey_rejected_messages_total\{reason="malformed"\} [1-9]/);
    await stillServing(url, server);
  });

  it('counts no stranger’s bytes and logs at most a few rejections per connection', async () => {
    const { server, url, logs } = await startServer({ rateLimit: { burst: 1000, perSecond: 1000 } });
    const stranger = await connectRaw(url);
    for (let i = 0; i < 50; i++) stranger.emit('no-such-event', i);
    for (let i = 0; i < 20; i++) stranger.emit('update', { federationId: 'conn', round: 1, attemptId: 'a', clientId: 'c-1' }, new Uint8Array(1000));
    await stranger.timeout(5000).emitWithAck('update', 'x', 'y');
    stranger.disconnect();
    await new Promise((r) => setTimeout(r, 200));
    const rejected = logs.filter((l) => l.event === 'message rejected' || l.event === 'update rejected');
    expect(rejected.length).toBeLessThanOrEqual(3);
    expect(logs.find((l) => /not logged one by one/.test(l.event))?.count).toBe(71 - rejected.length);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/covey_bytes_received_total 0\b/);
    await stillServing(url, server);
  });
});
