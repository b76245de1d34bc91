/**
 * The room/import table of ARCHITECTURE.md is enforced by dependency-cruiser with the repository's
 * own .dependency-cruiser.cjs (`npm run lint:layers`, run by .ci/run). Here the rules themselves
 * are checked on a miniature repository: every kind of breach is reported under the rule that
 * forbids it (value, type-only and dynamic imports alike), and what the table allows is not.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';
import { tempDataDir } from './helpers/coordinator.ts';
import { NODE_BIN } from './helpers/processes.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruiser.mjs');

const FILES: Record<string, string> = {
  'protocols/wire.ts': 'export const W = 1;',
  'protocols/bad.ts': "import { C } from '../coordinator/core.ts';\nexport const B = C;",
  'crypto/pure.ts': 'export const P = 1;',
  'crypto/bad.ts': "import { W } from '../protocols/wire.ts';\nexport const B = W;",
  'crypto/bad-threads.ts': "import { Q } from './parallel/pool.ts';\nexport const B = Q;",
  'crypto/parallel/pool.ts': "import { P } from '../pure.ts';\nexport const Q = P;",
  'crypto/parallel/bad.ts': "import { W } from '../../protocols/wire.ts';\nexport const B = W;",
  'client-sdk/threads.ts': "import { Q } from '../crypto/parallel/pool.ts';\nexport const T = Q;",
  'coordinator/threads.ts': "import { Q } from '../crypto/parallel/pool.ts';\nexport const T = Q;",
  'client-sdk/ok.ts': "import { W } from '../protocols/wire.ts';\nimport { P } from '../crypto/pure.ts';\nimport * as tf from '@tensorflow/tfjs';\nexport const O = W + P + tf.version.tfjs.length;",
  'client-sdk/bad.ts': "import type { C } from '../coordinator/core.ts';\nexport type B = typeof C;",
  'coordinator/core.ts': "import { W } from '../protocols/wire.ts';\nimport { P } from '../crypto/pure.ts';\nexport const C = W + P;",
  'coordinator/bad-sdk.ts': "export async function load() {\n  return import('../client-sdk/ok.ts');\n}",
  'coordinator/bad-tf.ts': "import type * as tf from '@tensorflow/tfjs';\nexport type T = typeof tf;",
  'coordinator/cli/main.ts': "import { C } from '../core.ts';\nimport { O } from '../../client-sdk/ok.ts';\nimport * as tf from '@tensorflow/tfjs';\nexport const M = C + O + tf.version.tfjs.length;",
  'coordinator/cli/command.ts': "import { M } from './main.ts';\nexport const X = M;",
  'test/anything.ts': "import { M } from '../coordinator/cli/main.ts';\nimport { O } from '../client-sdk/ok.ts';\nimport { C } from '../coordinator/core.ts';\nexport const T = M + O + C;",
};

const cleanups: Array<() => void> = [];
afterAll(() => cleanups.forEach((cleanup) => cleanup()));

describe('the layering check (npm run lint:layers)', () => {
  test('reports every import the table forbids, under its rule, and nothing it allows', async () => {
    const { dir, cleanup } = tempDataDir('conclave-layers-');
    cleanups.push(cleanup);
    for (const [path, source] of Object.entries(FILES)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), source + '\n');
    }
    copyFileSync(join(ROOT, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
    copyFileSync(join(ROOT, 'tsconfig.json'), join(dir, 'tsconfig.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));

    // The command line of `npm run lint:layers`, with its default reporter.
    const result = await run(NODE_BIN, [DEPCRUISE, '--config', '.dependency-cruiser.cjs', 'coordinator', 'client-sdk', 'crypto', 'protocols', 'test'], { cwd: dir, maxBuffer: 64 << 20 })
      .then(({ stdout }) => ({ code: 0, stdout }), (err: { code: number; stdout: string }) => err);
    // Any error fails the command: this is what fails CI.
    expect(result.code).not.toBe(0);
    const found = [...result.stdout.matchAll(/^\s*error ([\w-]+): (\S+) → (\S+)$/gm)]
      .map(([, rule, from, to]) => `${rule}: ${from} → ${to!.replace(/^.*node_modules\/(@tensorflow\/[^/]+)\/.*$/, '$1')}`).sort();
    expect(found).toEqual([
      'client-sdk-imports-protocols-and-crypto-only: client-sdk/bad.ts → coordinator/core.ts',
      'coordinator-imports-protocols-and-crypto-only: coordinator/bad-sdk.ts → client-sdk/ok.ts',
      'crypto-imports-no-room: crypto/bad.ts → protocols/wire.ts',
      'crypto-imports-no-room: crypto/parallel/bad.ts → protocols/wire.ts',
      'crypto-kernels-stay-thread-free: crypto/bad-threads.ts → crypto/parallel/pool.ts',
      'no-tfjs-in-the-coordinator: coordinator/bad-tf.ts → @tensorflow/tfjs',
      'only-the-harness-imports-the-dispatcher: coordinator/cli/command.ts → coordinator/cli/main.ts',
      'protocols-imports-no-room: protocols/bad.ts → coordinator/core.ts',
    ]);
  });
});
