import { describe, expect, test } from 'vitest';
import { buildAuditReport, type AuditSources } from './report.ts';

function sources(lineage: AuditSources['lineage'], config: Record<string, unknown> = {}): AuditSources {
  return {
    federationId: 'f', federationName: 'plain', config, payloads: [], sites: [], lineage,
    verification: { intact: true, keyPinned: true, keyFingerprint: 'fp', problems: [], notChecked: [] }, generatedMs: 0,
  };
}

const version = (v: number, metrics: Record<string, number>) => ({ version: v, parentVersion: v ? v - 1 : null, roundId: null, sha256: '00', createdMs: 0, metrics });

describe('the audit report\'s accuracy chart', () => {
  test('every accuracy-like metric stored with a version becomes a series; others and out-of-range values are left out', async () => {
    const report = await buildAuditReport(sources([
      version(0, {}), version(1, { federatedAccuracy: 0.61, updates: 4 }), version(2, { federatedAccuracy: 0.74, examples: 800 }), version(3, { federatedAccuracy: 7 }),
    ]));
    expect(report.json['accuracy']).toEqual([
      { version: 1, metric: 'federatedAccuracy', value: 0.61 },
      { version: 2, metric: 'federatedAccuracy', value: 0.74 },
    ]);
    const section = report.html.split('<h2>Accuracy over model versions</h2>')[1]!.split('<h2>')[0]!;
    expect(section).toMatch(/^<svg[^>]*width="\d+"/);
    expect(section).toContain('model version');
  });

  test('with nothing recorded the section says why instead of drawing an empty chart', async () => {
    const report = await buildAuditReport(sources([version(0, {}), version(1, { updates: 2 })], { privacy: { mode: 'central' } }));
    expect(report.json['accuracy']).toEqual([]);
    expect(report.html).toContain('under DP the coordinator collects no metrics');
  });
});
