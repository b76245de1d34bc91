import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { adaptive, checkStep, fedAvgM, sgd, type OptimizerState, type ServerOptimizer } from './server-optimizers.ts';

const SIZE = 6;
const vector = fc.array(fc.float({ min: -100, max: 100, noNaN: true, noDefaultInfinity: true }), { minLength: SIZE, maxLength: SIZE }).map((a) => Float32Array.from(a));

describe('SGD server optimizer', () => {
  it('next = base + η·delta, keeps no state and leaves its inputs alone', () => {
    fc.assert(fc.property(vector, vector, fc.double({ min: 0.01, max: 10, noNaN: true }), (base, delta, learningRate) => {
      const baseCopy = base.slice();
      const deltaCopy = delta.slice();
      const { next, state } = sgd({ learningRate }).apply(base, delta, null);
      expect(state).toBeNull();
      expect(next).not.toBe(base);
      for (let i = 0; i < SIZE; i++) expect(next[i]).toBe(Math.fround(base[i]! + learningRate * delta[i]!));
      expect(base).toEqual(baseCopy);
      expect(delta).toEqual(deltaCopy);
    }));
  });

  it('at learning rate 1 it is FedAvg: base + delta', () => {
    const { next } = sgd({ learningRate: 1 }).apply(Float32Array.from([1, 2]), Float32Array.from([0.5, -2]), null);
    expect(Array.from(next)).toEqual([1.5, 0]);
  });

  it('refuses a bad learning rate, a delta of the wrong size and a state another optimizer wrote', () => {
    expect(() => sgd({ learningRate: 0 })).toThrow(/learning rate/);
    expect(() => sgd({ learningRate: Number.POSITIVE_INFINITY })).toThrow(/learning rate/);
    const step = sgd({ learningRate: 1 });
    expect(() => step.apply(new Float32Array(2), new Float32Array(3), null)).toThrow(/3 values, model has 2/);
    expect(() => step.apply(new Float32Array(2), new Float32Array(2), { optimizer: 'adam', scalars: {}, vectors: {} })).toThrow(/written by "adam"/);
  });

  it('checkStep refuses state vectors that are not model-sized', () => {
    expect(() => checkStep('m', new Float32Array(2), new Float32Array(2), { optimizer: 'm', scalars: {}, vectors: { v: new Float32Array(3) } })).toThrow(/"v" has 3/);
    expect(() => checkStep('m', new Float32Array(2), new Float32Array(2), { optimizer: 'm', scalars: { step: 1 }, vectors: { v: new Float32Array(2) } })).not.toThrow();
  });
});

function expectNear(actual: ArrayLike<number>, expected: number[], tolerance = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(Math.abs(actual[i]! - e)).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(e))));
}

/** Two steps from base [1, −2] with deltas [2, −0.4] then [0.1, 0.3]; expected values worked out by hand from Reddi et al.'s Algorithm 2. */
function twoSteps(optimizer: ServerOptimizer) {
  const first = optimizer.apply(Float32Array.from([1, -2]), Float32Array.from([2, -0.4]), null);
  const second = optimizer.apply(first.next, Float32Array.from([0.1, 0.3]), first.state);
  return { first, second };
}

describe('FedAvgM', () => {
  it('v ← βv + Δ, next = base + ηv: hand-computed over two rounds', () => {
    const { first, second } = twoSteps(fedAvgM({ learningRate: 0.5, momentum: 0.9 }));
    expectNear(first.next, [2, -2.2]);
    expectNear(first.state!.vectors['velocity']!, [2, -0.4]);
    expectNear(second.next, [2.95, -2.23]);
    expectNear(second.state!.vectors['velocity']!, [1.9, -0.06]);
    expect(second.state!.scalars).toEqual({ step: 2 });
  });

  it('with momentum 0 it is SGD', () => {
    fc.assert(fc.property(vector, vector, (base, delta) => {
      expect(fedAvgM({ learningRate: 0.3, momentum: 0 }).apply(base, delta, null).next).toEqual(sgd({ learningRate: 0.3 }).apply(base, delta, null).next);
    }));
  });
});

describe('FedAdam, FedYogi, FedAdagrad', () => {
  const options = { learningRate: 0.1, beta1: 0.9, beta2: 0.99, tau: 0.01 };
  const cases: Array<[ 'fedadam' | 'fedyogi' | 'fedadagrad', number[], number[], number[]]> = [
    // [kind, next after round 1, next after round 2, v after round 2]
    ['fedadam', [1.0951260516755887, -2.0780961293084426], [1.1858206061843024, -2.087962362513666], [0.03979801, 0.00258201]],
    // Round 2, coordinate 0 has v > Δ², so Yogi's v shrinks there (0.0401 → 0.04), and grows at coordinate 1.
    ['fedyogi', [1.0951249219725039, -2.0780776406404415], [1.1856011124486943, -2.087915287473064], [0.04, 0.0026]],
    ['fedadagrad', [1.0099501249992187, -2.0097531245118714], [1.019391008977761, -2.0109293644878763], [4.0101, 0.2501]],
  ];
  it.each(cases)('%s matches the hand-computed steps, with its state', (kind, next1, next2, v2) => {
    const { first, second } = twoSteps(adaptive(kind, options));
    expectNear(first.next, next1);
    expectNear(second.next, next2);
    expectNear(second.state!.vectors['m']!, [0.19, -0.006]);
    expectNear(second.state!.vectors['v']!, v2);
    expect(second.state).toMatchObject({ optimizer: kind, scalars: { step: 2 } });
  });

  it('are pure, and each step moves every coordinate by less than η in the delta\'s direction on the first round', () => {
    fc.assert(fc.property(vector, vector, fc.constantFrom('fedadam' as const, 'fedyogi' as const, 'fedadagrad' as const), (base, delta, kind) => {
      const baseCopy = base.slice();
      const deltaCopy = delta.slice();
      const { next } = adaptive(kind, options).apply(base, delta, null);
      expect(base).toEqual(baseCopy);
      expect(delta).toEqual(deltaCopy);
      for (let i = 0; i < SIZE; i++) {
        const step = next[i]! - base[i]!;
        // |m| = 0.1|Δ| ≤ √v, so |step| ≤ η, up to float32 rounding of the result.
        expect(Math.abs(step)).toBeLessThanOrEqual(options.learningRate + 1e-5 * Math.max(1, Math.abs(base[i]!)));
        if (Math.abs(step) > 1e-5 * Math.max(1, Math.abs(base[i]!))) expect(Math.sign(step)).toBe(Math.sign(delta[i]!));
      }
    }));
  });

  it('refuse bad hyper-parameters and a state another optimizer (or a broken one) wrote', () => {
    expect(() => adaptive('fedadam', { ...options, beta1: 1 })).toThrow(/beta1/);
    expect(() => adaptive('fedyogi', { ...options, beta2: -0.1 })).toThrow(/beta2/);
    expect(() => adaptive('fedadam', { ...options, tau: 0 })).toThrow(/tau/);
    expect(() => fedAvgM({ learningRate: 1, momentum: 1 })).toThrow(/momentum/);
    const adamState = adaptive('fedadam', options).apply(new Float32Array(2), Float32Array.from([1, 1]), null).state;
    expect(() => adaptive('fedyogi', options).apply(new Float32Array(2), new Float32Array(2), adamState)).toThrow(/written by "fedadam"/);
    const broken: OptimizerState = { optimizer: 'fedadam', scalars: { step: 1 }, vectors: { m: new Float32Array(2) } };
    expect(() => adaptive('fedadam', options).apply(new Float32Array(2), new Float32Array(2), broken)).toThrow(/no "v"/);
  });
});
