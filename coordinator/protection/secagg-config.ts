/**
 * Protection `secagg` as a federation configures it, and what that choice means for a round of a
 * given size. The operator states the threat (the largest fraction of sites that may drop out of a
 * round, how many sites may collude with the coordinator) and the coordinator picks the smallest
 * neighbourhood k and its threshold t whose probability of an aborted round is ≤ 1e-3
 * (crypto/secagg/params.ts); benchmarks and tests may pin k and t instead.
 */
import { z } from 'zod';
import { boundsFor, chooseParameters, type SecAggParameters } from '../../crypto/secagg/index.ts';
import type { SecAggConfigMsg } from '../../protocols/index.ts';

export const DEFAULT_MAX_DROPOUT = 0.3;
/** Without DP the quantization clip is this L2 norm (far above any sane model delta); with DP it is the DP clip. */
export const DEFAULT_SECAGG_CLIP = 100;
/**
 * The key-exchange and unmask stages carry a few kilobytes (or one masked vector) and need no
 * training: a site that has not answered in 30 s has dropped, and the round should not wait for
 * the first stage's deadline (which covers training) to find out.
 */
export const DEFAULT_STAGE_DEADLINE_MS = 30_000;

export const secAggConfigSchema = z.object({
  kind: z.literal('secagg'),
  /** The largest fraction of a round's sites expected to drop out, at any stage. */
  maxDropout: z.number().min(0).lt(1).default(DEFAULT_MAX_DROPOUT),
  /** Sites that may collude with the coordinator to unmask an honest site's update. */
  colluders: z.number().int().min(0).max(100_000).default(0),
  /** L2 clip before quantization, without DP (with DP the DP clip applies and this is refused). */
  clipNorm: z.number().positive().max(1e6).optional(),
  /** Pinned neighbourhood size k and threshold t (both or neither); unset: chosen per round. */
  neighbours: z.number().int().min(2).max(255).optional(),
  threshold: z.number().int().min(2).max(255).optional(),
  /** Deadline of each stage after the first (the first, which includes training, has the round deadline). */
  stageDeadlineMs: z.number().int().min(100).max(24 * 3600 * 1000).default(DEFAULT_STAGE_DEADLINE_MS),
}).strict();

export type SecAggConfig = z.output<typeof secAggConfigSchema>;
export type SecAggConfigInput = z.input<typeof secAggConfigSchema>;

/** Cross-field rules; paths are from the federation config's root. */
export function secAggConfigIssues(
  p: SecAggConfig,
  c: { sitesPerRound: number; minSites: number; privacy: { clipNorm: number } | null; aggregation?: { kind: string; weighting?: string } },
): Array<{ path: Array<string | number>; message: string }> {
  const issues: Array<{ path: Array<string | number>; message: string }> = [];
  if (c.sitesPerRound < 3) issues.push({ path: ['sitesPerRound'], message: 'secure aggregation needs at least 3 sites per round (with 2, the sum and one site\'s update reveal the other)' });
  if ((p.neighbours === undefined) !== (p.threshold === undefined)) {
    issues.push({ path: ['protection', 'neighbours'], message: 'give both neighbours (k) and threshold (t), or neither to have them chosen from maxDropout and colluders' });
  }
  if (p.neighbours !== undefined && p.threshold !== undefined) {
    if (p.threshold > p.neighbours) issues.push({ path: ['protection', 'threshold'], message: `threshold t = ${p.threshold} cannot exceed neighbours k = ${p.neighbours}` });
    if (p.neighbours > c.sitesPerRound - 1) issues.push({ path: ['protection', 'neighbours'], message: `neighbours k = ${p.neighbours} needs at least ${p.neighbours + 1} sites per round (sitesPerRound is ${c.sitesPerRound})` });
    if (p.neighbours % 2 === 1 && c.sitesPerRound % 2 === 1) issues.push({ path: ['protection', 'neighbours'], message: `no ${p.neighbours}-regular graph on ${c.sitesPerRound} sites exists (k and the sites per round both odd)` });
  }
  if (p.colluders > Math.max(0, c.sitesPerRound - 2)) issues.push({ path: ['protection', 'colluders'], message: `at most ${Math.max(0, c.sitesPerRound - 2)} colluders among ${c.sitesPerRound} sites per round` });
  if (c.privacy && p.clipNorm !== undefined) issues.push({ path: ['protection', 'clipNorm'], message: 'with differential privacy the updates are clipped to privacy.clipNorm; leave the secagg clipNorm out' });
  if (c.aggregation?.kind === 'fedavg' && c.aggregation.weighting === 'examples') {
    issues.push({ path: ['aggregation', 'weighting'], message: 'secure aggregation yields an unweighted sum: the coordinator never sees the example counts it would weight by; use "uniform" (the default with secagg)' });
  }
  return issues;
}

/** The k, t and bounds a round of `sites` sites gets under this config: what `federation create` prints. */
export function secAggParametersFor(p: Pick<SecAggConfig, 'maxDropout' | 'colluders' | 'neighbours' | 'threshold'>, sites: number): SecAggParameters {
  if (p.neighbours !== undefined && p.threshold !== undefined) return boundsFor(sites, p.neighbours, p.threshold, p.maxDropout, p.colluders);
  return chooseParameters({ n: sites, dropoutRate: p.maxDropout, colluders: p.colluders });
}

/** Wire → the object the schema validates; proto3 zero values stand for "unset" (max_dropout is `optional`: 0 is valid). */
export function secAggFromMessage(msg: SecAggConfigMsg): unknown {
  return {
    kind: 'secagg', maxDropout: msg.maxDropout, colluders: msg.colluders, clipNorm: msg.clipNorm || undefined,
    neighbours: msg.neighbours || undefined, threshold: msg.threshold || undefined, stageDeadlineMs: msg.stageDeadlineMs || undefined,
  };
}

export function secAggMessage(p: SecAggConfigInput): SecAggConfigMsg {
  return {
    maxDropout: p.maxDropout, colluders: p.colluders ?? 0, clipNorm: p.clipNorm ?? 0,
    neighbours: p.neighbours ?? 0, threshold: p.threshold ?? 0, stageDeadlineMs: p.stageDeadlineMs ?? 0,
  };
}
