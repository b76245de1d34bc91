/**
 * A strategy turns the round's base model and the updates that survive unprotection into the next
 * global model. It sees updates one at a time and must keep O(model size) state, never a list of
 * updates (STYLE: stream, don't buffer, anything that grows with model size × participants).
 */
export interface AggregationStrategy {
  readonly name: string;
  begin(base: Float32Array): RoundAccumulator;
}

export interface RoundAccumulator {
  /** Folds one site's delta (new local weights − base) with its weight (examples trained on). */
  add(delta: Float32Array, numExamples: number): void;
  readonly updates: number;
  readonly totalExamples: number;
  /** The next global model. */
  finalize(): Float32Array;
}
