import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's headless Chromium (`apt-get install chromium`), which the UI tests drive with playwright-core. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Whether to skip a Chromium suite: only where Chromium is missing outside CI. In CI (CI=true) a
 * missing Chromium is not a skip: the suite runs and `requireChromium` fails it.
 */
export const skipWithoutChromium = !existsSync(CHROMIUM) && process.env.CI !== 'true';

/** Throws, naming the fix, when Chromium is not installed. Call first in the suite's beforeAll. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not installed at ${CHROMIUM} (apt-get install chromium): the UI tests cannot run`);
}

/** Debian's Chromium, headless, with the flags every UI test needs (and any extra ones, e.g. for SwiftShader WebGL). */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      ...extraArgs,
    ],
  });
}
