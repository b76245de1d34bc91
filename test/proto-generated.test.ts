/**
 * protocols/generated is what `npm run proto:gen` makes of conclave.proto: regenerating it into a
 * scratch folder must give the same files, byte for byte, or the types lie about the wire.
 */
import { expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

test('the generated message types and clients match conclave.proto', () => {
  const out = mkdtempSync(join(tmpdir(), 'conclave-proto-'));
  try {
    const script = JSON.parse(readFileSync('package.json', 'utf8')).scripts['proto:gen'] as string;
    const args = script.split(' ').slice(1).map((a) => (a === 'protocols/generated' ? out : a));
    execFileSync(process.execPath, ['node_modules/@grpc/proto-loader/build/bin/proto-loader-gen-types.js', ...args], { stdio: 'pipe' });
    const fresh = files(out).map((f) => relative(out, f)).sort();
    const committed = files('protocols/generated').map((f) => relative('protocols/generated', f)).sort();
    expect(committed).toEqual(fresh);
    for (const name of fresh) expect(readFileSync(join('protocols/generated', name), 'utf8'), name).toBe(readFileSync(join(out, name), 'utf8'));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
