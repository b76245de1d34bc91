import { CliError, int, num, oneOf, type FlagOptions, type Flags } from '../../protocols/cli.ts';
import type { FederationConfigInput } from '../federation-config.ts';

/**
 * `--strategy` picks an aggregator and a server optimizer together, as Flower's strategies do:
 * the server optimizers run on FedAvg's mean, the robust aggregators with a plain server step.
 */
export const STRATEGIES = ['fedavg', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad', 'median', 'trimmed-mean', 'krum', 'fedprox'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export const STRATEGY_OPTIONS = {
  strategy: { type: 'string', value: 'NAME', description: `the aggregator and server optimizer: ${STRATEGIES.join(', ')} (default fedavg)` },
  weighting: { type: 'string', value: 'examples|uniform', description: 'fedavg and the server optimizers: weight by example count (default without DP) or uniformly (with DP)' },
  'server-lr': { type: 'string', value: 'LR', description: 'server learning rate (fedavg 1, fedavgm 0.1, adaptive 0.01)' },
  'server-momentum': { type: 'string', value: 'M', description: 'fedavgm: server momentum (default 0.9; Hsu et al. 2019)' },
  beta1: { type: 'string', value: 'B1', description: 'fedadam, fedyogi, fedadagrad: first-moment decay (default 0.9)' },
  beta2: { type: 'string', value: 'B2', description: 'fedadam, fedyogi: second-moment decay (default 0.99; Reddi et al. 2021)' },
  tau: { type: 'string', value: 'TAU', description: 'fedadam, fedyogi, fedadagrad: adaptivity (default 1e-3)' },
  'trim-ratio': { type: 'string', value: 'R', description: 'trimmed-mean: fraction trimmed from each end per coordinate (default 0.1)' },
  'krum-byzantine': { type: 'string', value: 'F', description: 'krum: Byzantine sites tolerated (default 1; needs --min-sites >= 2F+3)' },
  'krum-select': { type: 'string', value: 'M', description: 'krum: updates averaged (1: Krum, >1: Multi-Krum)' },
  'prox-mu': { type: 'string', value: 'MU', description: 'fedprox: the sites add (mu/2)*||w - w_global||^2 to their loss (default 0.01; Li et al. 2020)' },
} as const satisfies FlagOptions;

/** FedProx's μ when --strategy fedprox leaves --prox-mu out: the middle of Li et al. 2020's grid {0.001, 0.01, 0.1, 1}. */
export const DEFAULT_PROX_MU = 0.01;

export const STRATEGY_USAGE = `Aggregation strategies: median, trimmed-mean and krum are robust aggregators; they need each update, so
they run only with --protection none and without --dp. A strategy flag that does not apply to --strategy is refused.`;

/** Which flags each strategy reads; any other strategy flag is refused, so a typo is not silently ignored. */
const FLAGS_OF: Record<Strategy, readonly string[]> = {
  fedavg: ['weighting', 'server-lr'],
  fedprox: ['weighting', 'server-lr', 'prox-mu'],
  fedavgm: ['weighting', 'server-lr', 'server-momentum'],
  fedadam: ['weighting', 'server-lr', 'beta1', 'beta2', 'tau'],
  fedyogi: ['weighting', 'server-lr', 'beta1', 'beta2', 'tau'],
  fedadagrad: ['weighting', 'server-lr', 'beta1', 'tau'],
  median: ['server-lr'],
  'trimmed-mean': ['server-lr', 'trim-ratio'],
  krum: ['server-lr', 'krum-byzantine', 'krum-select'],
};

/** The aggregation config the flags ask for; undefined when none is given, so the coordinator's defaults apply. */
export function aggregationFromFlags(flags: Flags): FederationConfigInput['aggregation'] {
  const given = Object.keys(STRATEGY_OPTIONS).filter((name) => flags[name] !== undefined);
  if (given.length === 0) return undefined;
  const strategy = oneOf(flags, 'strategy', STRATEGIES, 'fedavg');
  for (const name of given) {
    if (name !== 'strategy' && !FLAGS_OF[strategy].includes(name)) throw new CliError(`--${name} does not apply to --strategy ${strategy}`);
  }
  const opt = (name: string, test: (v: number) => boolean, expect: string) => (flags[name] === undefined ? undefined : num(flags, name, { test, expect }));
  const unit = (name: string) => opt(name, (v) => v >= 0 && v < 1, 'a number in [0, 1)');
  const learningRate = opt('server-lr', (v) => v > 0 && v <= 1000, 'a number in (0, 1000]');
  const tau = opt('tau', (v) => v > 0 && v <= 1000, 'a number in (0, 1000]');
  const weighting = flags['weighting'] === undefined ? undefined : oneOf(flags, 'weighting', ['examples', 'uniform'] as const);
  const sgd = { kind: 'sgd' as const, learningRate: learningRate ?? 1 };
  switch (strategy) {
    case 'fedavg':
    case 'fedprox': return { kind: 'fedavg', weighting, serverOptimizer: sgd };
    case 'fedavgm': return { kind: 'fedavg', weighting, serverOptimizer: { kind: 'fedavgm', learningRate, momentum: unit('server-momentum') } };
    case 'fedadam':
    case 'fedyogi': return { kind: 'fedavg', weighting, serverOptimizer: { kind: strategy, learningRate, beta1: unit('beta1'), beta2: unit('beta2'), tau } };
    case 'fedadagrad': return { kind: 'fedavg', weighting, serverOptimizer: { kind: 'fedadagrad', learningRate, beta1: unit('beta1'), tau } };
    case 'median': return { kind: 'median', serverOptimizer: sgd };
    case 'trimmed-mean': return { kind: 'trimmed-mean', trimRatio: opt('trim-ratio', (v) => v >= 0 && v < 0.5, 'a number in [0, 0.5)'), serverOptimizer: sgd };
    case 'krum': return {
      kind: 'krum', serverOptimizer: sgd,
      byzantine: flags['krum-byzantine'] === undefined ? undefined : int(flags, 'krum-byzantine', { min: 0, max: 10_000 }),
      select: flags['krum-select'] === undefined ? undefined : int(flags, 'krum-select', { min: 1, max: 100_000 }),
    };
  }
}

/** The training's proxMu: --prox-mu (fedprox only, checked by aggregationFromFlags), its default under fedprox, else undefined (0). */
export function proxMuFromFlags(flags: Flags): number | undefined {
  if (flags['strategy'] !== 'fedprox') return undefined;
  return num(flags, 'prox-mu', { fallback: DEFAULT_PROX_MU, test: (v) => v >= 0 && v <= 100, expect: 'a number in [0, 100]' });
}
