/**
 * Protection `he` end to end on the in-memory coordinator: real Participants (injected trainer,
 * in-memory transport) encrypt under CKKS, the coordinator sums ciphertexts with the public key
 * only, two designated sites decrypt the aggregate. Keys are handed to the test sites directly:
 * the key ceremony is not built yet.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Participant, type ParticipantEvent } from '../../client-sdk/participant.ts';
import type { LocalTrainer } from '../../client-sdk/training/local-trainer.ts';
import type { SiteProtocol } from '../../client-sdk/protection/protocol.ts';
import { heSiteProtocol } from '../../client-sdk/protection/he.ts';
import { heProtection } from '../../coordinator/protection/he.ts';
import type { ProtectionProtocol } from '../../coordinator/protection/protocol.ts';
import type { SiteCaller } from '../../coordinator/participant-endpoint.ts';
import { Ckks, MAX_FULL_CIPHERTEXT_BYTES, packCiphertexts, type CiphertextMode, type CkksKeyPair } from '../../crypto/he/ckks.ts';
import { encodeJson, keyIdOf } from '../../crypto/he/wire.ts';
import { inMemoryCoordinator, openRound, poll, send, tinyConfig, tinyFederation, type InMemoryCoordinator, inMemoryTransport } from '../helpers/in-memory-coordinator.ts';

let he: Ckks;
let keys: CkksKeyPair;
let c: InMemoryCoordinator | undefined;
let dataRoot: string | undefined;
beforeAll(async () => {
  he = await Ckks.create();
  keys = he.generateKeys();
});
afterAll(() => he?.delete());
afterEach(() => {
  c?.close();
  c = undefined;
  if (dataRoot) rmSync(dataRoot, { recursive: true, force: true });
  dataRoot = undefined;
});

/** An in-memory coordinator running `he` whose data directory the test can read (it lives under a TMPDIR of our own). */
async function heCoordinator(mode: CiphertextMode = 'seeded'): Promise<{ c: InMemoryCoordinator; dataRoot: string }> {
  const root = mkdtempSync(join(tmpdir(), 'conclave-he-'));
  const saved = process.env['TMPDIR'];
  process.env['TMPDIR'] = root;
  try {
    const coordinator = await inMemoryCoordinator({ protocols: new Map([['none', heProtection({ he, publicKey: keys.publicKey, mode }) as ProtectionProtocol<never>]]) });
    return { c: coordinator, dataRoot: root };
  } finally {
    if (saved === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = saved;
  }
}

/** The in-memory transport; once `over()` holds, the coordinator tells the site the federation finished. */

function fixedTrainer(value: number, numExamples: number): LocalTrainer {
  return {
    init: async () => ({ backend: 'fixed', reason: 'test trainer' }),
    async *train(global) {
      yield { kind: 'epoch', epoch: 0, loss: 0.5 };
      return { delta: new Float32Array(global.values.length).fill(value), numExamples, loss: 0.5, accuracy: 0.9, steps: 1 };
    },
    dispose() {},
  };
}

async function runSites(
  coordinator: InMemoryCoordinator, sites: SiteCaller[], deltas: number[], examples: number[], protocolFor: (i: number) => SiteProtocol, over: () => boolean = () => false,
) {
  const runs = sites.map((site, i) => {
    const participant = new Participant({
      transport: inMemoryTransport(coordinator, site, over), trainer: fixedTrainer(deltas[i]!, examples[i]!), pollWaitMs: 20,
      protocols: new Map([['he', protocolFor(i)]]),
    });
    return (async () => {
      const events: ParticipantEvent[] = [];
      try {
        for await (const e of participant.run()) events.push(e);
      } catch (err) {
        events.push({ type: 'error', error: err } as unknown as ParticipantEvent);
      }
      return events;
    })();
  });
  const ticker = setInterval(() => coordinator.rounds.scheduler.tick(), 10);
  try {
    return await Promise.all(runs);
  } finally {
    clearInterval(ticker);
  }
}

/** Every file under `dir`, as bytes (the SQLite database, its WAL, model blobs, logs). */
function filesUnder(dir: string): Array<{ path: string; bytes: Buffer }> {
  const out: Array<{ path: string; bytes: Buffer }> = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push({ path, bytes: readFileSync(path) });
  }
  return out;
}

describe('protection he', () => {
  test.each(['seeded', 'full'] as const)('%s ciphertexts: sites encrypt, the coordinator sums ciphertexts, two sites decrypt: the model moves by the weighted mean', async (mode) => {
    ({ c, dataRoot } = await heCoordinator(mode));
    const fed = await tinyFederation(c, 3);
    const deltas = [0.1, 0.35, 0.6];
    const examples = [10, 30, 60];
    const events = await runSites(c, fed.sites, deltas, examples, () => heSiteProtocol({ he, keys }));
    for (const siteEvents of events) expect(siteEvents.map((e) => e.type)).toContain('submitted');
    // Exactly the two designated decryptors took part in the second stage.
    expect(events.filter((e) => e.some((x) => x.type === 'stage-sent'))).toHaveLength(2);
    const [round] = c.rounds.listRounds(fed.id);
    expect(round).toMatchObject({ state: 'committed', stage: 'decrypt' });
    const expected = (0.1 * 10 + 0.35 * 30 + 0.6 * 60) / 100;
    const next = c.registry.readWeights(c.registry.get(fed.id, 1));
    for (const v of next) expect(Math.abs(v - expected)).toBeLessThan(1e-6);

    // The coordinator's data directory (database, WAL, blobs) holds neither the secret key nor any
    // site's plaintext update, in float32 (as trained) or weighted float64 (as encrypted).
    const secret = Buffer.from(keys.secretKey);
    const needles = [
      { what: 'secret key (head)', bytes: secret.subarray(0, 64) },
      { what: 'secret key (body)', bytes: secret.subarray(secret.length / 2, secret.length / 2 + 64) },
      ...deltas.flatMap((d, i) => [
        { what: `site ${i} update (float32)`, bytes: Buffer.from(new Float32Array(8).fill(d).buffer) },
        { what: `site ${i} weighted update (float64)`, bytes: Buffer.from(new Float64Array(8).fill(d * examples[i]!).buffer) },
      ]),
    ];
    const files = filesUnder(dataRoot!);
    expect(files.length).toBeGreaterThan(0);
    // The check can see what it looks for: the committed model's weights are in the data directory.
    expect(files.some((f) => f.bytes.includes(Buffer.from(next.buffer, next.byteOffset, next.byteLength)))).toBe(true);
    for (const f of files) for (const n of needles) expect(f.bytes.includes(n.bytes), `${n.what} found in ${f.path}`).toBe(false);
  });

  test('decryptors that disagree abort the round with a clear reason, and nothing is committed', async () => {
    ({ c, dataRoot } = await heCoordinator());
    const fed = await tinyFederation(c, 2, tinyConfig({ sitesPerRound: 2 }));
    const honest = heSiteProtocol({ he, keys });
    const liar: SiteProtocol = {
      ...honest,
      async stage(ctx, task) {
        const answer = await honest.stage(ctx, task);
        const values = new Float64Array(Uint8Array.from(answer.tensor!.values as Uint8Array).buffer);
        values[0] = values[0]! + 0.5;
        return { ...answer, tensor: { layout: answer.tensor!.layout, values: new Uint8Array(values.buffer) } };
      },
    };
    // An aborted round is followed by another one: the sites are told to stop once the first is over.
    const coordinator = c;
    await runSites(c, fed.sites, [0.2, 0.4], [10, 10], (i) => (i === 0 ? liar : honest), () => coordinator.rounds.listRounds(fed.id).some((r) => r.state === 'aborted'));
    const [round] = c.rounds.listRounds(fed.id).filter((r) => r.number === 1);
    expect(round?.state).toBe('aborted');
    expect(round?.abortReason).toMatch(/decryptors disagree on the aggregate/);
    expect(c.registry.latestVersion(fed.id)).toBe(0);
  });

  describe('submit refuses a bad ciphertext stream with a specific error, and the round goes on', () => {
    async function openHeRound() {
      ({ c, dataRoot } = await heCoordinator());
      const fed = await tinyFederation(c, 3);
      await openRound(c, fed.sites);
      const task = await poll(c, fed.sites[0]!);
      if (task.task !== 'round') throw new Error(`expected a round plan, got ${task.task}`);
      return { fed, roundId: task.round.roundId, plan: task.round };
    }
    const body = (keyId = keyIdOf(keys.publicKey)) => ({ body: 'opaque' as const, opaque: { data: encodeJson({ keyId, numExamples: 10, trainLoss: 0, trainAccuracy: 0 }) } });
    const bytesTensor = (values: Uint8Array) => ({ layout: [{ name: 'ckks/ciphertexts', shape: [values.length], dtype: 'bytes' as const }], values });
    const good = () => packCiphertexts(he.encrypt(keys, new Float64Array(9).fill(1)));

    test('truncated, oversized, miscounted, garbled and wrong-key streams; then a silent decryptor aborts the round', async () => {
      const { fed, roundId, plan } = await openHeRound();
      const site = fed.sites[0]!;
      const packed = good();
      const submit = (values: Uint8Array, b = body()) => send(c!, site, { roundId, stage: 'submit', ...b }, bytesTensor(values));

      await expect(submit(packed.subarray(0, packed.length - 10))).rejects.toMatchObject({ code: 'MALFORMED_STREAM', message: expect.stringContaining('HE_MALFORMED_CIPHERTEXT') });
      await expect(submit(packCiphertexts([...Array.from({ length: 2 }, () => he.encrypt(keys, new Float64Array(9))[0]!)]))).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
      await expect(submit(new Uint8Array(0))).rejects.toMatchObject({ code: 'LAYOUT_MISMATCH' });
      const garbled = Uint8Array.from(packed);
      garbled.fill(0xff, 300, 400);
      await expect(submit(garbled)).rejects.toMatchObject({ code: 'MALFORMED_STREAM', message: expect.stringContaining('HE_MALFORMED_CIPHERTEXT') });
      await expect(submit(packed, body('0'.repeat(64)))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/encrypted under key/) });
      // A ciphertext whose length prefix claims more than any ciphertext of these parameters.
      const lying = Uint8Array.from(packed);
      new DataView(lying.buffer).setUint32(0, MAX_FULL_CIPHERTEXT_BYTES + 1, true);
      await expect(submit(lying)).rejects.toMatchObject({ code: 'MALFORMED_STREAM', message: expect.stringContaining('HE_MALFORMED_CIPHERTEXT') });

      // Nothing of the refused messages was kept: the same site's good update is accepted, and the round completes.
      await expect(submit(packed)).resolves.toMatchObject({ stage: 'submit' });
      for (const s of fed.sites.slice(1)) {
        await poll(c!, s);
        await send(c!, s, { roundId, stage: 'submit', ...body() }, bytesTensor(good()));
      }
      const [round] = c!.rounds.listRounds(fed.id);
      expect(round).toMatchObject({ state: 'collecting', stage: 'decrypt' });

      // Exactly two sites get the aggregate to decrypt; when one of them stays silent past the
      // deadline, the round aborts naming why (one decryption alone is not trusted).
      const tasks = await Promise.all(fed.sites.map(async (s) => ({ site: s, task: await poll(c!, s) })));
      const decryptors = tasks.filter((t) => t.task.task === 'stage');
      expect(decryptors).toHaveLength(2);
      const only = decryptors[0]!;
      if (only.task.task !== 'stage' || only.task.stage.body !== 'opaque') throw new Error('expected an opaque decrypt task');
      const answer = await heSiteProtocol({ he, keys }).stage({ plan, layout: [], secrets: new Map() }, only.task.stage);
      const { tensor, ...envelope } = answer;
      await send(c!, only.site, envelope, tensor);
      await c!.clock.advance(1001);
      const [aborted] = c!.rounds.listRounds(fed.id);
      expect(aborted).toMatchObject({ state: 'aborted' });
      expect(aborted!.abortReason).toMatch(/decryption incomplete: 1 of 2 designated decryptors answered/);
    });
  });
});
