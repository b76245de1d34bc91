import { z } from 'zod';
import { RECOMMENDED_HYPERPARAMS } from '../client-sdk/training/defaults.ts';
import { analyticGaussianSigma } from '../crypto/dp/index.ts';
import { ConclaveError, type FederationConfigMsg, type PrivacyConfigMsg } from '../protocols/index.ts';

export const MODEL_ARCHITECTURES = ['mlp', 'cnn'] as const;
export const PROTECTIONS = ['none'] as const;
export const MIN_NOISE_MULTIPLIER = 1e-3;

const trainingSchema = z.object({
  localEpochs: z.number().int().min(1).max(1000),
  batchSize: z.number().int().min(1).max(65536),
  learningRate: z.number().positive().max(100),
  optimizer: z.enum(['sgd', 'adam']),
}).strict();

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
  sampleRate: z.number().gt(0).lte(1),
  adaptiveClip: z.object({
    targetQuantile: z.number().min(0).max(1),
    learningRate: z.number().positive().max(10),
    countNoiseStd: z.number().positive().max(1e6),
  }).strict().nullable(),
  budgetEpsilon: z.number().positive().max(1e6).nullable(),
  delta: z.number().gt(0).lt(1),
}).strict()
  .refine((p) => (p.mode === 'local') === (p.localEpsilon !== null), { message: 'localEpsilon is required with mode "local" and only there', path: ['localEpsilon'] })
  .refine((p) => p.mode === 'local' || p.noiseMultiplier !== null, { message: 'noiseMultiplier is required', path: ['noiseMultiplier'] })
  // Each site's "was I clipped" bit would reach the coordinator in the clear (until secure aggregation
  // carries it inside the masked sum), so adaptive clipping needs the trusted curator of central mode.
  .refine((p) => p.mode === 'central' || p.adaptiveClip === null, { message: 'adaptive clipping needs a trusted count; it runs only with mode "central"', path: ['adaptiveClip'] })
  // Local DP: a site's update may be replaced by any other in the clip ball, so the L2 sensitivity is 2C;
  // the analytic Gaussian mechanism (Balle & Wang 2018) gives the smallest std for (ε, δ) at that sensitivity.
  .transform((p) => ({ ...p, noiseMultiplier: p.mode === 'local' ? analyticGaussianSigma(p.localEpsilon!, p.delta, 1) : p.noiseMultiplier! }));

export type PrivacyConfig = z.output<typeof privacySchema>;

/**
 * A federation's configuration, validated once at the edge. Cross-field rules (quorum not above
 * the sample size) live in the schema so an invalid combination cannot be stored.
 */
export const federationConfigSchema = z.object({
  name: z.string().trim().min(1).max(128).regex(/^[\w.\- ]+$/, 'use letters, digits, spaces, ".", "_" or "-"'),
  model: z.enum(MODEL_ARCHITECTURES),
  rounds: z.number().int().min(1).max(100_000),
  sitesPerRound: z.number().int().min(1).max(100_000),
  minSites: z.number().int().min(1).max(100_000),
  roundDeadlineMs: z.number().int().min(100).max(7 * 24 * 3600 * 1000),
  training: trainingSchema,
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  protection: z.enum(PROTECTIONS),
  privacy: privacySchema.nullable(),
}).strict().refine((c) => c.minSites <= c.sitesPerRound, { message: 'minSites (quorum) cannot exceed sitesPerRound', path: ['minSites'] });

export type FederationConfig = z.output<typeof federationConfigSchema>;
/** What operators write: for local DP the noise multiplier is left out and derived. */
export type FederationConfigInput = z.input<typeof federationConfigSchema>;
export type TrainingConfig = FederationConfig['training'];
export type ModelArchitectureName = FederationConfig['model'];

/** Local training defaults per architecture: the measured recommendations of client-sdk/training/defaults.ts. */
export const DEFAULT_TRAINING: Record<ModelArchitectureName, TrainingConfig> = Object.fromEntries(
  MODEL_ARCHITECTURES.map((arch) => {
    const h = RECOMMENDED_HYPERPARAMS[arch];
    return [arch, { localEpochs: h.epochs, batchSize: h.batchSize, learningRate: h.learningRate, optimizer: h.optimizer }];
  }),
) as Record<ModelArchitectureName, TrainingConfig>;

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
  const model = msg.model as ModelArchitectureName;
  const training = msg.training && msg.training.localEpochs > 0
    ? msg.training
    : (MODEL_ARCHITECTURES as readonly string[]).includes(model) ? DEFAULT_TRAINING[model] : undefined;
  const p = msg.privacy;
  const privacy = p && p.mode ? {
    mode: p.mode, noiseMultiplier: p.mode === 'local' ? null : p.noiseMultiplier, localEpsilon: p.localEpsilon === 0 ? null : p.localEpsilon,
    clipNorm: p.clipNorm, sampleRate: p.sampleRate,
    adaptiveClip: p.adaptiveClip ? { targetQuantile: p.targetQuantile, learningRate: p.clipLearningRate, countNoiseStd: p.countNoiseStd } : null,
    budgetEpsilon: p.budgetEpsilon === 0 ? null : p.budgetEpsilon, delta: p.delta,
  } : null;
  return { ...msg, training, protection: msg.protection || 'none', privacy };
}

export function configMessage(config: FederationConfigInput): FederationConfigMsg {
  const p = config.privacy;
  const privacy: PrivacyConfigMsg | null = p ? {
    mode: p.mode, noiseMultiplier: p.noiseMultiplier ?? 0, localEpsilon: p.localEpsilon ?? 0, clipNorm: p.clipNorm, sampleRate: p.sampleRate, adaptiveClip: p.adaptiveClip !== null,
    targetQuantile: p.adaptiveClip?.targetQuantile ?? 0, clipLearningRate: p.adaptiveClip?.learningRate ?? 0, countNoiseStd: p.adaptiveClip?.countNoiseStd ?? 0,
    budgetEpsilon: p.budgetEpsilon ?? 0, delta: p.delta,
  } : null;
  return { ...config, privacy };
}

