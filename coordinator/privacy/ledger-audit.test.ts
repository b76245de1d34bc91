import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import fc from 'fast-check';
import { Store } from '../store.ts';
import { LEGACY_GENESIS_HASH, entryHash, genesisHash, signEntry } from '../../crypto/ledger-signing.ts';
import { generateSigningKeys, type SigningKeys } from '../../crypto/tokens.ts';
import { AuditCache, auditLedger, describeProblem, readAuditInput, type AuditEntry, type AuditInput, type AuditRound, type AuditVersion, type LedgerProblem, type PinnedKey } from './ledger-audit.ts';

const F = 'fed-F';
const G = 'fed-G';

/** One DP round of a synthetic federation: charged at commit (central) or when it opened (site releases). */
interface RoundSpec { charge: 'commit' | 'open'; outcome: 'committed' | 'aborted' }

/** A history like the coordinator writes: entries, rounds and anchored model versions. */
interface History { entries: AuditEntry[]; rounds: AuditRound[]; versions: AuditVersion[] }

async function buildHistory(keys: SigningKeys, federationId: string, specs: RoundSpec[], format = 'conclave-ledger/2'): Promise<History> {
  const entries: AuditEntry[] = [];
  const rounds: AuditRound[] = [];
  const versions: AuditVersion[] = [{ version: 0, roundId: null, ledgerHead: null }];
  let prev = format === 'conclave-ledger/1' ? LEGACY_GENESIS_HASH : genesisHash(federationId);
  let version = 0;
  const append = async (roundId: string, roundNumber: number, modelVersion: number | null) => {
    const seq = entries.length + 1;
    const payload = JSON.stringify({
      format, federationId, seq, prevHash: prev, roundId, roundNumber, modelVersion, createdMs: 1_700_000_000_000 + seq, delta: 1e-5,
      event: { mechanism: 'gaussian', mode: modelVersion === null ? 'local' : 'central', noiseMultiplier: 1, clipNorm: 1, sampleRate: 1 },
      eligible: [{ siteId: 'site-a', sampleRate: 1 }], epsilonAfter: { epsilon: seq, accountant: 'rdp', rdp: seq, pld: null },
    });
    const signed = await signEntry(keys.privateKey, keys.keyId, payload);
    entries.push({ seq, roundId, ...signed });
    prev = signed.hash;
  };
  for (const [i, spec] of specs.entries()) {
    const id = `${federationId}-round-${i + 1}`;
    if (spec.charge === 'open') await append(id, i + 1, null);
    if (spec.outcome === 'aborted') {
      rounds.push({ id, number: i + 1, state: 'aborted', resultVersion: null, hasPrivacy: true, chargedAtOpen: spec.charge === 'open' });
      continue;
    }
    version++;
    if (spec.charge === 'commit') await append(id, i + 1, version);
    rounds.push({ id, number: i + 1, state: 'committed', resultVersion: version, hasPrivacy: true, chargedAtOpen: spec.charge === 'open' });
    versions.push({ version, roundId: id, ledgerHead: entries.at(-1)?.hash ?? genesisHash(federationId) });
  }
  return { entries, rounds, versions };
}

const SPECS: RoundSpec[] = [
  { charge: 'commit', outcome: 'committed' },
  { charge: 'commit', outcome: 'aborted' },
  { charge: 'commit', outcome: 'committed' },
  { charge: 'open', outcome: 'committed' },
  { charge: 'open', outcome: 'aborted' },
  { charge: 'commit', outcome: 'committed' },
];

let keys: SigningKeys;
let attacker: SigningKeys;
let pinned: PinnedKey;
let history: History;
let other: History;

beforeAll(async () => {
  keys = await generateSigningKeys();
  attacker = await generateSigningKeys();
  pinned = { publicKey: keys.publicKey, keyId: keys.keyId };
  history = await buildHistory(keys, F, SPECS);
  other = await buildHistory(keys, G, SPECS);
});

const copy = (h: History): History => structuredClone(h);
const input = (h: History, federationId = F): AuditInput => ({ federationId, ...h });
const audit = (h: History, key: PinnedKey = pinned) => auditLedger(input(h), key);
const kinds = (problems: LedgerProblem[]) => problems.map((p) => `${p.seq ?? '-'}:${p.problem}`);

/** What an insider holding some key does after editing payloads: re-hash, re-sign, re-link the rest and re-point the anchors. */
async function resignFrom(h: History, from: number, signer: SigningKeys, kid = signer.keyId, federationId = F): Promise<void> {
  const renamed = new Map<string, string>();
  let prev = from === 0 ? genesisHash(federationId) : h.entries[from - 1]!.hash;
  for (const entry of h.entries.slice(from)) {
    const payload = JSON.parse(entry.payload) as Record<string, unknown>;
    payload['prevHash'] = prev;
    const signed = await signEntry(signer.privateKey, kid, JSON.stringify(payload));
    renamed.set(entry.hash, signed.hash);
    Object.assign(entry, signed);
    prev = signed.hash;
  }
  for (const v of h.versions) if (v.ledgerHead && renamed.has(v.ledgerHead)) v.ledgerHead = renamed.get(v.ledgerHead)!;
}

describe('auditLedger on an intact history', () => {
  it('finds no problem, reports the head, and checks everything when rounds and versions are given', async () => {
    expect(history.entries).toHaveLength(5);
    const result = audit(history);
    expect(result.problems).toEqual([]);
    expect(result.head).toBe(history.entries.at(-1)!.hash);
    expect(result.notChecked).toEqual([]);
  });

  it('an empty ledger with no DP rounds is intact, its head the federation genesis', () => {
    const result = auditLedger({ federationId: F, entries: [], rounds: [], versions: [{ version: 0, roundId: null, ledgerHead: null }] }, pinned);
    expect(result).toMatchObject({ problems: [], head: genesisHash(F), entries: 0 });
  });

  it('a site-release charge newer than every anchor (its round aborted) cannot be dropped unnoticed', async () => {
    const h = await buildHistory(keys, F, [{ charge: 'commit', outcome: 'committed' }, { charge: 'open', outcome: 'aborted' }]);
    expect(kinds(audit(h).problems)).toEqual([]);
    h.entries.pop();
    expect(kinds(audit(h).problems)).toEqual(['-:missing-entry']);
  });

  it('a version committed before any charge anchors the genesis', async () => {
    const h = await buildHistory(keys, F, [{ charge: 'commit', outcome: 'committed' }]);
    h.rounds.unshift({ id: 'plain', number: 0, state: 'committed', resultVersion: 1, hasPrivacy: true });
    h.versions.splice(1, 0, { version: 1, roundId: 'plain', ledgerHead: genesisHash(F) });
    h.rounds[1]!.resultVersion = 2;
    h.versions[2]!.version = 2;
    const payload = JSON.parse(h.entries[0]!.payload) as Record<string, unknown>;
    payload['modelVersion'] = 2;
    Object.assign(h.entries[0]!, await signEntry(keys.privateKey, keys.keyId, JSON.stringify(payload)));
    h.versions[2]!.ledgerHead = h.entries[0]!.hash;
    // 'plain' committed under DP with no entry: that is the one problem.
    expect(kinds(audit(h).problems)).toEqual(['-:missing-entry']);
  });

  it('a format-1 ledger chained from the shared zero genesis still verifies; a format-2 one does not', async () => {
    const legacy = await buildHistory(keys, F, SPECS.slice(0, 1), 'conclave-ledger/1');
    expect(audit(legacy).problems).toEqual([]);
    const h = copy(history);
    const payload = JSON.parse(h.entries[0]!.payload) as Record<string, unknown>;
    payload['prevHash'] = LEGACY_GENESIS_HASH;
    const old = h.entries[0]!.hash;
    Object.assign(h.entries[0]!, await signEntry(keys.privateKey, keys.keyId, JSON.stringify(payload)));
    for (const v of h.versions) if (v.ledgerHead === old) v.ledgerHead = h.entries[0]!.hash;
    await resignFrom(h, 1, keys);
    expect(kinds(audit(h).problems)).toEqual(['1:broken-link']);
  });

  it('from an export (no rounds, no versions) it verifies what is there and says what it could not check', () => {
    const exported: AuditInput = { federationId: F, entries: history.entries.slice(0, -1), rounds: null, versions: null };
    const result = auditLedger(exported, pinned);
    // The dropped newest entry is invisible here: that is what the notes say.
    expect(result.problems).toEqual([]);
    expect(result.notChecked).toHaveLength(2);
    expect(result.notChecked.join(' ')).toMatch(/rounds/);
    expect(result.notChecked.join(' ')).toMatch(/deleting the newest entries/);
  });
});

describe('each tamper produces its own problem', () => {
  it('an edited payload (noise multiplier 1 → 1000), hash left alone: payload-mismatch and hash-mismatch', () => {
    const h = copy(history);
    h.entries[1]!.payload = h.entries[1]!.payload.replace('"noiseMultiplier":1,', '"noiseMultiplier":1000,');
    expect(kinds(audit(h).problems)).toEqual(['2:payload-mismatch', '2:hash-mismatch']);
  });

  it('edited and re-signed with another key (its own kid), chain re-linked and anchors re-pointed: every re-signed entry fails under the pinned key', async () => {
    const h = copy(history);
    h.entries[2]!.payload = h.entries[2]!.payload.replace('"noiseMultiplier":1,', '"noiseMultiplier":1000,');
    await resignFrom(h, 2, attacker);
    expect(kinds(audit(h).problems)).toEqual(['3:signature', '3:wrong-key-id', '4:signature', '4:wrong-key-id', '5:signature', '5:wrong-key-id']);
    // The same history checked under the attacker's key (what an unpinned verifier does) passes: pinning is the point.
    expect(audit(h, { publicKey: attacker.publicKey, keyId: null }).problems.filter((p) => p.seq !== null && p.seq < 3).map((p) => p.problem)).toEqual(['signature', 'signature']);
  });

  it('re-signed with another key under the pinned kid: signature', async () => {
    const h = copy(history);
    await resignFrom(h, 4, attacker, keys.keyId);
    expect(kinds(audit(h).problems)).toEqual(['5:signature']);
  });

  it('signed by the right key under another kid: wrong-key-id', async () => {
    const h = copy(history);
    await resignFrom(h, 4, keys, 'not-the-pinned-kid');
    expect(kinds(audit(h).problems)).toEqual(['5:wrong-key-id']);
  });

  it('an entry signed for another federation: wrong-federation', async () => {
    const h = copy(history);
    const payload = JSON.parse(h.entries[4]!.payload) as Record<string, unknown>;
    payload['federationId'] = G;
    Object.assign(h.entries[4]!, await signEntry(keys.privateKey, keys.keyId, JSON.stringify(payload)));
    h.versions.at(-1)!.ledgerHead = h.entries[4]!.hash;
    expect(kinds(audit(h).problems)).toEqual(['5:wrong-federation']);
  });

  it('a signed payload whose seq is not its row: seq-mismatch', async () => {
    const h = copy(history);
    const payload = JSON.parse(h.entries[4]!.payload) as Record<string, unknown>;
    payload['seq'] = 9;
    Object.assign(h.entries[4]!, await signEntry(keys.privateKey, keys.keyId, JSON.stringify(payload)));
    h.versions.at(-1)!.ledgerHead = h.entries[4]!.hash;
    expect(kinds(audit(h).problems)).toEqual(['5:seq-mismatch']);
  });

  it('a row re-numbered: sequence-gap and seq-mismatch', () => {
    const h = copy(history);
    h.entries[4]!.seq = 7;
    expect(kinds(audit(h).problems)).toEqual(['7:sequence-gap', '7:seq-mismatch']);
  });

  it('a deleted middle entry: gap, broken link, the round without its entry, the version anchoring it', () => {
    const h = copy(history);
    h.entries.splice(1, 1);
    expect(kinds(audit(h).problems)).toEqual(['3:sequence-gap', '3:broken-link', '-:missing-entry', '-:unknown-anchor']);
  });

  it('the newest entry deleted: missing-entry and truncated (the newest version anchors it)', () => {
    const h = copy(history);
    h.entries.pop();
    const problems = audit(h).problems;
    expect(kinds(problems)).toEqual(['-:missing-entry', '-:truncated']);
    expect(problems.map(describeProblem).join('\n')).toMatch(/entries were removed/);
  });

  it('the ledger emptied: every charged DP round (committed, or charged when it opened) misses its entry and the newest anchor is gone', () => {
    const h = copy(history);
    h.entries = [];
    expect(kinds(audit(h).problems)).toEqual(['-:missing-entry', '-:missing-entry', '-:missing-entry', '-:missing-entry', '-:missing-entry', '-:unknown-anchor', '-:unknown-anchor', '-:unknown-anchor', '-:truncated']);
  });

  it("a chain copied from another federation's rows: wrong federation, unknown rounds, a broken first link, nothing anchored", () => {
    const h = copy(history);
    h.entries = structuredClone(other.entries);
    const found = new Set(audit(h).problems.map((p) => p.problem));
    expect([...found].sort()).toEqual(['broken-link', 'missing-entry', 'truncated', 'unknown-anchor', 'unknown-round', 'wrong-federation']);
    expect(audit(h).problems.find((p) => p.problem === 'broken-link')).toMatchObject({ seq: 1, expectedPrev: genesisHash(F), actualPrev: genesisHash(G) });
  });

  it('an entry naming a round that is not one of this federation: unknown-round', () => {
    const h = copy(history);
    h.rounds = h.rounds.filter((r) => r.id !== `${F}-round-3`);
    expect(kinds(audit(h).problems)).toEqual(['2:unknown-round']);
  });

  it('an entry row pointing at another round than its signed payload: round-mismatch', () => {
    const h = copy(history);
    h.entries[0]!.roundId = `${F}-round-3`;
    expect(kinds(audit(h).problems)).toEqual(['1:round-mismatch']);
  });

  it('a commit charge naming another version than its round committed: version-mismatch', () => {
    const h = copy(history);
    h.rounds[0]!.resultVersion = 7;
    expect(kinds(audit(h).problems)).toEqual(['1:version-mismatch']);
  });

  it('rounds rewritten: a charged commit turned aborted is version-mismatch; an aborted DP round turned committed is missing-entry', () => {
    const h = copy(history);
    h.rounds[2]!.state = 'aborted';
    expect(kinds(audit(h).problems)).toEqual(['2:version-mismatch']);
    const revived = copy(history);
    revived.rounds[1]!.state = 'committed';
    expect(kinds(audit(revived).problems)).toEqual(['-:missing-entry']);
  });

  it('a DP version without an anchor, and an anchor moved back: missing-anchor, anchor-regressed', () => {
    const h = copy(history);
    h.versions[2]!.ledgerHead = null;
    expect(kinds(audit(h).problems)).toEqual(['-:missing-anchor']);
    const back = copy(history);
    back.versions[3]!.ledgerHead = back.versions[1]!.ledgerHead;
    expect(kinds(audit(back).problems)).toEqual(['-:anchor-regressed']);
  });

  it('a payload that is not JSON: malformed-payload (and no crash)', async () => {
    const h = copy(history);
    Object.assign(h.entries[4]!, await signEntry(keys.privateKey, keys.keyId, 'not json'));
    h.versions.at(-1)!.ledgerHead = h.entries[4]!.hash;
    expect(kinds(audit(h).problems)).toEqual(['5:malformed-payload', '5:broken-link', '-:missing-entry']);
  });
});

describe('property: no single-field edit of any entry passes, whatever the insider re-computes without the key', () => {
  const PAYLOAD_FIELDS = ['federationId', 'seq', 'prevHash', 'roundId', 'roundNumber', 'modelVersion', 'createdMs', 'delta', 'event.noiseMultiplier', 'event.sampleRate', 'event.mode', 'eligible', 'epsilonAfter.epsilon', 'format'] as const;
  const ROW_FIELDS = ['seq', 'roundId', 'hash', 'jws'] as const;

  function changed(value: unknown, salt: number): unknown {
    if (typeof value === 'number') return value + 1 + salt;
    if (typeof value === 'string') return `${value}${salt.toString(16)}x`;
    if (value === null) return salt;
    if (Array.isArray(value)) return value.length > 0 ? [] : [{ siteId: 'x', sampleRate: 1 }];
    return null;
  }

  it('is detected (fast-check)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 0, max: 4 }),
      fc.oneof(fc.record({ where: fc.constant('payload' as const), field: fc.constantFrom(...PAYLOAD_FIELDS) }), fc.record({ where: fc.constant('row' as const), field: fc.constantFrom(...ROW_FIELDS) })),
      fc.integer({ min: 0, max: 1000 }),
      // What the insider recomputes after the edit: nothing; the hash; the hash and a signature (own key,
      // own or the pinned kid); and with that the rest of the chain and the anchors.
      fc.constantFrom('nothing', 'rehash', 'resign-own-kid', 'resign-pinned-kid', 'resign-and-relink'),
      async (index, edit, salt, cover) => {
        const h = copy(history);
        const entry = h.entries[index]!;
        if (edit.where === 'row') {
          const value = entry[edit.field];
          (entry as unknown as Record<string, unknown>)[edit.field] = edit.field === 'jws' ? h.entries[(index + 1) % h.entries.length]!.jws : changed(value, salt);
        } else {
          const payload = JSON.parse(entry.payload) as Record<string, Record<string, unknown>>;
          const [head, leaf] = edit.field.split('.') as [string, string | undefined];
          if (leaf) payload[head]![leaf] = changed(payload[head]![leaf], salt);
          else (payload as Record<string, unknown>)[head] = changed(payload[head], salt);
          entry.payload = JSON.stringify(payload);
          if (cover === 'rehash') entry.hash = entryHash(entry.payload);
          if (cover === 'resign-own-kid' || cover === 'resign-pinned-kid') {
            Object.assign(entry, await signEntry(attacker.privateKey, cover === 'resign-own-kid' ? attacker.keyId : keys.keyId, entry.payload));
          }
          if (cover === 'resign-and-relink') {
            Object.assign(entry, await signEntry(attacker.privateKey, keys.keyId, entry.payload));
            const old = history.entries[index]!.hash;
            for (const v of h.versions) if (v.ledgerHead === old) v.ledgerHead = entry.hash;
            await resignFrom(h, index + 1, attacker, keys.keyId);
          }
        }
        expect(audit(h).problems.length).toBeGreaterThan(0);
      },
    ), { numRuns: 300 });
  });
});

describe('from SQLite', () => {
  it('a format-1 data dir (user_version 1, no anchors) upgrades in place without loss and verifies, anchors backfilled', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-ledger-migrate-'));
    try {
      const legacy = await buildHistory(keys, F, SPECS.filter((s) => s.charge === 'commit'), 'conclave-ledger/1');
      // A v1 database: today's schema minus the anchor column, user_version 1.
      new Store(dir).close();
      const raw = new DatabaseSync(join(dir, 'conclave.db'));
      raw.exec(`ALTER TABLE model_versions DROP COLUMN ledger_head; PRAGMA user_version = 1;
        INSERT INTO federations (id, name, config_json, topology_json, status, created_ms) VALUES ('${F}', 'f', '{}', '{}', 'running', 0);`);
      for (const r of legacy.rounds) {
        raw.prepare(`INSERT INTO rounds (id, federation_id, number, state, base_version, result_version, selected_json, seed, opened_ms, deadline_ms, privacy_json)
          VALUES (?, ?, ?, ?, 0, ?, '[]', 0, 0, 0, '{}')`).run(r.id, F, r.number, r.state, r.resultVersion);
      }
      for (const e of legacy.entries) raw.prepare('INSERT INTO ledger_entries VALUES (?, ?, ?, ?, ?, ?)').run(F, e.seq, e.roundId, e.payload, e.hash, e.jws);
      for (const v of legacy.versions) {
        raw.prepare(`INSERT INTO model_versions (federation_id, version, parent_version, round_id, sha256, num_parameters, layout_json, blob_path, created_ms)
          VALUES (?, ?, NULL, ?, x'00', 1, '[]', 'x', 0)`).run(F, v.version, v.roundId);
      }
      const before = readAuditInput(raw, F);
      expect(before.versions).toBeNull();
      expect(auditLedger(before, pinned).notChecked).toHaveLength(1);
      raw.close();

      const store = new Store(dir);
      try {
        expect((store.db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version).toBeGreaterThanOrEqual(2);
        const after = readAuditInput(store.db, F);
        expect(after.entries).toEqual(before.entries);
        expect(after.rounds).toEqual(before.rounds);
        expect(after.versions).toEqual(legacy.versions);
        expect(auditLedger(after, pinned)).toMatchObject({ problems: [], notChecked: [] });
        // And the upgrade made truncation detectable for the old data too.
        store.db.exec('DROP TRIGGER ledger_no_delete');
        store.db.prepare('DELETE FROM ledger_entries WHERE federation_id = ? AND seq = ?').run(F, legacy.entries.length);
        expect(kinds(auditLedger(readAuditInput(store.db, F), pinned).problems)).toEqual(['-:missing-entry', '-:truncated']);
      } finally {
        store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with a cache, a signature is verified once, and a row changed behind the cache is verified again', async () => {
    const cache = new AuditCache();
    expect(auditLedger(input(history), pinned, { cache }).problems).toEqual([]);
    expect(cache.signatures.size).toBe(history.entries.length);
    expect(auditLedger(input(history), pinned, { cache }).problems).toEqual([]);
    const h = copy(history);
    await resignFrom(h, 3, attacker, keys.keyId);
    expect(kinds(auditLedger(input(h), pinned, { cache }).problems)).toEqual(['4:signature', '5:signature']);
  });
});

