import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadIdentity } from '../../client-sdk/cli/participant-command.ts';

let dir = '';
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

describe('participant run --identity-key FILE', () => {
  it('creates the key once (0600) and reads the same identity back after a restart', () => {
    dir = mkdtempSync(join(tmpdir(), 'conclave-identity-'));
    const path = join(dir, 'site.pem');
    const first = loadIdentity(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const pem = readFileSync(path, 'utf8');
    const again = loadIdentity(path);
    expect(Buffer.from(again.publicKey).equals(Buffer.from(first.publicKey))).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(pem);
  });

  it('refuses a file that is not an Ed25519 key, with exit code 3', () => {
    dir = mkdtempSync(join(tmpdir(), 'conclave-identity-'));
    const path = join(dir, 'bad.pem');
    writeFileSync(path, 'not a key');
    expect(() => loadIdentity(path)).toThrow(expect.objectContaining({ exitCode: 3, message: expect.stringMatching(/cannot read identity key/) }));
  });
});
