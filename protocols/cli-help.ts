/**
 * Command-line parsing and help over commander, from the options objects commands declare
 * (protocols/cli.ts FlagSpec). Help is generated from those declarations and the commands' help
 * specs, so a flag cannot exist without appearing in its command's help, nor the other way round.
 */
import { Command, CommanderError, Option } from 'commander';
import { CliError, EXIT, EXIT_MEANING, HelpShown, type CommandHelp, type FlagOptions, type FlagSpec, type Flags, type SubcommandHelp } from './cli.ts';

const HELP_WORDS = new Set(['--help', '-h', 'help']);
const CONNECTION_FLAGS = new Set(['coordinator', 'token', 'tls-ca', 'tls-cert', 'tls-key']);

export function parseCommandLine(argv: string[], options: FlagOptions, help: CommandHelp, sub?: string): { flags: Flags; positionals: string[] } {
  const path = `conclave ${help.command}`;
  let leaf: SubcommandHelp;
  let name = path;
  if (help.subcommands) {
    if (sub === undefined || !(sub in help.subcommands)) {
      if (sub !== undefined && HELP_WORDS.has(sub)) {
        process.stdout.write(groupHelp(help));
        throw new HelpShown();
      }
      const list = Object.keys(help.subcommands).join(', ');
      throw new CliError(sub === undefined || sub.startsWith('-')
        ? `${help.command} needs a subcommand (${list}); run "${path} --help"`
        : `unknown ${help.command} subcommand "${sub}" (one of ${list}); run "${path} --help"`);
    }
    leaf = help.subcommands[sub]!;
    name = `${path} ${sub}`;
  } else {
    leaf = { ...help, examples: help.examples ?? [] };
  }
  const accepted = leaf.flags ? new Set([...leaf.flags, 'data-dir', 'json', 'help']) : null;
  // The command's own flags first in its help, then how to reach the coordinator, then the flags every command takes.
  const rank = (flag: string) => (['data-dir', 'json', 'help'].includes(flag) ? 2 : CONNECTION_FLAGS.has(flag) ? 1 : 0);
  const declared = Object.entries(options).filter(([flag]) => !accepted || accepted.has(flag)).sort(([a], [b]) => rank(a) - rank(b));
  const command = leafCommand(name, leaf, declared);
  try {
    command.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) throw new CliError(`${usageMessage(err)}; run "${name} --help"`, EXIT.USAGE);
    throw err;
  }
  const flags: Flags = {};
  for (const [flag, spec] of declared) flags[flag] = command.getOptionValue(attribute(flag)) as string | boolean | undefined ?? spec.default;
  // commander hands a string flag the next word whatever it is: "--federation --json" would be a federation named "--json".
  for (const [flag, spec] of declared) {
    const value = flags[flag];
    if (spec.type === 'string' && typeof value === 'string' && value.startsWith('--') && declared.some(([other]) => value.split('=')[0] === `--${other}`)) {
      throw new CliError(`--${flag} needs a value (got the flag ${value.split('=')[0]}); run "${name} --help"`);
    }
  }
  if (flags['help']) {
    process.stdout.write(`${command.helpInformation()}${trailer(leaf)}\n`);
    throw new HelpShown();
  }
  const positionals = [...command.args];
  if (!leaf.args && positionals.length > 0) throw new CliError(`unexpected argument "${positionals[0]}"; run "${name} --help"`);
  return { flags, positionals };
}

/** commander's own error text, without its "error: " prefix; the flag named as the operator typed it. */
function usageMessage(err: CommanderError): string {
  const message = err.message.replace(/^error: /, '').replace(/\n/g, ' ');
  return err.code === 'commander.unknownOption' ? message.replace(/^unknown option/, 'Unknown option') : message;
}

/** commander's attribute for --data-dir is dataDir; asking it by that name keeps our names kebab-case. */
function attribute(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function placeholder(flag: string, spec: FlagSpec): string {
  return spec.value ?? flag.toUpperCase();
}

function leafCommand(name: string, leaf: SubcommandHelp, declared: Array<[string, FlagSpec]>): Command {
  const command = new Command(name)
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {} })
    .helpOption(false)
    .allowExcessArguments(true)
    .showSuggestionAfterError(true)
    .description(leaf.summary)
    .usage(`${leaf.args ? `${leaf.args} ` : ''}[flags]`)
    .configureHelp({ sortOptions: false, helpWidth: 110 });
  for (const [flag, spec] of declared) {
    const flags = `${spec.short ? `-${spec.short}, ` : ''}--${flag}${spec.type === 'string' ? ` <${placeholder(flag, spec)}>` : ''}`;
    // Defaults are applied after parsing (parseArgs' semantics: a default is a value, never "given").
    const shown = spec.type === 'string' && spec.default !== undefined ? ` (default ${String(spec.default)})` : '';
    command.addOption(new Option(flags, `${spec.description ?? ''}${shown}`));
  }
  return command;
}

function trailer(leaf: SubcommandHelp): string {
  const parts: string[] = [];
  if (leaf.details) parts.push(`\n${leaf.details.trim()}`);
  if (leaf.examples.length > 0) parts.push(`\nExamples:\n${leaf.examples.map((e) => `  ${e}`).join('\n')}`);
  parts.push(`\n${exitCodesLine(leaf.exitCodes)}`);
  return parts.join('\n');
}

function exitCodesLine(own: SubcommandHelp['exitCodes']): string {
  const specific = Object.entries(own ?? {}).map(([code, meaning]) => `  ${code}  ${meaning}`);
  return `Exit codes:\n${specific.length > 0 ? `${specific.join('\n')}\n` : ''}  0 success, 2 usage, 3 invalid input, 4 not found, 5 token refused, 6 coordinator unreachable, …: "conclave --help" lists them all`;
}

/** `conclave round --help`: the subcommands with their summaries, and an example of each. */
export function groupHelp(help: CommandHelp): string {
  const path = `conclave ${help.command}`;
  const command = new Command(path).helpOption(false).helpCommand(false).description(help.summary).usage('<subcommand> [flags]')
    .configureHelp({ helpWidth: 110, subcommandTerm: (c) => c.name() + (c.usage() ? ` ${c.usage()}` : '') });
  for (const [name, sub] of Object.entries(help.subcommands ?? {})) command.command(name).description(sub.summary).usage(sub.args ?? '');
  const examples = Object.values(help.subcommands ?? {}).flatMap((s) => s.examples.slice(0, 1));
  return command.helpInformation() + [
    help.details ? `\n${help.details.trim()}\n` : '',
    examples.length > 0 ? `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}\n` : '',
    `\nRun "${path} <subcommand> --help" for its flags.\n`,
  ].join('');
}

/** `conclave --help`: every command, the flags all of them take, and every exit code. */
export function topHelp(commands: ReadonlyArray<{ name: string; help: CommandHelp }>): string {
  const program = new Command('conclave').helpOption(false).helpCommand(false).usage('<command> [subcommand] [flags]')
    .description('Federated learning with privacy guarantees: coordinator, sites, privacy ledger and audit.')
    .configureHelp({ helpWidth: 110, subcommandTerm: (c) => c.name() + (c.usage() ? ` ${c.usage()}` : '') });
  for (const { name, help } of commands) {
    const subs = Object.keys(help.subcommands ?? {});
    program.command(name).description(help.summary).usage(subs.join('|'));
  }
  const codes = Object.entries(EXIT_MEANING).map(([code, meaning]) => `  ${code.padStart(2)}  ${meaning}`).join('\n');
  return program.helpInformation()
    + '\nEvery command takes --data-dir DIR (default ./.conclave), --json (the result, or the error, as JSON on stdout) and --help.\n'
    + 'Admin commands find the coordinator and its admin token in the data dir, or take --coordinator HOST:PORT and --token TOKEN.\n'
    + `\nExit codes (every command):\n${codes}\n`
    + '\nRun "conclave <command> --help" for its subcommands, and "conclave <command> <subcommand> --help" for their flags.\n';
}
