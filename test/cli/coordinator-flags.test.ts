import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../protocols/cli.ts';
import { runCliInProcess } from '../helpers/processes.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'conclave-coordinator-flags-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('conclave coordinator start --fold-threads', () => {
  it('refuses a count that is not an integer in [0, 64] before it touches the data dir', async () => {
    for (const bad of ['-1', '65', '1.5', 'many']) {
      const run = await runCliInProcess(['coordinator', 'start', '--data-dir', dataDir, '--port', '0', '--fold-threads', bad]);
      expect(run.code).toBe(EXIT.USAGE);
      expect(run.stderr).toMatch(/--fold-threads must be/);
    }
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it('is listed in the command\'s help', async () => {
    const run = await runCliInProcess(['coordinator', 'start', '--help']);
    expect(run.code).toBe(EXIT.OK);
    expect(run.stdout).toMatch(/--fold-threads <N>\s+helper threads that fold large updates/);
  });
});
