import { ConclaveError } from '../../protocols/index.ts';
import type { SiteProtocol } from './protocol.ts';

/** Protection `none`: the privatized delta goes out as the `submit` stage's update. */
export const noProtection: SiteProtocol = {
  name: 'none',
  first(ctx, c) {
    return {
      roundId: ctx.plan.roundId, stage: 'submit', body: 'update',
      update: { numExamples: c.numExamples, trainLoss: c.trainLoss, trainAccuracy: c.trainAccuracy, unclipped: c.unclipped },
      tensor: { layout: ctx.layout, values: c.delta },
    };
  },
  stage(_ctx, task) {
    throw new ConclaveError('INVALID_ARGUMENT', `protection "none" has no stage "${task.stage.slice(0, 64)}"`);
  },
};
