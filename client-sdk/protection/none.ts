import { ConclaveError } from '../../protocols/index.ts';
import type { SiteProtocol } from './protocol.ts';

/**
 * Protection `none`: the privatized delta goes out as the `submit` stage's update, encoded as the
 * plan's compression asks, with the site's evaluation of the base model when there is one.
 */
export const noProtection: SiteProtocol = {
  name: 'none',
  first(ctx, c) {
    if (!ctx.compressor && ctx.plan.compression?.kind && ctx.plan.compression.kind !== 'none') {
      throw new ConclaveError('INVALID_ARGUMENT', 'the round asks for a compressed update, and this site has no compressor');
    }
    const encoded = ctx.compressor
      ? ctx.compressor.encode(c.delta, ctx.layout, ctx.plan.compression)
      : { encoding: '', layout: ctx.layout, values: c.delta, q8Scales: [] };
    const e = c.evaluation;
    return {
      roundId: ctx.plan.roundId, stage: 'submit', body: 'update',
      update: {
        numExamples: c.numExamples, trainLoss: c.trainLoss, trainAccuracy: c.trainAccuracy, unclipped: c.unclipped,
        evalExamples: e?.examples ?? 0, evalLoss: e?.loss ?? 0, evalAccuracy: e?.accuracy ?? 0, encoding: encoded.encoding, q8Scales: encoded.q8Scales,
      },
      tensor: { layout: encoded.layout, values: encoded.values },
    };
  },
  stage(_ctx, task) {
    throw new ConclaveError('INVALID_ARGUMENT', `protection "none" has no stage "${task.stage.slice(0, 64)}"`);
  },
};
