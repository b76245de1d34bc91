import { resolve, join } from 'node:path';
import { rmSync } from 'node:fs';
import { startCoordinator } from '../coordinator.ts';
import { SIGNING_KEY_ENV, writeAtomic } from '../keys.ts';
import { CliError, int, parseFlags, str, type CommandHelp } from '../../protocols/cli.ts';
import { SERVER_TLS_OPTIONS, serverTlsFromFlags } from './tls-flags.ts';
import { LIMIT_OPTIONS, LIMIT_USAGE, limitsFromFlags } from './limit-flags.ts';
import { MAX_FOLD_THREADS } from '../aggregation/fold-threads.ts';

const OPTIONS = {
  host: { type: 'string', default: '127.0.0.1', description: 'the interface to listen on' },
  port: { type: 'string', default: '7070', description: '0 picks any free port (printed, and recorded in DATA_DIR/coordinator.json)' },
  'signing-key': {
    type: 'string', value: 'FILE',
    description: `the Ed25519 key that signs tokens and the privacy ledger, kept outside the data dir (or ${SIGNING_KEY_ENV}=FILE); created (0600) on first start`,
  },
  'metrics-port': { type: 'string', value: 'P', description: 'serve Prometheus metrics at http://HOST:P/metrics (0: any free port, printed in the --json line)' },
  'metrics-host': { type: 'string', value: 'HOST', description: 'the interface for --metrics-port (default: --host)' },
  'metrics-token-file': {
    type: 'string', value: 'FILE',
    description: 'the bearer token /metrics wants (Prometheus: authorization: credentials_file: FILE); default DATA_DIR/metrics.token, created (0600) on first start',
  },
  'fold-threads': {
    type: 'string', value: 'N',
    description: `helper threads that fold large updates (1M+ parameters) beside the event loop; default: cores - 1, at most 3; 0: the event loop alone`,
  },
  ...SERVER_TLS_OPTIONS,
  ...LIMIT_OPTIONS,
} as const;

export const COORDINATOR_HELP: CommandHelp = {
  command: 'coordinator',
  summary: 'run the coordinator: the participant and admin gRPC services',
  subcommands: {
    start: {
      summary: 'serve until SIGINT/SIGTERM; the address and the admin token are written to the data dir for the other commands',
      examples: ['conclave coordinator start --data-dir ./.conclave --port 7070', 'conclave coordinator start --port 7070 --metrics-port 9464   # Prometheus scrapes http://127.0.0.1:9464/metrics', 'conclave coordinator start --port 0 --json   # one line {"address","port","adminTokenPath","pid","keyId","keyFingerprint"}'],
      details: `With --json, prints one line {"address","port","adminTokenPath","pid","keyId","keyFingerprint"} once listening.
The key fingerprint is what sites and auditors pin ("conclave ledger verify --key-fingerprint FP").
Without --signing-key the key lives in DATA_DIR/keys, where anyone who can edit the database can also re-sign the ledger.
Without --tls-cert/--tls-key it serves plaintext: keep it on loopback then.
The metrics: rounds by state and stage, round and stage durations, sites connected, message bytes in/out,
aggregation time, ε spent per federation, RPCs by status (refused ones apart), and the process's own.
GET /metrics wants "authorization: Bearer TOKEN" (the token file's content; 401 without). The sites of
federations with DP, their calls and the bytes of admin calls about them are counted nowhere: per round
they would tell how many sites contributed.

${LIMIT_USAGE}`,
    },
  },
};

export async function coordinatorCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { flags } = parseFlags(rest, OPTIONS, COORDINATOR_HELP, sub);
  const dataDir = resolve(String(flags['data-dir']));
  const host = str(flags, 'host', '127.0.0.1');
  const port = int(flags, 'port', { min: 0, max: 65535, fallback: 7070 });
  const foldThreads = flags['fold-threads'] === undefined ? undefined : int(flags, 'fold-threads', { min: 0, max: MAX_FOLD_THREADS });
  const tls = serverTlsFromFlags(flags);
  const keyFile = str(flags, 'signing-key', process.env[SIGNING_KEY_ENV] ?? '');
  const metricsPort = flags['metrics-port'] === undefined ? undefined : int(flags, 'metrics-port', { min: 0, max: 65535 });
  const metricsHost = str(flags, 'metrics-host', host);
  const metricsTokenFile = str(flags, 'metrics-token-file', '');
  if (metricsTokenFile && metricsPort === undefined) throw new CliError('--metrics-token-file needs --metrics-port');
  const limits = limitsFromFlags(flags);
  const running = await startCoordinator({
    dataDir, host, port, ...limits, ...(foldThreads !== undefined ? { foldThreads } : {}), ...(tls ? { tls } : {}), ...(keyFile ? { signingKeyFile: resolve(keyFile) } : {}),
    ...(metricsPort !== undefined ? { metricsPort, metricsHost, ...(metricsTokenFile ? { metricsTokenFile: resolve(metricsTokenFile) } : {}) } : {}),
  });
  const statePath = join(dataDir, 'coordinator.json');
  const info = {
    address: running.address, port: running.port, adminTokenPath: running.adminTokenPath, pid: process.pid,
    keyId: running.keyId, keyFingerprint: running.keyFingerprint, ...(running.metricsPort !== undefined ? { metricsPort: running.metricsPort, metricsTokenPath: running.metricsTokenPath } : {}),
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
