import type { Metadata } from '@grpc/grpc-js';
import { ConclaveError } from '../protocols/index.ts';
import { TokenError, verifyToken, type SigningKeys, type TokenRole } from '../crypto/tokens.ts';
import type { Store } from './store.ts';

export interface Caller {
  subject: string;
  role: TokenRole;
  federationId: string | null;
  tokenId: string;
}

/**
 * Every RPC passes through here. The signature proves the coordinator issued the token; the
 * store decides whether it still counts (revocation is immediate, no token cache to go stale).
 */
export class Authenticator {
  private readonly keys: SigningKeys;
  private readonly store: Store;

  constructor(keys: SigningKeys, store: Store) {
    this.keys = keys;
    this.store = store;
  }

  async authenticate(metadata: Metadata, role: TokenRole): Promise<Caller> {
    const header = metadata.get('authorization')[0];
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) {
      throw new ConclaveError('UNAUTHENTICATED', 'missing bearer token: send "authorization: Bearer <token>"');
    }
    let claims;
    try {
      claims = await verifyToken(this.keys, header.slice('Bearer '.length).trim());
    } catch (err) {
      if (err instanceof TokenError) {
        throw new ConclaveError(err.code === 'TOKEN_EXPIRED' ? 'TOKEN_EXPIRED' : 'UNAUTHENTICATED', err.message);
      }
      throw err;
    }
    const row = this.store.db.prepare('SELECT revoked_ms FROM tokens WHERE id = ?').get(claims.tokenId) as { revoked_ms: number | null } | undefined;
    if (!row) throw new ConclaveError('UNAUTHENTICATED', 'token is not known to this coordinator');
    if (row.revoked_ms !== null) throw new ConclaveError('TOKEN_REVOKED', 'token has been revoked');
    if (claims.role !== role) throw new ConclaveError('FORBIDDEN', `this call needs a ${role} token`);
    if (role === 'site') {
      const site = this.store.db.prepare('SELECT revoked_ms, federation_id FROM sites WHERE id = ?').get(claims.subject) as
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
