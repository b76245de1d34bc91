/**
 * What every site's examples must look like, stated once in the federation's config so that no
 * site guesses: the class names in class-index order (a site missing a class would otherwise
 * number the others differently) and one feature scaling all sites apply (per-site min/max or
 * mean/std would feed each site's model differently scaled features). Sites receive it with every
 * round plan (RoundPlan.data) and check their data against it and the model before training.
 */
import { z } from 'zod';
import type { DataSpecMsg } from '../protocols/index.ts';

export const FEATURE_SCALINGS = ['none', 'minmax', 'standard'] as const;
/** A million features is far beyond any tabular model and keeps a config small enough to store and send. */
const MAX_FEATURES = 1_000_000;
const values = z.array(z.number().finite()).min(1).max(MAX_FEATURES);

const scalingSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }).strict(),
  z.object({ kind: z.literal('minmax'), min: values, max: values }).strict()
    .refine((s) => s.min.length === s.max.length, { message: 'min and max must list one value per feature each', path: ['max'] })
    .refine((s) => s.min.every((m, i) => s.max[i]! > m), { message: 'every max must be above its min', path: ['max'] }),
  z.object({ kind: z.literal('standard'), mean: values, std: values }).strict()
    .refine((s) => s.mean.length === s.std.length, { message: 'mean and std must list one value per feature each', path: ['std'] })
    .refine((s) => s.std.every((v) => v > 0), { message: 'every std must be positive', path: ['std'] }),
], { error: `scaling.kind must be one of ${FEATURE_SCALINGS.join(', ')}` });

export const dataSpecSchema = z.object({
  classes: z.array(z.string().trim().min(1).max(128)).max(10_000).default([])
    .refine((c) => new Set(c).size === c.length, { message: 'class names must be distinct' })
    .refine((c) => c.length !== 1, { message: 'a classifier needs at least two classes' }),
  scaling: scalingSchema.default({ kind: 'none' }),
  /** Tabular sites pick these columns by name, in this order, so a file's column order cannot silently permute the features. */
  features: z.array(z.string().trim().min(1).max(128)).max(MAX_FEATURES).default([])
    .refine((f) => new Set(f).size === f.length, { message: 'feature column names must be distinct' }),
}).strict()
  .refine((s) => s.features.length === 0 || scalingFeatures(s.scaling) === null || scalingFeatures(s.scaling) === s.features.length, {
    message: 'the scaling must list one value per named feature column', path: ['scaling'],
  });

export type DataSpec = z.output<typeof dataSpecSchema>;
export type FeatureScaling = DataSpec['scaling'];

/** Number of features a scaling is stated for; null for "none" (fits any model). */
export function scalingFeatures(scaling: z.output<typeof scalingSchema>): number | null {
  switch (scaling.kind) {
    case 'none': return null;
    case 'minmax': return scaling.min.length;
    case 'standard': return scaling.mean.length;
  }
}

/** Wire message → what the schema validates; an absent scaling or an empty kind is "none". */
export function dataSpecFromMessage(msg: DataSpecMsg | null | undefined): unknown {
  if (!msg) return undefined;
  const s = msg.scaling;
  const scaling = !s || s.kind === '' || s.kind === 'none' ? { kind: 'none' }
    : s.kind === 'minmax' ? { kind: 'minmax', min: s.min, max: s.max }
    : s.kind === 'standard' ? { kind: 'standard', mean: s.mean, std: s.std }
    : { kind: s.kind };
  return { classes: msg.classes, scaling, features: msg.features };
}

export function dataSpecMessage(spec: z.input<typeof dataSpecSchema> | undefined): DataSpecMsg | null {
  if (!spec) return null;
  const s = spec.scaling ?? { kind: 'none' as const };
  return {
    classes: spec.classes ?? [],
    features: spec.features ?? [],
    scaling: {
      kind: s.kind, min: s.kind === 'minmax' ? s.min : [], max: s.kind === 'minmax' ? s.max : [],
      mean: s.kind === 'standard' ? s.mean : [], std: s.kind === 'standard' ? s.std : [],
    },
  };
}
