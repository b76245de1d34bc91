import { describe, expect, it } from 'vitest';
import { TensorAssembler, chunksOf, l2NormIfKnown, makeHeader } from '../../protocols/index.ts';
import { l2Norm } from '../../crypto/dp/clip.ts';
import { ELEMENTS, layout, tensor } from '../../protocols/off-thread-tensor.fixture.ts';

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
