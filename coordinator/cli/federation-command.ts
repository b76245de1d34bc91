import type { FederationMsg } from '../../protocols/index.ts';
import { createFederation } from '../../protocols/client.ts';
import { DISTRIBUTED_NEEDS_SECAGG, configMessage, type FederationConfigInput, type TrainingConfig } from '../federation-config.ts';
import { CliError, EXIT, int, num, oneOf, output, parseFlags, str, type CommandHelp, type FlagOptions, type Flags } from '../../protocols/cli.ts';
import { ADMIN_FLAGS, ADMIN_OPTIONS, adminContext } from './admin-context.ts';
import { checkConfig, flagsOnlyNames, mergeConfig, modelOfFile, readConfigFile } from './federation-file.ts';
import { modelLabel, modelSourceFromFlags, type LoadModelTools, type ModelSource } from './model-tools.ts';
import { STRATEGY_OPTIONS, STRATEGY_USAGE, aggregationFromFlags, proxMuFromFlags } from './strategy-flags.ts';
import { ROUND_EXTRA_OPTIONS, roundExtrasFromFlags } from './round-flags.ts';
import { DATA_SPEC_OPTIONS, DATA_SPEC_USAGE, checkModelFitsSpec, dataSpecFromFlags } from './data-flags.ts';
import { PROTECTION_OPTIONS, PROTECTION_USAGE, protectionFromFlags } from './protection-flags.ts';
import { SECAGG_OPTIONS, SECAGG_USAGE, describeSecAggChoice, secAggChoice } from './secagg-flags.ts';

export const PRIVACY_OPTIONS = {
  dp: { type: 'string', value: 'central|distributed|local', description: 'client-level differential privacy (DP-FedAvg; sites are Poisson-sampled); none without it' },
  'noise-multiplier': { type: 'string', value: 'S', description: 'central: the coordinator adds N(0, (S·C)²) to the sum; distributed: each site adds discrete Gaussian noise of std S·C/√(expected sites) inside the masked sum' },
  'local-epsilon': { type: 'string', value: 'E', description: '--dp local: each site\'s update is (E, δ)-DP on its own, every round (analytic Gaussian, sensitivity 2C)' },
  clip: { type: 'string', value: 'C', description: 'L2 clip norm of each site\'s update' },
  'sample-rate': { type: 'string', value: 'Q', description: 'Poisson sampling rate of each site per round, accounted with amplification (central; default 1)' },
  'adaptive-clip': { type: 'boolean', description: 'central only: the clip norm tracks a quantile of update norms (Andrew et al. 2021); needs --count-noise-std' },
  'target-quantile': { type: 'string', value: 'QUANTILE', description: 'adaptive clipping: the quantile tracked (default 0.5)' },
  'clip-lr': { type: 'string', value: 'LR', description: 'adaptive clipping: the clip norm\'s learning rate (default 0.2)' },
  'count-noise-std': { type: 'string', value: 'SB', description: 'adaptive clipping: noise std on the count of unclipped updates' },
  budget: { type: 'string', value: 'EPSILON', description: 'refuse rounds that would spend more than EPSILON at δ (the federation\'s and each site\'s)' },
  delta: { type: 'string', value: 'D', description: 'the δ of the (ε, δ) guarantee (default 1e-5; below 1/sites-per-round)' },
} as const satisfies FlagOptions;

export const PRIVACY_USAGE = `Differential privacy: --dp central adds the noise at the coordinator and is accounted with Poisson
amplification at --sample-rate; --dp distributed (needs --protection secagg) has each site add its share
as discrete Gaussian noise inside the masked sum, so the coordinator sees only the noised sum (accounted
as the distributed discrete Gaussian, charged for the fewest survivors a round can commit with, no
amplification); --dp local makes each update (--local-epsilon, δ)-DP on its own.`;

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
    throw new CliError('--adaptive-clip needs a trusted count: under distributed DP the count of clipped updates would be released unnoised and unaccounted; use --dp central');
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
  config: { type: 'string', value: 'FILE', description: 'the federation\'s config as JSON or YAML (the schema\'s keys: name, model, rounds, sitesPerRound, …); flags given too override it' },
  name: { type: 'string', description: 'the federation\'s name (default MODEL-federation)' },
  model: { type: 'string', value: 'mlp|cnn|PATH/model.json', description: 'a zoo architecture (seeded with --seed), or your own tfjs LayersModel and its weights (version 0)' },
  rounds: { type: 'string', value: 'N', description: 'rounds to run (default 3)' },
  'sites-per-round': { type: 'string', value: 'N', description: 'sites selected per round (default 2)' },
  'min-sites': { type: 'string', value: 'N', description: 'quorum: fewer updates abort the round (default: sites per round)' },
  'deadline-ms': { type: 'string', value: 'MS', description: 'each stage\'s deadline (default 120000)' },
  'local-epochs': { type: 'string', value: 'E', description: 'local training epochs per round (default: the model\'s measured value)' },
  'batch-size': { type: 'string', value: 'B', description: 'local batch size (default: the model\'s)' },
  lr: { type: 'string', value: 'LR', description: 'local learning rate (default: the model\'s)' },
  optimizer: { type: 'string', value: 'sgd|adam', description: 'local optimizer (default: the model\'s)' },
  seed: { type: 'string', value: 'N', description: 'seed of the zoo model\'s initial weights and of the sites\' training (default 0)' },
  protection: { type: 'string', value: 'none', description: 'how updates travel to the aggregate (default none)' },
  ...STRATEGY_OPTIONS,
  ...PRIVACY_OPTIONS,
  ...ROUND_EXTRA_OPTIONS,
  ...DATA_SPEC_OPTIONS,
  ...PROTECTION_OPTIONS,
  ...SECAGG_OPTIONS,
} as const satisfies FlagOptions;

export const FEDERATION_HELP: CommandHelp = {
  command: 'federation',
  summary: 'create, start, list and show federations',
  subcommands: {
    create: {
      summary: 'create a federation and its model version 0 (built here, uploaded to the coordinator)',
      examples: [
        'conclave federation create --config examples/federation.yaml',
        'conclave federation create --name mnist --model mlp --rounds 5 --sites-per-round 4 --dp central --noise-multiplier 1 --clip 1 --budget 8',
        'conclave federation create --config federation.json --rounds 10   # flags override the file',
      ],
      details: `--config FILE: JSON (*.json) or YAML, with the keys of the federation schema (name, model, rounds, sitesPerRound, minSites,
roundDeadlineMs, training, seed, protection, aggregation, privacy, evaluation, compression); what it leaves out takes the flags'
defaults, and a "model" ending in .json is a path relative to the file. Flags given with --config override it: a plain flag
replaces its one key; any privacy flag (--dp …) replaces the whole privacy section, any strategy flag the whole aggregation section.
Both forms are checked by the same schema before the coordinator is called; problems name the flag or FILE and key path.
--model PATH/model.json: its weights are the starting point; it needs one input, a softmax output and only trainable
weights; training defaults to 1 epoch of Adam at lr 0.001.
${STRATEGY_USAGE}
${PROTECTION_USAGE}
${SECAGG_USAGE}
${PRIVACY_USAGE}
${DATA_SPEC_USAGE}`,
    },
    start: { summary: 'start running rounds', args: 'ID', flags: ADMIN_FLAGS, examples: ['conclave federation start 3f2c…'] },
    show: { summary: 'one federation: config, status, rounds, latest model', args: 'ID', flags: ADMIN_FLAGS, examples: ['conclave federation show 3f2c… --json'] },
    list: { summary: 'every federation on the coordinator', flags: ADMIN_FLAGS, examples: ['conclave federation list', 'conclave federation list --json'] },
  },
};

/** The config as the admin client sends it: `defaults` (the model's training defaults) fill the training flags not given. */
export function federationConfigFromFlags(flags: Flags, source: ModelSource, defaults: TrainingConfig) {
  const model = modelLabel(source);
  const sitesPerRound = int(flags, 'sites-per-round', { min: 1, max: 100_000, fallback: 2 });
  // A usage error when the flags alone say it (a config file's protection is checked with the file).
  if (flags['dp'] === 'distributed' && flags['config'] === undefined && flags['protection'] !== 'secagg') throw new CliError(DISTRIBUTED_NEEDS_SECAGG);
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
      proxMu: proxMuFromFlags(flags),
    },
    seed: int(flags, 'seed', { min: 0, max: Number.MAX_SAFE_INTEGER, fallback: 0 }),
    protection: protectionFromFlags(flags),
    // Left out unless asked for, so the coordinator's defaults apply (the weighting's depends on DP).
    aggregation: aggregationFromFlags(flags),
    privacy: privacyConfigFromFlags(flags, { countNoiseStd: sitesPerRound / 20 }),
    ...roundExtrasFromFlags(flags),
    data: dataSpecFromFlags(flags).spec,
  };
}

export function describeFederation(f: FederationMsg): string {
  const dp = f.config.privacy ? `, DP ${f.config.privacy.mode} σ=${f.config.privacy.noiseMultiplier} C=${f.config.privacy.clipNorm}` : '';
  const reason = f.finishReason ? ` (${f.finishReason})` : '';
  return `federation ${f.id} "${f.config.name}" (${f.config.model}${dp}): ${f.status}${reason}, ${f.committedRounds}/${f.config.rounds} rounds, latest model v${f.latestModelVersion}`;
}

async function federationToCreate(flags: Flags, loadModelTools: LoadModelTools) {
  const file = typeof flags['config'] === 'string' ? readConfigFile(flags['config']) : null;
  const fileModel = file ? modelOfFile(file) : undefined;
  const source = modelSourceFromFlags(file && flags['model'] === undefined && fileModel !== undefined ? { ...flags, model: fileModel } : flags);
  const tools = await loadModelTools();
  const defaults = tools.trainingDefaults(source);
  let config: FederationConfigInput;
  if (file) {
    // The flags' own config, sized by the file's sites per round (a quorum flag is checked against it).
    const sitesPerRound = file.raw['sitesPerRound'];
    const sized = { ...flags, 'sites-per-round': flags['sites-per-round'] ?? (typeof sitesPerRound === 'number' ? String(sitesPerRound) : undefined) };
    const merged = mergeConfig(file, flags, federationConfigFromFlags(sized, source, defaults), modelLabel(source), defaults);
    config = checkConfig(merged.config, { file: file.path, flagFor: merged.flagFor });
  } else {
    config = checkConfig(federationConfigFromFlags(flags, source, defaults), { flagFor: flagsOnlyNames(flags) });
  }
  const data = dataSpecFromFlags(flags);
  if (source.kind === 'file' && data.inputShape) throw new CliError('--input-shape is for a zoo model; a model.json states its own input');
  let model;
  try {
    model = await tools.initialModel(source, { seed: config.seed, shape: { inputShape: data.inputShape, numClasses: data.numClasses } });
  } catch (err) {
    // The zoo refuses shapes its architecture cannot take (a cnn on a flat input).
    throw err instanceof RangeError ? new CliError(`--model ${modelLabel(source)}: ${err.message}`, EXIT.INVALID_INPUT) : err;
  }
  if (data.spec) checkModelFitsSpec(await tools.modelShape(model), data);
  return { config: configMessage(config), model, secagg: secAggChoice(config) };
}

/** `loadModelTools` is injected by the dispatcher: building or reading version 0 needs tfjs, which this room never imports. */
export async function federationCommand(argv: string[], deps: { loadModelTools: LoadModelTools }): Promise<void> {
  const [sub, ...rest] = argv;
  const { flags, positionals } = parseFlags(rest, CREATE_OPTIONS, FEDERATION_HELP, sub);
  if (sub === 'list') return listFederations(flags);
  const id = sub === 'create' ? '' : positionals[0];
  if (sub !== 'create' && !id) throw new CliError(`federation ${sub} needs the federation id; run "conclave federation list" for them`);
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

async function listFederations(flags: Flags): Promise<void> {
  const admin = adminContext(flags);
  try {
    const { federations } = await admin.call<{ federations: FederationMsg[] }>('ListFederations', {});
    output(flags, { json: federations, text: federations.map(describeFederation).join('\n') || 'no federations yet; create one with "conclave federation create --config FILE"' });
  } finally {
    admin.close();
  }
}
