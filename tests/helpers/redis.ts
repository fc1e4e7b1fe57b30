import { spawnSync } from 'node:child_process';

/**
 * Whether to skip a scale-out suite: only where Debian's redis-server (`apt-get install redis-server`)
 * is missing outside CI. In CI (CI=true) it runs, and a missing redis-server fails it, naming the fix.
 */
export const skipWithoutRedis = spawnSync('redis-server', ['--version']).error !== undefined && process.env.CI !== 'true';
