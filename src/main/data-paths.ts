/**
 * Which data paths the renderer may ask the core to read: only those the main process itself got
 * from a native file dialog in this session, and anything inside the app's own state folder. A
 * compromised renderer cannot name an arbitrary file and read fragments of it through error
 * messages.
 */
import { isAbsolute, relative, resolve } from 'node:path';

export class DataPathGrants {
  private readonly chosen = new Set<string>();

  constructor(private readonly stateDir: string) {}

  /** A path the person picked in a native dialog. */
  grant(path: string): void {
    this.chosen.add(resolve(path));
  }

  allows(path: string): boolean {
    const target = resolve(path);
    if (this.chosen.has(target)) return true;
    const inside = relative(resolve(this.stateDir), target);
    return inside !== '' && !inside.startsWith('..') && !isAbsolute(inside);
  }
}
