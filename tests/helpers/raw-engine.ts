import WebSocket from 'ws';

/** Raw engine.io v4 / socket.io v5 frames over a plain WebSocket or HTTP long-polling: what an attacker can send. */

export interface RawWs {
  ws: WebSocket;
  /** Text frames received so far. */
  received: string[];
  closed: Promise<number>;
  send: (frame: string | Uint8Array) => void;
}

/** A WebSocket to the engine.io endpoint; resolves on the server's open packet. Rejects when the upgrade is refused. */
export function openRawWs(url: string, headers: Record<string, string> = {}): Promise<RawWs> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`, { headers });
  const received: string[] = [];
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.on('error', () => {});
  return new Promise((resolve, reject) => {
    ws.on('message', (data, isBinary) => {
      if (!isBinary) received.push((data as Buffer).toString()); // ws's default binaryType: one Buffer a message
      if (received.length === 1 && received[0].startsWith('0')) resolve({ ws, received, closed, send: (frame) => ws.readyState === ws.OPEN && ws.send(frame) });
    });
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('close', () => reject(new Error('closed before the open packet')));
  });
}

/** One engine.io long-polling session: GET for the handshake and for reading, POST for writing. */
export class RawPolling {
  private constructor(
    private readonly base: string,
    readonly sid: string,
  ) {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<RawPolling> {
    const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, { headers });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`handshake refused: ${res.status} ${body}`);
    const sid = (JSON.parse(body.slice(1)) as { sid: string }).sid;
    return new RawPolling(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, sid);
  }

  /** Posts one body (several packets are separated by \x1e); returns the HTTP status. */
  async post(body: string): Promise<number> {
    const res = await fetch(this.base, { method: 'POST', body, headers: { 'Content-Type': 'text/plain;charset=UTF-8' } });
    await res.text();
    return res.status;
  }

  async read(): Promise<{ status: number; body: string }> {
    const res = await fetch(this.base, { signal: AbortSignal.timeout(30_000) });
    return { status: res.status, body: await res.text() };
  }
}
