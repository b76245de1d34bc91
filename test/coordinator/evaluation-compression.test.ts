/**
 * Federated evaluation and update compression through the round pipeline: real Participants
 * (client-sdk) with injected trainers, an in-memory transport to the coordinator core, the none
 * protocol on both sides. Hand-computable deltas and metrics, so every aggregate is known exactly.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeTopK, participantServiceDefinition, quantize8, type StageStreamMsg, type UpdateBodyMsg } from '../../protocols/index.ts';
import { Participant } from '../../client-sdk/participant.ts';
import type { Dataset } from '../../client-sdk/data/dataset.ts';
import type { LocalTrainer } from '../../client-sdk/training/local-trainer.ts';
import { roundMessage } from '../../coordinator/services.ts';
import { describeRound } from '../../coordinator/cli/round-model-commands.ts';
import { runParticipants, TINY_LAYOUT, inMemoryCoordinator, inMemoryTransport, openRound, send, sendUpdate, tinyConfig, tinyFederation, type InMemoryCoordinator } from '../helpers/in-memory-coordinator.ts';

let c: InMemoryCoordinator;
afterEach(() => c?.close());

/** A site's held-out split, as far as the Participant looks at it (the trainer below never reads the arrays). */
const heldOut = (count: number): Dataset => ({ features: new Float32Array(0), labels: new Int32Array(0), count, featureShape: [3], numClasses: 2 });

/** Trains nothing: returns `delta` every round; scores any model at (loss, accuracy). */
function trainer(delta: number[], loss: number, accuracy: number): LocalTrainer & { evaluated: number[] } {
  const evaluated: number[] = [];
  return {
    evaluated,
    init: async () => ({ backend: 'fixed', reason: 'test trainer' }),
    async *train() {
      yield { kind: 'epoch', epoch: 0, loss: 0.5 };
      return { delta: Float32Array.from(delta), numExamples: 10, loss: 0.5, accuracy: 0.9, steps: 1 };
    },
    async evaluate(global) {
      evaluated.push(global.version);
      return { loss, accuracy };
    },
    dispose() {},
  };
}

async function runFederation(sites: Array<{ trainer: LocalTrainer; evalData?: Dataset }>, config = tinyConfig()) {
  const fed = await tinyFederation(c, sites.length, config);
  const events = await runParticipants(c, fed.sites.map((site, i) => new Participant({
    transport: inMemoryTransport(c, site), trainer: sites[i]!.trainer, pollWaitMs: 20, ...(sites[i]!.evalData ? { evalData: sites[i]!.evalData } : {}),
  })));
  return { fed, events };
}

const weights = (fed: { id: string }, version: number) => c.registry.readWeights(c.registry.get(fed.id, version));

describe('federated evaluation', () => {
  it('stores the example-weighted mean of the sites\' held-out metrics with the base version, every k-th version', async () => {
    c = await inMemoryCoordinator();
    const zeros = [0, 0, 0, 0, 0, 0, 0, 0];
    const t = [trainer(zeros, 0.4, 0.5), trainer(zeros, 1.0, 0.6), trainer(zeros, 0.2, 0.9)];
    const { fed, events } = await runFederation([
      { trainer: t[0]!, evalData: heldOut(10) }, { trainer: t[1]!, evalData: heldOut(20) }, { trainer: t[2]!, evalData: heldOut(30) },
    ], tinyConfig({ rounds: 3, minSites: 3, evaluation: { everyRounds: 2 } }));
    // Rounds train on v0, v1, v2: v0 and v2 are due (every 2nd version), v1 is not, v3 is never a base.
    expect(t[0]!.evaluated).toEqual([0, 2]);
    const metrics = (v: number) => c.registry.get(fed.id, v).metrics;
    // accuracy (10·0.5 + 20·0.6 + 30·0.9) / 60 = 44/60; loss (4 + 20 + 6) / 60 = 0.5
    expect(metrics(0)['federatedAccuracy']).toBeCloseTo(44 / 60, 12);
    expect(metrics(0)['federatedLoss']).toBeCloseTo(0.5, 12);
    expect(metrics(0)).toMatchObject({ federatedExamples: 60, federatedSites: 3 });
    expect(metrics(2)['federatedAccuracy']).toBeCloseTo(44 / 60, 12);
    expect(metrics(1)['federatedAccuracy']).toBeUndefined();
    expect(metrics(3)['federatedAccuracy']).toBeUndefined();
    // round watch / round list see it on the round that trained on the evaluated version.
    const rounds = c.rounds.listRounds(fed.id).map((r) => roundMessage(r, c.registry));
    expect(rounds.map((r) => r.federatedEvaluation?.modelVersion ?? null)).toEqual([0, null, 2]);
    expect(rounds[0]!.federatedEvaluation).toMatchObject({ examples: 60, sites: 3 });
    expect(describeRound(rounds[0]!)).toMatch(/; v0 federated acc 0\.7333 loss 0\.5000 \(60 held-out examples, 3 sites\)$/);
    expect(describeRound(rounds[1]!)).not.toMatch(/federated/);
    expect(events[0]!.filter((e) => e.type === 'evaluated')).toHaveLength(2);
  });

  it('a site without held-out data trains and reports no evaluation; the others\' mean is stored', async () => {
    c = await inMemoryCoordinator();
    const zeros = [0, 0, 0, 0, 0, 0, 0, 0];
    const { fed } = await runFederation([
      { trainer: trainer(zeros, 0.4, 0.5), evalData: heldOut(10) }, { trainer: trainer(zeros, 1.0, 0.7) }, { trainer: trainer(zeros, 0.2, 0.9), evalData: heldOut(30) },
    ], tinyConfig({ rounds: 1, minSites: 3, evaluation: { everyRounds: 1 } }));
    expect(c.registry.get(fed.id, 0).metrics).toMatchObject({ federatedExamples: 40, federatedSites: 2 });
    expect(c.registry.get(fed.id, 0).metrics['federatedAccuracy']).toBeCloseTo((5 + 27) / 40, 12);
  });

  it('refuses reports the round did not ask for, and out-of-range ones, before the update is read', async () => {
    c = await inMemoryCoordinator();
    const plain = await tinyFederation(c, 3, tinyConfig({ rounds: 1 }));
    await openRound(c, plain.sites);
    const roundId = c.rounds.activeRound(plain.id)!.id;
    const update = (extra: Partial<UpdateBodyMsg>) => send(c, plain.sites[0]!, {
      roundId, stage: 'submit', body: 'update', update: { numExamples: 1, trainLoss: 0, trainAccuracy: 0, unclipped: false, ...extra },
    }, { layout: TINY_LAYOUT, values: new Float32Array(8) });
    await expect(update({ evalExamples: 5, evalLoss: 0.1, evalAccuracy: 0.5 })).rejects.toThrow(/asked for no evaluation/);
    c.close();

    c = await inMemoryCoordinator();
    const evaluating = await tinyFederation(c, 3, tinyConfig({ rounds: 1, evaluation: { everyRounds: 1 } }));
    await openRound(c, evaluating.sites);
    const id = c.rounds.activeRound(evaluating.id)!.id;
    const bad = (extra: Partial<UpdateBodyMsg>) => send(c, evaluating.sites[0]!, {
      roundId: id, stage: 'submit', body: 'update', update: { numExamples: 1, trainLoss: 0, trainAccuracy: 0, unclipped: false, ...extra },
    }, { layout: TINY_LAYOUT, values: new Float32Array(8) });
    await expect(bad({ evalExamples: 5, evalLoss: 0.1, evalAccuracy: 1.5 })).rejects.toThrow(/evalAccuracy must be in \[0, 1\]/);
    await expect(bad({ evalExamples: 5, evalLoss: Number.NaN, evalAccuracy: 0.5 })).rejects.toThrow(/finite/);
    await expect(bad({ evalExamples: 5, evalLoss: -1, evalAccuracy: 0.5 })).rejects.toThrow(/evalLoss must be in/);
    await expect(bad({ evalExamples: 2.5, evalLoss: 0.1, evalAccuracy: 0.5 })).rejects.toThrow(/evalExamples must be an integer/);
    await expect(bad({ evalExamples: 0, evalLoss: 0.1, evalAccuracy: 0 })).rejects.toThrow(/over 0 examples/);
    // A refused message costs the site nothing: a good one is still accepted.
    await expect(bad({ evalExamples: 5, evalLoss: 0.1, evalAccuracy: 0.5 })).resolves.toMatchObject({ received: 1 });
  });
});

describe('update compression', () => {
  const deltas = [
    [1, -2, 0.5, 0, 0, 3, -0.25, 0.1],
    [0, 1, 0, -4, 0.5, 0, 0, 2],
    [0.2, 0.2, 0.2, 0.2, -1, -1, 1, 1],
  ];

  it('top-k: the coordinator averages exactly the coordinates each site sent; the rest waits at the site for the next round', async () => {
    c = await inMemoryCoordinator();
    const { fed } = await runFederation(deltas.map((d) => ({ trainer: trainer(d, 0, 0) })), tinyConfig({ rounds: 2, minSites: 3, compression: { kind: 'topk', ratio: 0.25 } }));
    // k = ceil(0.25 · 8) = 2 per site. Round 1 sends {5: 3, 1: -2}, {3: -4, 7: 2}, {4: -1, 5: -1} (ties: lower index).
    const v1 = [0, -2 / 3, 0, -4 / 3, -1 / 3, 2 / 3, 0, 2 / 3];
    weights(fed, 1).forEach((x, i) => expect(x).toBeCloseTo(v1[i]!, 6));
    // Round 2 sends the two largest of residual + delta. Site 0: v = [2, -2, 1, 0, 0, 3, -0.5, 0.2] → {5: 3, 0: 2} (|2| tie: lower index);
    // site 1: v = [0, 2, 0, -4, 1, 0, 0, 2] → {3: -4, 1: 2}; site 2: v = [0.4, 0.4, 0.4, 0.4, -1, -1, 2, 2] → {6: 2, 7: 2}.
    const step2 = [2 / 3, 2 / 3, 0, -4 / 3, 0, 1, 2 / 3, 2 / 3];
    weights(fed, 2).forEach((x, i) => expect(x).toBeCloseTo(v1[i]! + step2[i]!, 6));
  });

  it('q8: the committed model is the mean of the sites\' deltas within one quantization step', async () => {
    c = await inMemoryCoordinator();
    const { fed } = await runFederation(deltas.map((d) => ({ trainer: trainer(d, 0, 0) })), tinyConfig({ rounds: 1, minSites: 3, compression: { kind: 'q8' } }));
    const v1 = weights(fed, 1);
    // Per tensor, each site's error is below its scale max|x|/127; the mean's below the mean of those.
    const kernelStep = (3 + 4 + 1) / 127 / 3;
    const biasStep = (0.25 + 2 + 1) / 127 / 3;
    for (let i = 0; i < 8; i++) {
      const mean = (deltas[0]![i]! + deltas[1]![i]! + deltas[2]![i]!) / 3;
      expect(Math.abs(v1[i]! - mean)).toBeLessThanOrEqual((i < 6 ? kernelStep : biasStep) + 1e-6);
    }
  });

  it('refuses an encoding other than the round\'s, and malformed compressed updates, with a clear error', async () => {
    c = await inMemoryCoordinator();
    const topk = await tinyFederation(c, 3, tinyConfig({ rounds: 1, compression: { kind: 'topk', ratio: 0.25 } }));
    await openRound(c, topk.sites);
    const roundId = c.rounds.activeRound(topk.id)!.id;
    const site = topk.sites[0]!;
    const header = (encoding: string, q8Scales: number[] = []) => ({
      roundId, stage: 'submit', body: 'update' as const, update: { numExamples: 1, trainLoss: 0, trainAccuracy: 0, unclipped: false, encoding, q8Scales },
    });
    await expect(sendUpdate(c, site, roundId, new Float32Array(8))).rejects.toThrow(/encoded "topk", not plain float32/);
    const q8 = quantize8(new Float32Array(8).fill(1), TINY_LAYOUT);
    await expect(send(c, site, header('q8', q8.scales), { layout: TINY_LAYOUT.map((s) => ({ ...s, dtype: 'bytes' })), values: q8.bytes })).rejects.toThrow(/encoded "topk", not "q8"/);
    const v = Float32Array.from([5, 0, 0, 0, 0, 0, 0, 7]);
    const three = encodeTopK(v, Uint32Array.from([0, 3, 7]));
    await expect(send(c, site, header('topk'), three)).rejects.toThrow(/at most 2 coordinates/);
    const dup = encodeTopK(v, Uint32Array.from([7, 7]));
    await expect(send(c, site, header('topk'), dup)).rejects.toThrow(/not above the previous one/);
    const outOfRange = encodeTopK(v, Uint32Array.from([0, 7]));
    (outOfRange.values as Uint32Array)[1] = 8;
    await expect(send(c, site, header('topk'), outOfRange)).rejects.toThrow(/out of range/);
    const nan = encodeTopK(Float32Array.from([Number.NaN, 0, 0, 0, 0, 0, 0, 1]), Uint32Array.from([0, 7]));
    await expect(send(c, site, header('topk'), nan)).rejects.toThrow(/not finite/);
    // The well-formed one goes through.
    await expect(send(c, site, header('topk'), encodeTopK(v, Uint32Array.from([0, 7])))).resolves.toMatchObject({ received: 1 });
  });

  it('the encoding, q8 scales and evaluation survive protobuf (what gRPC carries)', () => {
    const method = participantServiceDefinition['SubmitStage']!;
    const update = { numExamples: 3, trainLoss: 0.5, trainAccuracy: 0.25, unclipped: false, evalExamples: 7, evalLoss: 0.125, evalAccuracy: 0.75, encoding: 'q8', q8Scales: [0.0625, 0] };
    const sent: StageStreamMsg = { part: 'header', header: { roundId: 'r', stage: 'submit', tensor: null, body: 'update', update } };
    const received = method.requestDeserialize(method.requestSerialize(sent)) as StageStreamMsg;
    expect(received.part === 'header' && received.header.body === 'update' && received.header.update).toEqual(update);
  });
});
