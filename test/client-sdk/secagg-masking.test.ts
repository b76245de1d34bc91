/**
 * A site's masking on threads (client-sdk/protection/secagg-masking.ts): the masked vector is
 * crypto/secagg maskInput's on one thread, bit for bit, and no thread outlives its use.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { secAggSiteProtocol } from '../../client-sdk/protection/secagg.ts';
import { SiteMasking } from '../../client-sdk/protection/secagg-masking.ts';
import { advertise, maskInput, placeSite, setupRound, type Round } from '../../crypto/secagg/index.ts';
import { keyedRound as keyRound, type KeyedRound } from '../../crypto/secagg/keyed-round.fixture.ts';
import { tempDataDir } from '../helpers/coordinator.ts';
import { NODE_BIN } from '../helpers/processes.ts';

const run = promisify(execFile);

async function keyedRound(n: number, length: number): Promise<KeyedRound & { round: Round }> {
  const round = setupRound({ roundId: 'masking', n, k: n - 1, t: 3, graphSeed: randomBytes(32), length });
  return { round, ...await keyRound(round) };
}

const masking = new SiteMasking({ maskWorkers: 1, minLength: 1 });
const cleanups: Array<() => void> = [];
afterAll(async () => {
  await masking.close();
  cleanups.forEach((cleanup) => cleanup());
});

describe('SiteMasking', () => {
  it('masks bit for bit as maskInput on one thread, and commits the site to the same neighbours', async () => {
    for (const length of [2 * 65536 + 5, 3 * 65536 + 2]) {
      const { round, secrets, ads, inbox } = await keyedRound(5, length);
      for (let i = 0; i < 5; i++) {
        const x = new Uint32Array(randomBytes(4 * length).buffer);
        const before = x.slice();
        const single = maskInput(round, secrets[i]!, ads, inbox.get(i)!, x);
        expect(x).toEqual(before);
        const held = [...secrets[i]!.held!.keys()];
        const pooled = await masking.mask(round, secrets[i]!, ads, inbox.get(i)!, x);
        // In place: the site's plain input is gone once masked.
        expect(pooled).toBe(x);
        expect(pooled.buffer).toBeInstanceOf(ArrayBuffer);
        expect(pooled).toEqual(single);
        expect(pooled).not.toEqual(before);
        expect([...secrets[i]!.held!.keys()]).toEqual(held);
      }
      expect(masking.running).toBe(1);
      await expect(masking.mask(round, secrets[0]!, ads, inbox.get(0)!, new Uint32Array(length - 1))).rejects.toThrow(/elements/);
    }
  });

  it('masks vectors below minLength, and with maskWorkers 0 any vector, on the calling thread', async () => {
    const { round, secrets, ads, inbox } = await keyedRound(4, 2 * 65536);
    const x = new Uint32Array(2 * 65536);
    for (const options of [{ maskWorkers: 1, minLength: 2 * 65536 + 1 }, { maskWorkers: 0, minLength: 1 }]) {
      const m = new SiteMasking(options);
      const expected = maskInput(round, secrets[1]!, ads, inbox.get(1)!, x);
      expect(await m.mask(round, secrets[1]!, ads, inbox.get(1)!, x.slice())).toEqual(expected);
      expect(m.running).toBe(0);
    }
    expect(() => new SiteMasking({ maskWorkers: -1 })).toThrow(RangeError);
    expect(secAggSiteProtocol({ maskWorkers: 0 }).masking.workers).toBe(0);
  });

  it('close() ends the threads, and a later mask starts them again', async () => {
    const { round, secrets, ads, inbox } = await keyedRound(4, 2 * 65536);
    const m = new SiteMasking({ maskWorkers: 1, minLength: 1 });
    const x = new Uint32Array(2 * 65536);
    const first = await m.mask(round, secrets[0]!, ads, inbox.get(0)!, x.slice());
    expect(m.running).toBe(1);
    await m.close();
    expect(m.running).toBe(0);
    expect(await m.mask(round, secrets[0]!, ads, inbox.get(0)!, x.slice())).toEqual(first);
    expect(m.running).toBe(1);
    await m.close();
    expect(m.running).toBe(0);
  });

  it('masks on the calling thread when its threads fail mid-job (closed under it), and starts them again after', async () => {
    const { round, secrets, ads, inbox } = await keyedRound(4, 2 * 65536);
    const x = new Uint32Array(randomBytes(4 * 2 * 65536).buffer);
    const expected = maskInput(round, secrets[2]!, ads, inbox.get(2)!, x);
    const m = new SiteMasking({ maskWorkers: 1, minLength: 1 });
    const job = m.mask(round, secrets[2]!, ads, inbox.get(2)!, x.slice());
    expect(m.running).toBe(1);
    await m.close();
    expect(await job).toEqual(expected);
    expect(await m.mask(round, secrets[2]!, ads, inbox.get(2)!, x.slice())).toEqual(expected);
    expect(m.running).toBe(1);
    await m.close();
  });

  it('a process that masked on threads and never closed them exits by itself', async () => {
    const url = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
    const script = `
      import { SiteMasking } from ${url('../../client-sdk/protection/secagg-masking.ts')};
      import { advertise, placeSite, setupRound, shareKeys } from ${url('../../crypto/secagg/index.ts')};
      const round = setupRound({ roundId: 'exit', n: 3, k: 2, t: 2, graphSeed: new Uint8Array(32), length: 1 << 17 });
      const sites = [0, 1, 2].map((i) => { const a = advertise(); placeSite(round, a.secrets, i); return a; });
      const ads = new Map(sites.map((s, i) => [i, s.advertisement]));
      const inbox = new Map();
      for (const [i, s] of sites.entries()) for (const [to, c] of await shareKeys(round, s.secrets, new Map([...ads].filter(([j]) => j !== i)))) if (to === 0) inbox.set(i, c);
      const m = new SiteMasking({ maskWorkers: 1, minLength: 1 });
      await m.mask(round, sites[0].secrets, ads, inbox, new Uint32Array(1 << 17));
      console.log('threads', m.running);`;
    const { dir, cleanup } = tempDataDir('conclave-masking-exit-');
    cleanups.push(cleanup);
    const file = join(dir, 'mask.mjs');
    writeFileSync(file, script);
    const started = Date.now();
    const { stdout } = await run(NODE_BIN, [file], { timeout: 30_000 });
    expect(stdout.trim()).toBe('threads 1');
    // The idle end is a minute away: the process ends at once because an idle thread is unref'd.
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
