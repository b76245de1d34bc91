import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { exportSigningKeys, generateSigningKeys, importSigningKeys, issueToken, publicJwks, type SigningKeys } from '../crypto/tokens.ts';

const ADMIN_TOKEN_TTL_S = 365 * 24 * 3600;

/**
 * Loads the coordinator's Ed25519 key from the data dir, creating it (and a first admin token)
 * on first start. Files are 0600 and written atomically: a crash never leaves half a key.
 */
export async function loadOrCreateKeys(dataDir: string): Promise<{ keys: SigningKeys; adminTokenPath: string; created: boolean }> {
  const dir = join(dataDir, 'keys');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyPath = join(dir, 'coordinator-ed25519.json');
  const adminTokenPath = join(dataDir, 'admin.token');
  if (existsSync(keyPath)) {
    const stored = JSON.parse(readFileSync(keyPath, 'utf8')) as { privatePem: string; publicPem: string; keyId: string };
    return { keys: await importSigningKeys(stored), adminTokenPath, created: false };
  }
  const keys = await generateSigningKeys();
  writeAtomic(keyPath, JSON.stringify(await exportSigningKeys(keys)));
  writeAtomic(join(dir, 'jwks.json'), JSON.stringify(await publicJwks(keys), null, 2));
  return { keys, adminTokenPath, created: true };
}

export async function createAdminToken(keys: SigningKeys): Promise<{ token: string; tokenId: string; expiresAt: number }> {
  return issueToken(keys, { subject: 'admin', role: 'admin', federationId: null, ttlSeconds: ADMIN_TOKEN_TTL_S });
}

/** Write, fsync, rename, fsync the directory: after a crash the file is either old or new, never empty. */
export function writeAtomic(path: string, contents: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeFileSync(fd, contents);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dirFd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** Temp files of writeAtomic calls a crash interrupted. */
export function removeStaleTempFiles(dataDir: string): void {
  for (const dir of [dataDir, join(dataDir, 'keys')]) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) if (/\.tmp-\d+$/.test(name)) rmSync(join(dir, name), { force: true });
  }
}
