import { describe, expect, it } from 'vitest';
import { CHUNK_BYTES, TensorAssembler, chunksOf, makeHeader, type TensorSpec } from './tensor-codec.ts';
import { ConclaveError } from './errors.ts';
import { OffThreadVerification } from './tensor-verifier.ts';
import { ELEMENTS, layout, tensor } from './off-thread-tensor.fixture.ts';

/** The code a stream ends with: from the chunk after the bad one, or from finished(). */
async function outcome(values: Float32Array, header = makeHeader(layout, values)): Promise<string> {
  const assembler = new TensorAssembler(header, { expectedLayout: layout, offThread: true });
  try {
    for (const chunk of chunksOf(values)) {
      assembler.push(chunk);
      // Lets the verifier thread's reports arrive between chunks, as they do between network reads.
      await new Promise((r) => setImmediate(r));
    }
    await assembler.finished();
    return 'NONE';
  } catch (err) {
    return err instanceof ConclaveError ? `${err.code}: ${err.message}` : `OTHER: ${String(err)}`;
  }
}

describe('tensor checks off the receiving thread', () => {
  it('maps a fresh receive buffer with one page fault per page', async () => {
    // The thread started (its own start-up faults are not the buffer's).
    const warm = new OffThreadVerification(new SharedArrayBuffer(4096), false);
    warm.chunk(0, 4096);
    await warm.finish();
    const pages = 8192;
    const buffer = new SharedArrayBuffer(pages * 4096);
    const before = process.resourceUsage().minorPageFault;
    const job = new OffThreadVerification(buffer, false);
    job.chunk(0, 4);
    // Answered after the open message, which maps the pages.
    await job.finish();
    const faults = process.resourceUsage().minorPageFault - before;
    // A read before the write faults each page twice (≥ 16,384 here).
    expect(faults).toBeGreaterThanOrEqual(pages * 0.9);
    expect(faults).toBeLessThan(pages * 1.5);
  });

  it('reassembles a large tensor byte for byte into shared memory; small ones stay on the thread', async () => {
    const values = tensor();
    const header = makeHeader(layout, values);
    const assembler = new TensorAssembler(header, { expectedLayout: layout, offThread: true });
    for (const chunk of chunksOf(values)) assembler.push(chunk);
    expect(() => assembler.finish()).toThrow(/finished\(\)/);
    const received = await assembler.finished();
    expect(received.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Buffer.from(received.buffer).equals(Buffer.from(values.buffer))).toBe(true);

    const small = values.subarray(0, CHUNK_BYTES / 4);
    const smallLayout: TensorSpec[] = [{ name: 'w', shape: [small.length], dtype: 'float32' }];
    const onThread = new TensorAssembler(makeHeader(smallLayout, small), { offThread: true });
    for (const chunk of chunksOf(small)) onThread.push(chunk);
    expect((await onThread.finished()).buffer).toBeInstanceOf(ArrayBuffer);
  });

  it('refuses a non-finite value with its index, and a digest that does not match', async () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const values = tensor();
      const at = 2 * (CHUNK_BYTES / 4) + 77;
      const header = makeHeader(layout, values);
      values[at] = bad;
      expect(await outcome(values, header)).toBe(`NON_FINITE_VALUE: tensor contains a non-finite value at element ${at}`);
      // In the last element too, where only finished() can see it.
      const last = tensor();
      last[ELEMENTS - 1] = bad;
      expect(await outcome(last)).toBe(`NON_FINITE_VALUE: tensor contains a non-finite value at element ${ELEMENTS - 1}`);
    }
    const values = tensor();
    const header = makeHeader(layout, values);
    values[ELEMENTS - 5] = 0.5; // finite, so only the digest can tell
    expect(await outcome(values, header)).toMatch(/^DIGEST_MISMATCH/);
    expect(await outcome(tensor())).toBe('NONE');
  });

  it('refuses a stream that ends early without waiting for the thread', async () => {
    const values = tensor();
    const assembler = new TensorAssembler(makeHeader(layout, values), { offThread: true });
    assembler.push(chunksOf(values).next().value!);
    await expect(assembler.finished()).rejects.toMatchObject({ code: 'MALFORMED_STREAM' });
  });

  it('a pooled tensor\'s buffer serves the next one of its size once recycled, and only then', async () => {
    const values = tensor();
    const header = makeHeader(layout, values);
    const receive = async () => {
      const assembler = new TensorAssembler(header, { expectedLayout: layout, offThread: true, pooled: true });
      for (const chunk of chunksOf(values)) assembler.push(chunk);
      return { assembler, received: await assembler.finished() };
    };
    const first = await receive();
    const second = await receive();
    // Not recycled yet: two buffers.
    expect(second.received.buffer).not.toBe(first.received.buffer);
    first.assembler.recycle();
    const third = await receive();
    expect(third.received.buffer).toBe(first.received.buffer);
    expect(Buffer.from(third.received.buffer).equals(Buffer.from(values.buffer))).toBe(true);
    third.assembler.recycle();
    third.assembler.recycle();
    expect(() => third.assembler.push(chunksOf(values).next().value!)).toThrow(/recycled/);
    // An unpooled one never goes to the pool.
    const plain = new TensorAssembler(header, { expectedLayout: layout, offThread: true });
    for (const chunk of chunksOf(values)) plain.push(chunk);
    await plain.finished();
    plain.recycle();
    const fourth = await receive();
    expect(fourth.received.buffer).toBe(first.received.buffer);
  });
});
