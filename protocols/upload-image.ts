/**
 * A large upload's chunk messages, encoded into one reused shared buffer as they go out. Encoding
 * each 1 MiB chunk into fresh memory (protobufjs allocates per message) page-faulted every upload
 * in again: the site's encode copy was ~28 ms of a 16 MiB upload's time, measured with the
 * profiler in a process of its own (BENCHMARKS.md). The same buffer is what the verifier thread
 * hashes, so the digest costs no second copy on the sending thread.
 */
import { EncodedMessage } from './grpc.ts';
import { chunkMessageLength, framedAlignment, writeChunkMessage } from './chunk-message.ts';
import { CHUNK_BYTES, chunkCount, dtypeOf, floatBytes, type TypedTensor } from './tensor-codec.ts';
import { OffThreadVerification, giveBackStaging, takeStaging } from './tensor-verifier.ts';

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
