/**
 * How long writing a committed model's blob (registry.writeBlob: SHA-256, temp file, fsync, rename,
 * directory fsync) holds the event loop, and its wall time. A commit's blob write is the largest
 * piece of a large model's commit; while the loop is held, no site's poll or upload moves.
 *
 *   node_modules/.bin/node bench/model-blob.ts --size 16 --reps 12 --trees /tmp/before,.
 *
 * `--trees`: source trees to compare (e.g. a `git archive` of an earlier commit with a symlink to
 * this node_modules), run one after the other in this process. "Loop held" is the longest the loop
 * went without a turn while the writes ran (monitorEventLoopDelay, 1 ms ticks); a write done
 * entirely on the loop gives the loop no turn at all, so its hold is its whole wall time. Prints
 * JSON: medians after the first two writes of each tree, and every write.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { values: flags } = parseArgs({
  options: { size: { type: 'string', default: '16' }, reps: { type: 'string', default: '12' }, trees: { type: 'string', default: '.' } },
});
const sizeMiB = Number(flags.size);
const reps = Math.max(3, Number(flags.reps));
const trees = flags.trees.split(',').map((t) => resolve(t));
if (!(sizeMiB > 0 && sizeMiB <= 1024)) throw new Error('--size must be in (0, 1024] MiB');
const weights = Float32Array.from({ length: Math.floor((sizeMiB * 2 ** 20) / 4) }, (_, i) => Math.sin(i));
const median = (xs: number[]) => {
  const s = xs.slice(2).sort((a, b) => a - b);
  return Math.round(s[Math.floor(s.length / 2)]! * 10) / 10;
};

type Any = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- modules of another checkout
const results = [];
for (const tree of trees) {
  const { Store } = (await import(join(tree, 'coordinator/store.ts'))) as Any;
  const { ModelRegistry } = (await import(join(tree, 'coordinator/model-registry.ts'))) as Any;
  const dir = mkdtempSync(join(tmpdir(), 'conclave-blob-'));
  const store = new Store(dir);
  store.db.prepare(`INSERT INTO federations (id, name, config_json, topology_json, status, created_ms) VALUES ('f', 'f', '{}', '{}', 'running', 0)`).run();
  const registry = new ModelRegistry(store);
  const walls: number[] = [];
  const held: number[] = [];
  for (let version = 1; version <= reps; version++) {
    const delay = monitorEventLoopDelay({ resolution: 1 });
    const ticker = setInterval(() => undefined, 1);
    delay.enable();
    const start = performance.now();
    await registry.writeBlob('f', version, weights);
    const wall = performance.now() - start;
    delay.disable();
    clearInterval(ticker);
    walls.push(wall);
    // No turn at all (count 0): the loop was held for the whole write.
    held.push(delay.count === 0 ? wall : delay.max / 1e6);
  }
  store.close();
  rmSync(dir, { recursive: true, force: true });
  results.push({ tree, wallMedianMs: median(walls), loopHeldMedianMs: median(held), wallsMs: walls.map((x) => Math.round(x * 10) / 10), loopHeldMs: held.map((x) => Math.round(x * 10) / 10) });
}
process.stdout.write(JSON.stringify({ sizeMiB, reps, results }, null, 2) + '\n');
process.exit(0);
