import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, generateKeyPair, exportPKCS8, exportSPKI, importPKCS8, importSPKI, exportJWK, errors as joseErrors } from 'jose';
import type { JWK, CryptoKey } from 'jose';
import { CryptoError } from './errors.ts';

/** One Ed25519 key signs site tokens, admin tokens and (later) ledger entries. */
export interface SigningKeys {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  keyId: string;
}

export type TokenRole = 'site' | 'admin';

export interface TokenClaims {
  subject: string;
  role: TokenRole;
  federationId: string | null;
  tokenId: string;
  expiresAt: number;
}

export type TokenErrorCode = 'TOKEN_MALFORMED' | 'TOKEN_EXPIRED' | 'TOKEN_INVALID';

export class TokenError extends CryptoError<TokenErrorCode> {}

const ISSUER = 'conclave-coordinator';
const AUDIENCE = 'conclave.v1';
const ALG = 'EdDSA';

export async function generateSigningKeys(): Promise<SigningKeys> {
  const { privateKey, publicKey } = await generateKeyPair(ALG, { crv: 'Ed25519', extractable: true });
  return { privateKey, publicKey, keyId: randomUUID() };
}

export async function exportSigningKeys(keys: SigningKeys): Promise<{ privatePem: string; publicPem: string; keyId: string }> {
  return { privatePem: await exportPKCS8(keys.privateKey), publicPem: await exportSPKI(keys.publicKey), keyId: keys.keyId };
}

export async function importSigningKeys(stored: { privatePem: string; publicPem: string; keyId: string }): Promise<SigningKeys> {
  return {
    privateKey: await importPKCS8(stored.privatePem, ALG, { extractable: false }),
    publicKey: await importSPKI(stored.publicPem, ALG, { extractable: true }),
    keyId: stored.keyId,
  };
}

/** The public half as a JWKS, so auditors and sites can verify signatures offline. */
export async function publicJwks(keys: SigningKeys): Promise<{ keys: JWK[] }> {
  const jwk = await exportJWK(keys.publicKey);
  return { keys: [{ ...jwk, kid: keys.keyId, alg: ALG, use: 'sig' }] };
}

export async function issueToken(
  keys: SigningKeys,
  claims: { subject: string; role: TokenRole; federationId: string | null; ttlSeconds: number },
): Promise<{ token: string; tokenId: string; expiresAt: number }> {
  if (!(claims.ttlSeconds > 0)) throw new TokenError('TOKEN_INVALID', 'token lifetime must be positive');
  const tokenId = randomUUID();
  const now = Math.floor(Date.now() / 1000);
  const expiresAt = now + Math.floor(claims.ttlSeconds);
  const token = await new SignJWT({ role: claims.role, fed: claims.federationId })
    .setProtectedHeader({ alg: ALG, kid: keys.keyId, typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(claims.subject)
    .setJti(tokenId)
    .setIssuedAt(now)
    .setExpirationTime(expiresAt)
    .sign(keys.privateKey);
  return { token, tokenId, expiresAt };
}

export async function verifyToken(keys: Pick<SigningKeys, 'publicKey'>, token: string): Promise<TokenClaims> {
  if (typeof token !== 'string' || token.split('.').length !== 3) {
    throw new TokenError('TOKEN_MALFORMED', 'token is not a compact JWT');
  }
  try {
    const { payload } = await jwtVerify(token, keys.publicKey, { issuer: ISSUER, audience: AUDIENCE, algorithms: [ALG] });
    const role = payload['role'];
    const fed = payload['fed'];
    if ((role !== 'site' && role !== 'admin') || typeof payload.sub !== 'string' || typeof payload.jti !== 'string'
      || typeof payload.exp !== 'number' || (fed !== null && typeof fed !== 'string')) {
      throw new TokenError('TOKEN_INVALID', 'token claims are incomplete');
    }
    return { subject: payload.sub, role, federationId: fed, tokenId: payload.jti, expiresAt: payload.exp };
  } catch (err) {
    if (err instanceof TokenError) throw err;
    if (err instanceof joseErrors.JWTExpired) throw new TokenError('TOKEN_EXPIRED', 'token has expired; ask the operator for a new one');
    throw new TokenError('TOKEN_INVALID', 'token signature or claims are invalid');
  }
}
