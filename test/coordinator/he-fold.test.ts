/**
 * The coordinator's CKKS fold on worker threads (coordinator/protection/he-fold-pool.ts) and the two
 * pipeline additions it needs: an accept() that settles later, and a settle() awaited before finish().
 */
import { readdirSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ConclaveError } from '../../protocols/index.ts';
import { Ckks, HeError, MAX_FULL_CIPHERTEXT_BYTES, packCiphertexts, unpackCiphertexts, type CkksKeyPair } from '../../crypto/he/ckks.ts';
import { HeFoldPool } from '../../coordinator/protection/he-fold-pool.ts';
import { noProtection } from '../../coordinator/protection/none.ts';
import type { ProtectionProtocol, UpdateReport } from '../../coordinator/protection/protocol.ts';
import { heProtection } from '../../coordinator/protection/he.ts';
import { inMemoryCoordinator, openRound, poll, sendUpdate, settle, tinyConfig, tinyFederation, type InMemoryCoordinator } from '../helpers/in-memory-coordinator.ts';

let he: Ckks;
let keys: CkksKeyPair;
beforeAll(async () => {
  he = await Ckks.create();
  keys = he.generateKeys();
});
afterAll(() => he?.delete());

/** 2 ciphertexts' worth of parameters: small, but more than one per site. */
const LENGTH = 5000;
const COUNT = 2;
const update = (i: number) => packCiphertexts(he.encrypt(keys, Float64Array.from({ length: LENGTH }, (_, k) => Math.sin(i * 7 + k) / 10)));

function inlineSum(uploads: readonly Uint8Array[]): Uint8Array[] {
  const acc = he.accumulator(COUNT);
  try {
    for (const u of uploads) acc.add(unpackCiphertexts(u, COUNT, MAX_FULL_CIPHERTEXT_BYTES));
    return acc.serialize();
  } finally {
    acc.delete();
  }
}

/** What the protocol does at a stage's end: the threads' partial sums added on this thread. */
function merged(partials: Uint8Array[][]): Uint8Array[] {
  const acc = he.accumulator(COUNT);
  try {
    for (const p of partials) acc.add(p);
    return acc.serialize();
  } finally {
    acc.delete();
  }
}

const threadsOfProcess = () => readdirSync('/proc/self/task').length;

describe('HeFoldPool', () => {
  let pool: HeFoldPool | undefined;
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  test('the aggregate is bit for bit the inline fold\'s, whatever the threads and the order', async () => {
    const uploads = Array.from({ length: 5 }, (_, i) => update(i));
    const expected = inlineSum(uploads).map((c) => Buffer.from(c));
    for (const threads of [1, 3]) {
      pool = new HeFoldPool(threads);
      const sum = pool.sum(COUNT);
      await Promise.all(uploads.map((u) => sum.add(u)));
      const partials = await sum.take();
      expect(partials.length).toBeLessThanOrEqual(threads);
      expect(merged(partials).map((c) => Buffer.from(c))).toEqual(expected);
      // A second stage of the same round (the ceremony's `encrypt`) folds on from nothing.
      await sum.add(uploads[0]!);
      expect(merged(await sum.take()).map((c) => Buffer.from(c))).toEqual(inlineSum([uploads[0]!]).map((c) => Buffer.from(c)));
      sum.drop();
      await pool.close();
    }
  });

  test('a bad ciphertext is refused with the inline fold\'s error and leaves the sum untouched (all or nothing)', async () => {
    const good = [update(1), update(2)];
    const garbled = Uint8Array.from(good[0]!);
    // The second ciphertext is garbled: the first one loads, and must not be added.
    const second = 4 + unpackCiphertexts(good[0]!, COUNT, MAX_FULL_CIPHERTEXT_BYTES)[0]!.length + 4;
    garbled.fill(0xff, second + 200, second + 300);
    let inlineError: unknown;
    const acc = he.accumulator(COUNT);
    try {
      acc.add(unpackCiphertexts(garbled, COUNT, MAX_FULL_CIPHERTEXT_BYTES));
    } catch (err) {
      inlineError = err;
    } finally {
      acc.delete();
    }
    expect(inlineError).toBeInstanceOf(HeError);

    pool = new HeFoldPool(1);
    const sum = pool.sum(COUNT);
    await sum.add(good[0]!);
    const refusal = await sum.add(garbled).then(() => null, (err: unknown) => err);
    expect(refusal).toBeInstanceOf(HeError);
    expect(refusal).toMatchObject({ code: (inlineError as HeError).code, message: (inlineError as HeError).message });
    await sum.add(good[1]!);
    expect(merged(await sum.take()).map((c) => Buffer.from(c))).toEqual(inlineSum(good).map((c) => Buffer.from(c)));
    sum.drop();
  });

  test('each thread\'s WebAssembly heap stays flat over many rounds', async () => {
    pool = new HeFoldPool(2);
    const uploads = [update(3), update(4), update(5)];
    const round = async () => {
      const sum = pool!.sum(COUNT);
      await Promise.all(uploads.map((u) => sum.add(u)));
      await sum.take();
      sum.drop();
    };
    // The first rounds grow each heap to its working size.
    for (let r = 0; r < 3; r++) await round();
    const before = await pool.heapBytes();
    for (let r = 0; r < 8; r++) await round();
    // A dropped sum (an aborted round) is freed too.
    const dropped = pool.sum(COUNT);
    await dropped.add(uploads[0]!);
    dropped.drop();
    await round();
    expect(await pool.heapBytes()).toEqual(before);
  });

  test('threads end on close() once no round holds a sum, and after idleMs without one; a dropped sum refuses further folds', async () => {
    const baseline = threadsOfProcess();
    pool = new HeFoldPool(2, { idleMs: 50 });
    const sum = pool.sum(COUNT);
    await sum.add(update(6));
    expect(pool.running).toBe(2);
    expect(threadsOfProcess()).toBeGreaterThanOrEqual(baseline + 2);
    // A round still holds a sum: a coordinator stopping beside it leaves the threads to it.
    await pool.close();
    expect(pool.running).toBe(2);
    sum.drop();
    await expect(sum.add(update(6))).rejects.toThrow(/dropped/);
    await pool.close();
    expect(pool.running).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(threadsOfProcess()).toBeLessThanOrEqual(baseline);
    // The next round starts them again; once it is done they end on their own.
    const next = pool.sum(COUNT);
    await next.add(update(7));
    expect(pool.running).toBe(2);
    next.drop();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(pool.running).toBe(0);
  });
});

describe('the pipeline waits for accepts in flight and settle() before finish()', () => {
  let c: InMemoryCoordinator | undefined;
  afterEach(() => c?.close());

  /** Protocol "none" whose accept settles when the test says, and whose settle() and finish() are logged. */
  function deferred(options: { failOnce?: boolean; settleFails?: boolean } = {}) {
    const events: string[] = [];
    const gates = new Map<string, () => void>();
    let failOnce = options.failOnce ?? true;
    const [stage] = noProtection.stages;
    const protocol: ProtectionProtocol<unknown> = {
      ...(noProtection as ProtectionProtocol<unknown>),
      name: 'none',
      stages: [{
        ...stage!,
        accept(state, ctx, message) {
          return new Promise<void | UpdateReport>((resolve, reject) => {
            events.push(`accept ${message.siteId}`);
            gates.set(message.siteId, () => {
              if (failOnce) {
                failOnce = false;
                reject(new ConclaveError('INVALID_ARGUMENT', 'refused once, as a bad ciphertext would be'));
                return;
              }
              try {
                resolve(stage!.accept(state as never, ctx, message) as void | UpdateReport);
              } catch (err) {
                reject(err as Error);
              }
            });
          });
        },
        async settle() {
          events.push('settle start');
          await new Promise((resolve) => setTimeout(resolve, 20));
          if (options.settleFails) throw new Error('a fold thread died; its partial sum is lost');
          events.push('settle end');
        },
        finish(state, ctx, answered, live) {
          events.push(`finish ${[...answered].sort().join(',')}`);
          return stage!.finish(state as never, ctx, answered, live);
        },
      }],
      close: async () => { events.push('close'); },
    };
    return { protocol, events, gates };
  }

  test('an accept in flight at the deadline counts; new messages are refused while the stage drains; a refused one may be resent', async () => {
    const { protocol, events, gates } = deferred();
    c = await inMemoryCoordinator({ protocols: new Map([['none', protocol as ProtectionProtocol<never>]]) });
    const fed = await tinyFederation(c, 2, tinyConfig({ sitesPerRound: 2, minSites: 1 }));
    await openRound(c, fed.sites);
    const [a, b] = fed.sites;
    const task = await poll(c, a!);
    if (task.task !== 'round') throw new Error(`expected a round plan, got ${task.task}`);
    const roundId = task.round.roundId;
    const values = new Float32Array(8).fill(0.5);

    // The first answer is refused once it settles: nothing of it counts, and the site sends again.
    const first = sendUpdate(c, a!, roundId, values);
    await settle();
    gates.get(a!.siteId)!();
    await expect(first).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const second = sendUpdate(c, a!, roundId, values).then(() => 'accepted', (err: ConclaveError) => err.code);
    await settle();
    expect(events).toEqual([`accept ${a!.siteId}`, `accept ${a!.siteId}`]);

    // The deadline passes while the accept is in flight: the stage drains instead of ending.
    await c.clock.advance(1000);
    expect(events.some((e) => e.startsWith('finish') || e.startsWith('settle'))).toBe(false);
    expect(c.rounds.activeRound(fed.id)).toMatchObject({ state: 'collecting' });
    await expect(sendUpdate(c, b!, roundId, values)).rejects.toMatchObject({ code: 'ROUND_CLOSED', message: expect.stringMatching(/is ending/) });
    expect((await poll(c, b!)).task).not.toBe('round');

    gates.get(a!.siteId)!();
    expect(await second).toBe('accepted');
    for (let i = 0; i < 10 && !events.some((e) => e.startsWith('finish')); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(events.slice(2)).toEqual(['settle start', 'settle end', `finish ${a!.siteId}`]);
    await settle();
    const [round] = c.rounds.listRounds(fed.id);
    expect(round).toMatchObject({ state: 'committed', submittedSites: [a!.siteId] });

    // Stopping the coordinator asks the protocol to end its threads.
    c.close();
    c = undefined;
    expect(events.at(-1)).toBe('close');
  });

  /** One round of 2 sites (quorum 1) with site a's accept in flight when the stage's deadline passes. */
  async function drainingRound(options: Parameters<typeof deferred>[0]) {
    const d = deferred(options);
    c = await inMemoryCoordinator({ protocols: new Map([['none', d.protocol as ProtectionProtocol<never>]]) });
    const fed = await tinyFederation(c, 2, tinyConfig({ sitesPerRound: 2, minSites: 1 }));
    await openRound(c, fed.sites);
    const a = fed.sites[0]!;
    const task = await poll(c, a);
    if (task.task !== 'round') throw new Error(`expected a round plan, got ${task.task}`);
    const sent = sendUpdate(c, a, task.round.roundId, new Float32Array(8).fill(0.5)).then(() => 'accepted', (err: ConclaveError) => err.code);
    await settle();
    await c.clock.advance(1000);
    return { ...d, fed, a, roundId: task.round.roundId, sent };
  }
  const waitFor = async (check: () => boolean) => {
    for (let i = 0; i < 50 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  };

  test('a settle() that fails aborts the round cleanly, naming why; nothing is committed', async () => {
    const { events, gates, fed, a, sent } = await drainingRound({ failOnce: false, settleFails: true });
    gates.get(a.siteId)!();
    expect(await sent).toBe('accepted');
    await waitFor(() => c!.rounds.activeRound(fed.id) === null);
    const [round] = c!.rounds.listRounds(fed.id);
    expect(round).toMatchObject({ state: 'aborted', abortReason: 'stage "submit" failed: a fold thread died; its partial sum is lost' });
    expect(events.some((e) => e.startsWith('finish'))).toBe(false);
    expect(c!.registry.latestVersion(fed.id)).toBe(0);
  });

  test('an operator abort while the stage drains wins: the accept in flight is refused, finish() never runs', async () => {
    const { events, gates, fed, a, roundId, sent } = await drainingRound({ failOnce: false });
    c!.rounds.abortByOperator(fed.id, roundId, 'operator said so');
    gates.get(a.siteId)!();
    expect(await sent).toBe('ROUND_CLOSED');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events.some((e) => e.startsWith('finish'))).toBe(false);
    expect(c!.rounds.listRounds(fed.id)[0]).toMatchObject({ state: 'aborted', abortReason: 'operator said so', submittedSites: [] });
  });

  test('protection he starts its fold threads with a round and ends them on close() (a coordinator stopping): no thread is left', async () => {
    const baseline = threadsOfProcess();
    const protocol = heProtection({ he, foldThreads: 2 });
    const ctx = { federationId: 'f', roundId: 'r', roundNumber: 1, layout: [{ name: 'w', shape: [LENGTH], dtype: 'float32' as const }], selected: ['a', 'b'], minSurvivors: 1, dp: false };
    const state = protocol.begin(ctx, { addSum() {} } as never);
    expect(threadsOfProcess()).toBeGreaterThanOrEqual(baseline + 2);
    // A round in progress keeps them; once it is over, close() ends them.
    await protocol.close!();
    expect(threadsOfProcess()).toBeGreaterThanOrEqual(baseline + 2);
    protocol.dispose!(state);
    await protocol.close!();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(threadsOfProcess()).toBeLessThanOrEqual(baseline);
  });

  test('heProtection refuses a fold thread count that is not a non-negative integer', () => {
    expect(() => heProtection({ he, foldThreads: -1 })).toThrow(RangeError);
    expect(() => heProtection({ he, foldThreads: 1.5 })).toThrow(RangeError);
  });
});
