import { CliError, EXIT, HelpShown, exitCodeFor, type CommandHelp } from '../../protocols/cli.ts';
import { topHelp } from '../../protocols/cli-help.ts';
import { ConclaveError } from '../../protocols/errors.ts';
import { collectTransferBuffersWithHeap } from '../../protocols/transfer-heap.ts';
import type { LoadModelTools } from './model-tools.ts';

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

/** Each command's help spec, for "conclave --help": the list is generated from what the commands declare. */
const HELPS: Record<string, () => Promise<CommandHelp>> = {
  coordinator: async () => (await import('./coordinator-command.ts')).COORDINATOR_HELP,
  federation: async () => (await import('./federation-command.ts')).FEDERATION_HELP,
  participant: async () => (await import('./participant-command.ts')).PARTICIPANT_HELP,
  round: async () => (await import('./round-model-commands.ts')).ROUND_HELP,
  model: async () => (await import('./round-model-commands.ts')).MODEL_HELP,
  ledger: async () => (await import('./ledger-command.ts')).LEDGER_HELP,
  audit: async () => (await import('./audit-command.ts')).AUDIT_HELP,
  privacy: async () => (await import('./privacy-command.ts')).PRIVACY_HELP,
  simulate: async () => (await import('./simulate-command.ts')).SIMULATE_HELP,
};

export async function commandHelps(): Promise<Array<{ name: string; help: CommandHelp }>> {
  return Promise.all(Object.entries(HELPS).map(async ([name, help]) => ({ name, help: await help() })));
}

export async function usage(): Promise<string> {
  return topHelp(await commandHelps());
}

/** What an operator should do about the failures every admin command can meet. */
function explain(err: unknown, message: string): string {
  if (!(err instanceof ConclaveError)) return message;
  if (err.code === 'UNAVAILABLE') return `cannot reach the coordinator: ${message} (is "conclave coordinator start" running there, and is --coordinator right?)`;
  if (err.code === 'UNAUTHENTICATED') return `the coordinator refused the token: ${message} (pass the admin token with --token, or run where DATA_DIR/admin.token is)`;
  return message;
}

export async function main(argv: string[]): Promise<number> {
  // Every command that moves tensors (coordinator, participant, simulate) runs in this process.
  collectTransferBuffersWithHeap();
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(await usage());
    return command ? EXIT.OK : EXIT.USAGE;
  }
  const run = COMMANDS[command];
  try {
    if (!run) throw new CliError(`unknown command "${command}" (one of ${Object.keys(COMMANDS).join(', ')}); run "conclave --help"`);
    await run(rest);
    // A command that completed but has a verdict to report (e.g. a ledger that does not verify) sets exitCode.
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    if (err instanceof HelpShown) return EXIT.OK;
    const code = exitCodeFor(err);
    const message = explain(err, err instanceof Error ? err.message : String(err));
    const errorCode = (err as { code?: unknown } | null)?.code;
    if (argv.includes('--json')) process.stdout.write(JSON.stringify({ error: { message, code: typeof errorCode === 'string' ? errorCode : 'CLI_ERROR', exitCode: code } }) + '\n');
    process.stderr.write(`conclave: ${message}\n`);
    if (code === EXIT.FAILURE && !(err instanceof CliError) && err instanceof Error && process.env['CONCLAVE_DEBUG']) process.stderr.write(`${err.stack}\n`);
    return code;
  }
}
