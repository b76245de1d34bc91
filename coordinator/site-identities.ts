/**
 * Sites' identity public keys (crypto/site-identity.ts), pinned on first use: the first signed
 * SecAgg advertisement a site sends registers its key, and every later one must carry the same
 * key. A stolen site token therefore cannot bring a new key into a round, and the key neighbours
 * are given for a site never changes behind their back. A site that loses its key is revoked and
 * enrolled again (a new site id), as it would be for a lost token.
 * The table is created here, next to its only user, rather than in a store migration: it only ever
 * gains rows and needs no data from before it existed.
 */
import { timingSafeEqual } from 'node:crypto';
import { ConclaveError } from '../protocols/index.ts';
import type { Store } from './store.ts';

export class SiteIdentities {
  private readonly store: Store;

  constructor(store: Store) {
    this.store = store;
    store.db.exec(`CREATE TABLE IF NOT EXISTS site_identities (
      site_id TEXT PRIMARY KEY REFERENCES sites(id),
      federation_id TEXT NOT NULL REFERENCES federations(id),
      public_key BLOB NOT NULL,
      registered_ms INTEGER NOT NULL
    )`);
  }

  get(siteId: string): Uint8Array | null {
    const row = this.store.db.prepare('SELECT public_key FROM site_identities WHERE site_id = ?').get(siteId) as { public_key: Uint8Array } | undefined;
    return row ? new Uint8Array(row.public_key) : null;
  }

  /** Registers the key on first use; afterwards refuses any other (IDENTITY_MISMATCH). */
  pin(federationId: string, siteId: string, publicKey: Uint8Array, now = Date.now()): void {
    this.store.db.prepare('INSERT OR IGNORE INTO site_identities (site_id, federation_id, public_key, registered_ms) VALUES (?, ?, ?, ?)')
      .run(siteId, federationId, publicKey, now);
    const pinned = this.get(siteId)!;
    if (pinned.length !== publicKey.length || !timingSafeEqual(pinned, publicKey)) {
      throw new ConclaveError('IDENTITY_MISMATCH', 'this site registered a different identity key; a site that lost its key must be revoked and enrolled again');
    }
  }
}
