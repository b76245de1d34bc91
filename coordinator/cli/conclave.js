#!/usr/bin/env node
// The `conclave` command, in two places: a checkout runs the TypeScript sources on Node's built-in
// type stripping (Node >= 22.18 / 24); the installed package runs the JavaScript that `npm run build`
// emitted next to this file (dist/coordinator/cli/, where the build copies it). A checkout reached
// through an older system Node re-runs on the project's own Node 24 (the `node` devDependency); an
// installed package has no such binary and says which Node it needs (package.json `engines`).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const MIN_NODE = [22, 18];
const fromSources = existsSync(fileURLToPath(new URL('./main.ts', import.meta.url)));
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < MIN_NODE[0] || (major === MIN_NODE[0] && minor < MIN_NODE[1])) {
  const local = fileURLToPath(new URL('../../node_modules/node/bin/node', import.meta.url));
  if (!fromSources || !existsSync(local)) {
    const fix = fromSources ? 'run "npm ci" to install the project\'s Node 24' : 'install Node 22.18 or newer (e.g. the current LTS from nodejs.org, or "nvm install --lts") and run it again';
    process.stderr.write(`conclave needs Node >= ${MIN_NODE.join('.')} (found ${process.versions.node}); ${fix}\n`);
    process.exit(2);
  }
  const result = spawnSync(local, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}

const { main } = await import(fromSources ? './main.ts' : './main.js');
// Exit explicitly: gRPC channels and tfjs keep handles alive after a command is done. stdout and
// stderr are synchronous for files and pipes on POSIX, so nothing printed is lost.
process.exit(await main(process.argv.slice(2)));
