import { describe, expect, test } from 'vitest';
import { randomBytes, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { createLogger, scrub } from './logger.ts';

function capture(level: 'debug' | 'info' = 'debug') {
  const lines: string[] = [];
  return { lines, log: createLogger({ component: 'test', level, sink: (l) => lines.push(l) }) };
}

// A real-shaped site token: a compact JWS.
const TOKEN = `eyJhbGciOiJFZERTQSIsImtpZCI6ImFiYyJ9.${Buffer.from(JSON.stringify({ sub: 'site-1', fed: 'f' })).toString('base64url')}.${randomBytes(64).toString('base64url')}`;

describe('the coordinator log', () => {
  test('one JSON object per line, with level, time, component and the fields', () => {
    const { lines, log } = capture();
    log.child({ federation: 'f1' }).info('round opened', { round: 3, sites: 4 });
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'info', msg: 'round opened', component: 'test', federation: 'f1', round: 3, sites: 4 });
    expect(typeof line['time']).toBe('string');
  });

  test('levels below the configured one are dropped', () => {
    const { lines, log } = capture('info');
    log.debug('noise');
    log.warn('kept');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['kept']);
  });

  test('no token, key, share or raw update reaches a line, whatever field or message carries it', () => {
    const { lines, log } = capture();
    const update = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 0.123456);
    const { privateKey } = generateKeyPairSync('x25519');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const seed = randomBytes(32);
    const share = randomBytes(48).toString('hex');
    log.info('enrolled', { token: TOKEN, site: { token: TOKEN, name: 'h' } });
    log.warn('rpc refused', { reason: `token ${TOKEN} is expired`, authorization: `Bearer ${TOKEN}` });
    log.error(`bad call with ${TOKEN}`, { error: new Error(`cannot parse ${pem}`) });
    log.info('stage message accepted', { update, values: Array.from(update), nested: { deeper: { shares: [share], selfMaskSeed: seed } } });
    log.info('numbers', { list: Array.from(update.subarray(0, 100)) });
    log.child({ token: TOKEN }).info('child bindings', { key: pem, maskSeed: seed.toString('base64') });
    log.info('hex key material', { note: `k=${randomBytes(32).toString('hex')}` });
    const all = lines.join('\n');
    expect(lines).toHaveLength(7);
    expect(all).not.toContain(TOKEN.split('.')[2]!);
    expect(all).not.toContain('BEGIN PRIVATE KEY');
    expect(all).not.toContain(pem.split('\n')[1]!);
    expect(all).not.toContain(share);
    expect(all).not.toContain(seed.toString('base64'));
    expect(all).not.toContain(seed.toString('hex'));
    expect(all).not.toContain(String(update[1]));
    expect(all).not.toContain(String(update[17]));
    // The facts around them survive.
    expect(all).toContain('is expired');
    expect(all).toContain('"name":"h"');
  });

  test('property: a JWT-shaped string anywhere in the fields never appears in the output', () => {
    fc.assert(fc.property(
      fc.string({ maxLength: 12 }).filter((s) => /^[a-z]+$/i.test(s)),
      fc.uint8Array({ minLength: 16, maxLength: 64 }),
      fc.integer({ min: 0, max: 3 }),
      (name, bytes, depth) => {
        const token = `eyJ${Buffer.from('{"alg":"EdDSA"}').toString('base64url').slice(3)}.${Buffer.from(bytes).toString('base64url')}.${Buffer.from(bytes).reverse().toString('base64url')}`;
        let fields: Record<string, unknown> = { [name || 'x']: `prefix ${token} suffix` };
        for (let i = 0; i < depth; i++) fields = { level1: fields };
        const { lines, log } = capture();
        log.info('m', fields);
        return !lines.join('').includes(token);
      },
    ), { numRuns: 200 });
  });

  test('scrub leaves ordinary facts alone', () => {
    const facts = { federation: '6f1c', round: 2, sites: [1, 2, 3], keyId: 'k1', keyFingerprint: 'x'.repeat(43), reason: 'quorum not reached' };
    expect(scrub(facts)).toEqual(facts);
  });
});
