import type { KeyObject } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import type { CryptoKey } from 'jose';
import { z } from 'zod';
import { LEGACY_GENESIS_HASH, checkChain, entryHash, genesisHash, type ChainProblem } from '../../crypto/ledger-signing.ts';

/**
 * The privacy ledger, audited by someone who does not trust the coordinator: every check here
 * uses only the stored rows and a public key the auditor pinned, never the key the ledger
 * carries. What it establishes, for federation F:
 *  - every entry is signed by the pinned key (and names its kid), carries F and its own seq, and
 *    the entries form one hash chain 1..n from F's genesis (no forgery, edit, reorder, or chain
 *    lifted from another federation);
 *  - every entry names a round of F; every committed round that ran under DP has an entry, and a
 *    charge made at commit names the version that round committed (no dropped or re-pointed cost);
 *  - every model version produced by a DP round anchors the ledger head of its commit, anchors
 *    never move backwards, and the newest version's anchor is in the chain (deleting the newest
 *    entries, or all of them, is detected).
 * What it cannot establish: a database rolled back consistently to an earlier state (versions,
 * rounds and entries together) is indistinguishable from that earlier state. The README says so.
 *
 * Pure: auditLedger takes rows and a key and returns problems; readAuditInput is the one place
 * that reads them from SQLite (the coordinator's connection, or a read-only one for offline audits).
 */

export interface AuditEntry {
  seq: number;
  /** The entry row's round_id column (the payload carries its own, signed). */
  roundId: string;
  payload: string;
  hash: string;
  jws: string;
}

export interface AuditRound {
  id: string;
  number: number;
  state: string;
  resultVersion: number | null;
  /** The round ran under differential privacy (its privacy plan is recorded). */
  hasPrivacy: boolean;
  /**
   * Its sites' releases were charged when it was planned (local/distributed DP), so it has an entry
   * whatever became of it; a draw too small to plan records no privacy plan and releases nothing.
   */
  chargedAtOpen?: boolean;
}

export interface AuditVersion {
  version: number;
  roundId: string | null;
  /** The ledger head at the version's commit: genesisHash(F) or an entry's hash. */
  ledgerHead: string | null;
}

export interface AuditInput {
  federationId: string;
  entries: AuditEntry[];
  /** null where the source has no rounds table (an exported ledger): those cross-checks are skipped and reported. */
  rounds: AuditRound[] | null;
  /** null where the source has no anchored model versions (an export, or a data dir written before anchors existed). */
  versions: AuditVersion[] | null;
}

/** The key the auditor trusts, obtained out of band (a JWKS file, or a fingerprint checked against it). */
export interface PinnedKey {
  publicKey: KeyObject | CryptoKey;
  /** The kid every entry must name; null: not checked. */
  keyId: string | null;
}

/** Each problem names the entry it is about (seq), or null for a round or a model version. */
export type LedgerProblem =
  | ChainProblem
  | { seq: number; problem: 'malformed-payload'; detail: string }
  | { seq: number; problem: 'wrong-federation'; expected: string; actual: string }
  | { seq: number; problem: 'seq-mismatch'; payloadSeq: number }
  | { seq: number; problem: 'round-mismatch'; detail: string }
  | { seq: number; problem: 'unknown-round'; roundId: string }
  | { seq: number; problem: 'version-mismatch'; roundId: string; modelVersion: number; resultVersion: number | null }
  | { seq: null; problem: 'missing-entry'; roundId: string; roundNumber: number }
  | { seq: null; problem: 'missing-anchor'; version: number }
  | { seq: null; problem: 'unknown-anchor'; version: number; anchor: string }
  | { seq: null; problem: 'truncated'; version: number; anchor: string }
  | { seq: null; problem: 'anchor-regressed'; version: number; anchor: string; previousVersion: number };

export interface AuditResult {
  problems: LedgerProblem[];
  /** The newest entry's stored hash, or genesisHash(F) for an empty ledger. */
  head: string;
  entries: number;
  /** Checks this source could not support, in words, so a report never claims more than it checked. */
  notChecked: string[];
}

/** What the audit reads from a payload (other fields are dropped); the rest is the accountant's business. */
const PAYLOAD = z.object({
  format: z.string(),
  federationId: z.string(),
  seq: z.number().int(),
  prevHash: z.string(),
  roundId: z.string(),
  roundNumber: z.number().int(),
  modelVersion: z.number().int().nullable(),
});
type AuditedPayload = z.infer<typeof PAYLOAD>;

/**
 * What a long-lived verifier (the coordinator) remembers between audits under one pinned key, by
 * payload hash: the JWS it verified (checkChain re-verifies only when the stored JWS differs) and the
 * fields it parsed. Every audit still re-hashes every payload, so a hit means the same bytes. Holds
 * about as much memory as the JWS column.
 */
export class AuditCache {
  readonly signatures = new Map<string, string>();
  readonly payloads = new Map<string, AuditedPayload>();
}

export interface AuditOptions {
  cache?: AuditCache;
}

export function auditLedger(input: AuditInput, key: PinnedKey, options: AuditOptions = {}): AuditResult {
  const { federationId, entries } = input;
  const { cache } = options;
  const problems: LedgerProblem[] = [];
  const hashes = entries.map((entry) => entryHash(entry.payload));
  const payloads: Array<AuditedPayload | null> = entries.map((entry, index) => {
    const known = cache?.payloads.get(hashes[index]!);
    if (known) return known;
    let parsed: unknown;
    try {
      parsed = JSON.parse(entry.payload);
    } catch {
      problems.push({ seq: entry.seq, problem: 'malformed-payload', detail: 'not JSON' });
      return null;
    }
    const result = PAYLOAD.safeParse(parsed);
    if (!result.success) {
      problems.push({ seq: entry.seq, problem: 'malformed-payload', detail: result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
      return null;
    }
    cache?.payloads.set(hashes[index]!, result.data);
    return result.data;
  });

  // Format-1 ledgers began every federation at the shared zero hash; their entries still carry
  // the federation id under the signature, which is what keeps a lifted chain out.
  const genesis = genesisHash(federationId);
  const chainGenesis = payloads[0]?.format === 'conclave-ledger/1' ? LEGACY_GENESIS_HASH : genesis;
  problems.push(...checkChain(key.publicKey, entries, (_payload, index) => {
    const prev = payloads[index]?.prevHash;
    if (prev === undefined) throw new Error('no prevHash');
    return prev;
  }, { genesis: chainGenesis, keyId: key.keyId, payloadHashes: hashes, ...(cache ? { verified: cache.signatures } : {}) }));

  entries.forEach((entry, index) => {
    const payload = payloads[index];
    if (!payload) return;
    if (payload.federationId !== federationId) problems.push({ seq: entry.seq, problem: 'wrong-federation', expected: federationId, actual: payload.federationId });
    if (payload.seq !== entry.seq) problems.push({ seq: entry.seq, problem: 'seq-mismatch', payloadSeq: payload.seq });
    if (payload.roundId !== entry.roundId) problems.push({ seq: entry.seq, problem: 'round-mismatch', detail: `the row names round ${entry.roundId}, the signed payload ${payload.roundId}` });
  });

  const notChecked: string[] = [];
  if (input.rounds) problems.push(...checkRounds(entries, payloads, input.rounds));
  else notChecked.push('rounds: that every entry names a round of this federation and every committed DP round has its entry (this source has no rounds)');
  if (input.rounds && input.versions) problems.push(...checkAnchors(entries, genesis, input.rounds, input.versions));
  else notChecked.push('anchors: that model versions pin the ledger head, so deleting the newest entries (or all of them) goes unnoticed here (this source has no anchored model versions)');

  return { problems, head: entries.at(-1)?.hash ?? genesis, entries: entries.length, notChecked };
}

function checkRounds(entries: AuditEntry[], payloads: Array<AuditedPayload | null>, rounds: AuditRound[]): LedgerProblem[] {
  const problems: LedgerProblem[] = [];
  const byId = new Map(rounds.map((r) => [r.id, r]));
  const charged = new Set<string>();
  entries.forEach((entry, index) => {
    const payload = payloads[index];
    if (!payload) return;
    charged.add(payload.roundId);
    const round = byId.get(payload.roundId);
    if (!round) {
      problems.push({ seq: entry.seq, problem: 'unknown-round', roundId: payload.roundId });
      return;
    }
    if (payload.roundNumber !== round.number) {
      problems.push({ seq: entry.seq, problem: 'round-mismatch', detail: `the payload says round number ${payload.roundNumber}, round ${round.id} is number ${round.number}` });
    }
    // A charge written at commit (central DP) names the version that commit produced.
    if (payload.modelVersion !== null && (round.state !== 'committed' || round.resultVersion !== payload.modelVersion)) {
      problems.push({ seq: entry.seq, problem: 'version-mismatch', roundId: round.id, modelVersion: payload.modelVersion, resultVersion: round.state === 'committed' ? round.resultVersion : null });
    }
  });
  for (const round of rounds) {
    if (round.hasPrivacy && (round.state === 'committed' || round.chargedAtOpen) && !charged.has(round.id)) {
      problems.push({ seq: null, problem: 'missing-entry', roundId: round.id, roundNumber: round.number });
    }
  }
  return problems;
}

function checkAnchors(entries: AuditEntry[], genesis: string, rounds: AuditRound[], versions: AuditVersion[]): LedgerProblem[] {
  const problems: LedgerProblem[] = [];
  // Position in the chain: the genesis is 0, entry i (0-based) is i + 1.
  const position = new Map<string, number>([[genesis, 0]]);
  entries.forEach((entry, index) => position.set(entry.hash, index + 1));
  const privateRounds = new Set(rounds.filter((r) => r.hasPrivacy).map((r) => r.id));
  const anchored = versions.filter((v) => v.roundId !== null && privateRounds.has(v.roundId)).sort((a, b) => a.version - b.version);
  let last: { version: number; position: number } | null = null;
  anchored.forEach((v, index) => {
    if (v.ledgerHead === null) {
      problems.push({ seq: null, problem: 'missing-anchor', version: v.version });
      return;
    }
    const at = position.get(v.ledgerHead);
    if (at === undefined) {
      const newest = index === anchored.length - 1;
      problems.push({ seq: null, problem: newest ? 'truncated' : 'unknown-anchor', version: v.version, anchor: v.ledgerHead });
      return;
    }
    if (last && at < last.position) problems.push({ seq: null, problem: 'anchor-regressed', version: v.version, anchor: v.ledgerHead, previousVersion: last.version });
    last = { version: v.version, position: Math.max(at, last?.position ?? 0) };
  });
  return problems;
}

/** One line per problem, for logs, errors and the CLI. */
export function describeProblem(p: LedgerProblem): string {
  switch (p.problem) {
    case 'signature': return `entry ${p.seq}: signature does not verify under the pinned key (${p.detail})`;
    case 'wrong-key-id': return `entry ${p.seq}: signed with key id ${p.actualKeyId ?? '(none)'}, not the pinned ${p.expectedKeyId}`;
    case 'payload-mismatch': return `entry ${p.seq}: the stored payload is not the one signed`;
    case 'hash-mismatch': return `entry ${p.seq}: the stored hash is not the payload's SHA-256`;
    case 'broken-link': return `entry ${p.seq}: names predecessor ${p.actualPrev.slice(0, 16) || '(none)'}…, the chain has ${p.expectedPrev.slice(0, 16)}…`;
    case 'sequence-gap': return `entry ${p.seq}: expected seq ${p.expectedSeq} (entries missing or reordered)`;
    case 'malformed-payload': return `entry ${p.seq}: payload is malformed (${p.detail})`;
    case 'wrong-federation': return `entry ${p.seq}: signed for federation ${p.actual}, not ${p.expected}`;
    case 'seq-mismatch': return `entry ${p.seq}: its signed payload says seq ${p.payloadSeq}`;
    case 'round-mismatch': return `entry ${p.seq}: ${p.detail}`;
    case 'unknown-round': return `entry ${p.seq}: names round ${p.roundId}, which is not a round of this federation`;
    case 'version-mismatch': return `entry ${p.seq}: charged at the commit of version ${p.modelVersion}, but round ${p.roundId} ${p.resultVersion === null ? 'did not commit' : `committed version ${p.resultVersion}`}`;
    case 'missing-entry': return `round ${p.roundNumber} (${p.roundId}) ran under DP but has no ledger entry`;
    case 'missing-anchor': return `model version ${p.version} (a DP round's) records no ledger head`;
    case 'unknown-anchor': return `model version ${p.version} anchors ledger head ${p.anchor.slice(0, 16)}…, which is not in the chain`;
    case 'truncated': return `the newest model version ${p.version} anchors ledger head ${p.anchor.slice(0, 16)}…, which is not in the chain: entries were removed`;
    case 'anchor-regressed': return `model version ${p.version} anchors an older ledger head than version ${p.previousVersion}`;
  }
}

/**
 * Reads what auditLedger needs for one federation. Read-only statements: safe on the
 * coordinator's own connection and on a read-only connection to a data dir of any schema version.
 */
export function readAuditInput(db: DatabaseSync, federationId: string): AuditInput {
  const entries = (db.prepare('SELECT seq, round_id, payload_json, hash, jws FROM ledger_entries WHERE federation_id = ? ORDER BY seq')
    .all(federationId) as Array<{ seq: number; round_id: string; payload_json: string; hash: string; jws: string }>)
    .map((r) => ({ seq: r.seq, roundId: r.round_id, payload: r.payload_json, hash: r.hash, jws: r.jws }));
  const rounds = (db.prepare(`SELECT id, number, state, result_version, privacy_json IS NOT NULL AS dp,
      json_extract(privacy_json, '$.mode') IN ('local', 'distributed') AS at_open FROM rounds WHERE federation_id = ?`)
    .all(federationId) as Array<{ id: string; number: number; state: string; result_version: number | null; dp: number; at_open: number | null }>)
    .map((r) => ({ id: r.id, number: r.number, state: r.state, resultVersion: r.result_version, hasPrivacy: r.dp === 1, chargedAtOpen: r.at_open === 1 }));
  const anchored = (db.prepare(`SELECT 1 AS yes FROM pragma_table_info('model_versions') WHERE name = 'ledger_head'`).get() as { yes: number } | undefined) !== undefined;
  const versions = anchored
    ? (db.prepare('SELECT version, round_id, ledger_head FROM model_versions WHERE federation_id = ? ORDER BY version')
      .all(federationId) as Array<{ version: number; round_id: string | null; ledger_head: string | null }>)
      .map((r) => ({ version: r.version, roundId: r.round_id, ledgerHead: r.ledger_head }))
    : null;
  return { federationId, entries, rounds, versions };
}
