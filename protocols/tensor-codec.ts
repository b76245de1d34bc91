import { createHash, type Hash } from 'node:crypto';
import { endianness } from 'node:os';
import { ConclaveError } from './errors.ts';

export interface TensorSpec {
  name: string;
  shape: number[];
  dtype: 'float32';
}

export interface TensorHeader {
  layout: TensorSpec[];
  totalElements: number;
  sha256: Buffer;
  chunkCount: number;
}

/** 1 MiB of float32 payload per message: small enough for default HTTP/2 windows, large enough that per-message overhead is noise. */
export const CHUNK_BYTES = 1 << 20;
const CHUNK_ELEMENTS = CHUNK_BYTES / 4;
/** The largest single gRPC message either side accepts: one chunk plus headroom for the header. */
export const MAX_MESSAGE_BYTES = 4 * CHUNK_BYTES;

if (endianness() !== 'LE') {
  // The wire format is little-endian float32; views over Buffers would silently byte-swap otherwise.
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

export function validateLayout(raw: unknown): TensorSpec[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new ConclaveError('LAYOUT_MISMATCH', 'tensor layout must be a non-empty list');
  return raw.map((item, i) => {
    const spec = item as Partial<TensorSpec> | null;
    if (!spec || typeof spec.name !== 'string' || spec.name.length === 0) {
      throw new ConclaveError('LAYOUT_MISMATCH', `tensor ${i} has no name`);
    }
    if (spec.dtype !== 'float32') throw new ConclaveError('LAYOUT_MISMATCH', `tensor ${spec.name}: dtype must be float32, got ${String(spec.dtype)}`);
    if (!Array.isArray(spec.shape) || !spec.shape.every((d) => Number.isInteger(d) && d > 0 && d < 2 ** 31)) {
      throw new ConclaveError('LAYOUT_MISMATCH', `tensor ${spec.name}: shape must be positive integers`);
    }
    return { name: spec.name, shape: spec.shape.map(Number), dtype: 'float32' };
  });
}

export function sha256OfFloats(values: Float32Array): Buffer {
  return createHash('sha256').update(floatBytes(values)).digest();
}

export function floatBytes(values: Float32Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

export function chunkCount(totalElements: number): number {
  return Math.max(1, Math.ceil(totalElements / CHUNK_ELEMENTS));
}

export function makeHeader(layout: TensorSpec[], values: Float32Array): TensorHeader {
  if (layoutElements(layout) !== values.length) {
    throw new ConclaveError('LAYOUT_MISMATCH', `layout describes ${layoutElements(layout)} elements but the tensor has ${values.length}`);
  }
  return { layout, totalElements: values.length, sha256: sha256OfFloats(values), chunkCount: chunkCount(values.length) };
}

/** Zero-copy views of ~1 MiB each over the tensor's bytes. */
export function* chunksOf(values: Float32Array): Generator<{ index: number; data: Buffer }> {
  const bytes = floatBytes(values);
  const count = chunkCount(values.length);
  for (let index = 0; index < count; index++) {
    yield { index, data: bytes.subarray(index * CHUNK_BYTES, Math.min(bytes.length, (index + 1) * CHUNK_BYTES)) };
  }
}

/**
 * Reassembles one streamed tensor into a single preallocated buffer, checking order, size and
 * (optionally) finiteness per chunk, so a bad stream is refused at the first bad chunk, and the
 * digest at the end. Memory is exactly the tensor's size.
 */
export class TensorAssembler {
  readonly header: TensorHeader;
  readonly values: Float32Array;
  private readonly bytes: Uint8Array;
  private readonly hash: Hash = createHash('sha256');
  private readonly rejectNonFinite: boolean;
  private nextIndex = 0;
  private filled = 0;

  constructor(header: TensorHeader, options: { expectedLayout?: TensorSpec[]; rejectNonFinite?: boolean } = {}) {
    const layout = validateLayout(header.layout);
    const elements = layoutElements(layout);
    if (options.expectedLayout && !sameLayout(layout, options.expectedLayout)) {
      throw new ConclaveError('LAYOUT_MISMATCH', 'tensor layout does not match the model of this round (names, shapes or order differ)');
    }
    if (header.totalElements !== elements) {
      throw new ConclaveError('LAYOUT_MISMATCH', `header says ${header.totalElements} elements, layout describes ${elements}`);
    }
    if (header.chunkCount !== chunkCount(elements)) {
      throw new ConclaveError('MALFORMED_STREAM', `expected ${chunkCount(elements)} chunks for ${elements} elements, header says ${header.chunkCount}`);
    }
    if (!(header.sha256 instanceof Uint8Array) || header.sha256.length !== 32) {
      throw new ConclaveError('MALFORMED_STREAM', 'header sha256 must be 32 bytes');
    }
    this.header = { ...header, layout };
    this.values = new Float32Array(elements);
    this.bytes = new Uint8Array(this.values.buffer);
    this.rejectNonFinite = options.rejectNonFinite ?? true;
  }

  get complete(): boolean {
    return this.nextIndex === this.header.chunkCount;
  }

  push(chunk: { index: number; data: Uint8Array }): void {
    if (this.complete) throw new ConclaveError('MALFORMED_STREAM', 'more chunks than the header announced');
    if (chunk.index !== this.nextIndex) {
      throw new ConclaveError('MALFORMED_STREAM', `chunk ${chunk.index} arrived where chunk ${this.nextIndex} was expected`);
    }
    const expectedBytes = Math.min(CHUNK_BYTES, this.bytes.length - this.filled);
    if (chunk.data.length !== expectedBytes) {
      throw new ConclaveError('MALFORMED_STREAM', `chunk ${chunk.index} has ${chunk.data.length} bytes, expected ${expectedBytes}`);
    }
    this.bytes.set(chunk.data, this.filled);
    if (this.rejectNonFinite) {
      const start = this.filled / 4;
      const end = start + expectedBytes / 4;
      for (let i = start; i < end; i++) {
        // x - x is NaN exactly when x is NaN or ±Infinity; cheaper than Number.isFinite per element.
        const v = this.values[i]!;
        if (v - v !== 0) {
          throw new ConclaveError('NON_FINITE_VALUE', `tensor contains a non-finite value at element ${i}`);
        }
      }
    }
    this.hash.update(chunk.data);
    this.filled += expectedBytes;
    this.nextIndex++;
  }

  /** Returns the tensor once every chunk arrived and the digest matches. */
  finish(): Float32Array {
    if (!this.complete) {
      throw new ConclaveError('MALFORMED_STREAM', `stream ended after ${this.nextIndex} of ${this.header.chunkCount} chunks`);
    }
    const digest = this.hash.digest();
    if (!digest.equals(Buffer.from(this.header.sha256))) {
      throw new ConclaveError('DIGEST_MISMATCH', 'tensor digest does not match the header: the stream was corrupted or tampered with');
    }
    return this.values;
  }
}
