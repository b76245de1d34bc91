/**
 * The auditor's view: `conclave audit verify|report` on a data dir nobody is running, from the
 * ledger alone. A real coordinator commits central-DP rounds (raw sites), stops, and the real CLI
 * verifies (recomputing ε from the events), writes the report, and fails once an entry is edited.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { DatabaseSync } from 'node:sqlite';
import { callUnary, downloadModel, participantClient, submitUpdate } from '../../client-sdk/connection.ts';
import type { RoundMsg } from '../../protocols/index.ts';
import type { LedgerPayload } from '../../coordinator/privacy/ledger.ts';
import { recomputeLedger } from '../../coordinator/audit/recompute.ts';
import { startTestFederation, tempDataDir, type TestFederation } from '../helpers/coordinator.ts';
import { plansFor } from '../helpers/raw-site.ts';
import { runCliJson } from '../helpers/processes.ts';
import { until } from '../helpers/wait.ts';

let fx: TestFederation;
let dir: string;
let cleanup: () => void;
const ROUNDS = 3;

const cli = (args: string[]) => runCliJson(args);

beforeAll(async () => {
  ({ dir, cleanup } = tempDataDir('conclave-audit-'));
  fx = await startTestFederation({
    dataDir: dir, sites: 2, rounds: ROUNDS,
    privacy: { mode: 'central', noiseMultiplier: 1, localEpsilon: null, clipNorm: 1, sampleRate: 1, adaptiveClip: null, budgetEpsilon: 40, delta: 1e-5 },
  });
  const client = participantClient(fx.coordinator.address);
  const { layout, values } = await downloadModel(client, fx.sites[0]!.token, { federationId: fx.federation.id, version: 0 });
  for (let r = 0; r < ROUNDS; r++) {
    const plans = await plansFor(fx.coordinator.address, fx.sites.map((s) => s.token));
    for (let i = 0; i < 2; i++) {
      await submitUpdate(client, fx.sites[i]!.token, { roundId: plans[i]!.roundId, numExamples: 5, layout, values: new Float32Array(values.length), trainLoss: 0, trainAccuracy: 0 });
    }
    await until('the round to commit', async () => {
      const { rounds } = await callUnary<{ rounds: RoundMsg[] }>(fx.admin, 'ListRounds', { federationId: fx.federation.id }, fx.coordinator.adminToken);
      return rounds.find((x) => x.id === plans[0]!.roundId && x.state === 'committed');
    });
  }
  client.close();
  fx.admin.close();
  await fx.coordinator.close();
});

afterAll(() => cleanup?.());

describe('conclave audit, offline on the data dir', () => {
  test('verify exits 0 and recomputes every entry; report writes self-contained HTML with SVG charts and the JSON', async () => {
    const jwks = join(dir, 'keys', 'jwks.json');
    const verify = await cli(['audit', 'verify', '--data-dir', dir, '--federation', fx.federation.id, '--jwks', jwks, '--json']);
    expect(verify.code).toBe(0);
    expect(verify.json).toMatchObject({ intact: true, keyPinned: true, recomputation: { firstBad: null } });
    expect((verify.json!['recomputation'] as { entries: unknown[] }).entries).toHaveLength(ROUNDS);

    const out = join(dir, 'audit');
    const report = await cli(['audit', 'report', '--data-dir', dir, '--federation', fx.federation.id, '--jwks', jwks, '--out', out, '--json']);
    expect(report.code).toBe(0);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html.match(/<svg[^>]*width="\d+"/g)!.length).toBeGreaterThanOrEqual(2);
    // Self-contained: no script, stylesheet or image fetched from anywhere.
    expect(html).not.toMatch(/<script|<link|src="http/i);
    expect(html).toContain('The ledger verifies under the pinned key');
    const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Record<string, any>;
    expect(json.rounds).toHaveLength(ROUNDS);
    expect(json.mechanisms).toEqual([expect.objectContaining({ mode: 'central', release: 'aggregate', adjacency: 'add-remove' })]);
    expect(json.participants).toHaveLength(2);
    expect(json.lineage.map((m: { version: number }) => m.version)).toEqual([0, 1, 2, 3]);
    expect(json.epsilon.federation).toBeGreaterThan(0);
    expect(json.epsilon.budget).toBe(40);
  });

  test('after one byte of a stored entry changes (triggers dropped, as an insider would), verify exits 9', async () => {
    const copy = `${dir}-tampered`;
    cpSync(dir, copy, { recursive: true });
    const db = new DatabaseSync(join(copy, 'conclave.db'));
    db.exec('DROP TRIGGER ledger_no_update');
    db.prepare(`UPDATE ledger_entries SET payload_json = replace(payload_json, '"noiseMultiplier":1,', '"noiseMultiplier":2,') WHERE seq = 2`).run();
    db.close();
    const verify = await cli(['audit', 'verify', '--data-dir', copy, '--federation', fx.federation.id, '--jwks', join(dir, 'keys', 'jwks.json')]);
    expect(verify.code).toBe(9);
    expect(verify.stdout).toMatch(/entry 2/);
    expect(existsSync(copy)).toBe(true);
  });
});

/**
 * The report in a real browser (Debian's chromium, driven by playwright-core): CI installs it
 * (.ci/run); on a machine without it this test is skipped, and says so, outside CI only.
 */
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && !process.env['CI']) console.warn(`audit.test.ts: no browser at ${CHROMIUM}: the headless-browser test of report.html is skipped (apt install chromium)`);

describe('report.html in headless Chromium', () => {
  test.skipIf(!haveChromium && !process.env['CI'])('loads offline with no console error, every chart renders with a size, and it prints to PDF', async () => {
    const out = join(dir, 'audit-browser');
    const report = await cli(['audit', 'report', '--data-dir', dir, '--federation', fx.federation.id, '--out', out, '--json']);
    expect(report.code).toBe(0);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`); });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
      await page.goto(pathToFileURL(join(out, 'report.html')).href, { waitUntil: 'load' });
      const charts = await page.$$eval('svg', (svgs) => svgs.map((s) => { const r = s.getBoundingClientRect(); return { width: r.width, height: r.height, marks: s.querySelectorAll('path, line, circle').length }; }));
      expect(charts.length).toBeGreaterThanOrEqual(2);
      for (const c of charts) {
        expect(c.width).toBeGreaterThan(100);
        expect(c.height).toBeGreaterThan(100);
        expect(c.marks).toBeGreaterThan(3);
      }
      expect(await page.textContent('h1')).toContain('Privacy audit');
      // CONCLAVE_REPORT_SCREENSHOT=FILE keeps a picture of the page, for a person to look at.
      const screenshot = process.env['CONCLAVE_REPORT_SCREENSHOT'];
      if (screenshot) writeFileSync(screenshot, await page.screenshot({ fullPage: true }));
      const pdf = await page.pdf({ format: 'A4', printBackground: true });
      expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
      expect(pdf.length).toBeGreaterThan(10_000);
      expect(problems).toEqual([]);
      expect(requests).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});

describe('recomputing ε from the recorded events', () => {
  test('an entry that claims less than its events give is named (a signed under-report is still caught)', () => {
    const db = new DatabaseSync(join(dir, 'conclave.db'), { readOnly: true });
    const payloads = (db.prepare('SELECT payload_json FROM ledger_entries WHERE federation_id = ? ORDER BY seq').all(fx.federation.id) as Array<{ payload_json: string }>)
      .map((r) => JSON.parse(r.payload_json) as LedgerPayload);
    db.close();
    expect(recomputeLedger(payloads).firstBad).toBeNull();
    const lowered = structuredClone(payloads);
    lowered[1]!.epsilonAfter.epsilon *= 0.9;
    expect(recomputeLedger(lowered).firstBad).toMatchObject({ seq: 2 });
    // Claiming more is allowed: both accountants are upper bounds.
    // An entry edited so that its events mean nothing (q = 0) is a bad entry, not a crash of the audit.
    const nonsense = structuredClone(payloads);
    (nonsense[1]!.event as { sampleRate: number }).sampleRate = 0;
    expect(recomputeLedger(nonsense).firstBad).toMatchObject({ seq: 2, underReported: true, invalid: expect.stringMatching(/sampleRate/) });
    const raised = structuredClone(payloads);
    raised[1]!.epsilonAfter.epsilon *= 1.1;
    expect(recomputeLedger(raised).firstBad).toBeNull();
  });
});
