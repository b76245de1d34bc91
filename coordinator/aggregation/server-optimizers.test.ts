import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkStep, sgd } from './server-optimizers.ts';

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
