import { describe, expect, it } from 'vitest';
import { OFF_THREAD_MIN_BYTES, TensorAssembler, chunksOf, makeHeader, type TensorSpec } from './tensor-codec.ts';
import { SharedTensorPool } from './tensor-pool.ts';

const ELEMENTS = OFF_THREAD_MIN_BYTES / 4 + 999;
const layout: TensorSpec[] = [{ name: 'w', shape: [ELEMENTS], dtype: 'float32' }];

function tensor(seed: number): Float32Array {
  const values = new Float32Array(ELEMENTS);
  for (let i = 0; i < values.length; i++) values[i] = Math.sin(i * seed) * 1e-3;
  return values;
}

async function receive(values: Float32Array, pool: SharedTensorPool, header = makeHeader(layout, values)) {
  const assembler = new TensorAssembler(header, { expectedLayout: layout, offThread: true, pool });
  for (const chunk of chunksOf(values)) assembler.push(chunk);
  return { assembler, values: await assembler.finished().catch((err: unknown) => err as Error) };
}

describe('receive buffers reused across transfers', () => {
  it('gives a released buffer to the next tensor of its size, overwritten byte for byte', async () => {
    const pool = new SharedTensorPool(64 << 20);
    const first = await receive(tensor(1), pool);
    const firstBuffer = (first.values as Float32Array).buffer;
    first.assembler.release();
    first.assembler.release(); // twice is once
    expect(pool.bytes).toBe(ELEMENTS * 4);

    const next = tensor(2);
    const second = await receive(next, pool);
    expect((second.values as Float32Array).buffer).toBe(firstBuffer);
    expect(Buffer.from(firstBuffer).equals(Buffer.from(next.buffer))).toBe(true);
    expect(pool.bytes).toBe(0);
    // Not released: the next tensor gets a fresh buffer.
    const third = await receive(tensor(3), pool);
    expect((third.values as Float32Array).buffer).not.toBe(firstBuffer);
  });

  it('never pools a refused tensor, an unfinished one, or more than its bound', async () => {
    const pool = new SharedTensorPool(ELEMENTS * 4);
    const values = tensor(1);
    const header = makeHeader(layout, values);
    values[7] = 0.25; // finite: only the digest tells
    const refused = await receive(values, pool, header);
    expect(refused.values).toMatchObject({ code: 'DIGEST_MISMATCH' });
    refused.assembler.release();
    const partial = new TensorAssembler(makeHeader(layout, tensor(2)), { expectedLayout: layout, offThread: true, pool });
    partial.push(chunksOf(tensor(2)).next().value!);
    partial.release();
    expect(pool.bytes).toBe(0);

    const a = await receive(tensor(4), pool);
    const b = await receive(tensor(5), pool);
    a.assembler.release();
    b.assembler.release(); // over the bound: dropped
    expect(pool.bytes).toBe(ELEMENTS * 4);
    expect(pool.take(ELEMENTS * 4)).toBe((a.values as Float32Array).buffer);
    expect(pool.take(ELEMENTS * 4)).toBeNull();
  });
});
