/**
 * The privacy audit report, from the ledger alone (plus the federation's stored configuration and
 * model lineage): what was promised, what each mechanism protects against, what every round spent,
 * and whether the ledger verifies. One self-contained HTML file (charts are SVG rendered here with
 * vega, so viewing it needs no network) and the same content as JSON.
 */
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import type { LedgerPayload } from '../privacy/ledger.ts';
import { participantSeries, recomputeLedger, type Recomputation } from './recompute.ts';

export interface AuditSources {
  federationId: string;
  federationName: string;
  /** The stored configuration (JSON as the coordinator validated it). */
  config: Record<string, unknown>;
  payloads: LedgerPayload[];
  /** Site names and budgets by id, where the data dir has them. */
  sites: Array<{ siteId: string; name: string; budgetEpsilon: number | null }>;
  lineage: Array<{ version: number; parentVersion: number | null; roundId: string | null; sha256: string; createdMs: number; metrics?: Record<string, number> }>;
  verification: { intact: boolean; keyPinned: boolean; keyFingerprint: string; problems: string[]; notChecked: string[] };
  generatedMs: number;
}

export interface AuditReport {
  json: Record<string, unknown>;
  html: string;
}

/** What each release kind protects against, in the auditor's terms. */
const RELEASE_MEANING: Record<LedgerPayload['event']['release'], string> = {
  aggregate: 'The noised aggregate leaves the coordinator at commit. Protects each site\'s participation and data (add/remove one site\'s update) against everyone who sees the models; the coordinator is trusted as the curator.',
  'site-updates': 'Each selected site\'s noised update reaches the coordinator as it is sent. Protects each site\'s data (replace-one, sensitivity 2C) against the coordinator itself and everyone after it; who takes part is not hidden.',
  'secure-sum': 'Only the sum of the surviving sites\' updates is unmasked (secure aggregation), each site having added its own discrete Gaussian noise. Protects each site\'s data (zero-out: its update replaced by zero while it still adds its noise share, the distributed discrete Gaussian paper\'s accounting) against the coordinator and everyone after it, charged as if only the fewest survivors with which the round can commit had added noise; who takes part is not hidden.',
};

export async function buildAuditReport(src: AuditSources): Promise<AuditReport> {
  const recomputed = recomputeLedger(src.payloads);
  const json = reportJson(src, recomputed);
  const budget = json.epsilon.budget;
  const charts = {
    federation: await lineChart('ε of the federation after each round', json.rounds.map((r) => ({ round: r.roundNumber, epsilon: r.epsilonAfter, series: 'federation' })), budget),
    participants: await lineChart(json.participants.length <= MAX_LINES ? 'ε of each participant after each round it was charged for' : 'ε of the participants after each round: lowest, median and highest',
      participantLines(json.participants), budget),
    accuracy: json.accuracy.length
      ? await lineChart('Accuracy of each model version, as recorded with it', json.accuracy.map((a) => ({ round: a.version, epsilon: a.value, series: a.metric })), null,
        { x: 'model version', y: 'accuracy', domain: [0, 1] })
      : `<p>No accuracy is recorded with the model versions${json.federation.config['privacy'] ? ' (under DP the coordinator collects no metrics from sites: they would be an unaccounted release)' : ''}.</p>`,
  };
  return { json, html: renderHtml(json, charts, recomputed) };
}

type ReportJson = ReturnType<typeof reportJson>;

/** One line per participant is readable up to about this many; past it the chart shows the spread. */
const MAX_LINES = 20;

function participantLines(participants: ReportJson['participants']): Array<{ round: number; epsilon: number; series: string }> {
  if (participants.length <= MAX_LINES) return participants.flatMap((p) => p.series.map((pt) => ({ round: pt.roundNumber, epsilon: pt.epsilon, series: p.name })));
  // Each participant's ε after each round (carried forward between its charges), summarised per round.
  const rounds = [...new Set(participants.flatMap((p) => p.series.map((pt) => pt.roundNumber)))].sort((a, b) => a - b);
  return rounds.flatMap((round) => {
    const values = participants.map((p) => p.series.filter((pt) => pt.roundNumber <= round).at(-1)?.epsilon ?? 0).sort((a, b) => a - b);
    const pick = (q: number) => values[Math.min(values.length - 1, Math.floor(q * (values.length - 1)))]!;
    return [{ round, epsilon: pick(0), series: 'lowest' }, { round, epsilon: pick(0.5), series: 'median' }, { round, epsilon: pick(1), series: 'highest' }];
  });
}

function reportJson(src: AuditSources, recomputed: Recomputation) {
  const series = participantSeries(src.payloads);
  const names = new Map(src.sites.map((s) => [s.siteId, s.name]));
  const privacy = (src.config['privacy'] ?? null) as { budgetEpsilon?: number | null; delta?: number } | null;
  const federationBudget = privacy?.budgetEpsilon ?? null;
  const mechanisms = [...new Set(src.payloads.map((p) => `${p.event.mode}|${p.event.release}`))].map((key) => {
    const [mode, release] = key.split('|') as [string, LedgerPayload['event']['release']];
    const sample = src.payloads.find((p) => p.event.mode === mode && p.event.release === release)!.event;
    return {
      mode, release, adjacency: sample.adjacency, sampling: sample.sampling, protectsAgainst: RELEASE_MEANING[release],
      parameters: sample.mechanism === 'ddg'
        ? { mechanism: 'ddg', configuredNoiseMultiplier: sample.configuredNoiseMultiplier, clipNorm: sample.clipNorm, localStddev: sample.localStddev, clients: sample.clients, dim: sample.dim, granularity: sample.granularity, beta: sample.beta, sampleRate: sample.sampleRate }
        : { noiseMultiplier: sample.noiseMultiplier, configuredNoiseMultiplier: sample.configuredNoiseMultiplier, clipNorm: sample.clipNorm, sensitivity: sample.sensitivity, sampleRate: sample.sampleRate },
    };
  });
  const rounds = src.payloads.map((p) => ({
    seq: p.seq, roundNumber: p.roundNumber, modelVersion: p.modelVersion, release: p.event.release, mode: p.event.mode,
    // A DDG round has no single noise multiplier: its parameters are under mechanisms, its ε here.
    sitesCharged: p.eligible.length, noiseMultiplier: p.event.mechanism === 'ddg' ? null : p.event.noiseMultiplier, clipNorm: p.event.clipNorm, sampleRate: p.event.sampleRate,
    epsilonAfter: p.epsilonAfter.epsilon, accountant: p.epsilonAfter.accountant,
  }));
  const participants = [...series.entries()].map(([siteId, points]) => {
    const own = src.sites.find((s) => s.siteId === siteId);
    return { siteId, name: names.get(siteId) ?? siteId, budgetEpsilon: own?.budgetEpsilon ?? federationBudget, epsilon: points.at(-1)?.epsilon ?? 0, series: points };
  });
  return {
    format: 'conclave-audit/1', generatedAt: new Date(src.generatedMs).toISOString(),
    federation: { id: src.federationId, name: src.federationName, config: src.config },
    verification: src.verification,
    recomputation: { checkedEvery: recomputed.checkedEvery, firstUnderReported: recomputed.firstBad, entries: recomputed.entries },
    mechanisms, rounds, participants, lineage: src.lineage, accuracy: accuracySeries(src.lineage),
    epsilon: { federation: rounds.at(-1)?.epsilonAfter ?? 0, budget: federationBudget, delta: privacy?.delta ?? src.payloads[0]?.delta ?? null },
  };
}

/** Every accuracy-like metric stored with a model version (e.g. federated evaluation), as a fraction. */
function accuracySeries(lineage: AuditSources['lineage']): Array<{ version: number; metric: string; value: number }> {
  return lineage.flatMap((m) => Object.entries(m.metrics ?? {})
    .filter(([k, v]) => /accuracy/i.test(k) && typeof v === 'number' && v >= 0 && v <= 1)
    .map(([metric, value]) => ({ version: m.version, metric, value })));
}

/** A line chart rendered to SVG on this side: the report must open with no network and no script. */
async function lineChart(title: string, values: Array<{ round: number; epsilon: number; series: string }>, budget: number | null,
  axes: { x: string; y: string; domain?: [number, number] } = { x: 'round', y: 'ε' }): Promise<string> {
  if (values.length === 0) return '<p>No entries.</p>';
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title, width: 640, height: 260,
    layer: [
      {
        data: { values }, mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'round', type: 'quantitative', title: axes.x, axis: { tickMinStep: 1 } },
          y: { field: 'epsilon', type: 'quantitative', title: axes.y, ...(axes.domain ? { scale: { domain: axes.domain } } : {}) },
          color: { field: 'series', type: 'nominal', title: null, legend: values.length > 0 && new Set(values.map((v) => v.series)).size <= 20 ? {} : null },
        },
      },
      ...(budget !== null ? [{ data: { values: [{ budget }] }, mark: { type: 'rule', strokeDash: [6, 4], color: '#c0392b' }, encoding: { y: { field: 'budget', type: 'quantitative' } } }] : []),
    ],
  };
  const compiled = vegaLite.compile(spec as unknown as vegaLite.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function num(x: unknown, digits = 4): string {
  return typeof x === 'number' ? (Number.isFinite(x) ? x.toFixed(digits) : x > 0 ? '∞' : String(x)) : '—';
}

function renderHtml(report: ReportJson, charts: { federation: string; participants: string; accuracy: string }, recomputed: Recomputation): string {
  const v = report.verification;
  const ok = v.intact && recomputed.firstBad === null;
  const status = ok
    ? `<p class="ok">The ledger verifies${v.keyPinned ? ' under the pinned key' : ' (key NOT pinned)'} (fingerprint <code>${esc(v.keyFingerprint)}</code>), and every recomputed ε is at most what the ledger claims.</p>`
    : `<p class="bad">DOES NOT VERIFY: ${[...v.problems, ...(recomputed.firstBad ? [(recomputed.firstBad.invalid ? `entry ${recomputed.firstBad.seq} records events no accountant accepts: ${recomputed.firstBad.invalid}` : `entry ${recomputed.firstBad.seq} claims ε = ${num(recomputed.firstBad.claimed)} but its events give ${num(recomputed.firstBad.epsilon)}`)] : [])].map(esc).join('<br>')}</p>`;
  const rows = report.rounds.map((r) => `<tr><td>${r.roundNumber}</td><td>${r.modelVersion ?? '(charged at plan)'}</td><td>${esc(r.release)}</td><td>${r.sitesCharged}</td><td>${num(r.noiseMultiplier)}</td><td>${num(r.clipNorm)}</td><td>${num(r.sampleRate, 3)}</td><td>${num(r.epsilonAfter)}</td><td>${esc(r.accountant)}</td></tr>`).join('\n');
  const mech = report.mechanisms.map((m) => {
    const p = m.parameters;
    const what = 'mechanism' in p
      ? `distributed discrete Gaussian: local noise std ${num(p.localStddev)}, clip ${num(p.clipNorm)}, granularity ${num(p.granularity, 8)}, β ${num(p.beta)}, at least ${p.clients} sites' noise in the sum, dimension ${p.dim}`
      : `noise multiplier ${num(p.noiseMultiplier)}, clip ${num(p.clipNorm)}, sensitivity ${num(p.sensitivity)}`;
    return `<li><b>${esc(m.mode)} DP, ${esc(m.release)}</b> (${esc(m.adjacency)}, sampling ${esc(m.sampling)}; ${what}): ${esc(m.protectsAgainst)}</li>`;
  }).join('\n');
  const people = report.participants.map((p) => `<tr><td>${esc(p.name)}</td><td>${num(p.epsilon)}</td><td>${p.budgetEpsilon ?? '—'}</td><td>${p.series.length}</td></tr>`).join('\n');
  const lineage = report.lineage.map((m) => `<tr><td>v${m.version}</td><td>${m.parentVersion === null ? '—' : `v${m.parentVersion}`}</td><td><code>${esc(m.sha256.slice(0, 16))}…</code></td><td>${esc(new Date(m.createdMs).toISOString())}</td></tr>`).join('\n');
  const fed = report.federation;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Privacy audit: ${esc(fed.name)}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}.ok{color:#1e7e34;font-weight:600}.bad{color:#b00020;font-weight:600}code{font-size:12px}pre{background:#f7f7f7;padding:1em;overflow:auto}</style>
</head><body>
<h1>Privacy audit — ${esc(fed.name)}</h1>
<p>Federation <code>${esc(fed.id)}</code>. Generated ${esc(report.generatedAt)} from the privacy ledger alone. ε at δ = ${esc(report.epsilon.delta)}: <b>${num(report.epsilon.federation)}</b>${report.epsilon.budget !== null ? ` of a budget of ${esc(report.epsilon.budget)}` : ''}.</p>
<h2>Verification</h2>${status}
${v.notChecked.length ? `<p>Not checked: ${v.notChecked.map(esc).join('; ')}</p>` : ''}
<h2>Mechanisms</h2><ul>${mech || '<li>No DP release recorded.</li>'}</ul>
<h2>ε over rounds</h2>${charts.federation}
${charts.participants}
<h2>Accuracy over model versions</h2>${charts.accuracy}
<h2>Rounds</h2>
<table><tr><th>round</th><th>model version</th><th>release</th><th>sites charged</th><th>noise multiplier</th><th>clip norm</th><th>sample rate</th><th>ε after</th><th>accountant</th></tr>
${rows}</table>
<h2>Participants</h2>
<table><tr><th>site</th><th>ε</th><th>budget</th><th>rounds charged</th></tr>${people}</table>
<h2>Model lineage</h2>
<table><tr><th>version</th><th>parent</th><th>SHA-256</th><th>committed</th></tr>${lineage}</table>
<h2>Configuration</h2><pre>${esc(JSON.stringify(fed.config, null, 2))}</pre>
</body></html>
`;
}
