/**
 * Rényi privacy filter: lets a participant keep joining rounds while its budget allows, and stop
 * exactly when the next round would overspend, without the adaptivity itself costing privacy.
 *
 * Feldman & Zrnic, "Individual Privacy Accounting via a Rényi Filter" (NeurIPS 2021), Thm 3.1:
 * for a fixed order α, composing adaptively chosen mechanisms while Σ ρᵢ(α) ≤ B(α) is (α, B(α))-RDP.
 * Over a set of orders, halting only once every order would exceed its budget keeps the guarantee
 * of the best order (Lécuyer, "Practical Privacy Filters and Odometers with Rényi DP", 2021, §3).
 * The per-order budgets are fixed in advance from the target (ε, δ) by inverting the conversion the
 * accountant uses (Balle et al. 2020, Thm 21): B(α) = ε − log((α−1)/α) + (log δ + log α)/(α−1).
 */
import { assertDelta, invalidParameter } from './errors.ts';
import { DEFAULT_ORDERS } from './rdp.ts';

export function rdpBudgetCurve(targetEpsilon: number, delta: number, orders: ArrayLike<number> = DEFAULT_ORDERS): Float64Array {
  if (!(targetEpsilon > 0) || !Number.isFinite(targetEpsilon)) throw invalidParameter(`budget epsilon must be a positive number, got ${String(targetEpsilon)}`);
  assertDelta(delta);
  const budget = new Float64Array(orders.length);
  const logDelta = Math.log(delta);
  for (let i = 0; i < orders.length; i++) {
    const a = orders[i]!;
    // Orders this close to 1 give no usable conversion (the accountant skips them as well).
    budget[i] = a > 1.01 ? targetEpsilon - Math.log1p(-1 / a) + (logDelta + Math.log(a)) / (a - 1) : -Infinity;
  }
  return budget;
}

/** True when at least one order still has room for `next` on top of what was spent. */
export function filterAdmits(spent: ArrayLike<number>, next: ArrayLike<number>, budget: ArrayLike<number>): boolean {
  if (spent.length !== next.length || next.length !== budget.length) throw invalidParameter('spent, next and budget must cover the same orders');
  for (let i = 0; i < budget.length; i++) {
    if (spent[i]! + next[i]! <= budget[i]!) return true;
  }
  return false;
}
