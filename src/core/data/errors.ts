/**
 * A user's data could not be used: unreadable, malformed or inconsistent. `path` names the file or
 * folder at fault; `message` starts with it and says what is wrong, so the CLI can print it as is.
 */
export class DataError extends Error {
  override readonly name = 'DataError';
  readonly path: string;
  /** The reason alone, without the path prefix. */
  readonly reason: string;

  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super(`${path}: ${reason}`, options);
    this.path = path;
    this.reason = reason;
  }
}

/** Why a file system call failed, in words (ENOENT -> "no such file or folder"). */
export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or folder';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a folder, not a file';
    case 'ENOTDIR':
      return 'is not a folder';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}
