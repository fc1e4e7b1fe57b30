/**
 * `covey privacy ledger …` through the command's own module, for a checkout whose `covey privacy`
 * does not register the ledger subcommand (the UI end-to-end test prefers the real CLI).
 */
import { Command } from 'commander';
import { registerLedgerCommand } from '../../src/cli/ledger-command.js';

const privacy = new Command('privacy');
registerLedgerCommand(privacy);
await privacy.parseAsync(process.argv.slice(2), { from: 'user' });
