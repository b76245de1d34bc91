import { CliError, EXIT, exitCodeFor } from '../../protocols/cli.ts';
import type { LoadModelTools } from './model-tools.ts';

const USAGE = `conclave — federated learning with privacy guarantees

usage: conclave <command> [subcommand] [flags]

  coordinator start                 run the coordinator (gRPC)
  federation create|start|show      manage federations
  participant enroll|revoke|run|host  enroll sites, revoke them, run a site (or many simulated ones in one process)
  round list|watch                  inspect rounds
  model list|export                 the versioned model registry; export to tfjs LayersModel
  ledger show|verify                the privacy-budget ledger: ε per federation and participant; chain and signatures
  audit verify|report               for auditors: verify the ledger and recompute ε; an HTML + JSON privacy report
  privacy epsilon|calibrate         (ε, δ) of the subsampled Gaussian (RDP or PLD); calibrate the noise multiplier
  simulate                          a whole federation on this machine: coordinator + site processes

Every command takes --data-dir DIR (default ./.conclave) and --json. Run "conclave <command> --help" for flags.`;

/**
 * The one place that may import every room (ARCHITECTURE.md; checked by `npm run lint:layers`):
 * operators' commands come from coordinator/cli, the site's from client-sdk/cli, and the operator's
 * commands that need tfjs get the site SDK's model tools injected rather than importing them.
 */
const loadModelTools: LoadModelTools = async () => (await import('../../client-sdk/cli/model-tools.ts')).modelTools;

// Loaded on demand: gRPC and tfjs cost most of a second to import, which `privacy epsilon` never needs.
const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  coordinator: async (argv) => (await import('./coordinator-command.ts')).coordinatorCommand(argv),
  federation: async (argv) => (await import('./federation-command.ts')).federationCommand(argv, { loadModelTools }),
  participant: async (argv) => (argv[0] === 'run' || argv[0] === 'host'
    ? (await import('../../client-sdk/cli/participant-command.ts')).siteCommand(argv)
    : (await import('./participant-command.ts')).participantCommand(argv)),
  round: async (argv) => (await import('./round-model-commands.ts')).roundCommand(argv),
  model: async (argv) => (await import('./round-model-commands.ts')).modelCommand(argv, { loadModelTools }),
  ledger: async (argv) => (await import('./ledger-command.ts')).ledgerCommand(argv),
  audit: async (argv) => (await import('./audit-command.ts')).auditCommand(argv),
  privacy: async (argv) => (await import('./privacy-command.ts')).privacyCommand(argv),
  simulate: async (argv) => (await import('./simulate-command.ts')).simulateCommand(argv, { loadModelTools }),
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
