import type { FederationMsg } from '../../protocols/index.ts';
import { createFederation } from '../../protocols/client.ts';
import { configMessage, type TrainingConfig } from '../federation-config.ts';
import { CliError, int, num, oneOf, output, parseFlags, str, type Flags } from '../../protocols/cli.ts';
import { ADMIN_OPTIONS, adminContext } from './admin-context.ts';
import { modelLabel, modelSourceFromFlags, type LoadModelTools, type ModelSource } from './model-tools.ts';
import { STRATEGY_OPTIONS, STRATEGY_USAGE, aggregationFromFlags } from './strategy-flags.ts';
import { SECAGG_OPTIONS, SECAGG_USAGE, describeSecAggChoice, protectionFromFlags, secAggChoice } from './secagg-flags.ts';

export const PRIVACY_OPTIONS = {
  dp: { type: 'string' }, 'noise-multiplier': { type: 'string' }, 'local-epsilon': { type: 'string' }, clip: { type: 'string' }, 'sample-rate': { type: 'string' },
  'adaptive-clip': { type: 'boolean' }, 'target-quantile': { type: 'string' }, 'clip-lr': { type: 'string' }, 'count-noise-std': { type: 'string' },
  budget: { type: 'string' }, delta: { type: 'string' },
} as const;

export const PRIVACY_USAGE = `differential privacy (client-level DP-FedAvg; sites are Poisson-sampled):
  --dp central --noise-multiplier S --clip C [--sample-rate Q (default 1)] [--delta D (default 1e-5)]
                 the coordinator adds N(0, (S*C)^2) to the sum; accounted with Poisson amplification at Q
  --dp distributed --noise-multiplier S --clip C   each site adds its share S*C/sqrt(expected sites); until secure
                 aggregation hides single updates, each update is accounted as the coordinator sees it
                 (sensitivity 2C, no amplification), which costs far more than central
  --dp local --local-epsilon E --clip C      each site's update is (E, delta)-DP on its own, every round
                                             (analytic Gaussian, sensitivity 2C; accounted without sampling amplification)
  [--budget EPSILON]   refuse rounds that would spend more than EPSILON at delta (federation and each site)
  [--adaptive-clip [--target-quantile 0.5] [--clip-lr 0.2] --count-noise-std SB]   central only: clip norm tracks a quantile (Andrew et al. 2021)`;

const USAGE = `usage:
  conclave federation create --name NAME --model mlp|cnn|PATH/model.json [--rounds 3] [--sites-per-round 2] [--min-sites N]
                             [--deadline-ms 120000] [--local-epochs E] [--batch-size B] [--lr LR] [--optimizer sgd|adam]
                             [--seed 0] [--protection none|secagg and its flags, below] [--strategy S and its flags, below]
                             [differential privacy flags, below]
  conclave federation start ID
  conclave federation show ID
--model: a zoo architecture (seeded with --seed), or your own tfjs LayersModel: a model.json and the weight
  files its weightsManifest lists (what "conclave model export" and model.save write); its weights are the
  starting point. It needs one input, a softmax output, and only trainable weights. Training flags default
  to the zoo model's measured values, or for your own model to 1 epoch of Adam at lr 0.001.
common: [--coordinator HOST:PORT] [--token TOKEN] [--data-dir DIR] [--json]
${SECAGG_USAGE}
${STRATEGY_USAGE}
${PRIVACY_USAGE}`;

/** Privacy flags → config; flags that only make sense with --dp are refused without it. */
export function privacyConfigFromFlags(flags: Flags, defaults: { countNoiseStd?: number } = {}) {
  const positive = (v: number) => v > 0;
  if (flags['dp'] === undefined || flags['dp'] === 'none') {
    for (const name of Object.keys(PRIVACY_OPTIONS)) {
      if (name !== 'dp' && flags[name] !== undefined) throw new CliError(`--${name} needs --dp central|distributed|local`);
    }
    return null;
  }
  const mode = oneOf(flags, 'dp', ['central', 'distributed', 'local'] as const);
  const adaptive = flags['adaptive-clip'] === true;
  if (mode === 'local' && (flags['noise-multiplier'] !== undefined || adaptive)) {
    throw new CliError('--dp local derives its noise from --local-epsilon; --noise-multiplier and --adaptive-clip do not apply');
  }
  if (mode !== 'local' && flags['local-epsilon'] !== undefined) throw new CliError('--local-epsilon needs --dp local');
  if (mode === 'distributed' && adaptive) {
    throw new CliError('--adaptive-clip needs a trusted count: each site\'s clipped bit would reach the coordinator in the clear; use --dp central');
  }
  return {
    mode,
    noiseMultiplier: mode === 'local' ? null : num(flags, 'noise-multiplier', { test: positive, expect: 'a positive number' }),
    localEpsilon: mode === 'local' ? num(flags, 'local-epsilon', { test: positive, expect: 'a positive ε' }) : null,
    clipNorm: num(flags, 'clip', { test: positive, expect: 'a positive number' }),
    sampleRate: num(flags, 'sample-rate', { fallback: 1, test: (v) => v > 0 && v <= 1, expect: 'a number in (0, 1]' }),
    adaptiveClip: adaptive ? {
      targetQuantile: num(flags, 'target-quantile', { fallback: 0.5, test: (v) => v >= 0 && v <= 1, expect: 'a number in [0, 1]' }),
      learningRate: num(flags, 'clip-lr', { fallback: 0.2, test: positive, expect: 'a positive number' }),
      countNoiseStd: num(flags, 'count-noise-std', { fallback: defaults.countNoiseStd, test: positive, expect: 'a positive number' }),
    } : null,
    budgetEpsilon: flags['budget'] === undefined ? null : num(flags, 'budget', { test: positive, expect: 'a positive ε' }),
    delta: num(flags, 'delta', { fallback: 1e-5, test: (v) => v > 0 && v < 1, expect: 'a number in (0, 1)' }),
  };
}

const CREATE_OPTIONS = {
  ...ADMIN_OPTIONS,
  name: { type: 'string' }, model: { type: 'string' }, rounds: { type: 'string' }, 'sites-per-round': { type: 'string' },
  'min-sites': { type: 'string' }, 'deadline-ms': { type: 'string' }, 'local-epochs': { type: 'string' }, 'batch-size': { type: 'string' },
  lr: { type: 'string' }, optimizer: { type: 'string' }, seed: { type: 'string' }, protection: { type: 'string' },
  ...STRATEGY_OPTIONS,
  ...PRIVACY_OPTIONS,
  ...SECAGG_OPTIONS,
} as const;

/** The config as the admin client sends it: `defaults` (the model's training defaults) fill the training flags not given. */
export function federationConfigFromFlags(flags: Flags, source: ModelSource, defaults: TrainingConfig) {
  const model = modelLabel(source);
  const sitesPerRound = int(flags, 'sites-per-round', { min: 1, max: 100_000, fallback: 2 });
  return {
    name: str(flags, 'name', `${model}-federation`),
    model,
    rounds: int(flags, 'rounds', { min: 1, max: 100_000, fallback: 3 }),
    sitesPerRound,
    minSites: int(flags, 'min-sites', { min: 1, max: sitesPerRound, fallback: sitesPerRound }),
    roundDeadlineMs: int(flags, 'deadline-ms', { min: 100, max: 7 * 24 * 3600 * 1000, fallback: 120_000 }),
    training: {
      localEpochs: int(flags, 'local-epochs', { min: 1, max: 1000, fallback: defaults.localEpochs }),
      batchSize: int(flags, 'batch-size', { min: 1, max: 65536, fallback: defaults.batchSize }),
      learningRate: num(flags, 'lr', { fallback: defaults.learningRate, test: (v) => v > 0 && v <= 100, expect: 'a number in (0, 100]' }),
      optimizer: oneOf(flags, 'optimizer', ['sgd', 'adam'] as const, defaults.optimizer),
    },
    seed: int(flags, 'seed', { min: 0, max: Number.MAX_SAFE_INTEGER, fallback: 0 }),
    protection: protectionFromFlags(flags),
    // Left out unless asked for, so the coordinator's defaults apply (the weighting's depends on DP).
    aggregation: aggregationFromFlags(flags),
    privacy: privacyConfigFromFlags(flags, { countNoiseStd: sitesPerRound / 20 }),
  };
}

export function describeFederation(f: FederationMsg): string {
  const dp = f.config.privacy ? `, DP ${f.config.privacy.mode} σ=${f.config.privacy.noiseMultiplier} C=${f.config.privacy.clipNorm}` : '';
  const reason = f.finishReason ? ` (${f.finishReason})` : '';
  return `federation ${f.id} "${f.config.name}" (${f.config.model}${dp}): ${f.status}${reason}, ${f.committedRounds}/${f.config.rounds} rounds, latest model v${f.latestModelVersion}`;
}

async function federationToCreate(flags: Flags, loadModelTools: LoadModelTools) {
  const source = modelSourceFromFlags(flags);
  const tools = await loadModelTools();
  const config = federationConfigFromFlags(flags, source, tools.trainingDefaults(source));
  return { config: configMessage(config), model: await tools.initialModel(source, { seed: config.seed }), secagg: secAggChoice(config) };
}

/** `loadModelTools` is injected by the dispatcher: building or reading version 0 needs tfjs, which this room never imports. */
export async function federationCommand(argv: string[], deps: { loadModelTools: LoadModelTools }): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub !== 'create' && sub !== 'start' && sub !== 'show') throw new CliError(USAGE);
  const { flags, positionals } = parseFlags(rest, CREATE_OPTIONS, USAGE);
  if (flags['help']) return void process.stdout.write(USAGE + '\n');
  const id = sub === 'create' ? '' : positionals[0];
  if (sub !== 'create' && !id) throw new CliError(`federation ${sub} needs the federation id\n\n${USAGE}`);
  // Version 0 is built (or read and checked) before the coordinator is contacted: a bad model file costs no call.
  const creating = sub === 'create' ? await federationToCreate(flags, deps.loadModelTools) : null;
  const admin = adminContext(flags);
  try {
    const federation = creating
      ? await createFederation(admin.client, admin.token, creating)
      : await admin.call<FederationMsg>(sub === 'start' ? 'StartFederation' : 'GetFederation', { federationId: id });
    const secagg = creating?.secagg;
    output(flags, {
      json: secagg ? { ...federation, secagg } : federation,
      text: describeFederation(federation) + (secagg ? `\n${describeSecAggChoice(secagg)}` : ''),
    });
  } finally {
    admin.close();
  }
}
