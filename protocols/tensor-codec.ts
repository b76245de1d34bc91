import { createHash, type Hash } from 'node:crypto';
import { endianness } from 'node:os';
import { ConclaveError } from './errors.ts';
import { OffThreadVerification, giveBackStaging, takeStaging } from './tensor-verifier.ts';

/**
 * Element types a tensor may carry: model weights and deltas are float32; protocols that work in a
 * protected domain send integer vectors (masked updates in Z_2^32) or opaque bytes (ciphertexts,
 * key material). One dtype per tensor: every spec of a layout shares it.
 */
export const DTYPES = ['float32', 'int32', 'uint32', 'bytes'] as const;
export type Dtype = (typeof DTYPES)[number];

export interface TensorSpec {
  name: string;
  shape: number[];
  dtype: Dtype;
}

export type TypedTensor = Float32Array | Int32Array | Uint32Array | Uint8Array;

/** The typed array each dtype travels as. */
export interface TensorOf {
  float32: Float32Array;
  int32: Int32Array;
  uint32: Uint32Array;
  bytes: Uint8Array;
}

export function bytesPerElement(dtype: Dtype): number {
  return dtype === 'bytes' ? 1 : 4;
}

export function dtypeOf(values: TypedTensor): Dtype {
  if (values instanceof Float32Array) return 'float32';
  if (values instanceof Int32Array) return 'int32';
  if (values instanceof Uint32Array) return 'uint32';
  return 'bytes';
}

function allocate(dtype: Dtype, elements: number, shared = false, pooled = false): TypedTensor {
  const bytes = elements * bytesPerElement(dtype);
  const buffer = shared ? (pooled ? takeStaging(bytes) : new SharedArrayBuffer(bytes)) : null;
  switch (dtype) {
    case 'float32': return buffer ? new Float32Array(buffer) : new Float32Array(elements);
    case 'int32': return buffer ? new Int32Array(buffer) : new Int32Array(elements);
    case 'uint32': return buffer ? new Uint32Array(buffer) : new Uint32Array(elements);
    case 'bytes': return buffer ? new Uint8Array(buffer) : new Uint8Array(elements);
  }
}

export interface TensorHeader {
  layout: TensorSpec[];
  totalElements: number;
  sha256: Buffer;
  chunkCount: number;
}

/** 1 MiB of payload per message: small enough for default HTTP/2 windows, large enough that per-message overhead is noise. */
export const CHUNK_BYTES = 1 << 20;
/** The largest single gRPC message either side accepts: one chunk plus headroom for the header. */
export const MAX_MESSAGE_BYTES = 4 * CHUNK_BYTES;
/**
 * Tensors from this size on are checked off the receiving thread (`offThread`): below it a worker
 * round trip costs more than the checks, and the models this project trains are well under it.
 */
export const OFF_THREAD_MIN_BYTES = 4 * CHUNK_BYTES;

if (endianness() !== 'LE') {
  // The wire format is little-endian; views over Buffers would silently byte-swap otherwise.
  throw new Error('Conclave requires a little-endian host');
}

export function layoutElements(layout: readonly TensorSpec[]): number {
  let total = 0;
  for (const spec of layout) total += spec.shape.reduce((a, b) => a * b, 1);
  return total;
}

export function sameLayout(a: readonly TensorSpec[], b: readonly TensorSpec[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((spec, i) => {
    const other = b[i]!;
    return spec.name === other.name && spec.dtype === other.dtype && spec.shape.length === other.shape.length
      && spec.shape.every((d, j) => d === other.shape[j]);
  });
}

/** Layouts are bounded before anything is allocated: a header cannot make the receiver reserve more than this. */
export const MAX_TENSOR_BYTES = 2 ** 31;
const MAX_LAYOUT_ENTRIES = 100_000;

export function validateLayout(raw: unknown): TensorSpec[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new ConclaveError('LAYOUT_MISMATCH', 'tensor layout must be a non-empty list');
  if (raw.length > MAX_LAYOUT_ENTRIES) throw new ConclaveError('LAYOUT_MISMATCH', `tensor layout has ${raw.length} entries, more than ${MAX_LAYOUT_ENTRIES}`);
  const layout = raw.map((item, i): TensorSpec => {
    const spec = item as Partial<TensorSpec> | null;
    if (!spec || typeof spec.name !== 'string' || spec.name.length === 0 || spec.name.length > 256) {
      throw new ConclaveError('LAYOUT_MISMATCH', `tensor ${i} has no name (or one over 256 characters)`);
    }
    if (!(DTYPES as readonly string[]).includes(spec.dtype as string)) {
      throw new ConclaveError('LAYOUT_MISMATCH', `tensor ${spec.name.slice(0, 64)}: dtype must be one of ${DTYPES.join(', ')}, got ${String(spec.dtype).slice(0, 32)}`);
    }
    if (!Array.isArray(spec.shape) || spec.shape.length > 8 || !spec.shape.every((d) => Number.isInteger(d) && d > 0 && d < 2 ** 31)) {
      throw new ConclaveError('LAYOUT_MISMATCH', `tensor ${spec.name.slice(0, 64)}: shape must be at most 8 positive integers`);
    }
    return { name: spec.name, shape: spec.shape.map(Number), dtype: spec.dtype as Dtype };
  });
  const dtype = layout[0]!.dtype;
  if (!layout.every((spec) => spec.dtype === dtype)) throw new ConclaveError('LAYOUT_MISMATCH', 'every tensor of one layout must have the same dtype');
  if (layoutElements(layout) * bytesPerElement(dtype) > MAX_TENSOR_BYTES) {
    throw new ConclaveError('LAYOUT_MISMATCH', `tensor layout describes more than ${MAX_TENSOR_BYTES} bytes`);
  }
  return layout;
}

export function sha256OfFloats(values: TypedTensor): Buffer {
  return createHash('sha256').update(floatBytes(values)).digest();
}

/**
 * sha256OfFloats, with a large tensor's hashing on the verifier thread: the caller's event loop
 * copies it into a pooled shared buffer (a few ms for 16 MiB) instead of hashing it (~25 ms).
 */
export async function sha256OfFloatsOffThread(values: TypedTensor): Promise<Buffer> {
  const bytes = floatBytes(values);
  if (bytes.length < OFF_THREAD_MIN_BYTES) return sha256OfFloats(values);
  const buffer = takeStaging(bytes.length);
  let hashed = false;
  try {
    const verification = new OffThreadVerification(buffer, false);
    new Uint8Array(buffer).set(bytes);
    verification.chunk(0, bytes.length);
    const { digest } = await verification.finish();
    hashed = true;
    return digest;
  } finally {
    // A verifier that failed mid-job may still read it: such a buffer is left to the collector.
    if (hashed) giveBackStaging(buffer);
  }
}

/** The tensor's little-endian bytes, without a copy. */
export function floatBytes(values: TypedTensor): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

export function chunkCount(totalElements: number, dtype: Dtype = 'float32'): number {
  return Math.max(1, Math.ceil((totalElements * bytesPerElement(dtype)) / CHUNK_BYTES));
}

/** `digest: false` leaves sha256 empty, for a sender that puts it in the last chunk instead. */
export function makeHeader(layout: TensorSpec[], values: TypedTensor, options: { digest?: boolean } = {}): TensorHeader {
  if (layoutElements(layout) !== values.length) {
    throw new ConclaveError('LAYOUT_MISMATCH', `layout describes ${layoutElements(layout)} elements but the tensor has ${values.length}`);
  }
  const dtype = dtypeOf(values);
  if (layout.some((spec) => spec.dtype !== dtype)) throw new ConclaveError('LAYOUT_MISMATCH', `the layout's dtype does not match a ${dtype} tensor`);
  const sha256 = options.digest === false ? Buffer.alloc(0) : sha256OfFloats(values);
  return { layout, totalElements: values.length, sha256, chunkCount: chunkCount(values.length, dtype) };
}

/** Zero-copy views of ~1 MiB each over the tensor's bytes, from chunk `from` on (a resumed transfer). */
export function* chunksOf(values: TypedTensor, from = 0): Generator<{ index: number; data: Buffer }> {
  const bytes = floatBytes(values);
  const count = chunkCount(values.length, dtypeOf(values));
  for (let index = from; index < count; index++) {
    yield { index, data: bytes.subarray(index * CHUNK_BYTES, Math.min(bytes.length, (index + 1) * CHUNK_BYTES)) };
  }
}

/** Σ x² of float tensors verified off the thread, as the verifier thread summed it (see l2NormIfKnown). */
const knownSumOfSquares = new WeakMap<TypedTensor, number>();

/**
 * The Euclidean norm of a float tensor that TensorAssembler verified off the thread, from the sum
 * of squares the verifier thread accumulated (float64, element order: the same operations as
 * crypto/dp l2Norm's plain path, so the same number); undefined when not known or when that sum
 * is outside l2Norm's plain range (it then rescales). Valid while nobody wrote to the tensor.
 */
export function l2NormIfKnown(values: TypedTensor): number | undefined {
  const sum = knownSumOfSquares.get(values);
  return sum !== undefined && sum > 1e-280 && sum < 1e300 ? Math.sqrt(sum) : undefined;
}

/**
 * Reassembles one streamed tensor into a single preallocated buffer, checking order, size and
 * (optionally) finiteness per chunk, so a bad stream is refused at the first bad chunk, and the
 * digest at the end. Memory is exactly the tensor's size.
 */
export class TensorAssembler<T extends TypedTensor = Float32Array> {
  readonly header: TensorHeader;
  readonly values: T;
  readonly dtype: Dtype;
  private readonly bytes: Uint8Array;
  private readonly hash: Hash = createHash('sha256');
  private readonly rejectNonFinite: boolean;
  /** Set when the checks run on the verifier thread: `values` is then SharedArrayBuffer-backed. */
  private readonly offThread: OffThreadVerification | null;
  private nextIndex = 0;
  private filled = 0;
  /** The header left the digest out; the last chunk brings it (and fills `header.sha256`). */
  private readonly digestInTrailer: boolean;
  private readonly pooled: boolean;
  private recycled = false;

  /**
   * `expectedDtype` (float32 unless said otherwise) and `maxElements` bound what a header may ask
   * for before anything is allocated; `expectedLayout` pins it exactly.
   * `offThread`: a tensor of OFF_THREAD_MIN_BYTES or more is hashed and checked for finiteness on
   * the verifier thread (tensor-verifier.ts), into a SharedArrayBuffer-backed array; finish it with
   * `finished()`.
   * `digestInTrailer`: the header may leave its sha256 empty, and the last chunk then carries it
   * (an upload that hashes as it streams); the check at the end is the same.
   * `pooled`: an off-thread tensor's buffer comes from (and `recycle()` gives it back to) the pool
   * of shared buffers kept for the next transfer of the same size: a fresh one is page-faulted in
   * and adds to the collector's pressure on every upload.
   */
  constructor(header: TensorHeader, options: {
    expectedLayout?: TensorSpec[]; rejectNonFinite?: boolean; expectedDtype?: Dtype; maxElements?: number; offThread?: boolean; digestInTrailer?: boolean;
    pooled?: boolean;
  } = {}) {
    const layout = validateLayout(header.layout);
    const elements = layoutElements(layout);
    const dtype = layout[0]!.dtype;
    if (options.expectedLayout && !sameLayout(layout, options.expectedLayout)) {
      throw new ConclaveError('LAYOUT_MISMATCH', 'tensor layout does not match the model of this round (names, shapes or order differ)');
    }
    if (dtype !== (options.expectedDtype ?? 'float32')) {
      throw new ConclaveError('LAYOUT_MISMATCH', `expected a ${options.expectedDtype ?? 'float32'} tensor, got ${dtype}`);
    }
    if (options.maxElements !== undefined && elements > options.maxElements) {
      throw new ConclaveError('LAYOUT_MISMATCH', `tensor has ${elements} elements, more than the ${options.maxElements} this message may carry`);
    }
    if (header.totalElements !== elements) {
      throw new ConclaveError('LAYOUT_MISMATCH', `header says ${header.totalElements} elements, layout describes ${elements}`);
    }
    if (header.chunkCount !== chunkCount(elements, dtype)) {
      throw new ConclaveError('MALFORMED_STREAM', `expected ${chunkCount(elements, dtype)} chunks for ${elements} elements, header says ${header.chunkCount}`);
    }
    this.digestInTrailer = options.digestInTrailer === true && header.sha256 instanceof Uint8Array && header.sha256.length === 0;
    if (!this.digestInTrailer && (!(header.sha256 instanceof Uint8Array) || header.sha256.length !== 32)) {
      throw new ConclaveError('MALFORMED_STREAM', 'header sha256 must be 32 bytes');
    }
    this.header = { ...header, layout };
    this.dtype = dtype;
    const offThread = (options.offThread ?? false) && elements * bytesPerElement(dtype) >= OFF_THREAD_MIN_BYTES;
    this.pooled = offThread && options.pooled === true;
    this.values = allocate(dtype, elements, offThread, this.pooled) as T;
    this.bytes = new Uint8Array(this.values.buffer);
    // Only floats can be NaN or infinite; integer and byte tensors have nothing to check.
    this.rejectNonFinite = dtype === 'float32' && (options.rejectNonFinite ?? true);
    this.offThread = offThread ? new OffThreadVerification(this.values.buffer as SharedArrayBuffer, this.rejectNonFinite) : null;
  }

  /** Chunks accepted so far (in order, sized, finite, hashed): where a resumed transfer continues. */
  get receivedChunks(): number {
    return this.nextIndex;
  }

  get complete(): boolean {
    return this.nextIndex === this.header.chunkCount;
  }

  push(chunk: { index: number; data: Uint8Array; sha256?: Uint8Array }): void {
    if (this.recycled) throw new Error('this tensor\'s buffer was recycled');
    if (this.complete) throw new ConclaveError('MALFORMED_STREAM', 'more chunks than the header announced');
    if (chunk.index !== this.nextIndex) {
      throw new ConclaveError('MALFORMED_STREAM', `chunk ${chunk.index} arrived where chunk ${this.nextIndex} was expected`);
    }
    const expectedBytes = Math.min(CHUNK_BYTES, this.bytes.length - this.filled);
    if (chunk.data.length !== expectedBytes) {
      throw new ConclaveError('MALFORMED_STREAM', `chunk ${chunk.index} has ${chunk.data.length} bytes, expected ${expectedBytes}`);
    }
    const trailer = chunk.sha256?.length ?? 0;
    if (this.digestInTrailer && this.nextIndex === this.header.chunkCount - 1) {
      if (trailer !== 32) throw new ConclaveError('MALFORMED_STREAM', 'the header left the digest out, so the last chunk must carry it (32 bytes)');
      this.header.sha256 = Buffer.from(chunk.sha256!);
    } else if (trailer > 0) {
      throw new ConclaveError('MALFORMED_STREAM', `chunk ${chunk.index} carries a digest: only the last chunk does, and only when the header left it out`);
    }
    if (this.offThread) {
      // A chunk the verifier thread found non-finite is refused here, at the latest by finished().
      this.throwIfNonFinite(this.offThread.nonFinite);
      this.bytes.set(chunk.data, this.filled);
      this.offThread.chunk(this.filled, this.filled + expectedBytes);
      this.filled += expectedBytes;
      this.nextIndex++;
      return;
    }
    this.bytes.set(chunk.data, this.filled);
    if (this.rejectNonFinite) {
      const floats = this.values as Float32Array;
      const start = this.filled / 4;
      const end = start + expectedBytes / 4;
      for (let i = start; i < end; i++) {
        // x - x is NaN exactly when x is NaN or ±Infinity; cheaper than Number.isFinite per element.
        const v = floats[i]!;
        if (v - v !== 0) this.throwIfNonFinite(i);
      }
    }
    this.hash.update(chunk.data);
    this.filled += expectedBytes;
    this.nextIndex++;
  }

  /** Returns the tensor once every chunk arrived and the digest matches (checks made on this thread only). */
  finish(): T {
    if (this.offThread) throw new Error('this tensor is verified off the thread: finish it with finished()');
    this.checkComplete();
    return this.checkDigest(this.hash.digest());
  }

  /** finish(), for either kind: waits for the verifier thread's verdict when it has one. */
  async finished(): Promise<T> {
    if (!this.offThread) return this.finish();
    this.checkComplete();
    const { digest, nonFinite, sumOfSquares } = await this.offThread.finish();
    this.throwIfNonFinite(nonFinite);
    const values = this.checkDigest(digest);
    if (sumOfSquares >= 0) knownSumOfSquares.set(values, sumOfSquares);
    return values;
  }

  /**
   * Gives a pooled buffer back for the next transfer of its size. Only once nothing holds
   * `values` any more (nor anything made from its buffer): the next upload writes over it.
   */
  recycle(): void {
    if (!this.pooled || this.recycled) return;
    this.recycled = true;
    // A verification still open stops reading (in order, before the next job's chunks).
    this.offThread?.close();
    giveBackStaging(this.values.buffer as SharedArrayBuffer);
  }

  private checkComplete(): void {
    if (!this.complete) {
      throw new ConclaveError('MALFORMED_STREAM', `stream ended after ${this.nextIndex} of ${this.header.chunkCount} chunks`);
    }
  }

  private checkDigest(digest: Buffer): T {
    if (!digest.equals(Buffer.from(this.header.sha256))) {
      throw new ConclaveError('DIGEST_MISMATCH', 'tensor digest does not match the header: the stream was corrupted or tampered with');
    }
    return this.values;
  }

  private throwIfNonFinite(index: number): void {
    if (index >= 0) throw new ConclaveError('NON_FINITE_VALUE', `tensor contains a non-finite value at element ${index}`);
  }
}
