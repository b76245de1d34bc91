import { CliError, pemFlag, type FlagOptions, type Flags } from '../../protocols/cli.ts';

export const SERVER_TLS_OPTIONS = {
  'tls-cert': { type: 'string', value: 'CERT.pem', description: 'serve TLS with this certificate (with --tls-key)' },
  'tls-key': { type: 'string', value: 'KEY.pem', description: 'the certificate\'s private key' },
  'tls-client-ca': { type: 'string', value: 'CA.pem', description: 'mutual TLS: require client certificates signed by this CA' },
} as const satisfies FlagOptions;

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
