import { checkpointDir, readCheckpointSha256 } from './checkpoints.js';
import type { FederationDb } from './db.js';

export class CheckpointIntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointIntegrityError';
  }
}

/**
 * Checks round `round`'s checkpoint against the SHA-256 recorded in the database when it was
 * committed; throws a CheckpointIntegrityError naming the folder when it does not match (or is
 * missing). A checkpoint written before digests existed (schema version 1) has its digest recorded
 * now and `onUndigested` says so: from then on it is verified like the others.
 */
export async function verifyCheckpoint(db: FederationDb, stateDir: string, round: number, onUndigested: (message: string) => void): Promise<void> {
  const dir = checkpointDir(stateDir, round);
  const found = await readCheckpointSha256(dir).catch((err: Error) => {
    throw new CheckpointIntegrityError(`cannot read checkpoint ${dir}: ${err.message}`);
  });
  const recorded = db.checkpointSha256(round);
  if (recorded === null) {
    if (round > db.undigestedThrough()) throw new CheckpointIntegrityError(`no SHA-256 digest is recorded for checkpoint ${dir} in ${db.path}`);
    db.recordUndigestedCheckpoint(round, found);
    onUndigested(`checkpoint ${dir} predates checkpoint digests: its SHA-256 ${found} is recorded now and trusted as found`);
    return;
  }
  if (found !== recorded) {
    throw new CheckpointIntegrityError(
      `checkpoint ${dir} does not match the SHA-256 recorded in ${db.path} when round ${round} was committed ` +
        `(recorded ${recorded}, found ${found}): it was changed since; restore it from a backup`,
    );
  }
}
