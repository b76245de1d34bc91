import { describe, expect, it } from 'vitest';
import { generateSigningKeys, issueToken, verifyToken, exportSigningKeys, importSigningKeys, TokenError } from './tokens.ts';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof TokenError ? err.code : 'OTHER';
  }
  return 'NONE';
}

describe('site and admin tokens', () => {
  it('verifies what it issued, also after the key was exported and imported', async () => {
    const keys = await generateSigningKeys();
    const { token, tokenId } = await issueToken(keys, { subject: 'site-1', role: 'site', federationId: 'fed', ttlSeconds: 60 });
    const again = await importSigningKeys(await exportSigningKeys(keys));
    expect(await verifyToken(again, token)).toMatchObject({ subject: 'site-1', role: 'site', federationId: 'fed', tokenId });
  });

  it('refuses another key, a changed payload, garbage and an expired token', async () => {
    const keys = await generateSigningKeys();
    const other = await generateSigningKeys();
    const { token } = await issueToken(keys, { subject: 'admin', role: 'admin', federationId: null, ttlSeconds: 60 });
    expect(await codeOf(verifyToken(other, token))).toBe('TOKEN_INVALID');
    const [h, p, s] = token.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...payload, role: 'admin', sub: 'site-9' })).toString('base64url');
    expect(await codeOf(verifyToken(keys, `${h}.${forged}.${s}`))).toBe('TOKEN_INVALID');
    expect(await codeOf(verifyToken(keys, 'not-a-jwt'))).toBe('TOKEN_MALFORMED');
    const short = await issueToken(keys, { subject: 's', role: 'site', federationId: 'f', ttlSeconds: 1 });
    await new Promise((r) => setTimeout(r, 2100));
    expect(await codeOf(verifyToken(keys, short.token))).toBe('TOKEN_EXPIRED');
    await expect(issueToken(keys, { subject: 's', role: 'site', federationId: 'f', ttlSeconds: 0 })).rejects.toThrow(/positive/);
  });
});
