/**
 * The child process `covey sim` starts for a simulated dropout: `covey join` with a client that
 * vanishes from every secure-aggregation round after one stage (dropout-client.ts). Not part of
 * the `covey` command line. Usage: sim-join.ts STAGE URL --invite ... (the `covey join` options).
 */
import { Command } from 'commander';
import { DropoutClient, DropStageSchema } from './dropout-client.js';
import { registerJoinCommand } from './join-command.js';

try {
  const [stage, ...joinArgs] = process.argv.slice(2);
  const parsed = DropStageSchema.safeParse(stage);
  if (!parsed.success) throw new Error(`expected a drop stage (${DropStageSchema.options.join(', ')}), got ${String(stage)}`);
  const dropAfter = parsed.data;
  const program = new Command().name('covey-sim-join');
  registerJoinCommand(program, (options) => new DropoutClient(options, dropAfter));
  await program.parseAsync(['join', ...joinArgs], { from: 'user' });
} catch (err) {
  process.stderr.write(`covey sim: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
