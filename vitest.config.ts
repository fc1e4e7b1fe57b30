import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Three tiers, one run: `npm test` runs every project; `npm run test:unit` (pure, in-process, no
 * child processes: the inner loop), `test:integration` (real server and clients on loopback, child
 * processes) and `test:ui` (the renderer in happy-dom and in headless Chromium) run one each.
 */
export default defineConfig({
  test: {
    pool: 'forks',
    // At least two test files at once: vitest's default (cores − 1) runs one at a time on 2 cores,
    // where the integration files mostly wait on their server and client child processes
    // (the whole run: 877 s with one, 629 s with two, on 2 cores).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        // Unit files share worker processes (no fresh process per file): tfjs and libsodium load once
        // per worker instead of once per file, which halves the tier's time on 2 cores.
        test: { name: 'unit', include: ['tests/unit/**/*.test.ts'], isolate: false },
      },
      { extends: true, test: { name: 'integration', include: ['tests/integration/**/*.test.ts'] } },
      { extends: true, test: { name: 'ui', include: ['tests/ui/**/*.test.ts'] } },
    ],
  },
});
