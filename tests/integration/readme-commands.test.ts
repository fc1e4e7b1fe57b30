/**
 * Every `covey …` / `npx covey …` command line printed in the README's code blocks still parses:
 * it is run with `--help` appended, must name a real (sub)command, and every option it uses must
 * be one that command lists. So the README cannot drift from the CLI.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

/** The command lines in the README's fenced code blocks (comment lines and trailing comments left out). */
function readmeCommandLines(markdown: string): string[] {
  const blocks = [...markdown.matchAll(/^```[a-z]*\n([\s\S]*?)^```/gm)].map((m) => m[1]);
  return blocks
    .flatMap((block) => block.split('\n'))
    .map((line) => line.replace(/\s+#\s.*$/, '').trim())
    .filter((line) => /^(npx )?covey /.test(line));
}

/** Shell words of a README line: single quotes respected, optional-part brackets and placeholders' angle brackets dropped. */
function words(line: string): string[] {
  const out = [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2].replace(/[[\]]/g, ''));
  return out.filter((w) => w !== '' && w !== '|');
}

const lines = readmeCommandLines(readFileSync(join(ROOT, 'README.md'), 'utf8'));

describe("the README's command lines", () => {
  it('are found (the README shows the CLI)', () => {
    expect(lines.length).toBeGreaterThanOrEqual(15);
  });

  describe.concurrent.each(lines)('%s', (line) => {
    it('runs with --help and uses only options the command has', async ({ expect }) => {
      const args = words(line).slice(line.startsWith('npx ') ? 2 : 1);
      const { stdout } = await run(process.execPath, [join(ROOT, 'bin/covey.js'), ...args, '--help'], { cwd: ROOT });
      // The (sub)command: the leading plain words, at most two (`server invite`, `privacy epsilon`).
      const command: string[] = [];
      for (const word of args) {
        if (!/^[a-z]+$/.test(word) || command.length === 2) break;
        command.push(word);
      }
      expect(stdout.split('\n')[0]).toMatch(new RegExp(`^Usage: covey ${command.join(' ')}( |$)`));
      for (const option of args.filter((w) => w.startsWith('--'))) expect(stdout, option).toMatch(new RegExp(`(^|[\\s,])${option}\\b`, 'm'));
    });
  });
});
