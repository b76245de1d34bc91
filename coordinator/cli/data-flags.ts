import { CliError, EXIT, type Flags } from '../../protocols/cli.ts';
import { dataSpecSchema, scalingFeatures, type DataSpec } from '../data-spec.ts';

/**
 * What sites' data must look like, on `federation create`: the model's input and classes (a zoo
 * model is built for them) and the feature scaling every site applies (data-spec.ts).
 */
export const DATA_SPEC_OPTIONS = {
  'input-shape': { type: 'string' }, classes: { type: 'string' }, 'feature-columns': { type: 'string' }, 'feature-scaling': { type: 'string' },
  'feature-min': { type: 'string' }, 'feature-max': { type: 'string' }, 'feature-mean': { type: 'string' }, 'feature-std': { type: 'string' },
} as const;

export const DATA_SPEC_USAGE = `the sites' data (what "participant run --data" checks before training):
  [--input-shape 4 | 28,28,1]      a zoo model's input: N features (tabular) or height,width,channels (images); default 28,28,1
  [--classes K | NAME,NAME,…]      K classes labelled 0..K-1, or the class names (CSV label values, image folder names)
                                   in class-index order; a zoo model gets one output per class (default 10)
  [--feature-columns NAME,NAME,…]  CSV sites take these columns by header name, in this order (default: every column
                                   but the label, in each file's order)
  [--feature-scaling none|minmax|standard]   one scaling for all sites, applied per feature before training (default none):
        minmax   --feature-min A,B,… --feature-max A,B,…     x' = (x − min) / (max − min)
        standard --feature-mean A,B,… --feature-std A,B,…    x' = (x − mean) / std   (image pixels are in [0, 1] before it)`;

export interface DataSpecFlags {
  /** Undefined when no data flag is given: the federation states nothing and sites' labels are 0..K-1. */
  spec: DataSpec | undefined;
  /** For a zoo model; a model file states its own. */
  inputShape?: number[];
  numClasses?: number;
}

function numbers(flags: Flags, name: string): number[] {
  const raw = flags[name];
  if (typeof raw !== 'string' || raw.trim() === '') throw new CliError(`--${name} is required with --feature-scaling ${String(flags['feature-scaling'])}`);
  return raw.split(',').map((part) => {
    const v = part.trim() === '' ? NaN : Number(part);
    if (!Number.isFinite(v)) throw new CliError(`--${name} must be comma-separated numbers, got "${part.trim()}"`);
    return v;
  });
}

export function dataSpecFromFlags(flags: Flags): DataSpecFlags {
  const given = Object.keys(DATA_SPEC_OPTIONS).filter((name) => flags[name] !== undefined);
  if (given.length === 0) return { spec: undefined };
  const out: DataSpecFlags = { spec: undefined };
  if (typeof flags['input-shape'] === 'string') {
    const dims = flags['input-shape'].split(',').map((d) => d.trim());
    if (dims.length > 3 || !dims.every((d) => /^[1-9]\d{0,6}$/.test(d))) {
      throw new CliError(`--input-shape must be 1 to 3 positive integers separated by commas (4, or 28,28,1), got "${flags['input-shape']}"`);
    }
    out.inputShape = dims.map(Number);
  }
  let classes: string[] = [];
  if (typeof flags['classes'] === 'string') {
    const raw = flags['classes'].trim();
    if (/^\d+$/.test(raw)) {
      out.numClasses = Number(raw);
      if (out.numClasses < 2 || out.numClasses > 10_000) throw new CliError(`--classes K must be between 2 and 10000, got ${raw}`);
    } else {
      classes = raw.split(',').map((c) => c.trim());
      out.numClasses = classes.length;
    }
  }
  const kind = flags['feature-scaling'] ?? 'none';
  const allowed: Record<string, string[]> = { none: [], minmax: ['feature-min', 'feature-max'], standard: ['feature-mean', 'feature-std'] };
  const wanted = allowed[String(kind)];
  if (!wanted) throw new CliError(`--feature-scaling must be one of none, minmax, standard, got "${String(kind)}"`);
  const stray = ['feature-min', 'feature-max', 'feature-mean', 'feature-std'].find((f) => flags[f] !== undefined && !wanted.includes(f));
  if (stray) throw new CliError(`--${stray} does not go with --feature-scaling ${String(kind)}`);
  const scaling = kind === 'minmax' ? { kind, min: numbers(flags, 'feature-min'), max: numbers(flags, 'feature-max') }
    : kind === 'standard' ? { kind, mean: numbers(flags, 'feature-mean'), std: numbers(flags, 'feature-std') }
    : { kind: 'none' };
  const features = typeof flags['feature-columns'] === 'string' ? flags['feature-columns'].split(',').map((f) => f.trim()) : [];
  const parsed = dataSpecSchema.safeParse({ classes, scaling, features });
  if (!parsed.success) {
    throw new CliError(`invalid data flags: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, EXIT.INVALID_INPUT);
  }
  out.spec = parsed.data;
  return out;
}

/** The model must fit what the federation states: one output per class, one input value per scaled feature. */
export function checkModelFitsSpec(shape: { inputSize: number | null; outputUnits: number | null }, flags: DataSpecFlags): void {
  if (flags.numClasses !== undefined && shape.outputUnits !== flags.numClasses) {
    throw new CliError(`--classes states ${flags.numClasses} classes, the model outputs ${shape.outputUnits ?? 'an unknown number of'} (one output unit per class)`, EXIT.INVALID_INPUT);
  }
  const features = flags.spec ? scalingFeatures(flags.spec.scaling) : null;
  if (features !== null && shape.inputSize !== features) {
    throw new CliError(`--feature-scaling lists ${features} values per feature vector, the model takes ${shape.inputSize ?? 'an unknown number of'} input values`, EXIT.INVALID_INPUT);
  }
  const columns = flags.spec?.features.length ?? 0;
  if (columns > 0 && shape.inputSize !== columns) {
    throw new CliError(`--feature-columns names ${columns} columns, the model takes ${shape.inputSize ?? 'an unknown number of'} input values`, EXIT.INVALID_INPUT);
  }
}
