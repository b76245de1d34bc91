/**
 * When a federation's next round opens and who is in it. Without DP: once enough sites are online,
 * a uniform sample of sitesPerRound. With DP: admission through the ledger, then Poisson sampling
 * of every eligible site with its own rate, as the accountant assumes; a sampled site that is
 * offline is a dropout, never a reason to draw again.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { ConclaveError } from '../protocols/index.ts';
import type { Clock, Timer } from './clock.ts';
import type { FederationConfig } from './federation-config.ts';
import type { Logger } from './logger.ts';
import { releasesAtSite, type RoundPrivacy, type RoundPrivacyPlanner } from './round-privacy.ts';
import type { Store } from './store.ts';

/** How long a site counts as available after its last poll; sites long-poll every few seconds. */
const AVAILABILITY_WINDOW_MS = 15_000;
const TICK_MS = 100;
/** After a site-release round's sample came out below the quorum, the next draw waits a little instead of spinning. */
const SMALL_SAMPLE_RETRY_MS = 1000;
/** How soon admission looks at a ledger again after it failed to verify. */
const LEDGER_RECHECK_MS = 5000;

export interface FederationView {
  id: string;
  config: FederationConfig;
  status: 'created' | 'running' | 'finished';
}

/** What the scheduler asks of the pipeline. */
export interface RoundOpener {
  hasActiveRound(federationId: string): boolean;
  committedRounds(federationId: string): number;
  /** Opens a round on the selected sites; under DP with its fixed privacy plan. */
  openRound(federationId: string, config: FederationConfig, selected: string[], privacy: RoundPrivacy | null): Promise<void>;
  /** A draw that cannot go ahead and releases nothing: recorded for the operator. */
  recordUnplannedRound(federationId: string, config: FederationConfig, selected: string[], reason: string): void;
  finish(federationId: string, reason: string): void;
}

export class RoundScheduler {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly planner: RoundPrivacyPlanner;
  private readonly rounds: RoundOpener;
  private readonly getFederation: (id: string) => FederationView;
  private readonly lastSeen = new Map<string, number>();
  private readonly waitingSince = new Map<string, number>();
  /** Sites admission control has excluded: budgets only get spent, so they never come back. */
  private readonly outOfBudget = new Map<string, Set<string>>();
  private readonly notBefore = new Map<string, number>();
  /** Federations whose next round is being planned (admission verifies and signs, which is async). */
  private readonly planning = new Set<string>();
  private timer: Timer | null = null;

  constructor(deps: { store: Store; clock: Clock; log: Logger; planner: RoundPrivacyPlanner; rounds: RoundOpener; getFederation: (id: string) => FederationView }) {
    this.store = deps.store;
    this.clock = deps.clock;
    this.log = deps.log;
    this.planner = deps.planner;
    this.rounds = deps.rounds;
    this.getFederation = deps.getFederation;
  }

  start(): void {
    const loop = () => {
      this.tick();
      this.timer = this.clock.after(TICK_MS, loop);
    };
    this.timer = this.clock.after(TICK_MS, loop);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  markSeen(siteId: string): void {
    this.lastSeen.set(siteId, this.clock.now());
  }

  /** When the site last polled for a task (this process's memory; undefined: not since it started). */
  lastSeenAt(siteId: string): number | undefined {
    return this.lastSeen.get(siteId);
  }

  /** Sites (of any federation) that called within the availability window: "connected" for operators. */
  connectedSites(include: (siteId: string) => boolean = () => true): number {
    const now = this.clock.now();
    let n = 0;
    for (const [siteId, seen] of this.lastSeen) if (now - seen < AVAILABILITY_WINDOW_MS && include(siteId)) n++;
    return n;
  }

  /** One pass over the running federations; exposed so tests can drive it without a timer. */
  tick(): void {
    const running = this.store.db.prepare(`SELECT id FROM federations WHERE status = 'running'`).all() as Array<{ id: string }>;
    for (const { id } of running) {
      if (this.rounds.hasActiveRound(id) || this.planning.has(id)) continue;
      this.planning.add(id);
      this.maybeOpen(id).catch((err: unknown) => {
        if (err instanceof ConclaveError && err.code === 'LEDGER_INVALID') {
          // Admission trusts nothing it cannot verify: no round opens until the ledger checks out again.
          this.notBefore.set(id, this.clock.now() + LEDGER_RECHECK_MS);
          this.log.error('ledger does not verify; refusing to admit rounds', { federation: id, error: err.message });
        } else {
          this.log.error('could not open round', { federation: id, error: String(err) });
        }
      }).finally(() => this.planning.delete(id));
    }
  }

  private availableSites(federationId: string): string[] {
    const now = this.clock.now();
    const sites = this.store.db.prepare('SELECT id FROM sites WHERE federation_id = ? AND revoked_ms IS NULL').all(federationId) as Array<{ id: string }>;
    return sites.map((s) => s.id).filter((id) => now - (this.lastSeen.get(id) ?? -Infinity) < AVAILABILITY_WINDOW_MS);
  }

  private async maybeOpen(federationId: string): Promise<void> {
    const config = this.getFederation(federationId).config;
    if (this.rounds.committedRounds(federationId) >= config.rounds) {
      this.rounds.finish(federationId, `all ${config.rounds} rounds committed`);
      return;
    }
    const now = this.clock.now();
    if ((this.notBefore.get(federationId) ?? -Infinity) > now) return;
    const available = new Set(this.availableSites(federationId));
    const exhausted = this.outOfBudget.get(federationId);
    // The population to wait for: every enrolled site, or under DP every site with budget left.
    const candidates = config.privacy ? this.planner.candidates(federationId, config.privacy) : [];
    const population = config.privacy ? candidates.map((c) => c.siteId).filter((id) => !exhausted?.has(id)) : [...available];
    const wanted = config.privacy ? population.length : config.sitesPerRound;
    const ready = config.privacy ? population.filter((id) => available.has(id)).length : available.size;
    if (!this.waitingSince.has(federationId)) this.waitingSince.set(federationId, now);
    const waited = now - this.waitingSince.get(federationId)!;
    // Wait for a full population; after a deadline's worth of waiting, settle for a quorum.
    if (!(ready >= wanted || (ready >= config.minSites && waited >= config.roundDeadlineMs))) return;
    this.waitingSince.delete(federationId);

    if (!config.privacy) {
      await this.rounds.openRound(federationId, config, uniformSample([...available], config.sitesPerRound), null);
      return;
    }
    await this.planner.ledger.assertIntact(federationId);
    const planned = this.planner.plan(federationId, config, config.privacy, candidates);
    for (const site of planned.excluded) {
      if (!this.outOfBudget.has(federationId)) this.outOfBudget.set(federationId, new Set());
      this.outOfBudget.get(federationId)!.add(site.siteId);
      this.log.info('site left the eligible population', { federation: federationId, site: site.siteId, reason: site.reason });
    }
    if (planned.kind === 'finished') {
      this.rounds.finish(federationId, planned.reason);
      return;
    }
    const privacy = planned.privacy;
    const selected = privacy.sampling.filter((site) => randomUnit() < site.sampleRate).map((site) => site.siteId);
    if (releasesAtSite(privacy.mode) && selected.length < config.minSites) {
      // No plan goes out, so nothing is released and nothing is charged. Drawing again is sound here
      // (unlike central mode) because every site release is charged at rate 1, whatever the draw.
      this.notBefore.set(federationId, now + SMALL_SAMPLE_RETRY_MS);
      this.rounds.recordUnplannedRound(federationId, config, selected, `sampled ${selected.length} sites, fewer than the quorum of ${config.minSites}`);
      return;
    }
    await this.rounds.openRound(federationId, config, selected, privacy);
  }
}

/** A uniform double in [0, 1) from the CSPRNG: sampling decisions must not be predictable by sites. */
function randomUnit(): number {
  return randomBytes(6).readUIntBE(0, 6) / 2 ** 48;
}

/** Uniform sample without replacement from a CSPRNG: selection must not be predictable by sites. */
function uniformSample<T>(items: T[], k: number): T[] {
  const pool = items.slice();
  for (let i = pool.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, Math.min(k, pool.length));
}
