import { z } from 'zod';
import { analyticGaussianSigma } from '../crypto/dp/index.ts';
import {
  ConclaveError, type AggregationConfigMsg, type UpdateCompressionMsg, type FederationConfigMsg, type PrivacyConfigMsg, type ProtectionConfigMsg, type ServerOptimizerConfigMsg,
} from '../protocols/index.ts';
import { aggregationConflict, type AggregatorCapability, type ProtectionOutput } from './aggregation/aggregator.ts';
import { dataSpecFromMessage, dataSpecMessage, dataSpecSchema } from './data-spec.ts';
import { secAggConfigSchema, secAggConfigIssues, secAggFromMessage, secAggMessage } from './protection/secagg-config.ts';

export const MODEL_ARCHITECTURES = ['mlp', 'cnn'] as const;
/** Protection protocols, each with its parameters in `protectionSchema`. */
export const PROTECTIONS = ['none', 'secagg', 'he'] as const;
export type ProtectionKind = (typeof PROTECTIONS)[number];
export const AGGREGATIONS = ['fedavg', 'median', 'trimmed-mean', 'krum'] as const;
export type AggregationKind = (typeof AGGREGATIONS)[number];
export const WEIGHTINGS = ['examples', 'uniform'] as const;
export const SERVER_OPTIMIZERS = ['sgd', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad'] as const;

/** What each protection protocol hands the aggregation stage: a protocol module declares this with its stages. */
export const PROTECTION_OUTPUT: Record<ProtectionKind, ProtectionOutput> = { none: 'individual-updates', secagg: 'sum', he: 'sum' };
/** Protection "he": CKKS ciphertext forms (BENCHMARKS.md, "CKKS", explains the default). */
export const HE_CIPHERTEXTS = ['seeded', 'full'] as const;
/** What each aggregation kind needs to see (aggregation/aggregator.ts). */
export const AGGREGATION_CAPABILITY: Record<AggregationKind, AggregatorCapability> = {
  fedavg: 'streaming-sum', median: 'individual', 'trimmed-mean': 'individual', krum: 'individual',
};
export const MIN_NOISE_MULTIPLIER = 1e-3;

const trainingSchema = z.object({
  localEpochs: z.number().int().min(1).max(1000),
  batchSize: z.number().int().min(1).max(65536),
  learningRate: z.number().positive().max(100),
  optimizer: z.enum(['sgd', 'adam']),
  /** FedProx's μ (Li et al. 2020): each site adds (μ/2)·‖w − w_global‖² to its local loss; 0 is FedAvg. */
  proxMu: z.number().min(0).max(100).default(0),
}).strict()
  // Plain SGD on the proximal term alone moves w − w_global by the factor (1 − lr·μ) a step: at lr·μ ≥ 2 it oscillates and grows.
  .refine((t) => t.optimizer !== 'sgd' || t.proxMu * t.learningRate < 2, {
    message: 'proxMu × learningRate must be below 2 with sgd: the proximal step (1 − lr·μ) would overshoot and diverge; lower proxMu or the learning rate', path: ['proxMu'],
  });

/** Federated evaluation (Flower's configure_evaluate): sites score every k-th model version on their held-out split. */
const evaluationSchema = z.object({ everyRounds: z.number().int().min(0).max(100_000) }).strict();

export const COMPRESSIONS = ['none', 'q8', 'topk'] as const;
/** How plain updates are encoded on the wire (protocols/update-codec.ts). */
const compressionSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }).strict(),
  z.object({ kind: z.literal('q8') }).strict(),
  z.object({ kind: z.literal('topk'), ratio: z.number().gt(0, 'must be in (0, 1]').max(1, 'must be in (0, 1]') }).strict(),
], { error: `compression.kind must be one of ${COMPRESSIONS.join(', ')}` });

/**
 * Client-level DP (DP-FedAvg, McMahan et al. 2018). Sites are Poisson-sampled with rate q so the
 * accountant's subsampling analysis applies; the budget is (ε, δ) per participant and federation.
 */
const privacySchema = z.object({
  mode: z.enum(['central', 'distributed', 'local']),
  /** Noise std ÷ sensitivity. For `local` it is derived from localEpsilon and never taken from input. */
  // Below 1e-3 no accountant gives a meaningful bound (ε grows like 1/σ²): refuse rather than sign nonsense.
  noiseMultiplier: z.number().min(MIN_NOISE_MULTIPLIER, `must be at least ${MIN_NOISE_MULTIPLIER}`).max(1e4).nullable(),
  /** Local DP: the (ε, δ) each site's released update satisfies per round, on its own. */
  localEpsilon: z.number().positive().max(1e3).nullable(),
  clipNorm: z.number().positive().max(1e6),
  // Below 1e-6 a round samples no site for weeks of ticks, each one an aborted round row (issue 13).
  sampleRate: z.number().min(1e-6, 'must be at least 1e-6: a smaller rate almost never samples a site, and every empty tick writes a round').lte(1),
  adaptiveClip: z.object({
    targetQuantile: z.number().min(0).max(1),
    learningRate: z.number().positive().max(10),
    countNoiseStd: z.number().positive().max(1e6),
  }).strict().nullable(),
  // One round of any useful mechanism costs more than ε = 0.01: a smaller budget could never start.
  budgetEpsilon: z.number().min(0.01, 'must be at least 0.01: no round fits in a smaller ε budget').max(1e6).nullable(),
  // δ is the probability the ε guarantee fails outright; above 1e-3 a mechanism that publishes one
  // site's data in full still meets it (and δ < 1/n is checked against the sites per round below).
  delta: z.number().gt(0).max(1e-3, 'must be at most 1e-3: a larger δ lets the mechanism leak a site\'s data outright with that probability'),
}).strict()
  .refine((p) => (p.mode === 'local') === (p.localEpsilon !== null), { message: 'localEpsilon is required with mode "local" and only there', path: ['localEpsilon'] })
  .refine((p) => p.mode === 'local' || p.noiseMultiplier !== null, { message: 'noiseMultiplier is required', path: ['noiseMultiplier'] })
  // Local: each site's "was I clipped" bit would reach the coordinator in the clear. Distributed: the
  // bit could travel inside the masked sum, but its count would be released unnoised and unaccounted
  // (the DDG event covers the update only). Adaptive clipping needs the trusted curator of central mode.
  .refine((p) => p.mode === 'central' || p.adaptiveClip === null, { message: 'adaptive clipping needs a trusted count; it runs only with mode "central"', path: ['adaptiveClip'] })
  // Local DP: a site's update may be replaced by any other in the clip ball, so the L2 sensitivity is 2C;
  // the analytic Gaussian mechanism (Balle & Wang 2018) gives the smallest std for (ε, δ) at that sensitivity.
  .transform((p) => ({ ...p, noiseMultiplier: p.mode === 'local' ? analyticGaussianSigma(p.localEpsilon!, p.delta, 1) : p.noiseMultiplier! }));

export type PrivacyConfig = z.output<typeof privacySchema>;

/** Distributed DP is the distributed discrete Gaussian inside secure aggregation's masked sum (coordinator/privacy/ddg-plan.ts). */
export const DISTRIBUTED_NEEDS_SECAGG = 'distributed DP needs secure aggregation: without it each site\'s noised update reaches the coordinator; use --dp local for that';

/**
 * How updates travel to the aggregate. Data dirs and clients from before protocols had parameters
 * wrote the kind as a bare string, and only ever "none": that form is still read.
 */
const protectionSchema = z.union([
  z.literal('none').transform(() => ({ kind: 'none' as const })),
  z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('none') }).strict(),
    secAggConfigSchema,
    // Homomorphic aggregation (coordinator/protection/he.ts): at least 2 decryptors so that one
    // lying decryptor is caught by the others' disagreement.
    z.object({
      kind: z.literal('he'),
      decryptors: z.number().int().min(2, 'protection "he" needs at least 2 decryptors: one lying decryptor is caught only by another').max(100).default(2),
      ciphertexts: z.enum(HE_CIPHERTEXTS).default('seeded'),
    }).strict(),
  ]),
], { error: `protection must be one of ${PROTECTIONS.map((p) => `{ kind: "${p}" }`).join(', ')}` });

/** The server optimizer the round's aggregate delta is applied with (aggregation/server-optimizers.ts). */
const serverOptimizerSchema = z.discriminatedUnion('kind', [
  // FedAvg is SGD at server learning rate 1 (next = base + delta).
  z.object({ kind: z.literal('sgd'), learningRate: z.number().positive().max(1e3).default(1) }).strict(),
  // Server momentum: η = 0.1 with β = 0.9 keeps the effective step η/(1 − β) at FedAvg's 1 (Hsu et al. 2019).
  z.object({ kind: z.literal('fedavgm'), learningRate: z.number().positive().max(1e3).default(0.1), momentum: z.number().min(0).lt(1).default(0.9) }).strict(),
  // Reddi et al. 2021's defaults: β₁ 0.9, β₂ 0.99, τ 1e-3; η 1e-2 is in the range their grids favour for Adam and Yogi.
  ...(['fedadam', 'fedyogi'] as const).map((kind) => z.object({
    kind: z.literal(kind), learningRate: z.number().positive().max(1e3).default(0.01),
    beta1: z.number().min(0).lt(1).default(0.9), beta2: z.number().min(0).lt(1).default(0.99), tau: z.number().positive().max(1e3).default(1e-3),
  }).strict()),
  z.object({
    kind: z.literal('fedadagrad'), learningRate: z.number().positive().max(1e3).default(0.01),
    beta1: z.number().min(0).lt(1).default(0.9), tau: z.number().positive().max(1e3).default(1e-3),
  }).strict(),
], { error: `serverOptimizer.kind must be one of ${SERVER_OPTIMIZERS.join(', ')}` });

/**
 * How a round's updates become the next model: an aggregator, then a server optimizer. The
 * weighting's default depends on privacy (examples without DP, uniform with it) and is resolved
 * by the federation schema below.
 */
const uniformOnly = z.literal('uniform', { error: 'robust aggregators weight every update alike: weighting can only be "uniform"' }).optional();
const aggregationSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('fedavg'),
    weighting: z.enum(WEIGHTINGS).optional(),
    serverOptimizer: serverOptimizerSchema.default({ kind: 'sgd', learningRate: 1 }),
  }).strict(),
  // Robust aggregators weight every update alike: a declared example count would let one site buy weight.
  // `weighting` is accepted only as "uniform", so a resolved (and stored) config parses again.
  z.object({ kind: z.literal('median'), weighting: uniformOnly, serverOptimizer: serverOptimizerSchema.default({ kind: 'sgd', learningRate: 1 }) }).strict(),
  z.object({
    kind: z.literal('trimmed-mean'), weighting: uniformOnly, trimRatio: z.number().min(0).lt(0.5).default(0.1),
    serverOptimizer: serverOptimizerSchema.default({ kind: 'sgd', learningRate: 1 }),
  }).strict(),
  z.object({
    kind: z.literal('krum'), weighting: uniformOnly,
    /** f, the Byzantine sites tolerated; a round needs n ≥ 2f + 3 updates. */
    byzantine: z.number().int().min(0).max(10_000).default(1),
    /** Multi-Krum's m: how many lowest-scoring updates are averaged (1: Krum). */
    select: z.number().int().min(1).max(100_000).default(1),
    serverOptimizer: serverOptimizerSchema.default({ kind: 'sgd', learningRate: 1 }),
  }).strict(),
], { error: `aggregation.kind must be one of ${AGGREGATIONS.join(', ')}` });

/**
 * A federation's configuration, validated once at the edge. Cross-field rules (quorum not above
 * the sample size) live in the schema so an invalid combination cannot be stored.
 */
export const federationConfigSchema = z.object({
  name: z.string().trim().min(1).max(128).regex(/^[\w.\- ]+$/, 'use letters, digits, spaces, ".", "_" or "-"'),
  /** Where version 0 came from: a zoo architecture, or "custom" for the operator's own LayersModel (its topology is stored with the federation). */
  model: z.enum([...MODEL_ARCHITECTURES, 'custom']),
  rounds: z.number().int().min(1).max(100_000),
  sitesPerRound: z.number().int().min(1).max(100_000),
  minSites: z.number().int().min(1).max(100_000),
  roundDeadlineMs: z.number().int().min(100).max(7 * 24 * 3600 * 1000),
  training: trainingSchema,
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  protection: protectionSchema,
  /** Absent in configs stored before aggregation was configurable: FedAvg with the defaults. */
  aggregation: aggregationSchema.optional(),
  privacy: privacySchema.nullable(),
  evaluation: evaluationSchema.default({ everyRounds: 0 }),
  compression: compressionSchema.default({ kind: 'none' }),
  /** What sites' examples must look like (data-spec.ts); absent: labels are the integers 0..K-1, features unscaled. */
  data: dataSpecSchema.optional(),
}).strict().refine((c) => c.minSites <= c.sitesPerRound, { message: 'minSites (quorum) cannot exceed sitesPerRound', path: ['minSites'] })
  // δ ≥ 1/n permits releasing one of n sites' data in the clear; n is at least the sites per round.
  .refine((c) => !c.privacy || c.privacy.delta < 1 / c.sitesPerRound, { message: 'delta must be below 1/sitesPerRound: with δ ≥ 1/n one of n sites\' data may be released outright', path: ['privacy', 'delta'] })
  // Under DP one site's weight must not exceed the sensitivity bound C; a declared example count would.
  .refine((c) => !(c.privacy && c.aggregation?.kind === 'fedavg' && c.aggregation.weighting === 'examples'), {
    message: 'weighting "examples" cannot run under differential privacy: one site\'s declared example count would break the sensitivity bound; use "uniform" (the default with DP)',
    path: ['aggregation', 'weighting'],
  })
  .superRefine((c, ctx) => {
    const kind = c.aggregation?.kind ?? 'fedavg';
    const problem = aggregationConflict(AGGREGATION_CAPABILITY[kind], { kind: c.protection.kind, output: PROTECTION_OUTPUT[c.protection.kind] }, c.privacy !== null);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['aggregation'] });
    if (c.protection.kind === 'he' && c.protection.decryptors > c.minSites) {
      ctx.addIssue({ code: 'custom', message: `protection "he" has ${c.protection.decryptors} decryptors, more than the ${c.minSites} sites a round may end with; lower protection.decryptors or raise minSites`, path: ['protection', 'decryptors'] });
    }
    if (c.privacy?.mode === 'distributed' && c.protection.kind !== 'secagg') {
      ctx.addIssue({ code: 'custom', message: DISTRIBUTED_NEEDS_SECAGG, path: ['privacy', 'mode'] });
    }
    if (c.protection.kind === 'secagg') {
      for (const issue of secAggConfigIssues(c.protection, c)) ctx.addIssue({ code: 'custom', message: issue.message, path: ['protection', ...issue.path] });
    }
    const a = c.aggregation;
    if (a?.kind === 'krum' && c.minSites < 2 * a.byzantine + 3) {
      ctx.addIssue({ code: 'custom', message: `Krum tolerating ${a.byzantine} Byzantine sites needs at least ${2 * a.byzantine + 3} updates a round; raise minSites (now ${c.minSites}) or lower aggregation.byzantine`, path: ['aggregation', 'byzantine'] });
    }
    if (a?.kind === 'krum' && a.select > c.minSites - a.byzantine) {
      ctx.addIssue({ code: 'custom', message: `Multi-Krum's select (${a.select}) must leave out the ${a.byzantine} Byzantine updates of the smallest round (minSites ${c.minSites})`, path: ['aggregation', 'select'] });
    }
    // Evaluation metrics are released data too, and no DP event accounts for them: not collected under DP.
    if (c.privacy && c.evaluation.everyRounds > 0) {
      ctx.addIssue({ code: 'custom', message: 'federated evaluation cannot run under differential privacy: the sites\' held-out loss and accuracy would be released unaccounted by the privacy ledger; set evaluation.everyRounds to 0', path: ['evaluation', 'everyRounds'] });
    }
    // Compression re-encodes one plain update; a protected domain (masks, ciphertexts) or a DP clip/noise bound needs the exact vector.
    if (c.compression.kind !== 'none' && (c.protection.kind !== 'none' || c.privacy)) {
      ctx.addIssue({
        code: 'custom', path: ['compression'],
        message: c.privacy
          ? 'update compression cannot run under differential privacy: the clip norm and noise are calibrated to the update the site sends, not to its quantized or sparsified encoding; drop the compression or the DP'
          : `update compression needs plain updates (protection "none"); protection "${c.protection.kind}" works on the exact vector`,
      });
    }
  })
  .transform((c) => ({ ...c, aggregation: resolveAggregation(c.aggregation, c.privacy !== null || c.protection.kind === 'secagg') }));

/**
 * Every resolved aggregation names its weighting; the robust ones weight every update alike, and
 * so does FedAvg under DP or secure aggregation (`uniform`: the flag says which of the two).
 */
function resolveAggregation(a: z.output<typeof aggregationSchema> | undefined, uniform: boolean) {
  if (a && a.kind !== 'fedavg') return { ...a, weighting: 'uniform' as const };
  const weighting: (typeof WEIGHTINGS)[number] = a?.weighting ?? (uniform ? 'uniform' : 'examples');
  return { kind: 'fedavg' as const, weighting, serverOptimizer: a?.serverOptimizer ?? { kind: 'sgd' as const, learningRate: 1 } };
}

export type FederationConfig = z.output<typeof federationConfigSchema>;
export type ProtectionConfig = FederationConfig['protection'];
export type AggregationConfig = FederationConfig['aggregation'];
export type ServerOptimizerConfig = AggregationConfig['serverOptimizer'];
/** What operators write: for local DP the noise multiplier is left out and derived. */
export type FederationConfigInput = z.input<typeof federationConfigSchema>;
/** Local training settings as written (proxMu may be left out: 0). */
export type TrainingConfig = FederationConfigInput['training'];
export type CompressionConfig = FederationConfig['compression'];
export type ModelArchitectureName = FederationConfig['model'];

export function parseFederationConfig(raw: unknown): FederationConfig {
  const parsed = federationConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ');
    throw new ConclaveError('INVALID_ARGUMENT', `invalid federation config: ${issues}`);
  }
  return parsed.data;
}

/** Wire message → the object the schema validates; proto3's zero values stand for "unset". */
export function configFromMessage(msg: FederationConfigMsg | null): unknown {
  if (!msg) throw new ConclaveError('INVALID_ARGUMENT', 'config is required');
  // The admin client fills in the local training defaults (it knows the model); the coordinator never guesses them.
  if (!msg.training || msg.training.localEpochs === 0) {
    throw new ConclaveError('INVALID_ARGUMENT', 'invalid federation config: training is required (localEpochs, batchSize, learningRate, optimizer); "conclave federation create" fills in the recommended values for the model');
  }
  const training = msg.training;
  const p = msg.privacy;
  const privacy = p && p.mode ? {
    mode: p.mode, noiseMultiplier: p.mode === 'local' ? null : p.noiseMultiplier, localEpsilon: p.localEpsilon === 0 ? null : p.localEpsilon,
    clipNorm: p.clipNorm, sampleRate: p.sampleRate,
    adaptiveClip: p.adaptiveClip ? { targetQuantile: p.targetQuantile, learningRate: p.clipLearningRate, countNoiseStd: p.countNoiseStd } : null,
    budgetEpsilon: p.budgetEpsilon === 0 ? null : p.budgetEpsilon, delta: p.delta,
  } : null;
  const { protectionConfig, aggregation, evalEveryRounds, compression, data, ...rest } = msg;
  return {
    ...rest, training, protection: protectionFromMessage(protectionConfig, msg.protection), aggregation: aggregationFromMessage(aggregation), privacy,
    evaluation: { everyRounds: evalEveryRounds }, compression: compressionFromMessage(compression), data: dataSpecFromMessage(data),
  };
}

/** Absent or "" is no compression; an unknown kind is passed on for the schema to refuse. */
function compressionFromMessage(msg: UpdateCompressionMsg | null | undefined): unknown {
  if (!msg || msg.kind === '' || msg.kind === 'none') return { kind: 'none' };
  return msg.kind === 'topk' ? { kind: 'topk', ratio: msg.topkRatio } : { kind: msg.kind };
}

/**
 * The typed message wins; an old client sends only the bare kind in `protection` (field 9). A
 * present message whose oneof this coordinator does not know decodes with no kind: that is
 * refused by the schema rather than silently replaced by a default.
 */
function protectionFromMessage(msg: ProtectionConfigMsg | null | undefined, legacy: string | undefined): unknown {
  if (!msg) return legacy || 'none';
  if (msg.kind === 'he') return { kind: 'he', decryptors: msg.he.decryptors || undefined, ciphertexts: msg.he.ciphertexts || undefined };
  if (msg.kind === 'secagg') return secAggFromMessage(msg.secagg);
  // Not the legacy kind: "secagg" there with parameters this coordinator cannot read would run with defaults.
  return msg.kind === undefined ? { kind: undefined } : { kind: msg.kind };
}

function aggregationFromMessage(msg: AggregationConfigMsg | null | undefined): unknown {
  if (!msg) return undefined;
  switch (msg.kind) {
    case 'fedavg': return { kind: 'fedavg', weighting: msg.fedavg.weighting || undefined, serverOptimizer: serverOptimizerFromMessage(msg.fedavg.serverOptimizer) };
    case 'median': return { kind: 'median', serverOptimizer: serverOptimizerFromMessage(msg.median.serverOptimizer) };
    case 'trimmedMean': return { kind: 'trimmed-mean', trimRatio: msg.trimmedMean.trimRatio, serverOptimizer: serverOptimizerFromMessage(msg.trimmedMean.serverOptimizer) };
    case 'krum': return { kind: 'krum', byzantine: msg.krum.byzantine, select: msg.krum.select, serverOptimizer: serverOptimizerFromMessage(msg.krum.serverOptimizer) };
    default: return { kind: msg.kind };
  }
}

/** The optimizers' hyper-parameters are proto3 `optional`: unset stays undefined, so the schema's default applies. */
function serverOptimizerFromMessage(msg: ServerOptimizerConfigMsg | null | undefined): unknown {
  if (!msg) return undefined;
  switch (msg.kind) {
    case 'sgd': return { kind: 'sgd', learningRate: msg.sgd.learningRate || undefined };
    case 'fedavgm': return { kind: 'fedavgm', learningRate: msg.fedavgm.learningRate, momentum: msg.fedavgm.momentum };
    case 'fedadam': return { kind: 'fedadam', ...adaptiveFromMessage(msg.fedadam) };
    case 'fedyogi': return { kind: 'fedyogi', ...adaptiveFromMessage(msg.fedyogi) };
    case 'fedadagrad': return { kind: 'fedadagrad', learningRate: msg.fedadagrad.learningRate, beta1: msg.fedadagrad.beta1, tau: msg.fedadagrad.tau };
    default: return { kind: msg.kind };
  }
}

function adaptiveFromMessage(o: { learningRate?: number; beta1?: number; beta2?: number; tau?: number }) {
  return { learningRate: o.learningRate, beta1: o.beta1, beta2: o.beta2, tau: o.tau };
}

export function configMessage(config: FederationConfigInput): FederationConfigMsg {
  const p = config.privacy;
  const privacy: PrivacyConfigMsg | null = p ? {
    mode: p.mode, noiseMultiplier: p.noiseMultiplier ?? 0, localEpsilon: p.localEpsilon ?? 0, clipNorm: p.clipNorm, sampleRate: p.sampleRate, adaptiveClip: p.adaptiveClip !== null,
    targetQuantile: p.adaptiveClip?.targetQuantile ?? 0, clipLearningRate: p.adaptiveClip?.learningRate ?? 0, countNoiseStd: p.adaptiveClip?.countNoiseStd ?? 0,
    budgetEpsilon: p.budgetEpsilon ?? 0, delta: p.delta,
  } : null;
  const protection = typeof config.protection === 'string' ? { kind: config.protection } : config.protection;
  const { evaluation, compression, ...rest } = config;
  // Field 9 still carries the kind, for clients that predate ProtectionConfig.
  return {
    ...rest, training: { ...config.training, proxMu: config.training.proxMu ?? 0 }, privacy, protection: protection.kind, protectionConfig: protectionMessage(protection), aggregation: aggregationMessage(config.aggregation),
    evalEveryRounds: evaluation?.everyRounds ?? 0, compression: compression ? { kind: compression.kind, topkRatio: compression.kind === 'topk' ? compression.ratio : 0 } : null,
    data: dataSpecMessage(config.data),
  };
}

function protectionMessage(protection: Exclude<FederationConfigInput['protection'], string>): ProtectionConfigMsg {
  switch (protection.kind) {
    case 'none': return { kind: 'none', none: {} };
    case 'he': return { kind: 'he', he: { decryptors: protection.decryptors ?? 0, ciphertexts: protection.ciphertexts ?? '' } };
    case 'secagg': return { kind: 'secagg', secagg: secAggMessage(protection) };
  }
}

function aggregationMessage(a: FederationConfigInput['aggregation']): AggregationConfigMsg | null {
  if (!a) return null;
  const serverOptimizer = serverOptimizerMessage(a.serverOptimizer);
  switch (a.kind) {
    case 'fedavg': return { kind: 'fedavg', fedavg: { weighting: a.weighting ?? '', serverOptimizer } };
    case 'median': return { kind: 'median', median: { serverOptimizer } };
    case 'trimmed-mean': return { kind: 'trimmedMean', trimmedMean: { trimRatio: a.trimRatio, serverOptimizer } };
    case 'krum': return { kind: 'krum', krum: { byzantine: a.byzantine, select: a.select, serverOptimizer } };
  }
}

function serverOptimizerMessage(o: z.input<typeof serverOptimizerSchema> | undefined): ServerOptimizerConfigMsg | null {
  if (!o) return null;
  switch (o.kind) {
    case 'sgd': return { kind: 'sgd', sgd: { learningRate: o.learningRate ?? 0 } };
    case 'fedavgm': return { kind: 'fedavgm', fedavgm: { learningRate: o.learningRate, momentum: o.momentum } };
    case 'fedadam': return { kind: 'fedadam', fedadam: { learningRate: o.learningRate, beta1: o.beta1, beta2: o.beta2, tau: o.tau } };
    case 'fedyogi': return { kind: 'fedyogi', fedyogi: { learningRate: o.learningRate, beta1: o.beta1, beta2: o.beta2, tau: o.tau } };
    case 'fedadagrad': return { kind: 'fedadagrad', fedadagrad: { learningRate: o.learningRate, beta1: o.beta1, tau: o.tau } };
  }
}

