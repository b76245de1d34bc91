import { CliError, int, num, oneOf, type FlagOptions, type Flags } from '../../protocols/cli.ts';
import type { FederationConfigInput } from '../federation-config.ts';

/**
 * Flags for what a round asks of its sites besides training: federated evaluation and update
 * compression. The config schema checks the same combinations; these messages name the flags.
 */
export const ROUND_EXTRA_OPTIONS = {
  'eval-every': {
    type: 'string', value: 'K',
    description: 'every K-th model version is scored by the sites on their held-out split (0: off, the default); the example-weighted mean is stored with the version (model list, round watch); not with --dp',
  },
  compress: {
    type: 'string', value: 'none|q8|topk',
    description: 'plain updates only (--protection none, no --dp): q8 = 8-bit stochastic quantization with a per-tensor scale; topk = the largest coordinates, the rest kept at the site for its next update',
  },
  'topk-ratio': { type: 'string', value: 'R', description: 'topk: the fraction of coordinates sent, in (0, 1] (default 0.1)' },
} as const satisfies FlagOptions;

export const DEFAULT_TOPK_RATIO = 0.1;

export function roundExtrasFromFlags(flags: Flags): Pick<FederationConfigInput, 'evaluation' | 'compression'> {
  const dp = flags['dp'] !== undefined && flags['dp'] !== 'none';
  const protection = typeof flags['protection'] === 'string' ? flags['protection'] : 'none';
  const out: Pick<FederationConfigInput, 'evaluation' | 'compression'> = {};
  if (flags['eval-every'] !== undefined) {
    const everyRounds = int(flags, 'eval-every', { min: 0, max: 100_000 });
    if (everyRounds > 0 && dp) {
      throw new CliError('--eval-every cannot be used with --dp: the sites\' held-out loss and accuracy would be released without the privacy ledger accounting for them');
    }
    out.evaluation = { everyRounds };
  }
  const kind = oneOf(flags, 'compress', ['none', 'q8', 'topk'] as const, 'none');
  if (flags['topk-ratio'] !== undefined && kind !== 'topk') throw new CliError('--topk-ratio needs --compress topk');
  if (kind !== 'none') {
    if (dp) throw new CliError(`--compress ${kind} cannot be used with --dp: the clip norm and noise are calibrated to the exact update`);
    if (protection !== 'none') throw new CliError(`--compress ${kind} needs --protection none: protection "${protection}" works on the exact update`);
  }
  if (flags['compress'] !== undefined) {
    out.compression = kind === 'topk'
      ? { kind, ratio: num(flags, 'topk-ratio', { fallback: DEFAULT_TOPK_RATIO, test: (v) => v > 0 && v <= 1, expect: 'a number in (0, 1]' }) }
      : { kind };
  }
  return out;
}
