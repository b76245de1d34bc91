import { readFile } from 'node:fs/promises';
import {
  DpError,
  calibrateNoiseMultiplier,
  computeEpsilon,
  validateEvents,
  type AccountantKind,
  type GaussianEvent,
} from '../../crypto/dp/index.ts';
import { CliError, EXIT, oneOf, output, parseFlags, type Flags } from '../../protocols/cli.ts';
import { DISCRETE_OPTIONS, DISCRETE_USAGE, DISCRETE_VALUE_FLAGS, discreteEpsilonCommand } from './privacy-discrete.ts';

const USAGE = `usage:
  conclave privacy epsilon --noise-multiplier S --sample-rate Q --rounds T --delta D [--sampling poisson|without-replacement]
                           [--accountant rdp|pld|best] [--json]
${DISCRETE_USAGE}
  conclave privacy epsilon --events FILE --delta D [--accountant rdp|pld|best] [--json]
  conclave privacy calibrate --target-epsilon E --delta D --sample-rate Q --rounds T [--sampling poisson|without-replacement]
                             [--accountant rdp|pld|best] [--json]

  epsilon     the (ε, δ) guarantee of T rounds of the subsampled Gaussian mechanism (noise multiplier S, sample rate Q),
              or of the events in FILE composed in order: a JSON array of
              {"noiseMultiplier": S, "sampleRate": Q, "count": T[, "sampling": "poisson"|"without-replacement"]}
              (FILE "-" reads standard input)
  calibrate   the smallest noise multiplier whose T rounds at sample rate Q stay within ε ≤ E at δ = D

  values: S > 0, Q in (0, 1], T a positive integer, D in (0, 1), E > 0
  --accountant  rdp (Rényi DP), pld (privacy loss distribution, Poisson sampling only) or best (default): run both and
                report the tighter (smaller ε, or smaller noise multiplier for calibrate) and which one won
  --sampling    poisson (default): each record joins a round independently with probability Q (add/remove-one
                adjacency); without-replacement: a uniformly random batch of Q·n records (replace-one adjacency,
                under which one record moves the clipped sum by up to 2C, twice the clip norm C the noise
                multiplier is relative to: accounted at sensitivity 2C, rdp only)
  ε = ∞ (exit 3) when the noise is 0 or too small for any finite guarantee (σ below ~1e-154)
  exit codes: 0 ok; 2 usage error (unknown subcommand or flag, missing flag, --events together with
              --noise-multiplier/--sample-rate/--rounds); 3 invalid value (out of range or not a number, unreadable or
              malformed events file, unbounded ε, calibration target not reachable)
  With --json the result (or the error) is printed as JSON on stdout.`;

const ACCOUNTANTS = ['rdp', 'pld', 'best'] as const;
type AccountantChoice = (typeof ACCOUNTANTS)[number];
const SAMPLINGS = ['poisson', 'without-replacement'] as const;
type Sampling = (typeof SAMPLINGS)[number];

const SHARED_OPTIONS = {
  delta: { type: 'string' },
  accountant: { type: 'string' },
  'sample-rate': { type: 'string' },
  rounds: { type: 'string' },
  sampling: { type: 'string' },
} as const;
const EPSILON_OPTIONS = { ...SHARED_OPTIONS, 'noise-multiplier': { type: 'string' }, events: { type: 'string' }, ...DISCRETE_OPTIONS } as const;
const CALIBRATE_OPTIONS = { ...SHARED_OPTIONS, 'target-epsilon': { type: 'string' } } as const;

const VALUE_FLAGS = new Set(['--delta', '--accountant', '--sample-rate', '--rounds', '--sampling', '--noise-multiplier', '--events', '--target-epsilon', ...DISCRETE_VALUE_FLAGS]);

/**
 * `--rounds -5` would make node's parseArgs complain that the value is "ambiguous"; rewrite such a pair to
 * `--rounds=-5` so that a negative value reaches the range checks and gets a precise message (exit 3).
 */
function joinNegativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (VALUE_FLAGS.has(arg) && next !== undefined && /^-(\d|\.\d|Infinity|NaN)/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

const HINT = 'run "conclave privacy --help" for usage';

/** An invalid value: exit 3 (EXIT.INVALID_INPUT) via the DP_ code, which --json reports as the error code. */
function invalid(message: string, code: 'DP_INVALID_PARAMETER' | 'DP_INVALID_EVENT' = 'DP_INVALID_PARAMETER'): DpError {
  return new DpError(code, message);
}

function required(flags: Flags, name: string): string {
  const raw = flags[name];
  if (raw === undefined) throw new CliError(`--${name} is required (${HINT})`, EXIT.USAGE);
  return String(raw);
}

/** A present flag whose value must be a finite number passing `test`; missing → usage error, bad → invalid input. */
function number(flags: Flags, name: string, test: (v: number) => boolean, expect: string): number {
  const raw = required(flags, name);
  const value = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(value) || !test(value)) throw invalid(`--${name} must be ${expect}, got "${raw}"`);
  return value;
}

function positiveInteger(flags: Flags, name: string): number {
  const raw = required(flags, name);
  const value = Number(raw);
  if (!/^\s*\+?\d+\s*$/.test(raw) || !Number.isSafeInteger(value) || value < 1) {
    throw invalid(`--${name} must be a positive integer, got "${raw}"`);
  }
  return value;
}

const delta = (flags: Flags): number => number(flags, 'delta', (v) => v > 0 && v < 1, 'a number in (0, 1)');
const sampleRate = (flags: Flags): number => number(flags, 'sample-rate', (v) => v > 0 && v <= 1, 'a number in (0, 1]');

function choice<T extends string>(flags: Flags, name: string, choices: readonly T[], fallback: T): T {
  try {
    return oneOf(flags, name, choices, fallback);
  } catch (err) {
    throw invalid((err as Error).message);
  }
}

async function readEvents(file: string): Promise<GaussianEvent[]> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : e.message;
    throw invalid(`cannot read events file "${file}": ${why}`, 'DP_INVALID_EVENT');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw invalid(`events file "${file}" is not valid JSON: ${(err as Error).message}`, 'DP_INVALID_EVENT');
  }
  if (!Array.isArray(parsed)) {
    throw invalid(`events file "${file}" must hold a JSON array of {"noiseMultiplier", "sampleRate", "count"} events, got ${parsed === null ? 'null' : typeof parsed}`, 'DP_INVALID_EVENT');
  }
  if (parsed.length === 0) throw invalid(`events file "${file}" holds an empty array: there is nothing to account for`, 'DP_INVALID_EVENT');
  // Type errors first, with the offending JSON value (validateEvents' messages would print the string "1.5" as 1.5).
  parsed.forEach((raw: unknown, i) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw invalid(`events file "${file}": event[${i}] must be an object, got ${JSON.stringify(raw)}`, 'DP_INVALID_EVENT');
    }
    for (const field of ['noiseMultiplier', 'sampleRate', 'count']) {
      const v = (raw as Record<string, unknown>)[field];
      if (typeof v !== 'number') {
        throw invalid(`events file "${file}": event[${i}].${field} ${v === undefined ? 'is missing' : `must be a number, got ${JSON.stringify(v)}`}`, 'DP_INVALID_EVENT');
      }
    }
  });
  try {
    return validateEvents(parsed);
  } catch (err) {
    if (err instanceof DpError) throw new DpError(err.code, `events file "${file}": ${err.message}`);
    throw err;
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const fmt = (x: number): string => String(Number(x.toPrecision(6)));

/** PLD accounts for Poisson sampling only; 'best' falls back to RDP alone when any event samples without replacement. */
const pldApplies = (events: readonly GaussianEvent[]): boolean => events.every((e) => (e.sampling ?? 'poisson') === 'poisson');

interface EpsilonOutcome {
  epsilon: number;
  accountant: AccountantKind;
  order?: number;
  /** Both accountants' values when --accountant best (pld null where it does not apply). */
  candidates?: { rdp: number; pld: number | null };
}

function epsilonFor(events: GaussianEvent[], d: number, accountant: AccountantChoice): EpsilonOutcome {
  if (accountant !== 'best') return computeEpsilon(events, d, accountant);
  const rdp = computeEpsilon(events, d, 'rdp');
  let pld: number | null = null;
  if (pldApplies(events)) {
    try {
      pld = computeEpsilon(events, d, 'pld').epsilon;
    } catch (err) {
      // Both accountants are upper bounds: where PLD cannot answer (grid limits, numerics), RDP's answer stands.
      if (!(err instanceof DpError)) throw err;
    }
  }
  const candidates = { rdp: rdp.epsilon, pld };
  if (pld !== null && pld < rdp.epsilon) return { epsilon: pld, accountant: 'pld', candidates };
  return { ...rdp, candidates };
}

async function epsilonCommand(flags: Flags): Promise<void> {
  const mechanism = choice(flags, 'mechanism', ['gaussian', 'ddg', 'skellam'] as const, 'gaussian');
  if (mechanism !== 'gaussian') return discreteEpsilonCommand(flags, mechanism);
  const stray = Object.keys(DISCRETE_OPTIONS).filter((n) => n !== 'mechanism' && flags[n] !== undefined);
  if (stray.length > 0) throw new CliError(`${stray.map((n) => `--${n}`).join(', ')} need --mechanism ddg or skellam (${HINT})`, EXIT.USAGE);
  const file = flags['events'];
  const direct = ['noise-multiplier', 'sample-rate', 'rounds', 'sampling'].filter((n) => flags[n] !== undefined);
  if (file !== undefined && direct.length > 0) {
    throw new CliError(`--events cannot be combined with ${direct.map((n) => `--${n}`).join(', ')}: give either a file of events or one mechanism (${HINT})`, EXIT.USAGE);
  }
  if (file === undefined && direct.length === 0) {
    throw new CliError(`privacy epsilon needs either --events FILE or --noise-multiplier, --sample-rate and --rounds (${HINT})`, EXIT.USAGE);
  }
  // Presence of every flag is checked before any value, so a missing flag is always a usage error.
  for (const name of file === undefined ? ['noise-multiplier', 'sample-rate', 'rounds', 'delta'] : ['delta']) required(flags, name);
  if (file !== undefined && (typeof file !== 'string' || file === '')) throw invalid('--events needs a file name', 'DP_INVALID_EVENT');
  const d = delta(flags);
  const accountant = choice(flags, 'accountant', ACCOUNTANTS, 'best');

  let events: GaussianEvent[];
  let inputs: Record<string, unknown>;
  if (file === undefined) {
    const noiseMultiplier = number(flags, 'noise-multiplier', (v) => v > 0, 'a positive number (σ = 0 gives ε = ∞)');
    const q = sampleRate(flags);
    const rounds = positiveInteger(flags, 'rounds');
    const sampling = choice<Sampling>(flags, 'sampling', SAMPLINGS, 'poisson');
    events = [{ noiseMultiplier, sampleRate: q, count: rounds, ...(sampling === 'poisson' ? {} : { sampling }) }];
    inputs = { noiseMultiplier, sampleRate: q, rounds, sampling };
  } else {
    events = await readEvents(file as string);
    inputs = { eventsFile: file, events: events.length, rounds: events.reduce((s, e) => s + e.count, 0) };
  }

  const result = epsilonFor(events, d, accountant);
  if (!Number.isFinite(result.epsilon)) {
    throw invalid(
      `ε = ∞ at δ = ${d} (${result.accountant} accountant): ε is unbounded for these parameters, no finite guarantee holds — ` +
        'a noise multiplier is 0 or too small (below ~1e-154, its privacy loss exceeds any float64)',
    );
  }
  const json = {
    epsilon: result.epsilon,
    accountant: result.accountant,
    delta: d,
    ...(result.order !== undefined ? { order: result.order } : {}),
    ...(result.candidates ? { requested: 'best', candidates: result.candidates } : {}),
    ...inputs,
  };
  const what = file === undefined
    ? `${inputs['rounds']} rounds of σ = ${inputs['noiseMultiplier']}, q = ${inputs['sampleRate']}`
    : `${events.length} event(s), ${inputs['rounds']} rounds in all, from ${file}`;
  const how = [
    `${result.accountant} accountant`,
    ...(result.order !== undefined ? [`order ${result.order}`] : []),
    ...(result.candidates
      ? [result.accountant === 'pld' ? `tighter than rdp ε = ${fmt(result.candidates.rdp)}` : result.candidates.pld === null ? 'pld not applicable' : `pld gave ε = ${fmt(result.candidates.pld)}`]
      : []),
  ].join(', ');
  output(flags, { json, text: `ε = ${fmt(result.epsilon)} at δ = ${d} (${how}) for ${what}` });
}

function isUnreachable(err: unknown): boolean {
  return err instanceof DpError && err.code === 'DP_UNREACHABLE';
}

async function calibrateCommand(flags: Flags): Promise<void> {
  for (const name of ['target-epsilon', 'delta', 'sample-rate', 'rounds']) required(flags, name);
  const targetEpsilon = number(flags, 'target-epsilon', (v) => v > 0, 'a positive number');
  const d = delta(flags);
  const q = sampleRate(flags);
  const rounds = positiveInteger(flags, 'rounds');
  const sampling = choice<Sampling>(flags, 'sampling', SAMPLINGS, 'poisson');
  const accountant = choice(flags, 'accountant', ACCOUNTANTS, 'best');

  const calibrate = (kind: AccountantKind): number =>
    calibrateNoiseMultiplier({ targetEpsilon, delta: d, sampleRate: q, rounds, accountant: kind, ...(sampling === 'poisson' ? {} : { sampling }) });

  let kind: AccountantKind;
  let noiseMultiplier: number;
  let candidates: { rdp: number | null; pld: number | null } | undefined;
  if (accountant !== 'best') {
    kind = accountant;
    noiseMultiplier = calibrate(kind);
  } else {
    // Both accountants give valid upper bounds, so the smaller σ that meets the target under either one is valid.
    let rdpErr: unknown;
    let rdp: number | null = null;
    try {
      rdp = calibrate('rdp');
    } catch (err) {
      if (!isUnreachable(err)) throw err;
      rdpErr = err;
    }
    let pld: number | null = null;
    if (sampling === 'poisson') {
      try {
        pld = calibrate('pld');
      } catch (err) {
        // Unreachable or numerically out of PLD's range: RDP's answer (if any) stands.
        if (!(err instanceof DpError)) throw err;
      }
    }
    if (rdp === null && pld === null) throw rdpErr;
    candidates = { rdp, pld };
    kind = pld !== null && (rdp === null || pld < rdp) ? 'pld' : 'rdp';
    noiseMultiplier = (kind === 'pld' ? pld : rdp)!;
  }
  const achieved = computeEpsilon([{ noiseMultiplier, sampleRate: q, count: rounds, ...(sampling === 'poisson' ? {} : { sampling }) }], d, kind);
  const json = {
    noiseMultiplier,
    epsilon: achieved.epsilon,
    targetEpsilon,
    accountant: kind,
    delta: d,
    ...(achieved.order !== undefined ? { order: achieved.order } : {}),
    ...(candidates ? { requested: 'best', candidates } : {}),
    sampleRate: q,
    rounds,
    sampling,
  };
  const other = candidates ? (kind === 'pld' ? candidates.rdp : candidates.pld) : null;
  const note = candidates ? (other === null ? '' : `; ${kind === 'pld' ? 'rdp' : 'pld'} would need σ = ${fmt(other)}`) : '';
  output(flags, {
    json,
    text: `σ = ${fmt(noiseMultiplier)} gives ε = ${fmt(achieved.epsilon)} ≤ ${targetEpsilon} at δ = ${d} for ${rounds} rounds at q = ${q} (${kind} accountant${note})`,
  });
}

export async function privacyCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || sub === 'help') return void process.stdout.write(USAGE + '\n');
  if (sub !== 'epsilon' && sub !== 'calibrate') {
    throw new CliError(`${sub === undefined || sub.startsWith('-') ? 'privacy needs a subcommand' : `unknown privacy subcommand "${sub}"`}\n\n${USAGE}`, EXIT.USAGE);
  }
  const { flags, positionals } = parseFlags(joinNegativeValues(rest), sub === 'epsilon' ? EPSILON_OPTIONS : CALIBRATE_OPTIONS, USAGE);
  if (flags['help']) return void process.stdout.write(USAGE + '\n');
  if (positionals.length > 0) throw new CliError(`unexpected argument "${positionals[0]}" (${HINT})`, EXIT.USAGE);
  if (sub === 'epsilon') await epsilonCommand(flags);
  else await calibrateCommand(flags);
}
