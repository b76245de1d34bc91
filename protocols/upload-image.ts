/**
 * A large upload's chunk messages, encoded into one reused shared buffer as they go out. Encoding
 * each 1 MiB chunk into fresh memory (protobufjs allocates per message) page-faulted every upload
 * in again: the site's encode copy was ~28 ms of a 16 MiB upload's time, measured with the
 * profiler in a process of its own (BENCHMARKS.md). The same buffer is what the verifier thread
 * hashes, so the digest costs no second copy on the sending thread.
 */
import { EncodedMessage } from './grpc.ts';
import { CHUNK_BYTES, chunkCount, dtypeOf, floatBytes, type TypedTensor } from './tensor-codec.ts';
import { OffThreadVerification, giveBackStaging, takeStaging } from './tensor-verifier.ts';

/**
 * grpc-js frames every message by copying it to offset 5 of a fresh buffer (16-byte aligned, as
 * malloc's are). Out of shared memory V8 copies with relaxed atomics, and when source and target
 * are not equally aligned it falls to small units: copying 16 MiB from a SharedArrayBuffer took
 * 6.5-6.8 ms (warm) when misaligned, 1.5 ms at the same alignment, against 0.9-1.1 ms from an
 * ordinary buffer; in a site's own process the framing copies of a 16 MiB upload cost ~24 ms of
 * its main thread. So each message starts at 5 modulo 16 in the image.
 */
const FRAME_ALIGN = 16;
const FRAME_OFFSET = 5;

function framedAlignment(at: number): number {
  return at + ((((FRAME_OFFSET - at) % FRAME_ALIGN) + FRAME_ALIGN) % FRAME_ALIGN);
}

function varintLength(n: number): number {
  let length = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    length++;
  }
  return length;
}

function writeVarint(bytes: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    bytes[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  bytes[at++] = n;
  return at;
}

/** StageStreamMessage { chunk (2): TensorChunk { index (1), data (2) } }: its size for `dataLength` bytes. */
function chunkMessageLength(index: number, dataLength: number): number {
  const inner = 1 + varintLength(index) + 1 + varintLength(dataLength) + dataLength;
  return 1 + varintLength(inner) + inner;
}

/** Writes that message at `at` (the data copied in); returns where its data starts. */
function writeChunkMessage(bytes: Uint8Array, at: number, index: number, data: Uint8Array): number {
  const inner = 1 + varintLength(index) + 1 + varintLength(data.length) + data.length;
  bytes[at++] = (2 << 3) | 2;
  at = writeVarint(bytes, at, inner);
  bytes[at++] = 1 << 3;
  at = writeVarint(bytes, at, index);
  bytes[at++] = (2 << 3) | 2;
  at = writeVarint(bytes, at, data.length);
  bytes.set(data, at);
  return at;
}

/**
 * The chunk messages of one upload (from chunk 0), encoded in order by `message(i)`. With
 * `hash`, every chunk's data (the last one's too, which travels outside the image with its digest
 * attached) is hashed on the verifier thread; `digest()` once all are in.
 */
export class UploadImage {
  private readonly buffer: SharedArrayBuffer;
  private readonly bytes: Uint8Array;
  private readonly source: Buffer;
  private readonly offsets: number[] = [];
  private readonly verification: OffThreadVerification | null;
  private next = 0;
  private released = false;

  constructor(values: TypedTensor, hash: boolean) {
    this.source = floatBytes(values);
    const count = chunkCount(values.length, dtypeOf(values));
    let total = 0;
    for (let index = 0; index < count; index++) {
      total = framedAlignment(total);
      this.offsets.push(total);
      total += chunkMessageLength(index, Math.min(CHUNK_BYTES, this.source.length - index * CHUNK_BYTES));
    }
    this.buffer = takeStaging(total);
    this.bytes = new Uint8Array(this.buffer);
    this.verification = hash ? new OffThreadVerification(this.buffer, false) : null;
  }

  /** Chunk `index`'s message, encoded now (chunks in order, each once). */
  message(index: number): EncodedMessage {
    if (index !== this.next || this.released) throw new Error(`upload image: chunk ${index} out of order`);
    this.next++;
    const data = this.source.subarray(index * CHUNK_BYTES, Math.min(this.source.length, (index + 1) * CHUNK_BYTES));
    const start = this.offsets[index]!;
    const dataAt = writeChunkMessage(this.bytes, start, index, data);
    this.verification?.chunk(dataAt, dataAt + data.length);
    const end = dataAt + data.length;
    return new EncodedMessage(Buffer.from(this.buffer, start, end - start));
  }

  /** The SHA-256 of the whole tensor, once every chunk was encoded. */
  async digest(): Promise<Buffer> {
    if (!this.verification) throw new Error('this upload image does not hash');
    if (this.next !== this.offsets.length) throw new Error(`upload image: digest after ${this.next} of ${this.offsets.length} chunks`);
    const { digest } = await this.verification.finish();
    return digest;
  }

  /**
   * Once the call ended (grpc-js copied every message it sent): the buffer goes back for the next
   * upload. Messages to the verifier thread are handled in order, so a later image's chunks are
   * read only after this one's job is done or closed.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.verification?.close();
    giveBackStaging(this.buffer);
  }
}
