import type { Metadata } from '@grpc/grpc-js';
import { ConclaveError } from '../protocols/index.ts';
import type { StatementSync } from 'node:sqlite';
import { TokenError, verifyToken, type SigningKeys, type TokenClaims, type TokenRole } from '../crypto/tokens.ts';
import type { Store } from './store.ts';

export interface Caller {
  subject: string;
  role: TokenRole;
  federationId: string | null;
  tokenId: string;
}

/** Tokens whose signature was checked, kept so a polling site's every call is not an Ed25519 verification. */
const VERIFIED_KEPT = 4096;

/**
 * Every RPC passes through here. The signature proves the coordinator issued the token; the
 * store decides whether it still counts (revocation is immediate: the store is read on every
 * call). What is kept between calls is only that a token string's signature and claims checked
 * out (the same string always does) and when it expires, which is checked again on every call:
 * at 200 polling sites the verifications were ~1 s of a 40 s run of the coordinator's thread.
 */
export class Authenticator {
  private readonly keys: SigningKeys;
  private readonly store: Store;
  private readonly verified = new Map<string, TokenClaims>();
  private tokenQuery: StatementSync | null = null;
  private siteQuery: StatementSync | null = null;

  constructor(keys: SigningKeys, store: Store) {
    this.keys = keys;
    this.store = store;
  }

  async authenticate(metadata: Metadata, role: TokenRole): Promise<Caller> {
    const header = metadata.get('authorization')[0];
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) {
      throw new ConclaveError('UNAUTHENTICATED', 'missing bearer token: send "authorization: Bearer <token>"');
    }
    const token = header.slice('Bearer '.length).trim();
    let claims = this.verified.get(token);
    if (claims && claims.expiresAt <= Math.floor(Date.now() / 1000)) {
      this.verified.delete(token);
      claims = undefined;
    }
    if (!claims) {
      try {
        claims = await verifyToken(this.keys, token);
      } catch (err) {
        if (err instanceof TokenError) {
          throw new ConclaveError(err.code === 'TOKEN_EXPIRED' ? 'TOKEN_EXPIRED' : 'UNAUTHENTICATED', err.message);
        }
        throw err;
      }
      if (this.verified.size >= VERIFIED_KEPT) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(token, claims);
    }
    this.tokenQuery ??= this.store.db.prepare('SELECT revoked_ms FROM tokens WHERE id = ?');
    const row = this.tokenQuery.get(claims.tokenId) as { revoked_ms: number | null } | undefined;
    if (!row) throw new ConclaveError('UNAUTHENTICATED', 'token is not known to this coordinator');
    if (row.revoked_ms !== null) throw new ConclaveError('TOKEN_REVOKED', 'token has been revoked');
    if (claims.role !== role) throw new ConclaveError('FORBIDDEN', `this call needs a ${role} token`);
    if (role === 'site') {
      this.siteQuery ??= this.store.db.prepare('SELECT revoked_ms, federation_id FROM sites WHERE id = ?');
      const site = this.siteQuery.get(claims.subject) as
        { revoked_ms: number | null; federation_id: string } | undefined;
      if (!site || site.federation_id !== claims.federationId) throw new ConclaveError('FORBIDDEN', 'site is not enrolled in this federation');
      if (site.revoked_ms !== null) throw new ConclaveError('TOKEN_REVOKED', 'site has been revoked from the federation');
    }
    return { subject: claims.subject, role: claims.role, federationId: claims.federationId, tokenId: claims.tokenId };
  }

  recordIssued(token: { tokenId: string; expiresAt: number }, subject: string, role: TokenRole, federationId: string | null): void {
    this.store.db.prepare('INSERT INTO tokens (id, subject, role, federation_id, expires_s) VALUES (?, ?, ?, ?, ?)')
      .run(token.tokenId, subject, role, federationId, token.expiresAt);
  }
}
