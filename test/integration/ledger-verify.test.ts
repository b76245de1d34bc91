import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { status } from '@grpc/grpc-js';
import type { AdminClient } from '../../protocols/index.ts';
import { adminClient, callUnary, downloadModel, getTask, participantClient, submitUpdate } from '../../client-sdk/connection.ts';
import type { FederationMsg, RoundMsg, RoundPlanMsg, TensorSpec } from '../../protocols/index.ts';
import { configMessage, type FederationConfigInput } from '../../coordinator/federation-config.ts';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/coordinator.ts';
import { createLogger } from '../../coordinator/logger.ts';
import { genesisHash, ledgerKeyFromJwks, signEntry } from '../../crypto/ledger-signing.ts';
import { exportSigningKeys, generateSigningKeys, publicJwks } from '../../crypto/tokens.ts';
import { createZooFederation, startTestFederation, tempDataDir } from '../helpers/coordinator.ts';
import { expectGrpcError, plansFor } from '../helpers/raw-site.ts';
import { firstJsonLine, runCliJson, spawnCli, waitExit } from '../helpers/processes.ts';
import { until as waitUntil } from '../helpers/wait.ts';

type PrivacyInput = NonNullable<FederationConfigInput['privacy']>;

const central = (overrides: Partial<PrivacyInput> = {}): PrivacyInput => ({
  mode: 'central', noiseMultiplier: 1, localEpsilon: null, clipNorm: 1, sampleRate: 1, adaptiveClip: null, budgetEpsilon: null, delta: 1e-5, ...overrides,
});

interface Fed { id: string; sites: Array<{ siteId: string; token: string }> }

/** A second (third…) federation on a running coordinator, enrolled and started like startTestFederation's. */
async function addFederation(coordinator: RunningCoordinator, admin: AdminClient, options: {
  sites: number; rounds: number; minSites?: number; roundDeadlineMs?: number; privacy: PrivacyInput;
}): Promise<Fed> {
  const config: FederationConfigInput = {
    name: 'verify', model: 'mlp', rounds: options.rounds, sitesPerRound: options.sites, minSites: options.minSites ?? options.sites,
    roundDeadlineMs: options.roundDeadlineMs ?? 30_000, seed: 7, protection: 'none',
    training: { localEpochs: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam' }, privacy: options.privacy,
  };
  const call = <T>(method: string, req: unknown) => callUnary<T>(admin, method, req, coordinator.adminToken);
  const federation = await createZooFederation(admin, coordinator.adminToken, config);
  const sites = [];
  for (let i = 0; i < options.sites; i++) {
    sites.push(await call<{ siteId: string; token: string }>('EnrollSite', { federationId: federation.id, siteName: `site-${i}`, budgetEpsilon: 0, sampleRate: 0 }));
  }
  await call<FederationMsg>('StartFederation', { federationId: federation.id });
  return { id: federation.id, sites };
}

const until = <T>(what: string, fn: () => Promise<T | null | undefined | false>) => waitUntil(what, fn, 20_000);

/** Plays one round with raw sites: every given site gets its plan and submits a small update; resolves once it committed. */
async function playRound(coordinator: RunningCoordinator, admin: AdminClient, fed: Fed, submitting: number, layout: TensorSpec[]): Promise<RoundMsg> {
  const client = participantClient(coordinator.address);
  try {
    const plans: RoundPlanMsg[] = await plansFor(coordinator.address, fed.sites.slice(0, submitting).map((s) => s.token));
    const values = new Float32Array(layout.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0)).fill(1e-4);
    await Promise.all(plans.map((plan, i) => submitUpdate(client, fed.sites[i]!.token, { roundId: plan.roundId, numExamples: 0, layout, values, trainLoss: 0, trainAccuracy: 0 })));
    return await until(`round ${plans[0]!.roundNumber} of ${fed.id} to commit`, async () => {
      const { rounds } = await callUnary<{ rounds: RoundMsg[] }>(admin, 'ListRounds', { federationId: fed.id }, coordinator.adminToken);
      const round = rounds.find((r) => r.id === plans[0]!.roundId);
      if (round?.state === 'aborted') throw new Error(`round aborted: ${round.abortReason}`);
      return round?.state === 'committed' ? round : null;
    });
  } finally {
    client.close();
  }
}

async function layoutOf(coordinator: RunningCoordinator, fed: Fed): Promise<TensorSpec[]> {
  const client = participantClient(coordinator.address);
  try {
    return (await downloadModel(client, fed.sites[0]!.token, { federationId: fed.id, version: 0 })).layout;
  } finally {
    client.close();
  }
}

type CliResult = Awaited<ReturnType<typeof runCliJson>>;
const cli = (args: string[]) => runCliJson(args, { timeoutMs: 30_000 });

const problemKinds = (r: CliResult) => new Set(((r.json?.['problems'] ?? []) as Array<{ problem: string }>).map((p) => p.problem));

/** The insider: a direct connection to the database file, triggers dropped as needed. */
function withDb<T>(dataDir: string, fn: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(join(dataDir, 'conclave.db'));
  try {
    db.exec('PRAGMA busy_timeout = 5000');
    return fn(db);
  } finally {
    db.close();
  }
}

describe('ledger verify, offline, with a pinned key, against an insider who has the database but not the key', () => {
  const { dir: root, cleanup } = tempDataDir('conclave-ledger-verify-');
  const dataDir = join(root, 'data');
  const auditorJwks = join(root, 'auditor-jwks.json');
  const exportPath = join(root, 'ledger-export.json');
  let F: Fed;
  let G: Fed;
  let fingerprint: string;
  let throughCoordinator: CliResult;
  let copies = 0;

  /** A fresh copy of the stopped coordinator's data dir for one tamper. */
  const copyOf = () => {
    const copy = join(root, `copy-${++copies}`);
    cpSync(dataDir, copy, { recursive: true });
    return copy;
  };
  const verify = (dir: string, federationId: string, ...extra: string[]) => cli(['ledger', 'verify', '--data-dir', dir, '--federation', federationId, '--json', ...extra]);

  beforeAll(async () => {
    mkdirSync(dataDir);
    const fx = await startTestFederation({ dataDir, sites: 2, rounds: 3, privacy: central() });
    F = { id: fx.federation.id, sites: fx.sites };
    G = await addFederation(fx.coordinator, fx.admin, { sites: 2, rounds: 3, privacy: central() });
    const [layoutF, layoutG] = await Promise.all([layoutOf(fx.coordinator, F), layoutOf(fx.coordinator, G)]);
    for (let r = 0; r < 2; r++) await Promise.all([playRound(fx.coordinator, fx.admin, F, 2, layoutF), playRound(fx.coordinator, fx.admin, G, 2, layoutG)]);
    // What an auditor keeps from the start: the JWKS (or just the fingerprint printed at start and enrolment).
    copyFileSync(join(dataDir, 'keys', 'jwks.json'), auditorJwks);
    fingerprint = fx.coordinator.keyFingerprint;
    const remote = ['--coordinator', fx.coordinator.address, '--token', fx.coordinator.adminToken, '--data-dir', join(root, 'nowhere')];
    const [shown, verified] = await Promise.all([
      cli(['ledger', 'show', '--federation', F.id, '--json', ...remote]),
      cli(['ledger', 'verify', '--federation', F.id, '--json', '--jwks', auditorJwks, ...remote]),
    ]);
    expect(shown.code, shown.stderr).toBe(0);
    writeFileSync(exportPath, shown.stdout);
    throughCoordinator = verified;
    fx.admin.close();
    await fx.coordinator.close();
  });
  afterAll(() => cleanup());

  test('the untouched data dir verifies offline under the pinned JWKS or fingerprint, read-only and without the coordinator lock', async () => {
    const dbBefore = createHash('sha256').update(readFileSync(join(dataDir, 'conclave.db'))).digest('hex');
    const [byJwks, byFingerprint, unpinned] = await Promise.all([
      verify(dataDir, F.id, '--jwks', auditorJwks),
      verify(dataDir, F.id, '--key-fingerprint', fingerprint),
      verify(dataDir, F.id),
    ]);
    expect(byJwks.code, byJwks.stdout + byJwks.stderr).toBe(0);
    expect(byJwks.json).toMatchObject({ federationId: F.id, source: 'data-dir', intact: true, entries: 2, keyPinned: true, pinnedBy: 'jwks', keyFingerprint: fingerprint, problems: [], notChecked: [] });
    expect(byFingerprint.code).toBe(0);
    expect(byFingerprint.json).toMatchObject({ intact: true, pinnedBy: 'key-fingerprint' });
    // Without a pin it still verifies, but says loudly that it proved less.
    expect(unpinned.code).toBe(0);
    expect(unpinned.json).toMatchObject({ intact: true, keyPinned: false });
    expect(unpinned.stderr).toMatch(/NOT PINNED/);
    expect(existsSync(join(dataDir, 'coordinator.lock'))).toBe(false);
    expect(createHash('sha256').update(readFileSync(join(dataDir, 'conclave.db'))).digest('hex')).toBe(dbBefore);
  });

  test('through a running coordinator (GetLedger) it still verifies, and says what it could not cross-check', () => {
    expect(throughCoordinator.code, throughCoordinator.stderr).toBe(0);
    expect(throughCoordinator.json).toMatchObject({ source: 'coordinator', intact: true, entries: 2, keyPinned: true });
    expect(throughCoordinator.json!['notChecked']).toHaveLength(2);
  });

  test('edited payloads re-signed with a new key, anchors re-pointed and the JWKS replaced: exit 9 under the pinned key, exit 0 only unpinned', async () => {
    const copy = copyOf();
    const attacker = await generateSigningKeys();
    const rows = withDb(copy, (db) => db.prepare('SELECT seq, payload_json, hash FROM ledger_entries WHERE federation_id = ? ORDER BY seq').all(F.id) as Array<{ seq: number; payload_json: string; hash: string }>);
    const rewritten: Array<{ seq: number; old: string; payload: string; hash: string; jws: string }> = [];
    let prev = genesisHash(F.id);
    for (const row of rows) {
      const payload = JSON.parse(row.payload_json) as { prevHash: string; event: { noiseMultiplier: number } };
      payload.event.noiseMultiplier = 1000;
      payload.prevHash = prev;
      const signed = await signEntry(attacker.privateKey, attacker.keyId, JSON.stringify(payload));
      rewritten.push({ seq: row.seq, old: row.hash, ...signed });
      prev = signed.hash;
    }
    withDb(copy, (db) => {
      db.exec('DROP TRIGGER ledger_no_update');
      for (const r of rewritten) {
        db.prepare('UPDATE ledger_entries SET payload_json = ?, hash = ?, jws = ? WHERE federation_id = ? AND seq = ?').run(r.payload, r.hash, r.jws, F.id, r.seq);
        db.prepare('UPDATE model_versions SET ledger_head = ? WHERE federation_id = ? AND ledger_head = ?').run(r.hash, F.id, r.old);
      }
    });
    writeFileSync(join(copy, 'keys', 'jwks.json'), JSON.stringify(await publicJwks(attacker)));
    const [byJwks, byFingerprint, unpinned] = await Promise.all([
      verify(copy, F.id, '--jwks', auditorJwks),
      verify(copy, F.id, '--key-fingerprint', fingerprint),
      verify(copy, F.id),
    ]);
    expect(byJwks.code, byJwks.stdout).toBe(9);
    expect([...problemKinds(byJwks)].sort()).toEqual(['signature', 'wrong-key-id']);
    expect(byFingerprint.code, byFingerprint.stdout).toBe(9);
    expect(problemKinds(byFingerprint)).toEqual(new Set(['untrusted-key']));
    // The whole point of pinning: read with the attacker's own JWKS, the forged history is "intact".
    expect(unpinned.code).toBe(0);
    expect(unpinned.stderr).toMatch(/NOT PINNED/);
  });

  test('the newest entry deleted (delete trigger dropped): exit 9, the newest version anchors an entry that is gone', async () => {
    const copy = copyOf();
    withDb(copy, (db) => {
      db.exec('DROP TRIGGER ledger_no_delete');
      db.prepare('DELETE FROM ledger_entries WHERE federation_id = ? AND seq = (SELECT MAX(seq) FROM ledger_entries WHERE federation_id = ?)').run(F.id, F.id);
    });
    const result = await verify(copy, F.id, '--jwks', auditorJwks);
    expect(result.code, result.stdout).toBe(9);
    expect([...problemKinds(result)].sort()).toEqual(['missing-entry', 'truncated']);
    const text = await cli(['ledger', 'verify', '--data-dir', copy, '--federation', F.id, '--jwks', auditorJwks]);
    expect(text.code).toBe(9);
    expect(text.stdout).toMatch(/LEDGER DOES NOT VERIFY[\s\S]*entries were removed/);
  });

  test('the ledger emptied: exit 9 (an empty ledger is not "intact: 0 entries" when DP rounds committed)', async () => {
    const copy = copyOf();
    withDb(copy, (db) => {
      db.exec('DROP TRIGGER ledger_no_delete');
      db.prepare('DELETE FROM ledger_entries WHERE federation_id = ?').run(F.id);
    });
    const result = await verify(copy, F.id, '--jwks', auditorJwks);
    expect(result.code, result.stdout).toBe(9);
    expect(result.json).toMatchObject({ entries: 0, intact: false });
    expect(problemKinds(result)).toEqual(new Set(['missing-entry', 'unknown-anchor', 'truncated']));
  });

  test("another federation's chain copied into this one's rows (same key, valid signatures): exit 9", async () => {
    const copy = copyOf();
    withDb(copy, (db) => {
      db.exec('DROP TRIGGER ledger_no_delete');
      db.prepare('DELETE FROM ledger_entries WHERE federation_id = ?').run(F.id);
      db.prepare('INSERT INTO ledger_entries (federation_id, seq, round_id, payload_json, hash, jws) SELECT ?, seq, round_id, payload_json, hash, jws FROM ledger_entries WHERE federation_id = ?').run(F.id, G.id);
    });
    const result = await verify(copy, F.id, '--jwks', auditorJwks);
    expect(result.code, result.stdout).toBe(9);
    for (const kind of ['wrong-federation', 'broken-link', 'unknown-round', 'missing-entry', 'truncated']) expect(problemKinds(result)).toContain(kind);
    // G's own ledger is untouched and still verifies.
    expect((await verify(copy, G.id, '--jwks', auditorJwks)).code).toBe(0);
  });

  test('an export ("ledger show --json") verifies offline, says what it cannot check, and fails when edited or read as another federation', async () => {
    const exported = JSON.parse(readFileSync(exportPath, 'utf8')) as { entries: Array<{ payloadJson: string }> };
    const edited = structuredClone(exported);
    edited.entries[0]!.payloadJson = edited.entries[0]!.payloadJson.replace('"noiseMultiplier":1,', '"noiseMultiplier":1000,');
    expect(edited.entries[0]!.payloadJson).not.toBe(exported.entries[0]!.payloadJson);
    const editedPath = join(root, 'edited-export.json');
    writeFileSync(editedPath, JSON.stringify(edited));
    const none = join(root, 'nowhere');
    const [ok, tampered, asOther] = await Promise.all([
      cli(['ledger', 'verify', '--file', exportPath, '--jwks', auditorJwks, '--json', '--data-dir', none]),
      cli(['ledger', 'verify', '--file', editedPath, '--jwks', auditorJwks, '--json', '--data-dir', none]),
      cli(['ledger', 'verify', '--file', exportPath, '--federation', G.id, '--key-fingerprint', fingerprint, '--json', '--data-dir', none]),
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.json).toMatchObject({ source: 'file', federationId: F.id, intact: true, entries: 2 });
    expect((ok.json!['notChecked'] as string[]).join(' ')).toMatch(/deleting the newest entries/);
    expect(tampered.code).toBe(9);
    expect(problemKinds(tampered)).toEqual(new Set(['payload-mismatch', 'hash-mismatch']));
    expect(asOther.code).toBe(9);
    expect(problemKinds(asOther)).toContain('wrong-federation');
  });

  test('a coordinator started on a tampered data dir finds the ledger invalid and says so', async () => {
    const copy = copyOf();
    withDb(copy, (db) => {
      db.exec('DROP TRIGGER ledger_no_delete');
      db.prepare('DELETE FROM ledger_entries WHERE federation_id = ? AND seq = 2').run(F.id);
    });
    const lines: string[] = [];
    const coordinator = await startCoordinator({ dataDir: copy, port: 0, log: createLogger({ component: 'test', level: 'error', sink: (l) => lines.push(l) }) });
    try {
      expect([...coordinator.invalidLedgers.keys()]).toEqual([F.id]);
      expect(coordinator.invalidLedgers.get(F.id)!.join('\n')).toMatch(/entries were removed/);
      expect(lines.some((l) => l.includes('privacy ledger does not verify') && l.includes(F.id))).toBe(true);
      await expect(coordinator.ledger.assertIntact(F.id)).rejects.toMatchObject({ code: 'LEDGER_INVALID' });
      await expect(coordinator.ledger.assertIntact(G.id)).resolves.toBeUndefined();
    } finally {
      await coordinator.close();
    }
  });
});

describe('the insider run: budget ε = 10 at σ = 1, q = 1 (3 rounds), the ledger emptied or edited between rounds', () => {
  // A third site that never shows up makes the coordinator wait a deadline before each round (it
  // waits for the whole population, then settles for the quorum): a window to tamper in between.
  const DEADLINE_MS = 1500;
  const { dir, cleanup } = tempDataDir('conclave-ledger-insider-');
  let coordinator: RunningCoordinator;
  let admin: AdminClient;
  let A: Fed;
  let B: Fed;

  beforeAll(async () => {
    const fx = await startTestFederation({ dataDir: dir, sites: 3, minSites: 2, rounds: 8, roundDeadlineMs: DEADLINE_MS, privacy: central({ budgetEpsilon: 10 }) });
    coordinator = fx.coordinator;
    admin = fx.admin;
    A = { id: fx.federation.id, sites: fx.sites };
    B = await addFederation(coordinator, admin, { sites: 3, minSites: 2, rounds: 8, roundDeadlineMs: DEADLINE_MS, privacy: central({ budgetEpsilon: 10 }) });
  });
  afterAll(async () => {
    admin?.close();
    await coordinator?.close();
    cleanup();
  });

  const rounds = async (fed: Fed) => (await callUnary<{ rounds: RoundMsg[] }>(admin, 'ListRounds', { federationId: fed.id }, coordinator.adminToken)).rounds;

  /** Sites keep polling (so they count as available) for a while; any plan that reaches them is an admitted round. */
  async function noRoundAdmitted(fed: Fed, forMs: number): Promise<void> {
    const client = participantClient(coordinator.address);
    try {
      const end = Date.now() + forMs;
      while (Date.now() < end) {
        const tasks = await Promise.all(fed.sites.slice(0, 2).map((s) => getTask(client, s.token, 500)));
        for (const task of tasks) expect(task.task, `a round was admitted after tampering: ${JSON.stringify(task)}`).not.toBe('round');
      }
    } finally {
      client.close();
    }
  }

  test('after the ledger is emptied, or an entry edited (σ 1 → 1000), no further round is admitted and the federation refuses with LEDGER_INVALID', async () => {
    const [layoutA, layoutB] = await Promise.all([layoutOf(coordinator, A), layoutOf(coordinator, B)]);
    // A: one round, then the insider empties its ledger. B: two rounds (admission works untampered), then an edit.
    const tamperA = (async () => {
      await playRound(coordinator, admin, A, 2, layoutA);
      withDb(dir, (db) => {
        db.exec('DROP TRIGGER IF EXISTS ledger_no_delete');
        db.prepare('DELETE FROM ledger_entries WHERE federation_id = ?').run(A.id);
      });
    })();
    const tamperB = (async () => {
      await playRound(coordinator, admin, B, 2, layoutB);
      await playRound(coordinator, admin, B, 2, layoutB);
      withDb(dir, (db) => {
        db.exec('DROP TRIGGER IF EXISTS ledger_no_update');
        const changed = db.prepare(`UPDATE ledger_entries SET payload_json = replace(payload_json, '"noiseMultiplier":1,', '"noiseMultiplier":1000,') WHERE federation_id = ? AND seq = 1`).run(B.id);
        expect(Number(changed.changes)).toBe(1);
      });
    })();
    await tamperA;
    const committedA = (await rounds(A)).filter((r) => r.state === 'committed').length;
    await tamperB;
    const committedB = (await rounds(B)).filter((r) => r.state === 'committed').length;
    expect([committedA, committedB]).toEqual([1, 2]);
    // Two deadlines' worth of available sites: an admitted round would have reached them by now.
    await Promise.all([noRoundAdmitted(A, 2 * DEADLINE_MS), noRoundAdmitted(B, 2 * DEADLINE_MS)]);
    expect((await rounds(A)).filter((r) => r.state === 'committed')).toHaveLength(1);
    expect((await rounds(B)).filter((r) => r.state === 'committed')).toHaveLength(2);
    // Offline, while the coordinator runs (read-only, no lock needed): both exit 9.
    const [a, b] = await Promise.all([
      cli(['ledger', 'verify', '--data-dir', dir, '--federation', A.id, '--key-fingerprint', coordinator.keyFingerprint, '--json']),
      cli(['ledger', 'verify', '--data-dir', dir, '--federation', B.id, '--key-fingerprint', coordinator.keyFingerprint, '--json']),
    ]);
    expect(a.code, a.stdout).toBe(9);
    expect(problemKinds(a)).toContain('truncated');
    expect(b.code, b.stdout).toBe(9);
    expect(problemKinds(b)).toEqual(new Set(['payload-mismatch', 'hash-mismatch']));
    for (const fed of [A, B]) {
      await expect(coordinator.ledger.assertIntact(fed.id)).rejects.toMatchObject({ code: 'LEDGER_INVALID' });
      const err = await expectGrpcError(callUnary(admin, 'StartFederation', { federationId: fed.id }, coordinator.adminToken));
      expect(err.code, err.details).toBe('LEDGER_INVALID');
      expect(err.status).toBe(status.DATA_LOSS);
    }
  });
});

describe('the signing key outside the data dir, and its fingerprint at start and enrolment', () => {
  const { dir: root, cleanup } = tempDataDir('conclave-signing-key-');
  afterAll(() => cleanup());

  async function start(dataDir: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    const proc = spawnCli('coordinator', ['coordinator', 'start', '--data-dir', dataDir, '--port', '0', '--json', ...args], env);
    return { proc, info: await firstJsonLine<{ address: string; keyId: string; keyFingerprint: string; adminTokenPath: string }>(proc, 30_000) };
  }

  test('--signing-key FILE is created there (0600), the data dir gets only the JWKS, the fingerprint is printed at start and by participant enroll', async () => {
    const dataDir = join(root, 'data');
    const keyFile = join(root, 'secrets', 'signing-key.json');
    const { proc, info } = await start(dataDir, ['--signing-key', keyFile]);
    try {
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(existsSync(join(dataDir, 'keys', 'coordinator-ed25519.json'))).toBe(false);
      const jwks = ledgerKeyFromJwks(JSON.parse(readFileSync(join(dataDir, 'keys', 'jwks.json'), 'utf8')));
      expect(info.keyFingerprint).toBe(jwks.fingerprint);
      expect(info.keyId).toBe(jwks.keyId);
      const admin = adminClient(info.address);
      const token = readFileSync(info.adminTokenPath, 'utf8').trim();
      const federation = await createZooFederation(admin, token, {
        name: 'enrol', model: 'mlp', rounds: 1, sitesPerRound: 1, minSites: 1, roundDeadlineMs: 30_000, seed: 1, protection: 'none',
        training: { localEpochs: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam' }, privacy: central(),
      });
      admin.close();
      const [asJson, asText] = await Promise.all([
        cli(['participant', 'enroll', '--federation', federation.id, '--name', 'site-a', '--data-dir', dataDir, '--json']),
        cli(['participant', 'enroll', '--federation', federation.id, '--name', 'site-b', '--data-dir', dataDir]),
      ]);
      expect(asJson.code, asJson.stderr).toBe(0);
      expect(asJson.json).toMatchObject({ keyId: info.keyId, keyFingerprint: info.keyFingerprint });
      expect(asText.code, asText.stderr).toBe(0);
      expect(asText.stdout.trim().split('.')).toHaveLength(3); // stdout stays the bare token
      expect(asText.stderr).toContain(info.keyFingerprint);
    } finally {
      proc.child.kill('SIGTERM');
      await waitExit(proc, 10_000);
    }
    // Restarted through the environment variable: the same key, the same fingerprint.
    const again = await start(dataDir, [], { CONCLAVE_SIGNING_KEY_FILE: keyFile });
    expect(again.info.keyFingerprint).toBe(info.keyFingerprint);
    again.proc.child.kill('SIGTERM');
    await waitExit(again.proc, 10_000);
    // Without it, the data dir refuses to make a new key: that would orphan every signature.
    const missing = await waitExit(spawnCli('coordinator', ['coordinator', 'start', '--data-dir', dataDir, '--port', '0']), 30_000);
    expect(missing.code).toBe(3);
  });

  test('an unreadable, malformed or mismatched key file is refused with exit 3 and a message naming the file', async () => {
    const dataDir = join(root, 'bad');
    const garbage = join(root, 'garbage.json');
    writeFileSync(garbage, '{"privatePem": 1}', { mode: 0o600 });
    const unreadable = join(root, 'unreadable.json');
    writeFileSync(unreadable, '{}', { mode: 0o600 });
    chmodSync(unreadable, 0o000);
    const a = await generateSigningKeys();
    const b = await generateSigningKeys();
    const halves = join(root, 'halves.json');
    writeFileSync(halves, JSON.stringify({ ...(await exportSigningKeys(a)), publicPem: (await exportSigningKeys(b)).publicPem }), { mode: 0o600 });
    const runs = await Promise.all([garbage, unreadable, halves].map(async (file) => {
      const proc = spawnCli('coordinator', ['coordinator', 'start', '--data-dir', join(dataDir, String(Math.random()).slice(2)), '--port', '0', '--signing-key', file]);
      return { file, ...(await waitExit(proc, 30_000)), stderr: proc.stderr.join('\n') };
    }));
    // (Root reads the 0000 file anyway, and it is refused as malformed instead: exit 3 all the same.)
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(3);
      expect(run.stderr).toContain(run.file);
    }
  });
});

