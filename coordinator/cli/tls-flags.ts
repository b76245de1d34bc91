import { readFileSync } from 'node:fs';
import type { ClientTls } from '../../client-sdk/connection.ts';
import { CliError, EXIT, type Flags } from './args.ts';

export const CLIENT_TLS_OPTIONS = {
  'tls-ca': { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' },
} as const;

export const SERVER_TLS_OPTIONS = {
  'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'tls-client-ca': { type: 'string' },
} as const;

function pem(flags: Flags, name: string): Buffer | undefined {
  const path = flags[name];
  if (path === undefined) return undefined;
  try {
    const contents = readFileSync(String(path));
    if (!contents.includes('-----BEGIN ')) throw new Error('not a PEM file');
    return contents;
  } catch (err) {
    throw new CliError(`--${name} ${String(path)}: ${(err as Error).message}`, EXIT.INVALID_INPUT);
  }
}

/** --tls-ca (and, for mutual TLS, --tls-cert with --tls-key); none of them: plaintext. */
export function clientTlsFromFlags(flags: Flags): ClientTls | undefined {
  const caPem = pem(flags, 'tls-ca');
  const certPem = pem(flags, 'tls-cert');
  const keyPem = pem(flags, 'tls-key');
  if (!caPem) {
    if (certPem || keyPem) throw new CliError('--tls-cert/--tls-key need --tls-ca (the CA that signed the coordinator)');
    return undefined;
  }
  if ((certPem === undefined) !== (keyPem === undefined)) throw new CliError('--tls-cert and --tls-key go together');
  return { caPem, ...(certPem ? { certPem } : {}), ...(keyPem ? { keyPem } : {}) };
}

export function serverTlsFromFlags(flags: Flags): { certPem: Buffer; keyPem: Buffer; clientCaPem?: Buffer } | undefined {
  const certPem = pem(flags, 'tls-cert');
  const keyPem = pem(flags, 'tls-key');
  const clientCaPem = pem(flags, 'tls-client-ca');
  if (!certPem && !keyPem) {
    if (clientCaPem) throw new CliError('--tls-client-ca needs --tls-cert and --tls-key');
    return undefined;
  }
  if (!certPem || !keyPem) throw new CliError('--tls-cert and --tls-key go together');
  return { certPem, keyPem, ...(clientCaPem ? { clientCaPem } : {}) };
}
