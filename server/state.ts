import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { RoundResultSchema } from '../src/core/protocol/messages.js';
import { decodeFrame, encodeFrame } from '../src/core/protocol/frame.js';

/** What the server keeps on disk to restart at the last completed round. */
export const ServerStateSchema = z.object({
  federationId: z.string(),
  /** Last round whose model was aggregated and checkpointed (0 = initial weights). */
  completedRound: z.number().int().min(0),
  /** Privacy accounting: one record per released aggregate. */
  accountant: z.array(z.object({ noiseMultiplier: z.number(), samplingRate: z.number() })),
  results: z.array(RoundResultSchema),
});
export type ServerState = z.infer<typeof ServerStateSchema>;

/** Writes a file so that a crash leaves either the old or the new content, never a torn one. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

export class StateStore {
  constructor(readonly dir: string) {}

  private checkpointPath(round: number): string {
    return join(this.dir, 'checkpoints', `round-${round}.bin`);
  }

  async load(): Promise<ServerState | null> {
    let text: string;
    try {
      text = await readFile(join(this.dir, 'state.json'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    return ServerStateSchema.parse(JSON.parse(text));
  }

  async loadCheckpoint(round: number, length: number): Promise<Float32Array> {
    const bytes = await readFile(this.checkpointPath(round));
    return decodeFrame(bytes, { kind: 'global', length, round }).values;
  }

  /** Checkpoint first, then the state that points at it: a crash in between leaves the old state valid. */
  async commit(state: ServerState, weights: Float32Array): Promise<void> {
    await mkdir(join(this.dir, 'checkpoints'), { recursive: true });
    const frame = encodeFrame({ kind: 'global', round: state.completedRound, numExamples: 0, values: weights });
    await writeFileAtomic(this.checkpointPath(state.completedRound), frame);
    await writeFileAtomic(join(this.dir, 'state.json'), JSON.stringify(state, null, 2));
  }
}
