import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { filterAdmits, rdpBudgetCurve } from './filter.ts';
import { DEFAULT_ORDERS, RdpAccountant, epsilonFromRdp, rdpVector } from './rdp.ts';
import { computeEpsilon, tightestEpsilon } from './accountant.ts';
import type { GaussianEvent } from './events.ts';

const DELTA = 1e-5;
const TOL = 1e-9;

function add(a: ArrayLike<number>, b: ArrayLike<number>) {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}

/**
 * σ per round is drawn from a grid inside [0.5, 5]: the PLD accountant costs ~0.2 s per distinct (σ, q),
 * so continuous σ over 60 rounds would make one run take tens of seconds. Sampling rates and budgets
 * are continuous.
 */
const SIGMA_GRID = [0.5, 0.7, 1, 1.4, 2, 2.9, 3.8, 5];

const participantArb = fc.record({
  budget: fc.double({ min: 0.5, max: 10, noNaN: true }),
  sampleRate: fc.oneof(fc.double({ min: 1e-3, max: 1, noNaN: true }), fc.constant(1)),
  joinFraction: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
});

const scheduleArb = fc.record({
  participants: fc.array(participantArb, { minLength: 2, maxLength: 6 }),
  sigmas: fc.array(fc.constantFrom(...SIGMA_GRID), { minLength: 1, maxLength: 60 }),
  checkpoint: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
});

describe('Rényi filter (per-participant admission)', () => {
  it('the budget curve inverts the RDP→(ε, δ) conversion: spending exactly B(α) converts to the target ε', () => {
    for (const eps of [0.5, 1, 3, 10]) {
      const curve = rdpBudgetCurve(eps, DELTA);
      // Orders whose budget is negative (or −∞) can never hold any spending: mark them unreachable.
      const finite = DEFAULT_ORDERS.map((_, i) => (curve[i]! >= 0 ? curve[i]! : 1e9));
      expect(epsilonFromRdp(DEFAULT_ORDERS, finite, DELTA).epsilon).toBeCloseTo(eps, 9);
    }
  });

  it('a budget smaller than one round costs admits nothing, ever', () => {
    const event = { noiseMultiplier: 0.5, sampleRate: 1, count: 1 };
    const oneRound = computeEpsilon([event], DELTA, 'rdp').epsilon;
    const budget = 0.5;
    expect(oneRound).toBeGreaterThan(budget);
    const curve = rdpBudgetCurve(budget, DELTA);
    const next = rdpVector(event);
    const spent = new Float64Array(DEFAULT_ORDERS.length);
    let admitted = 0;
    for (let r = 0; r < 50; r++) if (filterAdmits(spent, next, curve)) admitted++;
    expect(admitted).toBe(0);
    // Also when the rate is small but the noise is tiny: ε of one round > budget means refusal.
    const harsh = { noiseMultiplier: 0.3, sampleRate: 0.2, count: 1 };
    expect(computeEpsilon([harsh], DELTA, 'rdp').epsilon).toBeGreaterThan(budget);
    expect(filterAdmits(spent, rdpVector(harsh), curve)).toBe(false);
  });

  it('is not trivially closed: with generous noise and budget it admits many rounds, then stops', () => {
    const event = { noiseMultiplier: 2, sampleRate: 0.1, count: 1 };
    const curve = rdpBudgetCurve(2, DELTA);
    const next = rdpVector(event);
    let spent = new Float64Array(DEFAULT_ORDERS.length);
    let admitted = 0;
    for (let r = 0; r < 5000 && filterAdmits(spent, next, curve); r++) {
      spent = add(spent, next);
      admitted++;
    }
    expect(admitted).toBeGreaterThan(50);
    expect(admitted).toBeLessThan(5000);
    const at = computeEpsilon([{ ...event, count: admitted }], DELTA, 'rdp').epsilon;
    const over = computeEpsilon([{ ...event, count: admitted + 1 }], DELTA, 'rdp').epsilon;
    expect(at).toBeLessThanOrEqual(2 + TOL);
    expect(over).toBeGreaterThan(2);
  });

  it('rejects mismatched lengths', () => {
    const curve = rdpBudgetCurve(1, DELTA);
    expect(() => filterAdmits(new Float64Array(2), new Float64Array(2), curve)).toThrow();
    expect(() => rdpBudgetCurve(0, DELTA)).toThrow();
    expect(() => rdpBudgetCurve(1, 0)).toThrow();
  });

  it('property: over random schedules no participant ever exceeds its budget, and refusals are exactly the rounds that would', () => {
    let admissions = 0;
    let refusals = 0;
    fc.assert(
      fc.property(scheduleArb, ({ participants, sigmas, checkpoint }) => {
        const rounds = sigmas.length;
        const checkAt = Math.floor(checkpoint * rounds);
        const state = participants.map((p) => ({
          ...p,
          join: Math.floor(p.joinFraction * rounds),
          curve: rdpBudgetCurve(p.budget, DELTA),
          spent: new Float64Array(DEFAULT_ORDERS.length),
          // An independent accountant (not the filter's running sum) for the per-round check.
          accountant: new RdpAccountant(),
          events: [] as GaussianEvent[],
        }));
        const fullCheck = (p: (typeof state)[number]) => {
          if (p.events.length === 0) return;
          const rdp = computeEpsilon(p.events, DELTA, 'rdp').epsilon;
          const tight = tightestEpsilon(p.events, DELTA);
          expect(rdp).toBeLessThanOrEqual(p.budget + TOL);
          expect(tight.epsilon).toBeLessThanOrEqual(p.budget + TOL);
          expect(tight.rdp).toBeLessThanOrEqual(p.budget + TOL);
          expect(tight.epsilon).toBeLessThanOrEqual(tight.rdp + TOL);
        };
        for (let r = 0; r < rounds; r++) {
          const sigma = sigmas[r]!;
          for (const p of state) {
            if (r < p.join) continue;
            const event: GaussianEvent = { noiseMultiplier: sigma, sampleRate: p.sampleRate, count: 1 };
            const next = rdpVector(event);
            const withNext = add(p.accountant.rdp, rdpVector(event));
            const epsWithNext = epsilonFromRdp(DEFAULT_ORDERS, withNext, DELTA).epsilon;
            if (filterAdmits(p.spent, next, p.curve)) {
              p.spent = add(p.spent, next);
              p.accountant.compose(event);
              p.events.push(event);
              admissions++;
              expect(epsWithNext).toBeLessThanOrEqual(p.budget + TOL);
            } else {
              refusals++;
              // The filter stops exactly when the next round would overspend: not earlier.
              expect(epsWithNext).toBeGreaterThan(p.budget - TOL);
            }
          }
          // After every round: every participant's ε over what it was admitted to fits its budget.
          for (const p of state) {
            expect(p.accountant.epsilon(DELTA).epsilon).toBeLessThanOrEqual(p.budget + TOL);
          }
          // ε only grows with more events, so the last round is the binding one; the full accountants
          // (RDP through computeEpsilon, and the tighter of RDP/PLD) run there and at one random round.
          if (r === checkAt || r === rounds - 1) state.forEach(fullCheck);
        }
      }),
      { numRuns: 12, seed: 20240611 },
    );
    expect(admissions).toBeGreaterThan(0);
    expect(refusals).toBeGreaterThan(0);
  }, 120_000);
});
