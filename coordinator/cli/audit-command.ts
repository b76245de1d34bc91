import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { CliError, EXIT, output, parseFlags, str, type CommandHelp, type Flags } from '../../protocols/cli.ts';
import type { LedgerPayload } from '../privacy/ledger.ts';
import { recomputeLedger } from '../audit/recompute.ts';
import { buildAuditReport, type AuditSources } from '../audit/report.ts';
import { LEDGER_SOURCE_DETAILS, LEDGER_SOURCE_OPTIONS, readSource, verifyPinned, type Source } from './ledger-command.ts';

export const AUDIT_HELP: CommandHelp = {
  command: 'audit',
  summary: 'for auditors: verify the ledger and recompute ε; an HTML + JSON privacy report',
  subcommands: {
    verify: {
      summary: 'everything "ledger verify" checks, and ε recomputed from the recorded events with both accountants (RDP and PLD)',
      flags: Object.keys(LEDGER_SOURCE_OPTIONS),
      examples: ['conclave audit verify --data-dir ./.conclave --federation 3f2c… --key-fingerprint 5c1a…', 'conclave audit verify --file ledger.json --jwks jwks.json --json'],
      details: `An entry claiming less ε than its events give is named. ${LEDGER_SOURCE_DETAILS}`,
      exitCodes: { 0: 'verified', 9: 'the ledger does not verify or under-reports ε' },
    },
    report: {
      summary: 'write DIR/report.html (one self-contained file, charts as inline SVG) and DIR/report.json, with the verification result',
      examples: ['conclave audit report --data-dir ./.conclave --federation 3f2c… --out ./audit --jwks ./jwks.json'],
      details: 'From the data dir\'s ledger, configuration and model lineage (read-only; no coordinator needed).',
      exitCodes: { 0: 'written, the ledger verifies', 9: 'written, but the ledger does not verify' },
    },
  },
};

export async function auditCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { flags } = parseFlags(rest, {
    ...LEDGER_SOURCE_OPTIONS, out: { type: 'string', value: 'DIR', description: 'report: where report.html and report.json go' },
  }, AUDIT_HELP, sub);
  const source = await readSource(flags);
  const verification = verifyPinned(flags, source);
  const payloads = parsePayloads(source);
  if (sub === 'verify') {
    const recomputed = recomputeLedger(payloads);
    const bad = recomputed.firstBad;
    const text = [...verification.text, bad
      ? bad.invalid
        ? `ε CANNOT BE RECOMPUTED: entry ${bad.seq} (round ${bad.roundNumber}) records events no accountant accepts: ${bad.invalid}`
        : `ε UNDER-REPORTED: entry ${bad.seq} (round ${bad.roundNumber}) claims ε = ${bad.claimed} but its events give ${bad.epsilon} (rdp ${bad.rdp}, pld ${bad.pld ?? 'n/a'})`
      : `ε recomputed from the events at ${recomputed.entries.length} entries (every ${recomputed.checkedEvery}${recomputed.checkedEvery > 1 ? ', and the last' : ''}): no entry claims less`];
    output(flags, { json: { ...verification.json, recomputation: recomputed, intact: verification.intact && !bad }, text: text.join('\n') });
    if (!verification.intact || bad) process.exitCode = EXIT.LEDGER_INVALID;
    return;
  }
  const out = resolve(str(flags, 'out'));
  const report = await buildAuditReport({ ...dataDirSources(flags, source), payloads, verification: summary(verification), generatedMs: Date.now() });
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'report.html'), report.html);
  writeFileSync(join(out, 'report.json'), JSON.stringify(report.json, null, 2) + '\n');
  output(flags, {
    json: { out, html: join(out, 'report.html'), report: join(out, 'report.json'), intact: verification.intact, epsilon: report.json.epsilon },
    text: `wrote ${join(out, 'report.html')} and report.json (ledger ${verification.intact ? 'verifies' : 'DOES NOT VERIFY'})`,
  });
  if (!verification.intact) process.exitCode = EXIT.LEDGER_INVALID;
}

function summary(v: ReturnType<typeof verifyPinned>): AuditSources['verification'] {
  const j = v.json as { keyPinned?: boolean; keyFingerprint?: string; problems?: Array<{ message?: string }>; notChecked?: string[] };
  return {
    intact: v.intact, keyPinned: j.keyPinned === true, keyFingerprint: j.keyFingerprint ?? '',
    problems: (j.problems ?? []).map((p) => p.message ?? 'problem'), notChecked: j.notChecked ?? [],
  };
}

/** The numbers stored with a model version; anything else in the column is left out of the report. */
function numericMetrics(json: string): Record<string, number> {
  try {
    const parsed = JSON.parse(json) as unknown;
    if (!parsed || typeof parsed !== 'object') return {};
    return Object.fromEntries(Object.entries(parsed).filter(([, v]) => typeof v === 'number' && Number.isFinite(v))) as Record<string, number>;
  } catch {
    return {};
  }
}

function parsePayloads(source: Source): LedgerPayload[] {
  return source.input.entries.map((e) => {
    try {
      return JSON.parse(e.payload) as LedgerPayload;
    } catch {
      throw new CliError(`ledger entry ${e.seq} is not JSON: the ledger does not verify`, EXIT.LEDGER_INVALID);
    }
  });
}

/** Configuration, site names and lineage live beside the ledger in the data dir (read-only). */
function dataDirSources(flags: Flags, source: Source): Omit<AuditSources, 'payloads' | 'verification' | 'generatedMs'> {
  const federationId = source.input.federationId;
  const empty = { federationId, federationName: federationId, config: {}, sites: [], lineage: [] };
  if (source.kind !== 'data-dir') return empty;
  const dbPath = join(resolve(String(flags['data-dir'])), 'conclave.db');
  if (!existsSync(dbPath)) return empty;
  const db = new DatabaseSync(dbPath, { readOnly: true });
  try {
    const fed = db.prepare('SELECT name, config_json FROM federations WHERE id = ?').get(federationId) as { name: string; config_json: string } | undefined;
    const sites = db.prepare('SELECT id, name, budget_epsilon FROM sites WHERE federation_id = ? ORDER BY enrolled_ms').all(federationId) as Array<{ id: string; name: string; budget_epsilon: number | null }>;
    const versions = db.prepare('SELECT version, parent_version, round_id, sha256, created_ms, metrics_json FROM model_versions WHERE federation_id = ? ORDER BY version').all(federationId) as
      Array<{ version: number; parent_version: number | null; round_id: string | null; sha256: Uint8Array; created_ms: number; metrics_json: string }>;
    return {
      federationId, federationName: fed?.name ?? federationId, config: fed ? JSON.parse(fed.config_json) as Record<string, unknown> : {},
      sites: sites.map((s) => ({ siteId: s.id, name: s.name, budgetEpsilon: s.budget_epsilon })),
      lineage: versions.map((v) => ({
        version: v.version, parentVersion: v.parent_version, roundId: v.round_id, sha256: Buffer.from(v.sha256).toString('hex'), createdMs: v.created_ms,
        metrics: numericMetrics(v.metrics_json),
      })),
    };
  } finally {
    db.close();
  }
}
