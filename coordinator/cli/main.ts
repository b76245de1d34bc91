import { CliError, EXIT, exitCodeFor } from './args.ts';
import { coordinatorCommand } from './coordinator-command.ts';
import { federationCommand } from './federation-command.ts';
import { participantCommand } from './participant-command.ts';
import { modelCommand, roundCommand } from './round-model-commands.ts';
import { simulateCommand } from './simulate-command.ts';

const USAGE = `conclave — federated learning with privacy guarantees

usage: conclave <command> [subcommand] [flags]

  coordinator start                 run the coordinator (gRPC)
  federation create|start|show      manage federations
  participant enroll|revoke|run     enroll sites, revoke them, run a site
  round list|watch                  inspect rounds
  model list|export                 the versioned model registry; export to tfjs LayersModel
  simulate                          a whole federation on this machine: coordinator + one process per site

Every command takes --data-dir DIR (default ./.conclave) and --json. Run "conclave <command> --help" for flags.`;

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  coordinator: coordinatorCommand,
  federation: federationCommand,
  participant: participantCommand,
  round: roundCommand,
  model: modelCommand,
  simulate: simulateCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE + '\n');
    return command ? EXIT.OK : EXIT.USAGE;
  }
  const run = COMMANDS[command];
  try {
    if (!run) throw new CliError(`unknown command "${command}"\n\n${USAGE}`);
    await run(rest);
    return EXIT.OK;
  } catch (err) {
    const code = exitCodeFor(err);
    const message = err instanceof Error ? err.message : String(err);
    const errorCode = (err as { code?: unknown } | null)?.code;
    if (argv.includes('--json')) process.stdout.write(JSON.stringify({ error: { message, code: typeof errorCode === 'string' ? errorCode : 'CLI_ERROR', exitCode: code } }) + '\n');
    process.stderr.write(`conclave: ${message}\n`);
    if (code === EXIT.FAILURE && !(err instanceof CliError) && err instanceof Error && process.env['CONCLAVE_DEBUG']) process.stderr.write(`${err.stack}\n`);
    return code;
  }
}
