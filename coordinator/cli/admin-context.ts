import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { adminClient, callUnary } from '../../protocols/client.ts';
import type { AdminClient } from '../../protocols/index.ts';
import { CLIENT_TLS_OPTIONS, CliError, EXIT, clientTlsFromFlags, type FlagOptions, type Flags } from '../../protocols/cli.ts';

export const ADMIN_OPTIONS = {
  coordinator: { type: 'string', value: 'HOST:PORT', description: 'the coordinator\'s admin address (default: the one recorded in the data dir by "coordinator start")' },
  token: { type: 'string', description: 'the admin token (default: DATA_DIR/admin.token)' },
  ...CLIENT_TLS_OPTIONS,
} as const satisfies FlagOptions;

/** The flags every admin subcommand takes, for the `flags` lists of help specs. */
export const ADMIN_FLAGS = Object.keys(ADMIN_OPTIONS);

export interface AdminContext {
  address: string;
  token: string;
  client: AdminClient;
  call<Res>(method: string, request: unknown): Promise<Res>;
  close(): void;
}

/**
 * An operator on the coordinator's machine needs no flags: the address and admin token are read
 * from the data dir the coordinator wrote them to. Remote operators pass --coordinator and --token.
 */
export function adminContext(flags: Flags): AdminContext {
  const dataDir = resolve(String(flags['data-dir']));
  let address = typeof flags['coordinator'] === 'string' ? flags['coordinator'] : undefined;
  if (!address) {
    const statePath = join(dataDir, 'coordinator.json');
    if (!existsSync(statePath)) {
      throw new CliError(`no --coordinator given and no running coordinator recorded in ${statePath}; start one with "conclave coordinator start"`, EXIT.UNAVAILABLE);
    }
    address = (JSON.parse(readFileSync(statePath, 'utf8')) as { address: string }).address;
  }
  if (!/^[\w.\-[\]:]+:\d{1,5}$/.test(address)) throw new CliError(`--coordinator must be host:port, got "${address}"`);
  let token = typeof flags['token'] === 'string' ? flags['token'] : undefined;
  if (!token) {
    const tokenPath = join(dataDir, 'admin.token');
    if (!existsSync(tokenPath)) throw new CliError(`no --token given and no admin token at ${tokenPath}`, EXIT.AUTH);
    token = readFileSync(tokenPath, 'utf8').trim();
  }
  const client = adminClient(address, clientTlsFromFlags(flags));
  const tokenValue = token;
  return {
    address, token: tokenValue, client,
    call: <Res>(method: string, request: unknown) => callUnary<Res>(client, method, request, tokenValue),
    close: () => client.close(),
  };
}
