/**
 * Runs every benchmark, one process each (they measure wall time and must not share a heap or
 * a tfjs backend), and prints one JSON object keyed by benchmark. Results go in BENCHMARKS.md.
 * Run: npm run bench   (or node_modules/.bin/node bench/run.ts [name ...])
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const BENCHES = ['transfer', 'train-throughput', 'dp-accounting'] as const;

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(BENCHES as readonly string[]).includes(name));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; choose from ${BENCHES.join(', ')}\n`);
  process.exit(2);
}
const results: Record<string, unknown> = {};
for (const name of wanted.length > 0 ? wanted : BENCHES) {
  process.stderr.write(`[bench] ${name}…\n`);
  const script = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  const { stdout } = await run(process.execPath, [script], { maxBuffer: 64 * 1024 * 1024 });
  results[name] = JSON.parse(stdout);
}
process.stdout.write(JSON.stringify({ node: process.version, date: new Date().toISOString(), results }, null, 2) + '\n');
