import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { calibrateNoiseMultiplier, computeEpsilon, tightestEpsilon } from './accountant.ts';
import { DpError } from './errors.ts';
import { RdpAccountant } from './rdp.ts';

describe('computeEpsilon / tightestEpsilon', () => {
  it('returns the accountant name and, for RDP, the order', () => {
    const ev = [{ noiseMultiplier: 1.5, sampleRate: 0.04, count: 2250 }];
    const r = computeEpsilon(ev, 1e-5, 'rdp');
    expect(r.accountant).toBe('rdp');
    expect(r.order).toBeGreaterThan(1);
    const p = computeEpsilon(ev, 1e-5, 'pld');
    expect(p.accountant).toBe('pld');
    const t = tightestEpsilon(ev, 1e-5);
    expect(t.accountant).toBe('pld');
    expect(t.epsilon).toBe(Math.min(t.rdp, t.pld!));
    expect(t.rdp).toBe(r.epsilon);
  });

  it('falls back to RDP alone for sampling without replacement', () => {
    const t = tightestEpsilon([{ noiseMultiplier: 1, sampleRate: 0.01, count: 100, sampling: 'without-replacement' }], 1e-5);
    expect(t.pld).toBeNull();
    expect(t.accountant).toBe('rdp');
  });

  it('validates inputs with typed errors', () => {
    expect(() => computeEpsilon([], 1e-5, 'rdp')).toThrow(DpError);
    expect(() => computeEpsilon([{ noiseMultiplier: 1, sampleRate: 0.1, count: 1 }], 0, 'rdp')).toThrow(/delta/);
    expect(() => computeEpsilon([{ noiseMultiplier: 1, sampleRate: 0.1, count: 1 }], 1e-5, 'x' as 'rdp')).toThrow(DpError);
  });
});

describe('calibrateNoiseMultiplier', () => {
  it('Opacus accountants_test: ε=8, δ=1e-5, q=0.04, 90 epochs → Opacus returns 1.425307617', () => {
    // Opacus' bisection stops within an ε tolerance and (in the version that published this value) used
    // a looser RDP→DP conversion, so its σ is slightly larger; ours must be no larger and within 1%.
    const sigma = calibrateNoiseMultiplier({ targetEpsilon: 8, delta: 1e-5, sampleRate: 0.04, rounds: 2250, accountant: 'rdp' });
    expect(sigma).toBeLessThanOrEqual(1.425307617);
    expect((1.425307617 - sigma) / 1.425307617).toBeLessThan(0.01);
    const acc = new RdpAccountant();
    acc.compose({ noiseMultiplier: sigma, sampleRate: 0.04, count: 2250 });
    expect(acc.epsilon(1e-5).epsilon).toBeLessThanOrEqual(8);
  });

  it('calibrate(ε(σ)) ≈ σ and the returned σ meets the target (RDP)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.7, max: 5, noNaN: true }),
        fc.double({ min: 0.001, max: 0.2, noNaN: true }),
        fc.integer({ min: 1, max: 1000 }),
        (sigma, q, rounds) => {
          const target = computeEpsilon([{ noiseMultiplier: sigma, sampleRate: q, count: rounds }], 1e-5, 'rdp').epsilon;
          const got = calibrateNoiseMultiplier({ targetEpsilon: target, delta: 1e-5, sampleRate: q, rounds, accountant: 'rdp' });
          expect(Math.abs(got - sigma) / sigma).toBeLessThan(2e-4);
          expect(computeEpsilon([{ noiseMultiplier: got, sampleRate: q, count: rounds }], 1e-5, 'rdp').epsilon).toBeLessThanOrEqual(target);
        },
      ),
      { numRuns: 8 },
    );
  });

  it('calibrate(ε(σ)) ≈ σ with PLD', () => {
    const sigma = 1.3;
    const target = computeEpsilon([{ noiseMultiplier: sigma, sampleRate: 0.02, count: 500 }], 1e-5, 'pld').epsilon;
    const got = calibrateNoiseMultiplier({ targetEpsilon: target, delta: 1e-5, sampleRate: 0.02, rounds: 500, accountant: 'pld' });
    expect(Math.abs(got - sigma) / sigma).toBeLessThan(1e-3);
  });

  it('reports an unreachable target clearly', () => {
    try {
      calibrateNoiseMultiplier({ targetEpsilon: 1e-6, delta: 1e-5, sampleRate: 1, rounds: 1000, accountant: 'rdp' });
      expect.unreachable();
    } catch (err) {
      expect((err as DpError).code).toBe('DP_UNREACHABLE');
      expect((err as Error).message).toMatch(/not reachable/);
    }
  });
});
