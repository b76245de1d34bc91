/**
 * Protection `he` end to end on the in-memory coordinator: real Participants (injected trainer,
 * in-memory transport) run the key ceremony (a custodian site makes the keys and seals the secret
 * key to the others through the coordinator), encrypt under CKKS, the coordinator sums ciphertexts
 * with the public key only, two designated sites decrypt the aggregate.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { Participant, type ParticipantEvent } from '../../client-sdk/participant.ts';
import type { SiteProtocol } from '../../client-sdk/protection/protocol.ts';
import { heSiteProtocol } from '../../client-sdk/protection/he.ts';
import { heProtection } from '../../coordinator/protection/he.ts';
import type { ProtectionProtocol } from '../../coordinator/protection/protocol.ts';
import type { SiteCaller } from '../../coordinator/participant-endpoint.ts';
import { Ckks, MAX_FULL_CIPHERTEXT_BYTES, packCiphertexts, type CiphertextMode, type CkksKeyPair } from '../../crypto/he/ckks.ts';
import { HE_PLAN_SCHEMA, decodeJson, encodeFramed, encodeJson, keyIdOf } from '../../crypto/he/wire.ts';
import { createLogger } from '../../coordinator/logger.ts';
import type { FederationConfigInput } from '../../coordinator/federation-config.ts';
import { analyticGaussianSigma } from '../../crypto/dp/index.ts';
import { fixedTrainer, inMemoryCoordinator, openRound, poll, send, tinyConfig, tinyFederation, type InMemoryCoordinator, inMemoryTransport } from '../helpers/in-memory-coordinator.ts';

let he: Ckks;
let c: InMemoryCoordinator | undefined;
let dataRoot: string | undefined;
let logLines: string[] = [];
/** The `he` protocol object the current coordinator's rounds use (registered under "none": tinyConfig's protection). */
let registered: ProtectionProtocol<never>;
beforeAll(async () => {
  he = await Ckks.create();
});
afterAll(() => he?.delete());
afterEach(() => {
  c?.close();
  c = undefined;
  if (dataRoot) rmSync(dataRoot, { recursive: true, force: true });
  dataRoot = undefined;
});

/** An in-memory coordinator running `he` whose data directory the test can read (it lives under a TMPDIR of our own). */
async function heCoordinator(mode: CiphertextMode = 'seeded', foldThreads = 2): Promise<{ c: InMemoryCoordinator; dataRoot: string }> {
  const root = mkdtempSync(join(tmpdir(), 'conclave-he-'));
  const saved = process.env['TMPDIR'];
  process.env['TMPDIR'] = root;
  try {
    logLines = [];
    const log = createLogger({ component: 'coordinator', level: 'debug', sink: (line) => logLines.push(line) });
    // Two fold threads whatever the machine's cores (the default folds inline on one core); the inline fold has its own runs below.
    registered = heProtection({ he, mode, foldThreads }) as ProtectionProtocol<never>;
    const coordinator = await inMemoryCoordinator({ log, protocols: new Map([['none', registered]]) });
    return { c: coordinator, dataRoot: root };
  } finally {
    if (saved === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = saved;
  }
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
  // Once `over` holds no further round may open: a site still polling would take part in it.
  const ticker = setInterval(() => { if (!over()) coordinator.rounds.scheduler.tick(); }, 10);
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

/** A genuine CKKS ciphertext of the federation's key and ring, at scale 2^30 instead of 2^40. */
function otherScaleCiphertext(keys: CkksKeyPair): Uint8Array {
  const seal = he.seal;
  const own: Array<{ delete(): void }> = [];
  const keep = <H extends { delete(): void }>(h: H): H => { own.push(h); return h; };
  try {
    const pub = keep(new seal.PublicKey());
    pub.loadFromArray(he.context, Uint8Array.from(keys.publicKey));
    const plain = keep(new seal.Plaintext());
    keep(new seal.CKKSEncoder(he.context)).encode(new Float64Array(9).fill(1), 2 ** 30, plain);
    const cipher = keep(new seal.Ciphertext());
    keep(new seal.Encryptor(he.context, pub)).encrypt(plain, cipher);
    return Uint8Array.from(cipher.saveToArray(seal.ComprModeType.none) as Uint8Array);
  } finally {
    for (const h of own.reverse()) h.delete();
  }
}

/** What each site's protocol object holds after the run: its CKKS key pairs by federation. */
function siteKeyStores(n: number): Array<Map<string, CkksKeyPair>> {
  return Array.from({ length: n }, () => new Map<string, CkksKeyPair>());
}

function stagesSent(events: ParticipantEvent[][], stage: string, round?: number): number {
  return events.flat().filter((e) => e.type === 'stage-sent' && e.stage === stage && (round === undefined || e.round === round)).length;
}

describe('protection he', () => {
  test.each(['seeded', 'full'] as const)('%s ciphertexts: a key ceremony, then sites encrypt, the coordinator sums ciphertexts, two sites decrypt: the model moves by the weighted mean', async (mode) => {
    ({ c, dataRoot } = await heCoordinator(mode));
    const fed = await tinyFederation(c, 3);
    const deltas = [0.1, 0.35, 0.6];
    const examples = [10, 30, 60];
    const stores = siteKeyStores(3);
    const events = await runSites(c, fed.sites, deltas, examples, (i) => heSiteProtocol({ he, keys: stores[i]! }));
    for (const siteEvents of events) expect(siteEvents.map((e) => e.type)).toContain('submitted');
    // One custodian made the keys; every site encrypted after the ceremony; exactly two decrypted.
    expect(stagesSent(events, 'keys')).toBe(1);
    expect(stagesSent(events, 'encrypt')).toBe(3);
    expect(stagesSent(events, 'decrypt')).toBe(2);
    // Every site ends up with the same key pair, and it is the one the round used.
    const pairs = stores.map((m) => m.get(fed.id)!);
    for (const p of pairs) expect(Buffer.from(p.secretKey).equals(Buffer.from(pairs[0]!.secretKey))).toBe(true);
    const [round] = c.rounds.listRounds(fed.id);
    expect(round).toMatchObject({ state: 'committed', stage: 'decrypt' });
    // Each site's clear-text report is recorded as its submission, as under protection none.
    expect([...round!.submittedSites].sort()).toEqual(fed.sites.map((s) => s.siteId).sort());
    const expected = (0.1 * 10 + 0.35 * 30 + 0.6 * 60) / 100;
    const next = c.registry.readWeights(c.registry.get(fed.id, 1));
    for (const v of next) expect(Math.abs(v - expected)).toBeLessThan(1e-6);

    // The coordinator's data directory (database, WAL, blobs) and its logs hold neither the secret
    // key the sites hold nor any site's plaintext update, in float32 (as trained) or weighted
    // float64 (as encrypted).
    const secret = Buffer.from(pairs[0]!.secretKey);
    const needles = [
      { what: 'secret key (head)', bytes: secret.subarray(0, 64) },
      { what: 'secret key (body)', bytes: secret.subarray(secret.length / 2, secret.length / 2 + 64) },
      ...deltas.flatMap((d, i) => [
        { what: `site ${i} update (float32)`, bytes: Buffer.from(new Float32Array(8).fill(d).buffer) },
        { what: `site ${i} weighted update (float64)`, bytes: Buffer.from(new Float64Array(8).fill(d * examples[i]!).buffer) },
      ]),
    ];
    const log = Buffer.from(logLines.join('\n'), 'utf8');
    expect(logLines.some((l) => l.includes('round committed'))).toBe(true);
    const files = [...filesUnder(dataRoot!), { path: '(coordinator log)', bytes: log }];
    expect(files.length).toBeGreaterThan(1);
    // The check can see what it looks for: the committed model's weights are in the data directory.
    expect(files.some((f) => f.bytes.includes(Buffer.from(next.buffer, next.byteOffset, next.byteLength)))).toBe(true);
    for (const f of files) {
      for (const n of needles) {
        expect(f.bytes.includes(n.bytes), `${n.what} found in ${f.path}`).toBe(false);
        // Logs are text: the bytes as base64 or hex would be a leak too.
        for (const text of [n.bytes.toString('base64').slice(0, 40), n.bytes.toString('hex').slice(0, 40)]) expect(f.bytes.includes(text), `${n.what} (text) found in ${f.path}`).toBe(false);
      }
    }
  });

  test.each(['local', 'central'] as const)('with %s DP: sites clip (and under local DP noise) before encrypting, the decrypted mean is the clipped one, and the ledger charges the round', async (mode) => {
    ({ c, dataRoot } = await heCoordinator());
    // Local: the multiplier follows from each release's ε (analytic Gaussian); ε = 1000 keeps the
    // noise small enough to tell the clipped mean from the raw one.
    const z = mode === 'local' ? analyticGaussianSigma(1000, 1e-5, 1) : 0.001;
    const fed = await tinyFederation(c, 3, tinyConfig({
      minSites: 3,
      privacy: { mode, noiseMultiplier: mode === 'local' ? null : z, localEpsilon: mode === 'local' ? 1000 : null, clipNorm: 1, sampleRate: 1, adaptiveClip: null, budgetEpsilon: null, delta: 1e-5 },
    } as Partial<FederationConfigInput>));
    // 0.1·√8 = 0.28 stays within C = 1; 0.6·√8 = 1.70 and 1.2·√8 = 3.39 are clipped to 1/√8 a coordinate.
    const deltas = [0.1, 0.6, 1.2];
    const stores = siteKeyStores(3);
    const events = await runSites(c, fed.sites, deltas, [10, 30, 60], (i) => heSiteProtocol({ he, keys: stores[i]! }));
    for (const siteEvents of events) expect(siteEvents.map((e) => e.type)).toContain('submitted');
    expect(stagesSent(events, 'encrypt')).toBe(3);
    const [round] = c.rounds.listRounds(fed.id);
    expect(round).toMatchObject({ state: 'committed' });
    // Under DP every site weighs the same (counts stay at the site): the mean of the clipped updates,
    // within 5 std of the noise (local: 2zC per site, /√3 in the mean; central: zC/3), far from the raw mean.
    const clippedMean = (0.1 + 2 / Math.sqrt(8)) / 3;
    const noiseStd = mode === 'local' ? (2 * z) / Math.sqrt(3) : z / 3;
    const next = c.registry.readWeights(c.registry.get(fed.id, 1));
    for (const v of next) {
      expect(Math.abs(v - clippedMean)).toBeLessThan(5 * noiseStd + 1e-6);
      expect(Math.abs(v - (0.1 + 0.6 + 1.2) / 3)).toBeGreaterThan(0.2);
    }
    const payloads = c.ledger.payloads(fed.id);
    expect(payloads).toHaveLength(1);
    expect(payloads[0]!.event).toMatchObject(mode === 'local'
      ? { mechanism: 'gaussian', mode: 'local', release: 'site-updates', noiseMultiplier: expect.closeTo(z, 9), sensitivity: 2 }
      : { mechanism: 'gaussian', mode: 'central', release: 'aggregate', noiseMultiplier: z, sensitivity: 1 });
  });

  test('the key lives across rounds (no second ceremony), and revoking a site that holds it retires it', async () => {
    ({ c, dataRoot } = await heCoordinator());
    const fed = await tinyFederation(c, 3, tinyConfig({ rounds: 2 }));
    const stores = siteKeyStores(3);
    const coordinator = c;
    const events = await runSites(c, fed.sites, [0.1, 0.2, 0.3], [10, 10, 10], (i) => heSiteProtocol({ he, keys: stores[i]! }),
      () => coordinator.rounds.committedRounds(fed.id) >= 2);
    const rounds = c.rounds.listRounds(fed.id);
    expect(rounds.map((r) => r.state)).toEqual(['committed', 'committed']);
    expect(stagesSent(events, 'keys', 1)).toBe(1);
    expect(stagesSent(events, 'keys', 2) + stagesSent(events, 'encrypt', 2)).toBe(0);
    expect(c.rounds.stageLog(rounds[1]!.id).map((s) => s.stage)).toEqual(['submit', 'decrypt']);

    const protocol = heProtection({ he });
    const ctx = { federationId: fed.id, roundId: 'r', roundNumber: 3, layout: c.registry.get(fed.id, 0).layout, selected: [], minSurvivors: 1, dp: false };
    const keyIdOfPlan = (p: ProtectionProtocol<never>) => {
      const plan = p.plan(ctx);
      if (plan.params !== 'opaque') throw new Error('expected an opaque plan');
      return decodeJson(HE_PLAN_SCHEMA, plan.opaque.data, 'plan').keyId;
    };
    // The registered protocol (the one the rounds used) still plans with the key the sites hold.
    expect(keyIdOfPlan(registered)).toBe(keyIdOf(stores[0]!.get(fed.id)!.publicKey));
    // A fresh coordinator process knows no key: its first round runs a ceremony.
    expect(keyIdOfPlan(protocol as ProtectionProtocol<never>)).toBe('');
    // A site that is not a holder changes nothing; a holder's revocation retires the key.
    c.rounds.siteRevoked(fed.id, 'not-a-site');
    expect(keyIdOfPlan(registered)).not.toBe('');
    expect(c.federations.revokeSite(fed.id, fed.sites[1]!.siteId)).toBe(true);
    c.rounds.siteRevoked(fed.id, fed.sites[1]!.siteId);
    expect(keyIdOfPlan(registered)).toBe('');
  });

  test('decryptors that disagree abort the round with a clear reason, and nothing is committed', async () => {
    ({ c, dataRoot } = await heCoordinator());
    const fed = await tinyFederation(c, 2, tinyConfig({ sitesPerRound: 2 }));
    const stores = siteKeyStores(2);
    const honest = (i: number) => heSiteProtocol({ he, keys: stores[i]! });
    const liar = (i: number): SiteProtocol => {
      const inner = honest(i);
      return {
        ...inner,
        async stage(ctx, task, tensor) {
          const answer = await inner.stage(ctx, task, tensor);
          if (task.stage !== 'decrypt') return answer;
          const values = new Float64Array(Uint8Array.from(answer.tensor!.values as Uint8Array).buffer);
          values[0] = values[0]! + 0.5;
          return { ...answer, tensor: { layout: answer.tensor!.layout, values: new Uint8Array(values.buffer) } };
        },
      };
    };
    // An aborted round is followed by another one: the sites are told to stop once the first is over.
    const coordinator = c;
    await runSites(c, fed.sites, [0.2, 0.4], [10, 10], (i) => (i === 0 ? liar(i) : honest(i)), () => coordinator.rounds.listRounds(fed.id).some((r) => r.state === 'aborted'));
    const [round] = c.rounds.listRounds(fed.id).filter((r) => r.number === 1);
    expect(round?.state).toBe('aborted');
    expect(round?.abortReason).toMatch(/decryptors disagree on the aggregate/);
    expect(c.registry.latestVersion(fed.id)).toBe(0);
  });

  describe.each([['on fold threads', 2], ['folded inline', 0]])('a bad message is refused with a specific error, and the round goes on (%s)', (_name, foldThreads) => {
    /** One round with Participants establishes the key; the test then drives round 2 by hand. */
    async function keyedSecondRound() {
      ({ c, dataRoot } = await heCoordinator('seeded', foldThreads));
      const fed = await tinyFederation(c, 3, tinyConfig({ rounds: 2 }));
      const stores = siteKeyStores(3);
      const coordinator = c;
      await runSites(c, fed.sites, [0.1, 0.1, 0.1], [10, 10, 10], (i) => heSiteProtocol({ he, keys: stores[i]! }), () => coordinator.rounds.committedRounds(fed.id) >= 1);
      await openRound(c, fed.sites);
      const task = await poll(c, fed.sites[0]!);
      if (task.task !== 'round') throw new Error(`expected a round plan, got ${task.task}`);
      return { fed, roundId: task.round.roundId, plan: task.round, keys: stores[0]!.get(fed.id)!, stores };
    }
    const exchangeKey = Buffer.alloc(32, 7).toString('base64url');
    const body = (keyId: string) => ({ body: 'opaque' as const, opaque: { data: encodeJson({ keyId, exchangeKey, numExamples: 10, trainLoss: 0, trainAccuracy: 0 }) } });
    const bytesTensor = (values: Uint8Array) => ({ layout: [{ name: 'ckks/ciphertexts', shape: [values.length], dtype: 'bytes' as const }], values });

    test('truncated, oversized, miscounted, garbled, wrong-parameter and unknown-key streams; then a silent decryptor aborts the round', async () => {
      const { fed, roundId, plan, keys, stores } = await keyedSecondRound();
      const keyId = keyIdOf(keys.publicKey);
      const good = () => packCiphertexts(he.encrypt(keys, new Float64Array(9).fill(1)));
      const site = fed.sites[0]!;
      const packed = good();
      const submit = (values: Uint8Array, b = body(keyId)) => send(c!, site, { roundId, stage: 'submit', ...b }, bytesTensor(values));

      await expect(submit(packed.subarray(0, packed.length - 10))).rejects.toMatchObject({ code: 'MALFORMED_STREAM', message: expect.stringContaining('HE_MALFORMED_CIPHERTEXT') });
      await expect(submit(packCiphertexts([...Array.from({ length: 2 }, () => he.encrypt(keys, new Float64Array(9))[0]!)]))).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
      await expect(submit(new Uint8Array(0))).rejects.toMatchObject({ code: 'LAYOUT_MISMATCH' });
      const garbled = Uint8Array.from(packed);
      garbled.fill(0xff, 300, 400);
      await expect(submit(garbled)).rejects.toMatchObject({ code: 'MALFORMED_STREAM', message: expect.stringContaining('HE_MALFORMED_CIPHERTEXT') });
      // A ciphertext said to be under a key the federation does not know.
      await expect(submit(packed, body('0'.repeat(64)))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/encrypted under key 000000000000…, the round's key is/) });
      // Ciphertexts without the key: refused before any byte is read.
      await expect(submit(packed, body(''))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/sends no ciphertexts/) });
      // A ciphertext of other parameters (scale 2^30, same ring): it would load and be summed wrongly.
      await expect(submit(packCiphertexts([otherScaleCiphertext(keys)]))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('HE_PARAMETERS') });
      // A ciphertext whose length prefix claims more than any ciphertext of these parameters.
      const lying = Uint8Array.from(packed);
      new DataView(lying.buffer).setUint32(0, MAX_FULL_CIPHERTEXT_BYTES + 1, true);
      await expect(submit(lying)).rejects.toMatchObject({ code: 'MALFORMED_STREAM', message: expect.stringContaining('HE_MALFORMED_CIPHERTEXT') });

      // Nothing of the refused messages was kept: the same site's good update is accepted, and the round completes.
      await expect(submit(packed)).resolves.toMatchObject({ stage: 'submit' });
      for (const s of fed.sites.slice(1)) {
        await poll(c!, s);
        await send(c!, s, { roundId, stage: 'submit', ...body(keyId) }, bytesTensor(good()));
      }
      // Every site held the key: no ceremony, straight to decryption (once the fold threads' partial sums are merged).
      await vi.waitFor(() => expect(c!.rounds.listRounds(fed.id).find((r) => r.id === roundId)).toMatchObject({ state: 'collecting', stage: 'decrypt' }), { timeout: 10_000, interval: 20 });

      // Exactly two sites get the aggregate to decrypt; when one of them stays silent past the
      // deadline, the round aborts naming why (one decryption alone is not trusted).
      const tasks = await Promise.all(fed.sites.map(async (s, i) => ({ site: s, i, task: await poll(c!, s) })));
      const decryptors = tasks.filter((t) => t.task.task === 'stage');
      expect(decryptors).toHaveLength(2);
      const only = decryptors[0]!;
      if (only.task.task !== 'stage' || only.task.stage.body !== 'opaque') throw new Error('expected an opaque decrypt task');
      // The aggregate travels as the task's tensor, fetched in chunks; only a live decryptor may fetch it.
      expect(only.task.stage.tensor).not.toBeNull();
      const other = tasks.find((t) => t.task.task !== 'stage')!;
      expect(() => [...c!.endpoint.stageTensor(other.site, roundId, 'decrypt')]).toThrow(expect.objectContaining({ code: 'NOT_SELECTED' }));
      expect(() => [...c!.endpoint.stageTensor(only.site, roundId, 'submit')]).toThrow(expect.objectContaining({ code: 'ROUND_CLOSED' }));
      expect(() => [...c!.endpoint.stageTensor(only.site, 'no-such-round', 'decrypt')]).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
      const aggregate = await inMemoryTransport(c!, only.site).downloadStageTensor(only.task.stage);
      const answer = await heSiteProtocol({ he, keys: stores[only.i]! }).stage({ plan, layout: [], secrets: new Map() }, only.task.stage, aggregate);
      const { tensor, ...envelope } = answer;
      await send(c!, only.site, envelope, tensor);
      await c!.clock.advance(1001);
      const aborted = c!.rounds.listRounds(fed.id).find((r) => r.id === roundId);
      expect(aborted).toMatchObject({ state: 'aborted' });
      expect(aborted!.abortReason).toMatch(/decryption incomplete: 1 of 2 designated decryptors answered/);
    });

    test('the key ceremony: a wrong key id, a key of other parameters, missing sealed keys or a non-custodian are refused; a silent custodian aborts the round', async () => {
      ({ c, dataRoot } = await heCoordinator('seeded', foldThreads));
      const fed = await tinyFederation(c, 3);
      await openRound(c, fed.sites);
      const plans = await Promise.all(fed.sites.map((s) => poll(c!, s)));
      const first = plans[0]!;
      if (first.task !== 'round') throw new Error('expected a round plan');
      const roundId = first.round.roundId;
      // No key yet: every site sends its exchange key and no ciphertext.
      for (const s of fed.sites) await send(c!, s, { roundId, stage: 'submit', ...body('') });
      const tasks = await Promise.all(fed.sites.map(async (s) => ({ site: s, task: await poll(c!, s) })));
      const custodian = tasks.filter((t) => t.task.task === 'stage');
      expect(custodian).toHaveLength(1);
      const { site, task } = custodian[0]!;
      if (task.task !== 'stage' || task.stage.body !== 'opaque') throw new Error('expected the keys task');
      expect(task.stage.stage).toBe('keys');
      const other = fed.sites.find((s) => s.siteId !== site.siteId)!;
      const keys = he.generateKeys();
      const answer = (items: Uint8Array[], keyId = keyIdOf(keys.publicKey)) => {
        const packed = packCiphertexts(items);
        return send(c!, site, { roundId, stage: 'keys', body: 'opaque', opaque: { data: encodeJson({ keyId }) } },
          { layout: [{ name: 'ckks/keys', shape: [packed.length], dtype: 'bytes' }], values: packed });
      };
      const sealed = new Uint8Array(1000);
      await expect(answer([keys.publicKey, sealed, sealed], '0'.repeat(64))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/not the SHA-256 of the public key/) });
      const notAKey = new Uint8Array(2000).fill(7);
      await expect(answer([notAKey, sealed, sealed], keyIdOf(notAKey))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('HE_KEY') });
      await expect(answer([keys.publicKey, sealed])).rejects.toMatchObject({ code: 'MALFORMED_STREAM', message: expect.stringContaining('HE_WRONG_COUNT') });
      const packed = packCiphertexts([keys.publicKey]);
      await expect(send(c!, other, { roundId, stage: 'keys', body: 'opaque', opaque: { data: encodeJson({ keyId: keyIdOf(keys.publicKey) }) } },
        { layout: [{ name: 'ckks/keys', shape: [packed.length], dtype: 'bytes' }], values: packed })).rejects.toMatchObject({ code: 'ROUND_CLOSED' });
      // A recipient refuses a sealed key that does not open for it (altered, or sealed to another site).
      const recipient = heSiteProtocol({ he });
      const ctx = { plan: first.round, layout: [], secrets: new Map<string, unknown>() };
      await recipient.first(ctx, { delta: new Float32Array(8).fill(0.1), numExamples: 10, trainLoss: 0, trainAccuracy: 0, unclipped: true });
      const encryptTask = { ...task.stage, stage: 'encrypt', opaque: { data: encodeFramed({ keyId: keyIdOf(keys.publicKey), siteId: other.siteId, sealed: true }, packCiphertexts([keys.publicKey, new Uint8Array(200).fill(1)])) } };
      await expect(recipient.stage(ctx, encryptTask)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('HE_KEY_WRAP') });
      // A silent custodian ends the round, naming why.
      await c!.clock.advance(1001);
      const round = c!.rounds.listRounds(fed.id).find((r) => r.id === roundId);
      expect(round).toMatchObject({ state: 'aborted' });
      expect(round!.abortReason).toMatch(/key ceremony: the custodian site .* did not answer/);
    });
  });
});
