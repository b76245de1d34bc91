/**
 * CKKS for aggregation only (Cheon, Kim, Kim, Song, "Homomorphic Encryption for Arithmetic of
 * Approximate Numbers", ASIACRYPT 2017), through node-seal 7 (Microsoft SEAL 4.1 in WebAssembly).
 * Sites encrypt their weighted deltas; whoever holds only the public parameters can add the
 * ciphertexts; only a holder of the secret key can read the sum.
 *
 * Parameters, fixed for every federation (the coordinator checks each ciphertext against them):
 * - N = 8192, coefficient moduli [60, 60] bits. Aggregation needs no multiplication, so no rescaling
 *   level: one 60-bit data prime q0, plus the 60-bit special prime SEAL keeps for key switching.
 *   Security: the HomomorphicEncryption.org standard (Albrecht et al., "Homomorphic Encryption
 *   Standard", 2018, Table 1, ternary secret, σ = 3.2) allows log Q ≤ 218 bits at N = 8192 for
 *   128-bit classical security; 120 bits is well inside it. SEAL refuses the context otherwise
 *   (we build it with sec_level tc128 and check `securityLevel` below).
 * - Scale Δ = 2^40. Encoding rounds Δ·x to an integer and encryption adds RLWE noise (σ = 3.2),
 *   which decodes to an absolute error per slot of order 1e-10 (symmetric) to 1e-9 (public key);
 *   errors of k sites add. bench/ckks.ts measured a max of 3.0e-9 (seeded) and 3.6e-8 (full) over
 *   10 sites × 1M parameters, far under the 1e-6 the property test demands. The headroom is
 *   q0/Δ = 2^20: a slot decodes correctly only while |Σ| < 2^19, so callers keep |Σ| ≤ 2^18.
 * - Slots: N/2 = 4096 reals per ciphertext; a model of P parameters takes ⌈P/4096⌉ ciphertexts.
 *
 * WebAssembly memory is not garbage-collected: every SEAL object made here is deleted in a finally
 * block, and the long-lived ones (context, encoder, evaluator) belong to an object with an
 * explicit delete(). The WASM heap never shrinks, so a leak shows as heap growth across rounds
 * (`heapBytes`, tested).
 */
import { getRandomValues } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import SEAL, { type Ciphertext, type MainModule, type SEALContext } from 'node-seal';
import { CryptoError } from '../errors.ts';

export const POLY_MODULUS_DEGREE = 8192;
export const COEFF_MODULUS_BITS: readonly number[] = [60, 60];
export const SCALE = 2 ** 40;
export const SLOTS = POLY_MODULUS_DEGREE / 2;
/** Largest |sum| a slot may reach and still decode correctly (q0/Δ = 2^20, halved for sign, halved again for margin). */
export const MAX_ABS_SUM = 2 ** 18;
/**
 * Serialized size bounds (SEAL header + payload, no compression: RLWE coefficients are uniform and
 * do not compress). Full: 2 polynomials × 8192 coefficients × 8 bytes. Seeded: the second
 * polynomial is replaced by a 64-byte PRNG seed that the reader expands.
 */
export const MAX_FULL_CIPHERTEXT_BYTES = 2 * POLY_MODULUS_DEGREE * 8 + 256;
export const MAX_SEEDED_CIPHERTEXT_BYTES = POLY_MODULUS_DEGREE * 8 + 512;
/** Serialized key bounds (measured: 262,257 and 131,160 bytes): a public key is 2 polynomials over both primes, a secret key 1. */
export const MAX_PUBLIC_KEY_BYTES = 4 * POLY_MODULUS_DEGREE * 8 + 256;
export const MAX_SECRET_KEY_BYTES = 2 * POLY_MODULUS_DEGREE * 8 + 256;

export type CiphertextMode = 'full' | 'seeded';

export type HeErrorCode = 'HE_PARAMETERS' | 'HE_MALFORMED_CIPHERTEXT' | 'HE_WRONG_COUNT' | 'HE_KEY' | 'HE_RANGE';

export class HeError extends CryptoError<HeErrorCode> {}

export interface CkksKeyPair {
  /** Serialized SEAL PublicKey: what the coordinator may hold. */
  publicKey: Uint8Array;
  /** Serialized SEAL SecretKey: sites only, never the coordinator, never a log. */
  secretKey: Uint8Array;
}

export function ciphertextCount(parameters: number): number {
  if (!Number.isInteger(parameters) || parameters < 0) throw new HeError('HE_RANGE', `parameter count must be a non-negative integer, got ${String(parameters)}`);
  return Math.ceil(parameters / SLOTS);
}

/** The slice of the WebAssembly API used here (our lib settings carry no DOM/WebAssembly types). */
interface WasmMemory { readonly buffer: ArrayBuffer }
interface WasmInstance { readonly exports: Record<string, unknown> }
interface WasmApi {
  instantiate(bytes: Uint8Array, imports: unknown): Promise<{ instance: WasmInstance; module: unknown }>;
  Memory: abstract new (...args: never[]) => WasmMemory;
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface Runtime { seal: MainModule; memory: () => WasmMemory | undefined }
let runtime: Promise<Runtime> | undefined;

/** Bytes of OS randomness drawn per host call for SEAL (see batchEntropy). */
const ENTROPY_POOL_BYTES = 4096;

/**
 * SEAL seeds each encryption's PRNGs from std::random_device, which Emscripten serves 4 bytes per
 * host call (WASI random_get → crypto.getRandomValues): 16 calls per ciphertext, ~8% of a seeded
 * encryption's CPU (measured, BENCHMARKS.md). The same OS CSPRNG bytes, drawn 4 KiB at a time
 * and handed out in order, cost one call per 256 small requests. Bytes handed out are zeroed in
 * the pool, so it never holds randomness that was already used. Larger requests go to the host.
 */
function batchEntropy(imports: unknown, memory: () => WasmMemory | undefined): void {
  const pool = new Uint8Array(ENTROPY_POOL_BYTES);
  let at = ENTROPY_POOL_BYTES;
  for (const module of Object.values(imports as Record<string, Record<string, unknown>>)) {
    for (const [name, fn] of Object.entries(module ?? {})) {
      // Emscripten minifies import keys but keeps the function's own name.
      if (typeof fn !== 'function' || fn.name !== '_random_get') continue;
      const host = fn as (buffer: number, size: number) => number;
      module[name] = (buffer: number, size: number): number => {
        const mem = memory();
        buffer >>>= 0;
        size >>>= 0;
        if (!mem || size > ENTROPY_POOL_BYTES / 4) return host(buffer, size);
        if (at + size > ENTROPY_POOL_BYTES) {
          getRandomValues(pool);
          at = 0;
        }
        new Uint8Array(mem.buffer, buffer, size).set(pool.subarray(at, at + size));
        pool.fill(0, at, at + size);
        at += size;
        return 0;
      };
    }
  }
}

/** One SEAL runtime per process; instantiated by hand so that its linear memory can be measured. */
function loadRuntime(): Promise<Runtime> {
  runtime ??= (async () => {
    const wasm = await readFile(new URL('./seal_throws.wasm', import.meta.resolve('node-seal')));
    let memory: WasmMemory | undefined;
    const seal = await SEAL({
      instantiateWasm(imports: unknown, receive: (instance: WasmInstance, module: unknown) => void) {
        batchEntropy(imports, () => memory);
        void Wasm.instantiate(wasm, imports).then(({ instance, module }) => {
          memory = Object.values(instance.exports).find((v): v is WasmMemory => v instanceof Wasm.Memory);
          receive(instance, module);
        });
        return {};
      },
    });
    return { seal, memory: () => memory };
  })();
  return runtime;
}

/** Runs `fn` and deletes the SEAL objects it registered, whatever happens. */
function scoped<T>(fn: (own: <H extends { delete(): void }>(handle: H) => H) => T): T {
  const owned: Array<{ delete(): void }> = [];
  try {
    return fn((handle) => { owned.push(handle); return handle; });
  } finally {
    for (let i = owned.length - 1; i >= 0; i--) owned[i]!.delete();
  }
}

/**
 * What SEAL's save returns, as memory of our own. node-seal 7 already returns a fresh Uint8Array
 * over its own ArrayBuffer: that is kept as it is (copying it again cost ~15% of an encryption,
 * measured); anything else (a view into the WebAssembly heap, which the next call may overwrite)
 * is copied.
 */
function copyOut(saved: unknown, heap: WasmMemory | undefined): Uint8Array {
  const bytes = saved as Uint8Array;
  const own = bytes.constructor === Uint8Array && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer !== heap?.buffer;
  return own ? bytes : new Uint8Array(bytes);
}

/** SEAL's bindings accept exactly a Uint8Array, not a subclass (a Buffer is refused). */
function plainBytes(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The CKKS context of this module's fixed parameters. Call delete() when done with it. */
export class Ckks {
  readonly seal: MainModule;
  readonly context: SEALContext;
  private readonly memory: () => WasmMemory | undefined;
  private readonly encoder;
  private readonly evaluator;
  private readonly firstParms: readonly bigint[];

  private constructor(seal: MainModule, memory: () => WasmMemory | undefined) {
    this.seal = seal;
    this.memory = memory;
    this.context = scoped((own) => {
      const parms = own(new seal.EncryptionParameters(seal.SchemeType.ckks));
      parms.setPolyModulusDegree(POLY_MODULUS_DEGREE);
      parms.setCoeffModulus(own(seal.CoeffModulus.Create(POLY_MODULUS_DEGREE, Int32Array.from(COEFF_MODULUS_BITS))));
      return new seal.SEALContext(parms, true, seal.SecLevelType.tc128);
    });
    const level = scoped((own) => own(own(this.context.firstContextData()).qualifiers()).securityLevel.value);
    if (!this.context.parametersSet() || level !== 128) {
      this.context.delete();
      throw new HeError('HE_PARAMETERS', `SEAL refused the CKKS parameters (security level ${level})`);
    }
    this.encoder = new seal.CKKSEncoder(this.context);
    // The first data level's parms id, read once: every ciphertext loaded is compared with it.
    this.firstParms = scoped((own) => Array.from(own(this.context.firstParmsId()).values() as ArrayLike<bigint>));
    this.evaluator = new seal.Evaluator(this.context);
  }

  static async create(): Promise<Ckks> {
    const { seal, memory } = await loadRuntime();
    return new Ckks(seal, memory);
  }

  delete(): void {
    this.evaluator.delete();
    this.encoder.delete();
    this.context.delete();
  }

  /** Bytes of WebAssembly linear memory the SEAL runtime has reserved (it only ever grows). */
  heapBytes(): number {
    return this.memory()?.buffer.byteLength ?? 0;
  }

  generateKeys(): CkksKeyPair {
    return scoped((own) => {
      const keygen = own(new this.seal.KeyGenerator(this.context));
      const secret = own(keygen.secretKey());
      const pub = own(keygen.createPublicKey());
      const none = this.seal.ComprModeType.none;
      return { publicKey: this.own(pub.saveToArray(none)), secretKey: this.own(secret.saveToArray(none)) };
    });
  }

  /** Checks that `bytes` is a public key of these parameters (the coordinator's check on a key ceremony's result). */
  checkPublicKey(bytes: Uint8Array): void {
    if (bytes.length > MAX_PUBLIC_KEY_BYTES) throw new HeError('HE_KEY', `a public key of ${bytes.length} bytes exceeds the ${MAX_PUBLIC_KEY_BYTES}-byte bound of these parameters`);
    scoped((own) => {
      const pub = own(new this.seal.PublicKey());
      this.load(() => pub.loadFromArray(this.context, plainBytes(bytes)), 'HE_KEY', 'public key');
    });
  }

  /**
   * Encrypts `values` (padded with zeros to whole ciphertexts) as ⌈n/4096⌉ serialized ciphertexts.
   * `full` needs only the public key; `seeded` (half the bytes) encrypts symmetrically and so needs
   * the secret key, which every site holds under our threat model.
   */
  encrypt(keys: { publicKey: Uint8Array; secretKey?: Uint8Array }, values: Float32Array | Float64Array, mode: CiphertextMode = 'full'): Uint8Array[] {
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v) || Math.abs(v) > MAX_ABS_SUM) throw new HeError('HE_RANGE', `value ${i} is ${v}: CKKS slots decode exactly only within ±${MAX_ABS_SUM}`);
    }
    return scoped((own) => {
      const pub = own(new this.seal.PublicKey());
      this.load(() => pub.loadFromArray(this.context, plainBytes(keys.publicKey)), 'HE_KEY', 'public key');
      let encryptor;
      if (mode === 'seeded') {
        if (!keys.secretKey) throw new HeError('HE_KEY', 'seeded ciphertexts are encrypted symmetrically: the secret key is needed');
        const secret = own(this.loadSecretKey(keys.secretKey));
        encryptor = own(new this.seal.Encryptor(this.context, pub, secret));
      } else {
        encryptor = own(new this.seal.Encryptor(this.context, pub));
      }
      const none = this.seal.ComprModeType.none;
      const slots = new Float64Array(SLOTS);
      const out: Uint8Array[] = [];
      // One plaintext for every ciphertext: encoding into a fresh one allocates and zeroes 128 KiB
      // of WASM memory each time (~0.1 ms of the ~1.8 ms a ciphertext costs, measured).
      const plain = own(new this.seal.Plaintext());
      // Likewise one ciphertext for full mode (seeded ones come out of SEAL as new objects).
      const cipher = mode === 'full' ? own(new this.seal.Ciphertext()) : null;
      for (let offset = 0; offset < values.length; offset += SLOTS) {
        const end = Math.min(offset + SLOTS, values.length);
        slots.set(values.subarray(offset, end));
        if (end - offset < SLOTS) slots.fill(0, end - offset);
        this.encoder.encode(slots, SCALE, plain);
        let bytes: Uint8Array;
        if (cipher) {
          encryptor.encrypt(plain, cipher);
          bytes = this.own(cipher.saveToArray(none));
        } else {
          const seeded = encryptor.encryptSymmetricSerializable(plain);
          try {
            bytes = this.own(seeded.saveToArray(none));
          } finally {
            seeded.delete();
          }
        }
        out.push(bytes);
      }
      return out;
    });
  }

  /**
   * Loads one serialized ciphertext and checks it is a fresh ciphertext of THESE parameters: two
   * polynomials at the first data level, NTT form, scale 2^40. SEAL itself checks the header, the
   * sizes and that every coefficient is reduced modulo q. The caller deletes the result.
   */
  loadCiphertext(bytes: Uint8Array, maxBytes = MAX_FULL_CIPHERTEXT_BYTES): Ciphertext {
    if (bytes.length > maxBytes) throw new HeError('HE_MALFORMED_CIPHERTEXT', `a ciphertext of ${bytes.length} bytes exceeds the ${maxBytes}-byte bound of these parameters`);
    const cipher = new this.seal.Ciphertext();
    try {
      this.load(() => cipher.loadFromArray(this.context, plainBytes(bytes)), 'HE_MALFORMED_CIPHERTEXT', 'ciphertext');
      const sameLevel = scoped((own) => {
        const mine = own(cipher.parmsId()).values() as ArrayLike<bigint>;
        return mine.length === this.firstParms.length && Array.prototype.every.call(mine, (v: bigint, i: number) => v === this.firstParms[i]);
      });
      if (!sameLevel || cipher.size() !== 2 || !cipher.isNttForm() || cipher.scale() !== SCALE) {
        throw new HeError('HE_PARAMETERS', 'the ciphertext was made under other CKKS parameters (level, size or scale differ)');
      }
      return cipher;
    } catch (err) {
      cipher.delete();
      throw err;
    }
  }

  /** Σ of same-position ciphertexts, one running sum per position: memory O(model), never O(sites × model). */
  accumulator(count: number): CkksAccumulator {
    return new CkksAccumulator(this, count);
  }

  /** Adds `b` into `a` (both loaded); used by the accumulator. */
  addInPlace(a: Ciphertext, b: Ciphertext): void {
    this.evaluator.addInplace(a, b);
  }

  serialize(cipher: Ciphertext): Uint8Array {
    return this.own(cipher.saveToArray(this.seal.ComprModeType.none));
  }

  /** Decrypts serialized ciphertexts into the first `length` slots of their concatenation. */
  decrypt(secretKey: Uint8Array, ciphertexts: readonly Uint8Array[], length: number): Float64Array {
    if (ciphertexts.length !== ciphertextCount(length)) {
      throw new HeError('HE_WRONG_COUNT', `${length} values take ${ciphertextCount(length)} ciphertexts, got ${ciphertexts.length}`);
    }
    return scoped((own) => {
      const secret = own(this.loadSecretKey(secretKey));
      const decryptor = own(new this.seal.Decryptor(this.context, secret));
      const out = new Float64Array(length);
      ciphertexts.forEach((bytes, i) => scoped((inner) => {
        const cipher = inner(this.loadCiphertext(bytes));
        const plain = inner(new this.seal.Plaintext());
        decryptor.decrypt(cipher, plain);
        const slots = this.encoder.decodeFloat64(plain) as Float64Array;
        const offset = i * SLOTS;
        out.set(slots.subarray(0, Math.min(SLOTS, length - offset)), offset);
      }));
      return out;
    });
  }

  private own(saved: unknown): Uint8Array {
    return copyOut(saved, this.memory());
  }

  private loadSecretKey(bytes: Uint8Array) {
    const secret = new this.seal.SecretKey();
    try {
      this.load(() => secret.loadFromArray(this.context, plainBytes(bytes)), 'HE_KEY', 'secret key');
      return secret;
    } catch (err) {
      secret.delete();
      throw err;
    }
  }

  /** SEAL's C++ exceptions arrive as WebAssembly.Exception objects; the runtime can name them. */
  private errorText(err: unknown): string {
    if (err instanceof Error) return err.message;
    try {
      const [type, message] = (this.seal as unknown as { getExceptionMessage(e: unknown): [string, string] }).getExceptionMessage(err);
      return `${type}: ${message}`;
    } catch {
      return String(err);
    }
  }

  private load(fn: () => void, code: HeErrorCode, what: string): void {
    try {
      fn();
    } catch (err) {
      throw new HeError(code, `not a valid ${what} for these CKKS parameters: ${this.errorText(err)}`);
    }
  }
}

/**
 * The coordinator's running sum: each site's ciphertexts are loaded, added and freed one at a time,
 * so it holds one ciphertext per position whatever the number of sites.
 */
export class CkksAccumulator {
  private readonly he: Ckks;
  private readonly sums: Array<Ciphertext | undefined>;
  private added = 0;

  constructor(he: Ckks, count: number) {
    this.he = he;
    this.sums = new Array<Ciphertext | undefined>(count).fill(undefined);
  }

  /** Contributions folded so far. */
  get contributors(): number {
    return this.added;
  }

  /**
   * Folds one site's ciphertexts (exactly `count`, in position order). Either all are added or
   * none: they are all loaded and checked before the first addition.
   */
  add(ciphertexts: readonly Uint8Array[], maxBytes = MAX_FULL_CIPHERTEXT_BYTES): void {
    if (ciphertexts.length !== this.sums.length) {
      throw new HeError('HE_WRONG_COUNT', `expected ${this.sums.length} ciphertexts, got ${ciphertexts.length}`);
    }
    // All or nothing: the new sums are built beside the old ones and swapped in once every
    // ciphertext has loaded, so a bad one late in the stream leaves the running sum untouched (at
    // the cost of a second model's worth of WASM memory while one site is folded).
    const next: Ciphertext[] = [];
    try {
      for (let i = 0; i < ciphertexts.length; i++) {
        const cipher = this.he.loadCiphertext(ciphertexts[i]!, maxBytes);
        const sum = this.sums[i];
        if (sum) {
          this.he.addInPlace(cipher, sum);
        }
        next.push(cipher);
      }
    } catch (err) {
      for (const c of next) c.delete();
      throw err;
    }
    for (let i = 0; i < next.length; i++) {
      this.sums[i]?.delete();
      this.sums[i] = next[i];
    }
    this.added++;
  }

  /** The sum, serialized (no contribution yet: an error, there is nothing to decrypt). */
  serialize(): Uint8Array[] {
    if (this.added === 0) throw new HeError('HE_WRONG_COUNT', 'no ciphertext was added');
    return this.sums.map((c) => this.he.serialize(c!));
  }

  delete(): void {
    for (const c of this.sums) c?.delete();
    this.sums.fill(undefined);
  }
}

/** Ciphertexts travel as one byte tensor: for each, a 4-byte little-endian length, then its bytes. */
export function packCiphertexts(ciphertexts: readonly Uint8Array[]): Uint8Array {
  const total = ciphertexts.reduce((n, c) => n + 4 + c.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const c of ciphertexts) {
    view.setUint32(at, c.length, true);
    out.set(c, at + 4);
    at += 4 + c.length;
  }
  return out;
}

/** Splits a packed stream, refusing a truncated, oversized or wrongly counted one before any SEAL parsing. */
export function unpackCiphertexts(packed: Uint8Array, expectedCount: number, maxBytesEach: number): Uint8Array[] {
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < packed.length) {
    if (out.length === expectedCount) throw new HeError('HE_WRONG_COUNT', `the stream holds more than the expected ${expectedCount} ciphertexts`);
    if (at + 4 > packed.length) throw new HeError('HE_MALFORMED_CIPHERTEXT', 'the stream is truncated inside a length prefix');
    const length = view.getUint32(at, true);
    if (length > maxBytesEach) throw new HeError('HE_MALFORMED_CIPHERTEXT', `ciphertext ${out.length} claims ${length} bytes, over the ${maxBytesEach}-byte bound`);
    if (at + 4 + length > packed.length) throw new HeError('HE_MALFORMED_CIPHERTEXT', `the stream is truncated inside ciphertext ${out.length}`);
    out.push(packed.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  if (out.length !== expectedCount) throw new HeError('HE_WRONG_COUNT', `expected ${expectedCount} ciphertexts, the stream holds ${out.length}`);
  return out;
}
