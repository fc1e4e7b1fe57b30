import { createConnection, createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';

/** A loopback TCP proxy that records every byte each way, to inspect what really crossed the wire. */
export interface WireTap {
  url: string;
  /** Raw bytes, per connection, client -> server and server -> client. */
  connections: { up: Buffer[]; down: Buffer[] }[];
  /** Cuts every open connection, as a network failure would. */
  dropConnections: () => void;
  close: () => Promise<void>;
}

export async function startWireTap(target: { host: string; port: number }): Promise<WireTap> {
  const connections: WireTap['connections'] = [];
  const open = new Set<{ destroy: () => void }>();
  const server: Server = createServer((client) => {
    const record = { up: [] as Buffer[], down: [] as Buffer[] };
    connections.push(record);
    const upstream = createConnection(target);
    const pair = { destroy: () => (client.destroy(), upstream.destroy()) };
    open.add(pair);
    client.on('close', () => open.delete(pair));
    client.on('data', (d) => {
      record.up.push(Buffer.from(d));
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      record.down.push(Buffer.from(d));
      client.write(d);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections,
    dropConnections: () => {
      for (const pair of open) pair.destroy();
      open.clear();
    },
    close: () =>
      new Promise((r) => {
        for (const pair of open) pair.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * Decodes the WebSocket frames (RFC 6455 §5.2) of one direction of a recorded connection,
 * unmasking client frames, and returns their payloads: what the peer's socket.io layer received.
 */
export function websocketPayloads(stream: Buffer): Buffer[] {
  const headerEnd = stream.indexOf('\r\n\r\n');
  if (headerEnd < 0) return [];
  let offset = headerEnd + 4;
  const payloads: Buffer[] = [];
  while (offset + 2 <= stream.length) {
    const second = stream[offset + 1];
    const masked = (second & 0x80) !== 0;
    let length = second & 0x7f;
    let cursor = offset + 2;
    if (length === 126) {
      length = stream.readUInt16BE(cursor);
      cursor += 2;
    } else if (length === 127) {
      length = Number(stream.readBigUInt64BE(cursor));
      cursor += 8;
    }
    const mask = masked ? stream.subarray(cursor, cursor + 4) : null;
    if (masked) cursor += 4;
    if (cursor + length > stream.length) break;
    const payload = Buffer.from(stream.subarray(cursor, cursor + length));
    if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
    payloads.push(payload);
    offset = cursor + length;
  }
  return payloads;
}
