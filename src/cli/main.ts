import { Command, InvalidArgumentError } from 'commander';
import { registerAppCommand } from './app-command.js';
import { registerDoctorCommand } from './doctor-command.js';
import { registerJoinCommand } from './join-command.js';
import { registerLedgerCommand } from './ledger-command.js';
import { registerPrivacyCommand } from './privacy-command.js';
import { registerServerCommand } from './server-command.js';
import { registerSimCommand } from './sim-command.js';

const program = new Command()
  .name('covey')
  .description('Privacy-preserving federated learning: run an aggregator, join a federation, simulate, account for privacy.')
  .version('0.1.0')
  .showHelpAfterError()
  .enablePositionalOptions();

registerServerCommand(program);
registerJoinCommand(program);
registerSimCommand(program);
registerLedgerCommand(registerPrivacyCommand(program));
registerAppCommand(program);
registerDoctorCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Errors a person can act on are printed as one sentence, never as a stack trace.
  process.stderr.write(`covey: ${(err as Error).message}\n`);
  process.exitCode = 1;
}

export { InvalidArgumentError };
