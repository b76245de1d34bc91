import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConclaveError } from '../protocols/index.ts';
import { keyFingerprint } from '../crypto/ledger-signing.ts';
import { exportSigningKeys, generateSigningKeys, importSigningKeys, issueToken, publicJwks, type SigningKeys } from '../crypto/tokens.ts';

const ADMIN_TOKEN_TTL_S = 365 * 24 * 3600;

/** The environment variable naming the signing key file when `coordinator start --signing-key` is not given. */
export const SIGNING_KEY_ENV = 'CONCLAVE_SIGNING_KEY_FILE';

export interface LoadedKeys {
  keys: SigningKeys;
  adminTokenPath: string;
  /** The key was made on this start (a first admin token goes with it). */
  created: boolean;
  keyPath: string;
  /** RFC 7638 thumbprint of the public key: what sites and auditors pin (`ledger verify --key-fingerprint`). */
  fingerprint: string;
}

/**
 * Loads the coordinator's Ed25519 key, creating it (and a first admin token) on first start. The
 * key lives in DATA_DIR/keys unless `signingKeyFile` puts it elsewhere: whoever can read the key
 * can sign any ledger history, so an operator may keep it off the disk that holds the database.
 * Files are 0600 and written atomically: a crash never leaves half a key. The public JWKS always
 * lands in DATA_DIR/keys/jwks.json. A data dir whose JWKS names another key refuses to start, and
 * so does one whose key file has gone missing: a fresh key would orphan every signature and token.
 */
export async function loadOrCreateKeys(dataDir: string, options: { signingKeyFile?: string } = {}): Promise<LoadedKeys> {
  const dir = join(dataDir, 'keys');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyPath = options.signingKeyFile ? resolve(options.signingKeyFile) : join(dir, 'coordinator-ed25519.json');
  const jwksPath = join(dir, 'jwks.json');
  const adminTokenPath = join(dataDir, 'admin.token');
  const recorded = existsSync(jwksPath) ? readRecordedKey(jwksPath) : null;
  let keys: SigningKeys;
  let created = false;
  if (existsSync(keyPath)) {
    keys = await readSigningKeyFile(keyPath);
  } else {
    if (recorded) {
      throw new ConclaveError('INVALID_ARGUMENT', `no signing key at ${keyPath}, but this data dir was signed by key ${recorded.kid} (${jwksPath}): `
        + `pass the file that holds it (--signing-key FILE or ${SIGNING_KEY_ENV}); a new key would invalidate the ledger and every token`);
    }
    keys = await generateSigningKeys();
    mkdirSync(dirname(keyPath), { recursive: true, mode: 0o700 });
    writeAtomic(keyPath, JSON.stringify(await exportSigningKeys(keys)));
    created = true;
  }
  const jwks = await publicJwks(keys);
  if (recorded && (recorded.kid !== keys.keyId || recorded.x !== jwks.keys[0]?.x)) {
    throw new ConclaveError('INVALID_ARGUMENT', `the signing key in ${keyPath} (kid ${keys.keyId}) is not the key this data dir was signed with `
      + `(${jwksPath}: kid ${recorded.kid}); pass the right key file, or restore that JWKS if it was replaced`);
  }
  if (!recorded) writeAtomic(jwksPath, JSON.stringify(jwks, null, 2));
  return { keys, adminTokenPath, created, keyPath, fingerprint: keyFingerprint(keys.publicKey) };
}

/** A stored key pair, refused with a message that says which file and why (exit 3 from the CLI). */
async function readSigningKeyFile(path: string): Promise<SigningKeys> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConclaveError('INVALID_ARGUMENT', `cannot read signing key file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const invalid = (why: string) => new ConclaveError('INVALID_ARGUMENT', `${path} is not a Conclave signing key file (${why}); it holds {"privatePem","publicPem","keyId"} as written by "conclave coordinator start"`);
  let stored: { privatePem: string; publicPem: string; keyId: string };
  try {
    stored = JSON.parse(text) as typeof stored;
  } catch {
    throw invalid('not JSON');
  }
  if (!stored || typeof stored.privatePem !== 'string' || typeof stored.publicPem !== 'string' || typeof stored.keyId !== 'string' || stored.keyId === '') {
    throw invalid('fields missing');
  }
  try {
    // The halves must belong together: a mismatched pair would write ledger entries that never verify.
    const probe = Buffer.from('conclave signing key probe');
    const privateKey = createPrivateKey(stored.privatePem);
    const publicKey = createPublicKey(stored.publicPem);
    if (privateKey.asymmetricKeyType !== 'ed25519' || !verify(null, probe, publicKey, sign(null, probe, privateKey))) throw new Error('mismatch');
    return await importSigningKeys(stored);
  } catch {
    throw invalid('not a matching Ed25519 key pair');
  }
}

function readRecordedKey(jwksPath: string): { kid: string; x: string } | null {
  try {
    const jwk = (JSON.parse(readFileSync(jwksPath, 'utf8')) as { keys?: Array<{ kid?: unknown; x?: unknown }> }).keys?.[0];
    return jwk && typeof jwk.kid === 'string' && typeof jwk.x === 'string' ? { kid: jwk.kid, x: jwk.x } : null;
  } catch {
    return null;
  }
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
