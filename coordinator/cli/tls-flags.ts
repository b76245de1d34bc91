import { CliError, pemFlag, type Flags } from '../../protocols/cli.ts';

export const SERVER_TLS_OPTIONS = {
  'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'tls-client-ca': { type: 'string' },
} as const;

export function serverTlsFromFlags(flags: Flags): { certPem: Buffer; keyPem: Buffer; clientCaPem?: Buffer } | undefined {
  const certPem = pemFlag(flags, 'tls-cert');
  const keyPem = pemFlag(flags, 'tls-key');
  const clientCaPem = pemFlag(flags, 'tls-client-ca');
  if (!certPem && !keyPem) {
    if (clientCaPem) throw new CliError('--tls-client-ca needs --tls-cert and --tls-key');
    return undefined;
  }
  if (!certPem || !keyPem) throw new CliError('--tls-cert and --tls-key go together');
  return { certPem, keyPem, ...(clientCaPem ? { clientCaPem } : {}) };
}
