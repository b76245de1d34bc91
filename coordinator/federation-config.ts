import { z } from 'zod';
import { ConclaveError } from '../protocols/index.ts';

export const MODEL_ARCHITECTURES = ['mlp', 'cnn'] as const;
export const PROTECTIONS = ['none'] as const;

const trainingSchema = z.object({
  localEpochs: z.number().int().min(1).max(1000),
  batchSize: z.number().int().min(1).max(65536),
  learningRate: z.number().positive().max(100),
  optimizer: z.enum(['sgd', 'adam']),
}).strict();

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
}).strict().refine((c) => c.minSites <= c.sitesPerRound, { message: 'minSites (quorum) cannot exceed sitesPerRound', path: ['minSites'] });

export type FederationConfig = z.infer<typeof federationConfigSchema>;
export type TrainingConfig = FederationConfig['training'];
export type ModelArchitectureName = FederationConfig['model'];

export const DEFAULT_TRAINING: Record<ModelArchitectureName, TrainingConfig> = {
  mlp: { localEpochs: 2, batchSize: 32, learningRate: 0.001, optimizer: 'adam' },
  cnn: { localEpochs: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam' },
};

export function parseFederationConfig(raw: unknown): FederationConfig {
  const parsed = federationConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ');
    throw new ConclaveError('INVALID_ARGUMENT', `invalid federation config: ${issues}`);
  }
  return parsed.data;
}
