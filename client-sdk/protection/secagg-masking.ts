/**
 * A site's masked-input step on every core. Opening the neighbours' shares and the k key agreements
 * take ~4–7 ms per site; the rest of the masking is k + 1 AES-CTR expansions and adds over the whole
 * vector (~21 ms of CPU per 1M parameters at k = 21, bench/secagg.ts), which crypto/parallel/'s
 * MaskExpansionPool splits by coordinate range: the same masked vector, bit for bit, as one thread's.
 * Worker plumbing lives here and in crypto/parallel/, never in the rest of crypto/, which stays free of threads.
 *
 * One pool per SiteMasking: the SDK's built-in protocol object, and so every Participant of a process
 * (`conclave simulate` runs many), shares one. Its threads end after a minute without a mask to
 * expand, and never keep the process alive.
 */
import { availableParallelism } from 'node:os';
import { applyMasks, invalidParameter, maskTerms, type Advertisement, type Round, type SiteSecrets } from '../../crypto/secagg/index.ts';
import { MaskExpansionPool } from '../../crypto/parallel/mask-expansion-pool.ts';

/**
 * Vectors shorter than this are masked on the calling thread: below it the two copies through the
 * pool's shared buffer (~0.5 ms each per 1M words) and the hand-off eat most of what a second
 * thread saves.
 */
export const POOLED_MASKING_MIN_LENGTH = 1 << 18;
/** A site masks once per round; threads idle longer than this are ended. */
const IDLE_MS = 60_000;

export interface SiteMaskingOptions {
  /**
   * Threads that expand masks beside the calling one: 0, the calling thread only; default one per
   * core but the caller's (so none on one core), used for vectors of at least `minLength` words.
   */
  maskWorkers?: number;
  /** Default POOLED_MASKING_MIN_LENGTH. */
  minLength?: number;
}

export class SiteMasking {
  readonly workers: number;
  readonly minLength: number;
  #pool: MaskExpansionPool | undefined;
  /** Set when the pool failed once: this process masks on the calling thread from then on. */
  #broken = false;

  constructor(options: SiteMaskingOptions = {}) {
    const workers = options.maskWorkers ?? Math.max(0, availableParallelism() - 1);
    if (!Number.isInteger(workers) || workers < 0 || workers > 64) throw new RangeError(`maskWorkers must be an integer from 0 to 64, got ${options.maskWorkers}`);
    const minLength = options.minLength ?? POOLED_MASKING_MIN_LENGTH;
    if (!Number.isInteger(minLength) || minLength < 1) throw new RangeError(`minLength must be a positive integer, got ${options.minLength}`);
    this.workers = workers;
    this.minLength = minLength;
  }

  /** Threads running now (tests: none once closed or idle). */
  get running(): number {
    return this.#pool?.running ?? 0;
  }

  /**
   * crypto/secagg maskInput, but in place: `input` is masked and returned. A site drops its plain
   * input once masked, and a fresh 4 MB copy per round is fresh pages (page faults measured at up to
   * ~20 ms per 1M words on this machine). The expansions are spread over the pool when the vector is
   * long enough; if its threads fail, the calling thread masks instead (the round does not fail for it).
   */
  async mask(round: Round, secrets: SiteSecrets, advertisements: ReadonlyMap<number, Advertisement>, sealed: ReadonlyMap<number, Uint8Array>, input: Uint32Array): Promise<Uint32Array> {
    if (input.length !== round.length) throw invalidParameter(`the input has ${input.length} elements, the round ${round.length}`);
    const terms = maskTerms(round, secrets, advertisements, sealed);
    if (this.workers === 0 || this.#broken || input.length < this.minLength) {
      applyMasks(input, terms);
      return input;
    }
    const pool = (this.#pool ??= new MaskExpansionPool(this.workers, { idleMs: IDLE_MS }));
    try {
      await pool.apply(input, terms);
    } catch {
      // The pool works on a copy, so `input` is untouched: mask it here. A thread that could not
      // start or died (not a close() meanwhile) leaves this process masking without threads.
      if (this.#pool === pool) {
        this.#pool = undefined;
        this.#broken = true;
        void pool.close();
      }
      applyMasks(input, terms);
    }
    return input;
  }

  /** Ends the threads now; a later mask() starts them again. */
  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.close();
  }
}
