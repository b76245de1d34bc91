import { resolve, join } from 'node:path';
import { rmSync } from 'node:fs';
import { startCoordinator } from '../coordinator.ts';
import { SIGNING_KEY_ENV, writeAtomic } from '../keys.ts';
import { CliError, int, parseFlags, str } from '../../protocols/cli.ts';
import { SERVER_TLS_OPTIONS, serverTlsFromFlags } from './tls-flags.ts';
import { LIMIT_OPTIONS, LIMIT_USAGE, limitsFromFlags } from './limit-flags.ts';

const USAGE = `usage: conclave coordinator start [--host 127.0.0.1] [--port 7070] [--data-dir DIR] [--json]
                                 [--tls-cert CERT.pem --tls-key KEY.pem [--tls-client-ca CA.pem]]
                                 [--signing-key FILE] [--metrics-port P [--metrics-host HOST]]

Serves the participant and admin gRPC services until SIGINT/SIGTERM. With --json, prints one
line {"address","port","adminTokenPath","pid","keyId","keyFingerprint"} on stdout once listening
(use --port 0 for any free port). The key fingerprint is what sites and auditors pin
("conclave ledger verify --key-fingerprint FP").
--signing-key FILE (or ${SIGNING_KEY_ENV}=FILE) keeps the Ed25519 key that signs tokens and the
privacy ledger outside the data dir; it is created there (0600) on first start. Without it the key
lives in DATA_DIR/keys, where anyone who can edit the database can also re-sign the ledger.
With --tls-cert/--tls-key it serves TLS; adding --tls-client-ca requires client certificates signed
by that CA (mutual TLS). Without them it serves plaintext: keep it on loopback then.
--metrics-port P serves Prometheus metrics at http://HOST:P/metrics (HOST: --metrics-host, default
the --host): rounds by state and stage, round and stage durations, sites connected, message bytes
in/out, aggregation time, ε spent per federation, refused RPCs by status.
example: conclave coordinator start --data-dir ./.conclave --port 7070 --metrics-port 9464

${LIMIT_USAGE}`;

export async function coordinatorCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub !== 'start') throw new CliError(USAGE);
  const { flags } = parseFlags(rest, {
    host: { type: 'string' }, port: { type: 'string' }, 'signing-key': { type: 'string' }, 'metrics-port': { type: 'string' }, 'metrics-host': { type: 'string' },
    ...SERVER_TLS_OPTIONS, ...LIMIT_OPTIONS,
  }, USAGE);
  if (flags['help']) return void process.stdout.write(USAGE + '\n');
  const dataDir = resolve(String(flags['data-dir']));
  const host = str(flags, 'host', '127.0.0.1');
  const port = int(flags, 'port', { min: 0, max: 65535, fallback: 7070 });
  const tls = serverTlsFromFlags(flags);
  const keyFile = str(flags, 'signing-key', process.env[SIGNING_KEY_ENV] ?? '');
  const metricsPort = flags['metrics-port'] === undefined ? undefined : int(flags, 'metrics-port', { min: 0, max: 65535 });
  const metricsHost = str(flags, 'metrics-host', host);
  const limits = limitsFromFlags(flags);
  const running = await startCoordinator({
    dataDir, host, port, ...limits, ...(tls ? { tls } : {}), ...(keyFile ? { signingKeyFile: resolve(keyFile) } : {}),
    ...(metricsPort !== undefined ? { metricsPort, metricsHost } : {}),
  });
  const statePath = join(dataDir, 'coordinator.json');
  const info = {
    address: running.address, port: running.port, adminTokenPath: running.adminTokenPath, pid: process.pid,
    keyId: running.keyId, keyFingerprint: running.keyFingerprint, ...(running.metricsPort !== undefined ? { metricsPort: running.metricsPort } : {}),
  };
  writeAtomic(statePath, JSON.stringify(info));
  if (flags['json']) process.stdout.write(JSON.stringify(info) + '\n');
  else {
    process.stdout.write(`coordinator listening on ${running.address} (data dir ${dataDir}; admin token in ${running.adminTokenPath})\n`
      + `signing key ${running.keyId}, fingerprint ${running.keyFingerprint} (pin it: conclave ledger verify --key-fingerprint ${running.keyFingerprint})\n`);
  }
  await new Promise<void>((done) => {
    const stop = () => {
      rmSync(statePath, { force: true });
      running.close().then(done, done);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
