import { CliError, int, num, oneOf, type Flags } from '../../protocols/cli.ts';
import type { FederationConfigInput } from '../federation-config.ts';
import { DEFAULT_MAX_DROPOUT, secAggParametersFor, type SecAggConfigInput } from '../protection/secagg-config.ts';

/** `--protection secagg` and its parameters (coordinator/protection/secagg-config.ts). */
export const SECAGG_OPTIONS = {
  'max-dropout': { type: 'string' }, colluders: { type: 'string' }, 'secagg-clip': { type: 'string' },
  neighbours: { type: 'string' }, threshold: { type: 'string' }, 'stage-deadline-ms': { type: 'string' },
} as const;

export const SECAGG_USAGE = `secure aggregation (--protection secagg: SecAgg+, the coordinator learns only the sum of a round's updates):
  [--max-dropout 0.3]    largest fraction of a round's sites that may drop out, at any stage
  [--colluders 0]        sites that may collude with the coordinator to unmask one site's update
                         k (neighbours per site) and t (shares needed) are chosen from these two so that a round
                         aborts with probability <= 1e-3; create prints k, t and that probability
  [--neighbours K --threshold T]   pin k and t instead (the printed bounds then say what they give)
  [--secagg-clip 100]    L2 clip of an update before quantization, without --dp (with --dp: the DP clip)
  [--stage-deadline-ms 30000]      deadline of each stage after training (key exchange, masked input, unmask)
  every site weighs 1 (no example counts); robust aggregators (median, trimmed-mean, krum) cannot run under it`;

/** The protection config the flags ask for; secagg's flags without `--protection secagg` are refused. */
/** --protection none|secagg and secagg's flags (protection-flags.ts dispatches here for secagg). */
export function secAggProtectionFromFlags(flags: Flags): FederationConfigInput['protection'] {
  const kind = oneOf(flags, 'protection', ['none', 'secagg'] as const, 'none');
  if (kind === 'none') {
    const stray = Object.keys(SECAGG_OPTIONS).find((name) => flags[name] !== undefined);
    if (stray) throw new CliError(`--${stray} needs --protection secagg`);
    return kind;
  }
  if ((flags['neighbours'] === undefined) !== (flags['threshold'] === undefined)) throw new CliError('give both --neighbours and --threshold, or neither to have them chosen');
  const opt = <T>(name: string, read: () => T): T | undefined => (flags[name] === undefined ? undefined : read());
  const protection: SecAggConfigInput = {
    kind: 'secagg',
    maxDropout: opt('max-dropout', () => num(flags, 'max-dropout', { test: (v) => v >= 0 && v < 1, expect: 'a number in [0, 1)' })),
    colluders: opt('colluders', () => int(flags, 'colluders', { min: 0, max: 100_000 })),
    clipNorm: opt('secagg-clip', () => num(flags, 'secagg-clip', { test: (v) => v > 0 && v <= 1e6, expect: 'a number in (0, 1e6]' })),
    neighbours: opt('neighbours', () => int(flags, 'neighbours', { min: 2, max: 255 })),
    threshold: opt('threshold', () => int(flags, 'threshold', { min: 2, max: 255 })),
    stageDeadlineMs: opt('stage-deadline-ms', () => int(flags, 'stage-deadline-ms', { min: 100, max: 24 * 3600 * 1000 })),
  };
  return protection;
}

export interface SecAggChoice {
  sites: number;
  k: number;
  t: number;
  failureProbability: number;
  leakProbability: number;
  meetsTarget: boolean;
}

/**
 * The k and t a full round (sitesPerRound sites) runs with and their bounds, as the coordinator
 * computes them when the round opens (the same pure function, so what is printed is what runs).
 */
export function secAggChoice(config: { sitesPerRound: number; protection: FederationConfigInput['protection'] }): SecAggChoice | null {
  const p = config.protection;
  if (typeof p === 'string' || p.kind !== 'secagg') return null;
  const params = secAggParametersFor({ maxDropout: p.maxDropout ?? DEFAULT_MAX_DROPOUT, colluders: p.colluders ?? 0, neighbours: p.neighbours, threshold: p.threshold }, config.sitesPerRound);
  return { sites: config.sitesPerRound, k: params.k, t: params.t, failureProbability: params.failureProbability, leakProbability: params.leakProbability, meetsTarget: params.meetsTarget };
}

export function describeSecAggChoice(c: SecAggChoice): string {
  const graph = c.k === c.sites - 1 ? 'every site shares keys with every other' : `each site shares keys with ${c.k} of the ${c.sites}`;
  const warning = c.meetsTarget ? '' : ' (above the 1e-3 target: no k does better at this dropout rate; consider fewer sites per round or a lower --max-dropout)';
  return `secure aggregation at ${c.sites} sites a round: k = ${c.k}, t = ${c.t} (${graph}); P[round aborts] <= ${c.failureProbability.toExponential(2)}${warning}; P[an update leaks] <= ${c.leakProbability.toExponential(2)}`;
}
