/**
 * Resumable transfers: a site whose connection drops mid-download or mid-upload continues from the
 * last chunk that was verified (in order, sized, finite, hashed) instead of starting over. The
 * whole-tensor SHA-256 in the header still covers every byte, the kept ones included, so a resumed
 * transfer is accepted only if it is bit-identical to an uncut one.
 */
import {
  ConclaveError, sameLayout,
  type DownloadModelRequestMsg, type StageHeaderMsg, type TensorAssembler, type TensorHeader, type TypedTensor,
} from '../protocols/index.ts';

/**
 * The first chunk a DownloadModel call sends: 0, or the request's from_chunk once it is checked to
 * lie within the blob and to continue the same bytes (expected_sha256 is the version's digest).
 */
export function resumeOffset(req: Pick<DownloadModelRequestMsg, 'fromChunk' | 'expectedSha256'>, header: Pick<TensorHeader, 'sha256' | 'chunkCount'>): number {
  const from = req.fromChunk ?? 0;
  if (from === 0) return 0;
  if (!Number.isSafeInteger(from) || from < 0 || from >= header.chunkCount) {
    throw new ConclaveError('INVALID_ARGUMENT', `from_chunk ${from} is outside the model's ${header.chunkCount} chunks`);
  }
  const expected = req.expectedSha256;
  if (!expected || expected.length !== 32) throw new ConclaveError('INVALID_ARGUMENT', 'a resumed download needs the 32-byte expected_sha256 of the version it continues');
  if (!Buffer.from(expected).equals(Buffer.from(header.sha256))) {
    throw new ConclaveError('RESUME_MISMATCH', 'this version no longer has the digest the resumed download started with: download it again from the start');
  }
  return from;
}

interface Parked {
  roundId: string;
  stage: string;
  /** The cut upload's header without its resume offset, to compare a resumption against. */
  canonical: string;
  sha256: Buffer;
  assembler: TensorAssembler<TypedTensor>;
  timer: NodeJS.Timeout;
}

/** A stage header as it must repeat on resumption: everything but the offset. */
function canonicalHeader(header: StageHeaderMsg): string {
  return JSON.stringify({ ...header, resumeFromChunk: 0 });
}

/**
 * Each site's last cut upload, kept so its retry sends only the chunks that did not arrive. One per
 * site (a newer upload replaces it), never longer than `ttlMs`, and dropped when its round closes
 * (the caller says so): memory is at most one stage tensor per site, as for uploads in flight.
 */
export class ParkedUploads {
  private readonly bySite = new Map<string, Parked>();
  private readonly ttlMs: number;

  constructor(ttlMs: number) {
    this.ttlMs = ttlMs;
  }

  /** Keeps a cut upload that got at least one chunk through; anything else has nothing to resume. */
  park(siteId: string, header: StageHeaderMsg, assembler: TensorAssembler<TypedTensor>): void {
    this.drop(siteId);
    if (!header.tensor || assembler.receivedChunks === 0) return;
    const timer = setTimeout(() => this.drop(siteId), this.ttlMs);
    timer.unref();
    this.bySite.set(siteId, {
      roundId: header.roundId, stage: header.stage, canonical: canonicalHeader(header), sha256: Buffer.from(header.tensor.sha256), assembler, timer,
    });
  }

  drop(siteId: string): void {
    const parked = this.bySite.get(siteId);
    if (!parked) return;
    clearTimeout(parked.timer);
    this.bySite.delete(siteId);
  }

  /** Drops every upload kept for this round (it closed). */
  dropRound(roundId: string): void {
    for (const [siteId, parked] of this.bySite) if (parked.roundId === roundId) this.drop(siteId);
  }

  /** ResumeStage: how many chunks of this message the coordinator holds (0: none, send it whole). */
  nextChunk(siteId: string, roundId: string, stage: string, tensorSha256: Uint8Array): number {
    const parked = this.bySite.get(siteId);
    if (!parked || parked.roundId !== roundId || parked.stage !== stage) return 0;
    // An upload whose digest comes last (in its final chunk) has none to compare yet: that final
    // digest covers the kept chunks too, so a retry with other bytes is refused at the end.
    if (parked.sha256.length > 0 && !parked.sha256.equals(Buffer.from(tensorSha256))) return 0;
    return parked.assembler.receivedChunks;
  }

  /**
   * Takes the kept upload a resuming header continues: same round, stage, body and tensor header,
   * and the offset it says it continues from. Refused otherwise (the site then sends it whole).
   */
  resume(siteId: string, header: StageHeaderMsg): TensorAssembler<TypedTensor> {
    const from = header.resumeFromChunk ?? 0;
    const parked = this.bySite.get(siteId);
    const matches = parked !== undefined && header.tensor !== null && parked.roundId === header.roundId && parked.stage === header.stage
      && parked.canonical === canonicalHeader(header) && sameLayout(parked.assembler.header.layout, header.tensor.layout);
    if (!matches) throw new ConclaveError('RESUME_MISMATCH', 'no cut upload of this message to resume: send it from the start');
    if (from !== parked.assembler.receivedChunks) {
      throw new ConclaveError('RESUME_MISMATCH', `the coordinator holds ${parked.assembler.receivedChunks} chunks of this message, not ${from}: ask ResumeStage again`);
    }
    this.drop(siteId);
    return parked.assembler;
  }
}
