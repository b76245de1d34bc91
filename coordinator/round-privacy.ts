/**
 * The round's privacy plan: admission through the ledger's Rényi filter, the DP parameters fixed
 * before anything is released, and the ledger entries that charge what the round releases. Every
 * charged number is decided here, from the configuration alone, never from who turned up.
 */
import { ConclaveError } from '../protocols/index.ts';
import { adaptiveClipEffectiveNoiseMultiplier, noisedUnclippedFraction, siteNoiseStd, updateClipNorm } from '../crypto/dp/index.ts';
import type { FederationConfig, PrivacyConfig } from './federation-config.ts';
import type { Candidate, DdgDpEvent, DpEvent, PrivacyLedger, StoredEntry } from './privacy/ledger.ts';
import { ddgAccountingEvent, ddgGrid, planDdgRound, type DdgRoundPlan } from './privacy/ddg-plan.ts';
import type { SecAggConfig } from './protection/secagg-config.ts';
import type { Store } from './store.ts';

/** The DP parameters fixed when the round opened; sites get the site-side part in their plan. */
export interface RoundPrivacy {
  mode: PrivacyConfig['mode'];
  configuredNoiseMultiplier: number;
  clipNorm: number;
  expectedSites: number;
  siteNoiseStd: number;
  /**
   * What the ledger charges, fixed before anything is released and independent of who turns up:
   * central, the noise on the sum ÷ C (with the adaptive-clipping count composed in); local and
   * distributed, each site's own release ÷ its sensitivity 2C.
   */
  chargedNoiseMultiplier: number;
  /** Each eligible site's Poisson sampling rate. */
  sampling: Array<{ siteId: string; sampleRate: number }>;
  /** The same sites with the rate the accountant uses (1 where the coordinator sees who was sampled). */
  eligible: Array<{ siteId: string; sampleRate: number }>;
  adaptiveClip: PrivacyConfig['adaptiveClip'];
  delta: number;
  /**
   * Distributed DP (secure aggregation only): what sizes the round's distributed discrete Gaussian,
   * and, once the round's sites are known (siteReleaseEntry, before any plan goes out), its plan.
   */
  distributed?: { protection: SecAggConfig; minSites: number; updateLength: number; ddg: DdgRoundPlan | null };
}

/**
 * Where a mode's release happens. Central: the coordinator is the trusted curator and only the
 * noised aggregate leaves it, at commit. Local: each site's noised update reaches the coordinator,
 * which is the adversary, as soon as it is sent. Distributed (secure aggregation only): the sum of
 * the sites' discretely noised updates is unmasked at the end of the round, but which sites are in
 * it is the coordinator's choice, so like local it is charged when the round opens, at rate 1.
 */
export function releasesAtSite(mode: PrivacyConfig['mode']): boolean {
  return mode !== 'central';
}

/**
 * The noise multiplier of a round, from the configuration alone. Central: the noise on the sum at
 * sensitivity C, with the adaptive-clipping count query composed in: what the ledger charges.
 * Local: one site's release, std ÷ 2C (the configured σ is already relative to 2C): what the ledger
 * charges. Distributed: each site's noise share σC/√E ÷ 2C, what a site holds to its own floor; the
 * ledger charges the round as a distributed discrete Gaussian (privacy/ddg-plan.ts) instead.
 */
export function chargedNoiseMultiplier(privacy: Pick<PrivacyConfig, 'mode' | 'noiseMultiplier' | 'adaptiveClip'>, expectedSites: number): number {
  switch (privacy.mode) {
    case 'central':
      return privacy.adaptiveClip ? adaptiveClipEffectiveNoiseMultiplier(privacy.noiseMultiplier, privacy.adaptiveClip.countNoiseStd) : privacy.noiseMultiplier;
    case 'local':
      return privacy.noiseMultiplier;
    case 'distributed':
      return privacy.noiseMultiplier / (2 * Math.sqrt(Math.max(expectedSites, Number.MIN_VALUE)));
  }
}

export type PrivacyPlanResult =
  | { kind: 'planned'; privacy: RoundPrivacy; excluded: Array<{ siteId: string; reason: string }> }
  | { kind: 'finished'; reason: string; excluded: Array<{ siteId: string; reason: string }> };

export class RoundPrivacyPlanner {
  private readonly store: Store;
  readonly ledger: PrivacyLedger;

  constructor(store: Store, ledger: PrivacyLedger) {
    this.store = store;
    this.ledger = ledger;
  }

  /** Every enrolled, unrevoked site with its own sampling rate and budget. */
  candidates(federationId: string, privacy: PrivacyConfig): Candidate[] {
    const rows = this.store.db.prepare('SELECT id, sample_rate, budget_epsilon FROM sites WHERE federation_id = ? AND revoked_ms IS NULL ORDER BY enrolled_ms')
      .all(federationId) as Array<{ id: string; sample_rate: number | null; budget_epsilon: number | null }>;
    return rows.map((r) => ({ siteId: r.id, sampleRate: r.sample_rate ?? privacy.sampleRate, budgetEpsilon: r.budget_epsilon }));
  }

  /**
   * The rate the accountant may use. Where each site's update reaches the coordinator, which knows
   * who was sampled, sampling buys no amplification: a selected site is charged at rate 1.
   */
  private static accountingCandidates(privacy: Pick<PrivacyConfig, 'mode'>, candidates: Candidate[]): Candidate[] {
    return releasesAtSite(privacy.mode) ? candidates.map((c) => ({ ...c, sampleRate: 1 })) : candidates;
  }

  /** Admission control, then the round's DP parameters (fixed for the round and sent in its plan). */
  plan(federationId: string, config: FederationConfig, privacy: PrivacyConfig, candidates: Candidate[]): PrivacyPlanResult {
    let admission;
    try {
      admission = this.admit(federationId, privacy, candidates, config);
    } catch (err) {
      if (err instanceof ConclaveError && err.code === 'BUDGET_EXCEEDED') return { kind: 'finished', reason: err.message, excluded: [] };
      throw err;
    }
    if (admission.eligible.length < config.minSites) {
      return {
        kind: 'finished', excluded: admission.excluded,
        reason: `only ${admission.eligible.length} sites have privacy budget left, fewer than the quorum of ${config.minSites}`,
      };
    }
    const admitted = new Set(admission.eligible.map((c) => c.siteId));
    const eligible = candidates.filter((c) => admitted.has(c.siteId));
    const expectedSites = eligible.reduce((sum, c) => sum + c.sampleRate, 0);
    const clipNorm = this.currentClipNorm(federationId, privacy);
    const noiseStd = privacy.mode === 'distributed' ? siteNoiseStd({ noiseMultiplier: privacy.noiseMultiplier, clipNorm, expectedSites })
      : privacy.mode === 'local' ? privacy.noiseMultiplier * 2 * clipNorm : 0;
    const distributed = this.distributedSizing(federationId, config);
    return {
      kind: 'planned', excluded: admission.excluded,
      privacy: {
        mode: privacy.mode, configuredNoiseMultiplier: privacy.noiseMultiplier, clipNorm, expectedSites, siteNoiseStd: noiseStd,
        chargedNoiseMultiplier: chargedNoiseMultiplier(privacy, expectedSites),
        // Sampling uses each site's own rate; the ledger records the rate the accountant may use.
        sampling: eligible.map((c) => ({ siteId: c.siteId, sampleRate: c.sampleRate })),
        eligible: admission.eligible.map((c) => ({ siteId: c.siteId, sampleRate: c.sampleRate })), adaptiveClip: privacy.adaptiveClip, delta: privacy.delta,
        ...(distributed ? { distributed: { ...distributed, ddg: null } } : {}),
      },
    };
  }

  private currentClipNorm(federationId: string, privacy: PrivacyConfig): number {
    if (!privacy.adaptiveClip) return privacy.clipNorm;
    const last = this.ledger.payloads(federationId).at(-1);
    return last?.event.adaptiveClip?.nextClipNorm ?? privacy.clipNorm;
  }

  /** Refuses to start (or restart) a federation whose ledger does not verify or whose budget cannot pay for one more round. */
  assertBudgetRemains(federationId: string, config: FederationConfig): void {
    const privacy = config.privacy;
    if (!privacy) return;
    // A ledger that does not verify cannot say what was spent: nothing runs on it.
    this.ledger.assertIntactSync(federationId);
    if (privacy.budgetEpsilon === null) return;
    this.admit(federationId, privacy, this.candidates(federationId, privacy), config);
  }

  /** A distributed round's secagg setting, quorum and update length (the model's parameter count). */
  private distributedSizing(federationId: string, config: FederationConfig): Omit<NonNullable<RoundPrivacy['distributed']>, 'ddg'> | null {
    if (config.privacy?.mode !== 'distributed') return null;
    if (config.protection.kind !== 'secagg') throw new ConclaveError('FEDERATION_STATE', 'distributed DP needs secure aggregation (protection "secagg")');
    const row = this.store.db.prepare('SELECT num_parameters FROM model_versions WHERE federation_id = ? ORDER BY version DESC LIMIT 1').get(federationId) as { num_parameters: number } | undefined;
    if (!row) throw new ConclaveError('FEDERATION_STATE', `federation ${federationId} has no model`);
    return { protection: config.protection, minSites: config.minSites, updateLength: row.num_parameters };
  }

  /**
   * The ledger's admission control for one more round. In distributed mode a site's share of the
   * noise grows as the eligible population shrinks, so charging the whole candidate population's
   * expected size is the worst case of what admission can leave.
   */
  private admit(federationId: string, privacy: PrivacyConfig, candidates: Candidate[], config: FederationConfig) {
    const expectedAll = candidates.reduce((sum, c) => sum + c.sampleRate, 0);
    const sizing = this.distributedSizing(federationId, config);
    if (sizing && candidates.length > 0) {
      // The round's DDG event is worst at the smallest site noise (the whole population's expected
      // size), the coarsest grid (sized for every candidate in one sum) and the fewest survivors it
      // can be charged for (the quorum: charged clients are max(t, quorum)).
      const localStddev = siteNoiseStd({ noiseMultiplier: privacy.noiseMultiplier, clipNorm: this.currentClipNorm(federationId, privacy), expectedSites: expectedAll });
      const sites = Math.max(candidates.length, sizing.minSites);
      const grid = ddgGrid({ clipNorm: privacy.clipNorm, siteNoiseStd: localStddev, sites, updateLength: sizing.updateLength });
      const worst = ddgAccountingEvent({ ...grid, chargedClients: Math.max(1, sizing.minSites) }, privacy.clipNorm, localStddev);
      return this.ledger.admit(federationId, privacy.delta, privacy.budgetEpsilon, RoundPrivacyPlanner.accountingCandidates(privacy, candidates), worst);
    }
    const worstCase = chargedNoiseMultiplier(privacy, expectedAll);
    return this.ledger.admit(federationId, privacy.delta, privacy.budgetEpsilon, RoundPrivacyPlanner.accountingCandidates(privacy, candidates), worstCase);
  }

  /**
   * The DP event of a central round's aggregate. Every parameter was fixed before the round ran:
   * nothing in the entry depends on who was sampled or survived.
   */
  async aggregateReleaseEntry(round: { federationId: string; id: string; number: number }, privacy: RoundPrivacy, version: number,
    clipping: { unclippedCount: number; contributors: number }): Promise<StoredEntry> {
    let adaptiveClip: DpEvent['adaptiveClip'] = null;
    if (privacy.adaptiveClip) {
      // The count is released centred, Σ(bᵢ − ½) + N(0, σ_b²), with ½ added back after normalising
      // (Andrew et al. 2021; TF Privacy's QuantileEstimatorQuery): that query has sensitivity ½, which
      // is what the (2σ_b)⁻² term of the accounted noise multiplier assumes. That holds only while
      // the number of contributors stays hidden (with it known the sensitivity is 1), which is why no
      // count leaves the coordinator under DP. The curator uses the contributors only to centre.
      const fraction = 0.5 + noisedUnclippedFraction(clipping.unclippedCount, privacy.expectedSites, privacy.adaptiveClip.countNoiseStd)
        - clipping.contributors / (2 * privacy.expectedSites);
      adaptiveClip = {
        countNoiseStd: privacy.adaptiveClip.countNoiseStd, targetQuantile: privacy.adaptiveClip.targetQuantile, noisedUnclippedFraction: fraction,
        nextClipNorm: updateClipNorm({ clipNorm: privacy.clipNorm, noisedUnclippedFraction: fraction, targetQuantile: privacy.adaptiveClip.targetQuantile, learningRate: privacy.adaptiveClip.learningRate }),
      };
    }
    const event: DpEvent = {
      mechanism: 'gaussian', mode: privacy.mode, release: 'aggregate', adjacency: 'add-remove', sensitivity: privacy.clipNorm,
      noiseMultiplier: privacy.chargedNoiseMultiplier, configuredNoiseMultiplier: privacy.configuredNoiseMultiplier, clipNorm: privacy.clipNorm,
      sampling: 'poisson', sampleRate: Math.max(...privacy.eligible.map((e) => e.sampleRate)), expectedSites: privacy.expectedSites, adaptiveClip,
    };
    return this.ledger.prepare({
      federationId: round.federationId, roundId: round.id, roundNumber: round.number, modelVersion: version,
      delta: privacy.delta, event, eligible: privacy.eligible,
    });
  }

  /**
   * The charge for a local or distributed round, written before any site gets its plan. Local: each
   * selected site releases its own noised update to the coordinator (replace-one adjacency, L2
   * sensitivity 2C, no amplification: the coordinator knows who was sampled). Distributed: the
   * round's DDG parameters are fixed here, now that its sites are known (they go to every site in
   * its plan), and the round is charged as that mechanism (privacy/ddg-plan.ts).
   */
  async siteReleaseEntry(round: { federationId: string; id: string; number: number }, privacy: RoundPrivacy, selected: readonly string[]): Promise<StoredEntry> {
    if (privacy.mode === 'distributed') return this.distributedEntry(round, privacy, selected);
    const event: DpEvent = {
      mechanism: 'gaussian', mode: privacy.mode, release: 'site-updates', adjacency: 'replace-one', sensitivity: 2 * privacy.clipNorm,
      noiseMultiplier: privacy.chargedNoiseMultiplier, configuredNoiseMultiplier: privacy.configuredNoiseMultiplier, clipNorm: privacy.clipNorm,
      sampling: 'selected', sampleRate: 1, expectedSites: privacy.expectedSites, adaptiveClip: null,
    };
    return this.ledger.prepare({
      federationId: round.federationId, roundId: round.id, roundNumber: round.number, modelVersion: null, delta: privacy.delta, event,
      eligible: selected.map((siteId) => ({ siteId, sampleRate: 1 })),
    });
  }

  private async distributedEntry(round: { federationId: string; id: string; number: number }, privacy: RoundPrivacy, selected: readonly string[]): Promise<StoredEntry> {
    const sizing = privacy.distributed;
    if (!sizing) throw new ConclaveError('FEDERATION_STATE', 'a distributed DP round needs secure aggregation and its sizing');
    // Mutates the round's own privacy plan (the object the round record and its stages share) before
    // the record is written: the plan every site gets and the charge are the same numbers.
    const ddg = planDdgRound({
      clipNorm: privacy.clipNorm, siteNoiseStd: privacy.siteNoiseStd, sites: Math.max(3, selected.length), updateLength: sizing.updateLength,
      minSites: sizing.minSites, protection: sizing.protection,
    });
    sizing.ddg = ddg;
    const { mechanism: _mechanism, count: _count, ...accounted } = ddgAccountingEvent(ddg, privacy.clipNorm, privacy.siteNoiseStd);
    const event: DdgDpEvent = {
      ...accounted, mechanism: 'ddg', mode: 'distributed', release: 'secure-sum', adjacency: 'zero-out', sampling: 'selected',
      configuredNoiseMultiplier: privacy.configuredNoiseMultiplier, clipNorm: privacy.clipNorm, expectedSites: privacy.expectedSites,
      maxSites: ddg.maxSites, adaptiveClip: null,
    };
    return this.ledger.prepare({
      federationId: round.federationId, roundId: round.id, roundNumber: round.number, modelVersion: null, delta: privacy.delta, event,
      eligible: selected.map((siteId) => ({ siteId, sampleRate: 1 })),
    });
  }
}
