import { describe, expect, it } from 'vitest';
import { OFF_THREAD_MIN_BYTES, TensorAssembler, chunksOf, l2NormIfKnown, makeHeader, type TensorSpec } from '../../protocols/index.ts';
import { l2Norm } from '../../crypto/dp/clip.ts';

/** Just over the off-thread threshold, with a partial last chunk. */
const ELEMENTS = OFF_THREAD_MIN_BYTES / 4 + 12_345;
const layout: TensorSpec[] = [{ name: 'w', shape: [ELEMENTS], dtype: 'float32' }];

function tensor(): Float32Array {
  const values = new Float32Array(ELEMENTS);
  for (let i = 0; i < values.length; i++) values[i] = Math.sin(i) * 1e-3;
  return values;
}

// protection none's norm bound reads this instead of a second pass over a large upload.
describe('the norm the verifier thread sums as an upload arrives', () => {
  it('sums the squares on the thread exactly as l2Norm does, and says nothing where it would rescale', async () => {
    const receive = async (values: Float32Array) => {
      const assembler = new TensorAssembler(makeHeader(layout, values), { expectedLayout: layout, offThread: true });
      for (const chunk of chunksOf(values)) assembler.push(chunk);
      return assembler.finished();
    };
    const values = tensor();
    for (let i = 0; i < values.length; i += 1009) values[i] = (i % 7) * 3.3e-1;
    const received = await receive(values);
    expect(l2NormIfKnown(received)).toBe(l2Norm(values));
    expect(l2NormIfKnown(values)).toBeUndefined();
    // All zeros: l2Norm's plain sum is out of its range (it rescales), so no known norm.
    expect(l2NormIfKnown(await receive(new Float32Array(ELEMENTS)))).toBeUndefined();
  });

});
