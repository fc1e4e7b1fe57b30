import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { registerPrivacyCommand } from '../../src/cli/privacy-command.js';

// The same command run as a child process (`covey privacy …`): tests/integration/privacy-cli.test.ts.

/** Parses `privacy …` in-process (no start-up cost); returns what it printed and the parse error, if any. */
function parsePrivacy(...args: string[]): { stdout: string; error?: string } {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, outputError: () => {} });
  registerPrivacyCommand(program);
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    program.parse(['privacy', ...args], { from: 'user' });
    return { stdout: write.mock.calls.map(([chunk]) => String(chunk)).join('') };
  } catch (error) {
    return { stdout: '', error: (error as Error).message };
  } finally {
    write.mockRestore();
  }
}

describe('privacy command parsing', () => {
  it('prints a text table with one row per combination', () => {
    const { stdout } = parsePrivacy('epsilon', '--noise-multiplier', '0.8,1.5', '--sampling-rate', '0.01,0.1', '--rounds', '100', '--accountant', 'rdp');
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('RDP accountant');
    expect(lines[1].trim().split(/\s+/)).toEqual(['z', 'q', 'T', 'δ', 'ε', 'order']);
    expect(lines).toHaveLength(2 + 4);
  });

  it('names the bad item of a list and rejects out-of-range numbers', () => {
    expect(parsePrivacy('epsilon', '--noise-multiplier', '1,abc', '--sampling-rate', '0.1', '--rounds', '10').error).toMatch(
      /item "abc": noise multiplier must be a finite number ≥ 0\.01/,
    );
    // Below what the PRV accountant can handle (issue 11, finding 6): refused at the flag, not thrown mid-computation.
    expect(parsePrivacy('epsilon', '--noise-multiplier', '3e-4', '--sampling-rate', '0.1', '--rounds', '10').error).toMatch(
      /noise multiplier must be a finite number ≥ 0\.01 \(the accountants cannot bound smaller ones; got 0\.0003\)/,
    );
    expect(parsePrivacy('epsilon', '--noise-multiplier', '1', '--sampling-rate', '1.5', '--rounds', '10').error).toMatch(/expected a number in \(0, 1\]/);
    expect(parsePrivacy('noise', '--target-epsilon', '-1', '--sampling-rate', '0.1', '--rounds', '10').error).toMatch(/expected a positive number/);
    expect(parsePrivacy('epsilon', '--noise-multiplier', '1', '--sampling-rate', '0.1', '--rounds', '10', '--accountant', 'gdp').error).toMatch(
      /Allowed choices are rdp, prv/,
    );
  });

  it('returns the privacy command so other subcommands can be attached', () => {
    const privacy = registerPrivacyCommand(new Command());
    expect(privacy.name()).toBe('privacy');
    expect(privacy.commands.map((c) => c.name())).toEqual(['epsilon', 'noise']);
  });
});
