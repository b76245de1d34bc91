/**
 * t-of-m Shamir sharing of 32-byte secrets through `shamir-secret-sharing` (Privy; GF(2^8), audited
 * by Cure53 and Zellic). Each share is the secret's length plus one byte, its x-coordinate. The
 * library does not check what it reconstructs (its README, "Security considerations"), so callers
 * pass a `verify` that compares against a public commitment and a share set that fails it is refused.
 */
import { combine, split } from 'shamir-secret-sharing';
import { SecAggError, invalidParameter } from './errors.ts';

export const SHARE_BYTES = 33;

/** The library's bounds: 2 ≤ t ≤ m ≤ 255. */
export async function shareSecret(secret: Uint8Array, shares: number, threshold: number): Promise<Uint8Array[]> {
  if (!Number.isInteger(threshold) || !Number.isInteger(shares) || threshold < 2 || shares < threshold || shares > 255) {
    throw invalidParameter(`Shamir sharing needs 2 ≤ t ≤ m ≤ 255, got t = ${threshold}, m = ${shares}`);
  }
  return split(secret, shares, threshold);
}

/**
 * Reconstructs from at least `threshold` shares. The first t are tried, then all of them (more
 * points outvote nothing in Lagrange interpolation, but a corrupted share among the first t is
 * then skipped only if the rest agree); a result `verify` rejects is an error, never returned.
 */
export async function reconstructSecret(shares: readonly Uint8Array[], threshold: number, verify: (secret: Uint8Array) => boolean): Promise<Uint8Array> {
  if (shares.length < threshold) {
    throw new SecAggError('SECAGG_TOO_FEW_SURVIVORS', `${shares.length} shares, ${threshold} needed to reconstruct`);
  }
  for (const s of shares) if (s.length !== SHARE_BYTES) throw new SecAggError('SECAGG_BAD_SHARE', `a share is ${SHARE_BYTES} bytes, got ${s.length}`);
  const xs = new Set(shares.map((s) => s[s.length - 1]));
  if (xs.size !== shares.length) throw new SecAggError('SECAGG_BAD_SHARE', 'two shares have the same x-coordinate (a replayed share)');
  for (const attempt of [shares.slice(0, threshold), shares]) {
    const secret = await combine([...attempt]);
    if (verify(secret)) return secret;
  }
  throw new SecAggError('SECAGG_BAD_SHARE', 'the revealed shares do not reconstruct the committed secret');
}
