/**
 * `conclave privacy epsilon --mechanism ddg|skellam …`: the accountant of distributed discrete DP
 * under secure aggregation (crypto/dp/ddg.ts), the same numbers the ledger records for such rounds.
 * Flags are declared in the options-object shape of the other commands and spread into them.
 */
import { DpError } from '../../crypto/dp/index.ts';
import { distributedDiscreteEpsilon, roundedL2Bound, validateDistributedDiscreteEvent, type DistributedMechanism } from '../../crypto/dp/ddg.ts';
import { CliError, EXIT, output, type Flags } from '../../protocols/cli.ts';

export const DISCRETE_OPTIONS = {
  mechanism: { type: 'string', description: 'gaussian (default), ddg (distributed discrete Gaussian) or skellam' },
  clip: { type: 'string', description: 'L2 clip norm C of each site\'s update' },
  'local-stddev': { type: 'string', description: 'each site\'s noise std S, in the units of the clipped update' },
  'clients-per-round': { type: 'string', description: 'sites whose noise is in the sum (a round\'s survivors)' },
  dim: { type: 'string', description: 'length D of the integer vector each site sends (padded when rotated)' },
  granularity: { type: 'string', description: 'quantization step G, in the units of the update' },
  beta: { type: 'string', description: 'conditional-rounding parameter B in [0, 1)' },
} as const;


export const DISCRETE_USAGE = `  conclave privacy epsilon --mechanism ddg|skellam --clip C --local-stddev S --clients-per-round N --dim D
                           --granularity G --beta B --sample-rate Q --rounds T --delta D [--json]
  ddg|skellam  distributed discrete DP under secure aggregation: each of the N sites adds discrete Gaussian (ddg,
              Kairouz-Liu-Steinke 2021) or Skellam (Agarwal-Kairouz-Liu 2021) noise of std S to its update clipped to
              L2 norm C, quantized with step G by conditional randomized rounding (B), D coordinates; the sites are
              Poisson-sampled at rate Q for T rounds; RDP accountant (rdp only)`;

const NUMERIC: Record<string, [(v: number) => boolean, string]> = {
  clip: [(v) => v > 0, 'a positive number'],
  'local-stddev': [(v) => v > 0, 'a positive number'],
  'clients-per-round': [(v) => Number.isSafeInteger(v) && v >= 1, 'a positive integer'],
  dim: [(v) => Number.isSafeInteger(v) && v >= 1, 'a positive integer'],
  granularity: [(v) => v > 0, 'a positive number'],
  beta: [(v) => v >= 0 && v < 1, 'a number in [0, 1)'],
  'sample-rate': [(v) => v > 0 && v <= 1, 'a number in (0, 1]'],
  rounds: [(v) => Number.isSafeInteger(v) && v >= 1, 'a positive integer'],
  delta: [(v) => v > 0 && v < 1, 'a number in (0, 1)'],
};

const HINT = 'run "conclave privacy --help" for usage';

export async function discreteEpsilonCommand(flags: Flags, mechanism: DistributedMechanism): Promise<void> {
  const clash = ['noise-multiplier', 'events', 'sampling'].filter((n) => flags[n] !== undefined);
  if (clash.length > 0) throw new CliError(`--mechanism ${mechanism} cannot be combined with ${clash.map((n) => `--${n}`).join(', ')} (${HINT})`, EXIT.USAGE);
  for (const name of Object.keys(NUMERIC)) {
    if (flags[name] === undefined) throw new CliError(`--${name} is required with --mechanism ${mechanism} (${HINT})`, EXIT.USAGE);
  }
  const v: Record<string, number> = {};
  for (const [name, [ok, what]] of Object.entries(NUMERIC)) {
    const raw = String(flags[name]);
    const value = raw.trim() === '' ? NaN : Number(raw);
    if (!Number.isFinite(value) || !ok(value)) throw new DpError('DP_INVALID_PARAMETER', `--${name} must be ${what}, got "${raw}"`);
    v[name] = value;
  }
  const accountant = flags['accountant'];
  if (accountant !== undefined && accountant !== 'rdp' && accountant !== 'best') {
    throw new DpError('DP_INVALID_PARAMETER', `--mechanism ${mechanism} is accounted by rdp only, got --accountant ${String(accountant)}`);
  }
  let event;
  try {
    event = validateDistributedDiscreteEvent({
      mechanism, clip: v['clip'], localStddev: v['local-stddev'], clients: v['clients-per-round'], dim: v['dim'],
      granularity: v['granularity'], beta: v['beta'], sampleRate: v['sample-rate'], count: v['rounds'],
    });
  } catch (err) {
    // Event fields are flags here: say so in the flags' names.
    if (err instanceof DpError) throw new DpError('DP_INVALID_PARAMETER', err.message.replace(/^event\[0\]: /, '').replace('localStddev/granularity', '--local-stddev/--granularity'));
    throw err;
  }
  const delta = v['delta']!;
  const { epsilon, order } = distributedDiscreteEpsilon([event], delta);
  if (!Number.isFinite(epsilon)) throw new DpError('DP_INVALID_PARAMETER', `ε = ∞ at δ = ${delta}: no finite guarantee for these parameters`);
  const sensitivity = roundedL2Bound(event.clip / event.granularity, event.beta, event.dim) * event.granularity;
  const json = {
    epsilon, accountant: 'rdp', order, delta, mechanism,
    clip: event.clip, localStddev: event.localStddev, clientsPerRound: event.clients, dim: event.dim,
    granularity: event.granularity, beta: event.beta, sampleRate: event.sampleRate, rounds: event.count,
    /** The L2 sensitivity after rounding, in update units (≥ clip). */
    roundedSensitivity: sensitivity,
  };
  const fmt = (x: number) => String(Number(x.toPrecision(6)));
  output(flags, {
    json,
    text: `ε = ${fmt(epsilon)} at δ = ${delta} (rdp accountant, order ${order}) for ${event.count} rounds of ${mechanism} ` +
      `(N = ${event.clients} sites, S = ${event.localStddev}, C = ${event.clip} → ${fmt(sensitivity)} after rounding, G = ${event.granularity}, ` +
      `D = ${event.dim}, q = ${event.sampleRate})`,
  });
}
