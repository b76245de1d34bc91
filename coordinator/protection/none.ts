/**
 * Protection `none`: one stage, `submit`, in which each selected site sends its (clipped, maybe
 * noised) model delta in the clear. Each update is folded into the aggregation as it arrives, so
 * the coordinator holds O(model) state whatever the number of sites.
 */
import { ConclaveError, decodeUpdate, l2NormIfKnown, layoutElements, topKCount, updateExpectation, type UpdateCompressionMsg } from '../../protocols/index.ts';
import type { RoundAggregation } from '../aggregation/aggregator.ts';
import type { ProtectionProtocol, StageRoundContext } from './protocol.ts';
import { l2Norm } from '../../crypto/dp/index.ts';
import { DEFAULT_UPDATE_LIMITS, type UpdateLimits } from '../limits.ts';

/** A single site claiming more than this many examples is refusing to be averaged honestly. */
export const MAX_EXAMPLES_PER_UPDATE = 1_000_000_000;

interface NoneState {
  aggregation: RoundAggregation;
}

/**
 * The clear-text report every update carries, whatever protects the update itself: the example
 * count (0 = withheld, which only DP rounds accept: they weight sites uniformly) and training
 * metrics, each bounded so one site cannot store nonsense or outweigh the others by declaration.
 */
export function checkUpdateReport(report: { numExamples: number; trainLoss: number; trainAccuracy: number }, dp: boolean, limits: UpdateLimits = DEFAULT_UPDATE_LIMITS): void {
  const { numExamples, trainLoss, trainAccuracy } = report;
  if (!Number.isInteger(numExamples) || numExamples < (dp ? 0 : 1) || numExamples > MAX_EXAMPLES_PER_UPDATE) {
    throw new ConclaveError('INVALID_ARGUMENT', dp
      ? `numExamples must be an integer in [0, ${MAX_EXAMPLES_PER_UPDATE}] (0 = withheld)`
      : `numExamples must be an integer in [1, ${MAX_EXAMPLES_PER_UPDATE}]: FedAvg weights updates by it`);
  }
  if (!Number.isFinite(trainLoss) || !Number.isFinite(trainAccuracy)) throw new ConclaveError('NON_FINITE_VALUE', 'training metrics must be finite numbers');
  if (!(trainAccuracy >= 0 && trainAccuracy <= 1)) throw new ConclaveError('INVALID_ARGUMENT', 'trainAccuracy must be in [0, 1]');
  if (!(Math.abs(trainLoss) <= limits.maxTrainLoss)) throw new ConclaveError('INVALID_ARGUMENT', `|trainLoss| must be at most ${limits.maxTrainLoss}`);
}

/**
 * Outside DP each update is bounded here (DP rounds are bounded by their clip norm: the DP
 * aggregator re-clips central updates, and the round's aggregate check catches the rest).
 */
export function noneProtocol(limits: UpdateLimits = DEFAULT_UPDATE_LIMITS): ProtectionProtocol<NoneState> {
  return {
    name: 'none',
    plan: () => ({ protocol: 'none', stages: ['submit'], params: 'none', none: {} }),
    begin: (_ctx, aggregation) => ({ aggregation }),
    stages: [{
      name: 'submit',
      expect(_state, ctx, _siteId, header) {
        if (header.body !== 'update') throw new ConclaveError('INVALID_ARGUMENT', 'stage "submit" takes an update body');
        counted(ctx, () => checkUpdateReport(header.update, ctx.dp, limits));
        if (!header.tensor) throw new ConclaveError('MALFORMED_STREAM', 'an update needs its tensor');
        // accept() folds the update (an aggregation never keeps the caller's array): its memory is reusable.
        return { ...expectEncoding(header.update.encoding ?? '', ctx, header.tensor.layout), reusable: true };
      },
      accept(state, ctx, message) {
        if (message.header.body !== 'update' || !message.tensor || !message.header.tensor) throw new ConclaveError('INVALID_ARGUMENT', 'stage "submit" takes an update');
        const { encoding = '', q8Scales = [] } = message.header.update;
        let update = decodeUpdate(encoding, q8Scales, message.tensor, message.header.tensor.layout, ctx.layout);
        let weight = message.header.update.numExamples;
        if (!ctx.dp) {
          // A large dense update's norm was summed by the verifier thread as it arrived.
          const norm = l2NormIfKnown(update) ?? l2Norm(update);
          if (!(norm <= limits.updateNormBound)) {
            if (limits.overNorm === 'refuse' || !Number.isFinite(norm)) {
              if (ctx.bounds) ctx.bounds.refused++;
              throw new ConclaveError('UPDATE_REFUSED', `update norm ${norm.toExponential(3)} exceeds the coordinator's update norm bound ${limits.updateNormBound}`);
            }
            // Scaled in float64 then rounded: the result is within the bound up to float32 rounding.
            const scale = (limits.updateNormBound / norm) * (1 - 1e-6);
            update = Float32Array.from(update, (x) => x * scale);
            if (ctx.bounds) ctx.bounds.clipped++;
          }
          // A site weighs at most what it declared at enrolment, and never more than the coordinator's cap.
          const cap = Math.min(limits.maxExamplesPerUpdate, ctx.weightCaps?.get(message.siteId) ?? Infinity);
          if (weight > cap) {
            weight = cap;
            if (ctx.bounds) ctx.bounds.capped++;
          }
        }
        state.aggregation.add(update, weight, { unclipped: message.header.update.unclipped });
      },
      finish(_state, ctx, answered) {
        if (answered.length < ctx.minSurvivors) {
          return { abort: `quorum not reached: ${answered.length} of ${ctx.minSurvivors} required updates by the deadline` };
        }
        return { survivors: [...answered] };
      },
    }],
    unprotect() {
      // Every update was folded on arrival.
    },
  };
}

export const noProtection = noneProtocol();

/** What the round plan tells a site about encoding its update; null: plain float32. */
export function compressionPlan(compression: StageRoundContext['compression']): UpdateCompressionMsg | null {
  if (!compression || compression.kind === 'none') return null;
  return { kind: compression.kind, topkRatio: compression.kind === 'topk' ? compression.ratio : 0 };
}

/** The round's compression decides the one encoding its updates may use; a top-k update carries at most its share of coordinates. */
function expectEncoding(encoding: string, ctx: StageRoundContext, layout: ReadonlyArray<{ shape: number[] }>) {
  const compression = ctx.compression ?? { kind: 'none' };
  const wanted = compression.kind === 'none' ? '' : compression.kind;
  if (encoding !== wanted) {
    throw new ConclaveError('INVALID_ARGUMENT', `this round's updates are encoded ${wanted ? `"${wanted}"` : 'as plain float32'}, not ${encoding ? `"${encoding.slice(0, 32)}"` : 'plain float32'}`);
  }
  const expectation = updateExpectation(encoding, ctx.layout);
  if (compression.kind === 'topk') {
    const allowed = topKCount(layoutElements(ctx.layout), compression.ratio);
    const k = layout[0]?.shape[0] ?? 0;
    if (layout.length !== 2 || k > allowed) throw new ConclaveError('LAYOUT_MISMATCH', `a top-k update of this round carries at most ${allowed} coordinates`);
    expectation.maxElements = 2 * allowed;
  }
  return expectation;
}

/** Runs a bound check, counting a refusal in the round's report before it propagates. */
function counted(ctx: StageRoundContext, check: () => void): void {
  try {
    check();
  } catch (err) {
    if (ctx.bounds) ctx.bounds.refused++;
    throw err;
  }
}
