/**
 * Crash injection for the crash-and-resume tests: COVEY_CRASH_AT="<point>:<round>" makes the
 * server kill itself with SIGKILL at that point of that round, exactly as `kill -9` would.
 */
export type CrashPoint = 'selection' | 'updates' | 'aggregation' | 'checkpoint';

export function crashPoint(point: CrashPoint, round: number): void {
  if (process.env.COVEY_CRASH_AT === `${point}:${round}`) process.kill(process.pid, 'SIGKILL');
}
