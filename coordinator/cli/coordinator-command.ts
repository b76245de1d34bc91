import { resolve, join } from 'node:path';
import { rmSync } from 'node:fs';
import { startCoordinator } from '../coordinator.ts';
import { writeAtomic } from '../keys.ts';
import { CliError, int, parseFlags, str } from './args.ts';
import { SERVER_TLS_OPTIONS, serverTlsFromFlags } from './tls-flags.ts';

const USAGE = `usage: conclave coordinator start [--host 127.0.0.1] [--port 7070] [--data-dir DIR] [--json]
                                 [--tls-cert CERT.pem --tls-key KEY.pem [--tls-client-ca CA.pem]]

Serves the participant and admin gRPC services until SIGINT/SIGTERM. With --json, prints one
line {"address","port","adminTokenPath","pid"} on stdout once listening (use --port 0 for any free port).
With --tls-cert/--tls-key it serves TLS; adding --tls-client-ca requires client certificates signed
by that CA (mutual TLS). Without them it serves plaintext: keep it on loopback then.`;

export async function coordinatorCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub !== 'start') throw new CliError(USAGE);
  const { flags } = parseFlags(rest, { host: { type: 'string' }, port: { type: 'string' }, ...SERVER_TLS_OPTIONS }, USAGE);
  if (flags['help']) return void process.stdout.write(USAGE + '\n');
  const dataDir = resolve(String(flags['data-dir']));
  const host = str(flags, 'host', '127.0.0.1');
  const port = int(flags, 'port', { min: 0, max: 65535, fallback: 7070 });
  const tls = serverTlsFromFlags(flags);
  const running = await startCoordinator({ dataDir, host, port, ...(tls ? { tls } : {}) });
  const statePath = join(dataDir, 'coordinator.json');
  const info = { address: running.address, port: running.port, adminTokenPath: running.adminTokenPath, pid: process.pid };
  writeAtomic(statePath, JSON.stringify(info));
  if (flags['json']) process.stdout.write(JSON.stringify(info) + '\n');
  else process.stdout.write(`coordinator listening on ${running.address} (data dir ${dataDir}; admin token in ${running.adminTokenPath})\n`);
  await new Promise<void>((done) => {
    const stop = () => {
      rmSync(statePath, { force: true });
      running.close().then(done, done);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
