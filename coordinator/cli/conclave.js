#!/usr/bin/env node
// Conclave is TypeScript run by Node's built-in type stripping (Node >= 22.18 / 24). When this
// file is reached through an older system Node, re-run it on the project's own Node 24 binary
// (the `node` devDependency) rather than failing on the first .ts import.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  const local = fileURLToPath(new URL('../../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(local)) {
    process.stderr.write(`conclave needs Node >= 22.18 (found ${process.versions.node}); run "npm ci" to install the project's Node 24\n`);
    process.exit(2);
  }
  const result = spawnSync(local, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}

const { main } = await import('./main.ts');
// Exit explicitly: gRPC channels and tfjs keep handles alive after a command is done. stdout and
// stderr are synchronous for files and pipes on POSIX, so nothing printed is lost.
process.exit(await main(process.argv.slice(2)));
