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

/**
 * A value from the person's own data as an error message may quote it: at most its first `keep`
 * characters, marked as cut with its length, so that an error never repeats a whole cell (which
 * could be a secret in a file the person did not mean to share).
 */
export function excerpt(value: string, keep = 3): string {
  return value.length <= keep ? `"${value}"` : `"${value.slice(0, keep)}…" (${value.length} characters, cut)`;
}
