/**
 * Receive buffers kept across transfers. A fresh SharedArrayBuffer's pages are mapped on first
 * write, at 90–250 MiB/s on the VMs measured (BENCHMARKS.md): for a 16 MiB upload that is most of
 * its time, spent again by every upload of the same model. A receiver that knows its consumer keeps
 * no reference to a finished tensor hands the buffer back here, and the next tensor of that size is
 * copied into pages already mapped. Every byte of a reused buffer is overwritten by the chunks
 * before the tensor is complete (TensorAssembler checks each chunk's place and size), so nothing of
 * the previous tensor survives into the next one.
 */
export class SharedTensorPool {
  private readonly free = new Map<number, SharedArrayBuffer[]>();
  private pooledBytes = 0;
  private readonly maxBytes: number;

  /** `maxBytes` bounds what the pool holds while idle; buffers in use are the transfers' own. */
  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** A buffer of exactly `bytes`, mapped by an earlier transfer, or null (allocate a fresh one). */
  take(bytes: number): SharedArrayBuffer | null {
    const list = this.free.get(bytes);
    const buffer = list?.pop() ?? null;
    if (buffer) this.pooledBytes -= bytes;
    if (list && list.length === 0) this.free.delete(bytes);
    return buffer;
  }

  /** Keeps `buffer` for the next tensor of its size; the caller must hold no view of it any more. */
  give(buffer: SharedArrayBuffer): void {
    const bytes = buffer.byteLength;
    if (bytes === 0 || this.pooledBytes + bytes > this.maxBytes) return;
    const list = this.free.get(bytes) ?? [];
    if (list.includes(buffer)) return;
    list.push(buffer);
    this.free.set(bytes, list);
    this.pooledBytes += bytes;
  }

  /** Bytes held idle. */
  get bytes(): number {
    return this.pooledBytes;
  }
}
