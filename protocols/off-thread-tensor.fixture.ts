/**
 * Test fixture (excluded from the build): a float tensor just over the size that is verified on
 * a thread (OFF_THREAD_MIN_BYTES), with a partial last chunk.
 */
import { OFF_THREAD_MIN_BYTES, type TensorSpec } from './tensor-codec.ts';

export const ELEMENTS = OFF_THREAD_MIN_BYTES / 4 + 12_345;
export const layout: TensorSpec[] = [{ name: 'w', shape: [ELEMENTS], dtype: 'float32' }];

export function tensor(): Float32Array {
  const values = new Float32Array(ELEMENTS);
  for (let i = 0; i < values.length; i++) values[i] = Math.sin(i) * 1e-3;
  return values;
}
