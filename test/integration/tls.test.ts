import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/coordinator.ts';
import { silentLogger } from '../../coordinator/logger.ts';
import { adminClient, callUnary, type ClientTls } from '../../client-sdk/connection.ts';
import { tempDataDir } from '../helpers/coordinator.ts';

let pki: { dir: string; cleanup: () => void };
const pem = (name: string) => readFileSync(join(pki.dir, name));

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with the system's openssl. */
beforeAll(() => {
  pki = tempDataDir('conclave-pki-');
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: pki.dir, stdio: 'pipe' });
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=conclave-test-ca');
  writeFileSync(join(pki.dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const who of ['server', 'client']) {
    ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who}`);
    ossl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.pem`, '-days', '1',
      ...(who === 'server' ? ['-extfile', 'server.ext'] : []));
  }
});
afterAll(() => pki?.cleanup());

async function withCoordinator(mutual: boolean, body: (c: RunningCoordinator) => Promise<void>): Promise<void> {
  const data = tempDataDir();
  const coordinator = await startCoordinator({
    dataDir: data.dir, log: silentLogger,
    tls: { certPem: pem('server.pem'), keyPem: pem('server.key'), ...(mutual ? { clientCaPem: pem('ca.pem') } : {}) },
  });
  try {
    await body(coordinator);
  } finally {
    await coordinator.close();
    data.cleanup();
  }
}

async function listModels(c: RunningCoordinator, tls: ClientTls | undefined): Promise<string> {
  const client = adminClient(c.address, tls);
  try {
    await callUnary(client, 'ListRounds', { federationId: 'none' }, c.adminToken, 5_000);
    return 'ok';
  } catch (err) {
    return (err as { code: string }).code;
  } finally {
    client.close();
  }
}

describe('TLS between sites, operators and the coordinator', () => {
  it('server TLS: a client that trusts the CA gets through; a plaintext client does not', async () => {
    await withCoordinator(false, async (c) => {
      expect(await listModels(c, { caPem: pem('ca.pem') })).toBe('NOT_FOUND'); // reached the handler: unknown federation
      expect(await listModels(c, undefined)).toBe('UNAVAILABLE');
      expect(await listModels(c, { caPem: pem('client.pem') })).toBe('UNAVAILABLE'); // wrong trust anchor
    });
  });

  it('mutual TLS: a client without a certificate signed by the CA is refused before any handler runs', async () => {
    await withCoordinator(true, async (c) => {
      expect(await listModels(c, { caPem: pem('ca.pem') })).toBe('UNAVAILABLE');
      expect(await listModels(c, { caPem: pem('ca.pem'), certPem: pem('client.pem'), keyPem: pem('client.key') })).toBe('NOT_FOUND');
    });
  });
});
