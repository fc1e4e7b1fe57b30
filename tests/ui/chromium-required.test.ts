/**
 * The UI tier's rule for a missing Chromium (tests/helpers/chromium.ts): skipped on a developer's
 * machine, but in CI (CI=true) the suites run and fail, naming the fix. Chromium's absence is
 * simulated by replacing `existsSync`.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

async function helperWithoutChromium() {
  vi.resetModules();
  vi.doMock('node:fs', async (original) => ({ ...(await original<typeof import('node:fs')>()), existsSync: () => false }));
  return import('../helpers/chromium.js');
}

afterEach(() => {
  vi.doUnmock('node:fs');
  vi.unstubAllEnvs();
});

describe('without Chromium', () => {
  it('the UI suites are not skipped in CI, and fail naming the fix', async () => {
    vi.stubEnv('CI', 'true');
    const { requireChromium, skipWithoutChromium } = await helperWithoutChromium();
    expect(skipWithoutChromium).toBe(false);
    expect(() => requireChromium()).toThrow(/Chromium is not installed at \/usr\/bin\/chromium \(apt-get install chromium\)/);
  });

  it('they are skipped outside CI', async () => {
    vi.stubEnv('CI', '');
    const { skipWithoutChromium } = await helperWithoutChromium();
    expect(skipWithoutChromium).toBe(true);
  });
});
