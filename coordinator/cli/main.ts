import { CliError, EXIT, exitCodeFor } from './args.ts';

const USAGE = `conclave — federated learning with privacy guarantees

usage: conclave <command> [subcommand] [flags]

  coordinator start                 run the coordinator (gRPC)
  federation create|start|show      manage federations
  participant enroll|revoke|run     enroll sites, revoke them, run a site
  round list|watch                  inspect rounds
  model list|export                 the versioned model registry; export to tfjs LayersModel
  ledger show|verify                the privacy-budget ledger: ε per federation and participant; chain and signatures
  privacy epsilon|calibrate         (ε, δ) of the subsampled Gaussian (RDP or PLD); calibrate the noise multiplier
  simulate                          a whole federation on this machine: coordinator + one process per site

Every command takes --data-dir DIR (default ./.conclave) and --json. Run "conclave <command> --help" for flags.`;

// Loaded on demand: gRPC and tfjs cost most of a second to import, which `privacy epsilon` never needs.
const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  coordinator: async (argv) => (await import('./coordinator-command.ts')).coordinatorCommand(argv),
  federation: async (argv) => (await import('./federation-command.ts')).federationCommand(argv),
  participant: async (argv) => (await import('./participant-command.ts')).participantCommand(argv),
  round: async (argv) => (await import('./round-model-commands.ts')).roundCommand(argv),
  model: async (argv) => (await import('./round-model-commands.ts')).modelCommand(argv),
  ledger: async (argv) => (await import('./ledger-command.ts')).ledgerCommand(argv),
  privacy: async (argv) => (await import('./privacy-command.ts')).privacyCommand(argv),
  simulate: async (argv) => (await import('./simulate-command.ts')).simulateCommand(argv),
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
    // A command that completed but has a verdict to report (e.g. a ledger that does not verify) sets exitCode.
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
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
