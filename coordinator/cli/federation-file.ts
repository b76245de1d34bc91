/**
 * `federation create --config FILE`: the federation's configuration as operators keep it in version
 * control (JSON, or YAML), validated by the same zod schema as the flags (federation-config.ts).
 * Flags given next to --config override the file: a plain flag replaces its one key; any privacy
 * flag replaces the whole `privacy` section, any strategy flag the whole `aggregation` section (a
 * section is one mechanism: half of one from the file and half from the flags is not a config).
 */
import { readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { CliError, EXIT, type Flags } from '../../protocols/cli.ts';
import { federationConfigSchema, type FederationConfigInput, type TrainingConfig } from '../federation-config.ts';

/** Each plain flag and the key it sets. */
const FLAG_KEYS: Record<string, string> = {
  name: 'name', model: 'model', rounds: 'rounds', 'sites-per-round': 'sitesPerRound', 'min-sites': 'minSites', 'deadline-ms': 'roundDeadlineMs',
  'local-epochs': 'training.localEpochs', 'batch-size': 'training.batchSize', lr: 'training.learningRate', optimizer: 'training.optimizer',
  seed: 'seed', protection: 'protection',
};
const PRIVACY_KEYS: Record<string, string> = {
  'noise-multiplier': 'privacy.noiseMultiplier', 'local-epsilon': 'privacy.localEpsilon', clip: 'privacy.clipNorm', 'sample-rate': 'privacy.sampleRate',
  'adaptive-clip': 'privacy.adaptiveClip', 'target-quantile': 'privacy.adaptiveClip.targetQuantile', 'clip-lr': 'privacy.adaptiveClip.learningRate',
  'count-noise-std': 'privacy.adaptiveClip.countNoiseStd', budget: 'privacy.budgetEpsilon', delta: 'privacy.delta', dp: 'privacy.mode',
};

export interface ConfigFile {
  path: string;
  raw: Record<string, unknown>;
}

/** JSON for *.json, YAML otherwise; the top level must be a mapping. */
export function readConfigFile(path: string): ConfigFile {
  const absolute = resolve(path);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CliError(`--config ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, EXIT.INVALID_INPUT);
  }
  let raw: unknown;
  try {
    raw = extname(absolute).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const what = err instanceof YAMLParseError ? 'is not valid YAML' : 'is not valid JSON';
    throw new CliError(`${path} ${what}: ${(err as Error).message.split('\n')[0]}`, EXIT.INVALID_INPUT);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CliError(`${path}: the top level must be a mapping of config keys (name, model, rounds, …), got ${Array.isArray(raw) ? 'a list' : raw === null ? 'nothing' : typeof raw}`, EXIT.INVALID_INPUT);
  }
  return { path, raw: raw as Record<string, unknown> };
}

/** The file's `model`: a zoo name, or a model.json path relative to the config file. */
export function modelOfFile(file: ConfigFile): string | undefined {
  const model = file.raw['model'];
  if (typeof model !== 'string') return undefined;
  return model.endsWith('.json') ? resolve(dirname(resolve(file.path)), model) : model;
}

/**
 * The file's config with the given flags laid over it (`fromFlags` is the flags' own config, built
 * by federationConfigFromFlags), then the defaults the flags would have used for what neither says.
 */
export function mergeConfig(file: ConfigFile, flags: Flags, fromFlags: FederationConfigInput, modelLabel: string, training: TrainingConfig): { config: unknown; flagFor: Map<string, string> } {
  const config: Record<string, unknown> = structuredClone(file.raw);
  const flagFor = new Map<string, string>();
  const set = (path: string, value: unknown, flag: string) => {
    const keys = path.split('.');
    let node = config;
    for (const key of keys.slice(0, -1)) {
      if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[keys.at(-1)!] = value;
    flagFor.set(path, flag);
  };
  const given = (flag: string) => flags[flag] !== undefined;
  const read = (path: string): unknown => path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], fromFlags);
  for (const [flag, path] of Object.entries(FLAG_KEYS)) if (given(flag)) set(path, flag === 'model' ? modelLabel : read(path), `--${flag}`);
  if (Object.keys(PRIVACY_KEYS).some(given)) {
    set('privacy', fromFlags.privacy, '--dp');
    for (const [flag, path] of Object.entries(PRIVACY_KEYS)) if (given(flag)) flagFor.set(path, `--${flag}`);
  }
  if (fromFlags.aggregation !== undefined) set('aggregation', fromFlags.aggregation, '--strategy');
  // What neither the file nor a flag says: the flags' defaults.
  if (typeof config['model'] === 'string' && (config['model'] as string).endsWith('.json')) config['model'] = modelLabel;
  config['name'] ??= `${modelLabel}-federation`;
  config['rounds'] ??= 3;
  config['sitesPerRound'] ??= 2;
  config['minSites'] ??= config['sitesPerRound'];
  config['roundDeadlineMs'] ??= 120_000;
  config['training'] = typeof config['training'] === 'object' && config['training'] !== null ? { ...training, ...config['training'] as object } : config['training'] ?? training;
  config['seed'] ??= 0;
  config['protection'] ??= 'none';
  config['privacy'] ??= null;
  const privacy = config['privacy'];
  if (typeof privacy === 'object' && privacy !== null && !flagFor.has('privacy')) {
    const p = privacy as Record<string, unknown>;
    config['privacy'] = { noiseMultiplier: null, localEpsilon: null, sampleRate: 1, adaptiveClip: null, budgetEpsilon: null, delta: 1e-5, ...p };
  }
  return { config, flagFor };
}

/**
 * The federation schema's verdict before the coordinator is called, each problem named by where
 * the operator wrote it: the flag, or the file and its key path.
 */
export function checkConfig(config: unknown, where: { file?: string; flagFor?: Map<string, string> }): FederationConfigInput {
  const parsed = federationConfigSchema.safeParse(config);
  if (parsed.success) return config as FederationConfigInput;
  const problems = parsed.error.issues.map((issue) => {
    const path = issue.path.map(String);
    let flag: string | undefined;
    for (let n = path.length; n > 0 && !flag; n--) flag = where.flagFor?.get(path.slice(0, n).join('.'));
    const key = path.join('.') || '(top level)';
    return flag ? `${flag} (${key}): ${issue.message}` : `${where.file ? `${where.file}: ` : ''}${key}: ${issue.message}`;
  });
  throw new CliError(`invalid federation config: ${problems.join('; ')}`, EXIT.INVALID_INPUT);
}

/** Every plain flag as the key it sets, for mapping a flags-only config's problems back to flags. */
export function flagsOnlyNames(flags: Flags): Map<string, string> {
  const names = new Map<string, string>();
  for (const [flag, path] of Object.entries({ ...FLAG_KEYS, ...PRIVACY_KEYS })) if (flags[flag] !== undefined) names.set(path, `--${flag}`);
  return names;
}
