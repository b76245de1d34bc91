/**
 * Protection `he`: homomorphic aggregation under CKKS (crypto/he). The coordinator holds the
 * federation's PUBLIC key only; it sums ciphertexts it can never decrypt, and only the aggregate is
 * ever decrypted, by sites that hold the secret key.
 *
 * Stages:
 * 1. `submit`: each selected site advertises a fresh X25519 key and, if it holds the federation's
 *    current key, sends w·Δ (w = its example count, or 1 under DP) and its adaptive-clipping bit
 *    encrypted, as a byte tensor of ⌈(P+1)/4096⌉ ciphertexts; the coordinator checks the stream's
 *    framing and every ciphertext's parameters and folds it into one running sum (O(model)
 *    memory whatever the number of sites; on worker threads where there are cores, each keeping a
 *    partial sum merged at the stage's end in settle(): he-fold-pool.ts). A site without the key
 *    keeps its update in memory.
 * 2. `keys` (the key ceremony; skipped when every submitter held the key): one custodian site,
 *    chosen by a public hash of the round id, either generates the federation's CKKS keys (`new`:
 *    no current key, or nobody in the round holds it) or re-shares the key it holds (`share`), and
 *    seals the secret key to each recipient's X25519 key (crypto/he/key-wrap.ts: X25519 + HKDF +
 *    AES-256-GCM, bound to federation, site and key id). The coordinator checks the public key,
 *    keeps it and the sealed keys, and relays each sealed key to its site: it never sees the
 *    secret key.
 * 3. `encrypt` (skipped with `keys`): each recipient opens its sealed key and sends its update
 *    encrypted, folded like stage 1.
 * 4. `decrypt`: d ≥ 2 of the contributors, chosen by a hash of the round id, each receive the
 *    aggregate ciphertexts (the task's tensor, fetched in ~1 MiB chunks: no message-size limit on
 *    the model; the coordinator holds one serialized aggregate for all of them) and return the decrypted sum (float64, as bytes). The coordinator
 *    accepts the sum only if every designated decryptor returned the same bytes: decryption and
 *    decoding are deterministic, so a lying decryptor is caught unless all d collude.
 *
 * Key lifetime: the current key lives in this coordinator's memory (public key, holders, sealed
 * keys: nothing a curious coordinator could decrypt with). Revoking a site that holds the key
 * retires it, dropping every sealed key, so the next round runs a new ceremony that the revoked
 * site (no longer selectable) cannot join; a coordinator restart also starts from a new ceremony.
 *
 * Threat model: an honest-but-curious coordinator; sites trust each other with the secret key. The
 * custodian is not authenticated to the recipients (key-wrap.ts): a coordinator that deviated from
 * the protocol could play custodian itself; that is outside this model. What leaves a site in the
 * clear: its example count (without DP, as under `none`) and training metrics; the decryptors
 * learn the round's sum, which the coordinator learns anyway.
 */
import { createHash } from 'node:crypto';
import { ConclaveError } from '../../protocols/index.ts';
import {
  COEFF_MODULUS_BITS, MAX_ABS_SUM, MAX_FULL_CIPHERTEXT_BYTES, MAX_PUBLIC_KEY_BYTES, MAX_SECRET_KEY_BYTES, POLY_MODULUS_DEGREE, SCALE, Ckks, HeError, ciphertextCount, packCiphertexts, unpackCiphertexts,
  type CkksAccumulator, type CiphertextMode,
} from '../../crypto/he/ckks.ts';
import { SEALED_OVERHEAD_BYTES } from '../../crypto/he/key-wrap.ts';
import {
  HE_KEYS_SCHEMA, HE_SUBMIT_SCHEMA, decodeJson, encodeFramed, encodeJson, keyIdOf, type HeKeysTask, type HePlan,
} from '../../crypto/he/wire.ts';
import type { StageHeaderMsg, TensorSpec } from '../../protocols/index.ts';
import type { RoundAggregation, SumAggregation } from '../aggregation/aggregator.ts';
import { checkUpdateReport } from './none.ts';
import type { ProtectionProtocol, StageOutcome, StageRoundContext, UpdateReport } from './protocol.ts';
import { HeFoldPool, defaultFoldThreads, type FoldSum } from './he-fold-pool.ts';

export interface HeProtectionOptions {
  /** A CKKS context (crypto/he); the protocol does not own it. Omitted: one is loaded by prepare(). */
  he?: Ckks;
  /** Sites that decrypt the aggregate, unless the federation's config says; at least 2 so that one lying decryptor is caught. */
  decryptors?: number;
  /** `seeded` or `full` ciphertexts, unless the federation's config says; see BENCHMARKS.md. */
  mode?: CiphertextMode;
  /**
   * Threads that fold the uploads (he-fold-pool.ts); 0 folds them on the event loop's thread.
   * Default: defaultFoldThreads() (one per core up to 4; none on a single core).
   */
  foldThreads?: number;
}

/** The federation's current key, as the coordinator may hold it: public parts and sealed keys only. */
interface Epoch {
  keyId: string;
  publicKey: Uint8Array;
  /** Every site a sealed copy of the secret key was made for (the custodian included). */
  holders: Set<string>;
  sealed: Map<string, Uint8Array>;
}

interface Ceremony {
  mode: 'new' | 'share';
  custodian: string;
  /** Sites the custodian seals the key to, in the task's order. */
  recipients: string[];
  /** Sites that encrypt in stage `encrypt` (new: every submitter; share: the recipients). */
  encrypting: string[];
  keyId: string;
  publicKey: Uint8Array | null;
  sealed: Map<string, Uint8Array>;
}

interface HeState {
  federationId: string;
  roundId: string;
  aggregation: SumAggregation;
  plan: HePlan;
  decryptors: number;
  accumulator: CkksAccumulator;
  /** The round's sum on the fold threads (merged into `accumulator` by each folding stage's settle()); null: folded inline. */
  pooled: FoldSum | null;
  disposed: boolean;
  /** Every submitter's weight and X25519 key; the weight counts once its ciphertexts are folded. */
  reports: Map<string, { weight: number; exchangeKey: string }>;
  folded: Set<string>;
  ceremony: Ceremony | null;
  chosen: string[];
  /** The aggregate ciphertexts, as the decrypt task's tensor (chunked to the decryptors: any model size). */
  aggregate: { layout: TensorSpec[]; values: Uint8Array } | null;
  results: Map<string, Buffer>;
}

const MAX_SEALED_KEY_BYTES = SEALED_OVERHEAD_BYTES + MAX_SECRET_KEY_BYTES;

function isSumAggregation(a: RoundAggregation): a is SumAggregation {
  return typeof (a as Partial<SumAggregation>).addSum === 'function';
}

/** HeError → the wire's stable codes: framing faults are a malformed stream, the rest an invalid argument. */
function refuse(err: unknown, what: string): never {
  if (err instanceof HeError) {
    throw new ConclaveError(err.code === 'HE_PARAMETERS' || err.code === 'HE_KEY' ? 'INVALID_ARGUMENT' : 'MALFORMED_STREAM', `${what}: ${err.code}: ${err.message}`);
  }
  throw err;
}

function opaqueJson<T>(header: StageHeaderMsg, schema: Parameters<typeof decodeJson<T>>[0], what: string): T {
  if (header.body !== 'opaque') throw new ConclaveError('INVALID_ARGUMENT', `${what} takes an opaque body`);
  try {
    return decodeJson(schema, header.opaque.data, what);
  } catch (err) {
    throw new ConclaveError('INVALID_ARGUMENT', (err as Error).message);
  }
}

/** A fixed, public order: which site is custodian or decryptor does not depend on what anyone sent. */
function byRank(roundId: string, sites: Iterable<string>): string[] {
  const rank = (id: string) => createHash('sha256').update(roundId).update('\0').update(id).digest('hex');
  return [...sites].sort((a, b) => rank(a).localeCompare(rank(b)));
}

export function heProtection(options: HeProtectionOptions = {}): ProtectionProtocol<HeState> {
  let he = options.he;
  let loading: Promise<Ckks> | undefined;
  const defaultDecryptors = options.decryptors ?? 2;
  if (!Number.isInteger(defaultDecryptors) || defaultDecryptors < 2) throw new RangeError('protection "he" needs at least 2 decryptors, so that one lying decryptor is caught');
  // Seeded by default: see BENCHMARKS.md ("CKKS") for the measurements behind the choice.
  const defaultMode = options.mode ?? 'seeded';
  const foldThreads = options.foldThreads ?? defaultFoldThreads();
  if (!Number.isInteger(foldThreads) || foldThreads < 0) throw new RangeError(`foldThreads must be a non-negative integer, got ${foldThreads}`);
  let pool: HeFoldPool | undefined;
  const epochs = new Map<string, Epoch>();
  /** Each round's plan, fixed at begin(): a revocation mid-round must not change what later sites are told. */
  const plans = new Map<string, HePlan>();

  const ready = (): Ckks => {
    if (!he) throw new ConclaveError('INTERNAL', 'protection "he" was used before its CKKS runtime was loaded');
    return he;
  };
  const paramsOf = (ctx: StageRoundContext) => {
    const p = ctx.protection;
    return p?.kind === 'he' ? { decryptors: p.decryptors, mode: p.ciphertexts } : { decryptors: defaultDecryptors, mode: defaultMode };
  };

  function planFor(ctx: StageRoundContext): HePlan {
    const length = ctx.layout.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0) + 1;
    return {
      scheme: 'ckks', polyModulusDegree: POLY_MODULUS_DEGREE, coeffModulusBits: [COEFF_MODULUS_BITS[0]!, COEFF_MODULUS_BITS[1]!], scale: SCALE,
      keyId: epochs.get(ctx.federationId)?.keyId ?? '', mode: paramsOf(ctx).mode,
      weighting: ctx.dp ? 'uniform' : 'examples', maxAbsPerSite: MAX_ABS_SUM / Math.max(1, ctx.selected.length), length,
    };
  }
  const maxStreamBytes = (plan: HePlan) => ciphertextCount(plan.length) * (4 + MAX_FULL_CIPHERTEXT_BYTES);

  function expectCiphertexts(state: HeState, header: StageHeaderMsg) {
    if (!header.tensor) throw new ConclaveError('MALFORMED_STREAM', 'an encrypted update needs its ciphertext tensor');
    const max = maxStreamBytes(state.plan);
    if (header.tensor.totalElements > max) {
      throw new ConclaveError('MESSAGE_TOO_LARGE', `${header.tensor.totalElements} ciphertext bytes exceed the ${max} that ${ciphertextCount(state.plan.length)} ciphertexts can take`);
    }
    return { dtype: 'bytes' as const, maxElements: max };
  }

  /** Folds a site's ciphertexts inline, or hands them to the fold threads (a promise: the site counts once its thread loaded them). */
  function fold(state: HeState, siteId: string, tensor: unknown): void | Promise<void> {
    if (!(tensor instanceof Uint8Array)) throw new ConclaveError('INVALID_ARGUMENT', 'an encrypted update is a byte tensor');
    const what = `the encrypted update of ${siteId}`;
    let ciphertexts: Uint8Array[];
    try {
      // The stream's framing is checked here either way, so a truncated or oversized one is refused at once.
      ciphertexts = unpackCiphertexts(tensor, ciphertextCount(state.plan.length), MAX_FULL_CIPHERTEXT_BYTES);
      if (!state.pooled) state.accumulator.add(ciphertexts);
    } catch (err) {
      refuse(err, what);
    }
    if (!state.pooled) {
      state.folded.add(siteId);
      return;
    }
    return state.pooled.add(tensor).then(() => {
      state.folded.add(siteId);
    }, (err: unknown) => refuse(err, what));
  }

  /** The fold threads' partial sums, added into the round's accumulator (each folding stage's end). */
  async function merge(state: HeState): Promise<void> {
    if (!state.pooled) return;
    const partials = await state.pooled.take();
    // The round may have been aborted meanwhile: its accumulator is gone, and must not come back (WASM memory).
    if (state.disposed) return;
    for (const p of partials) state.accumulator.add(p);
  }

  /** Encryption is over: check the quorum, pick the decryptors, and serialize the aggregate for them. */
  function toDecryption(state: HeState, ctx: StageRoundContext): StageOutcome {
    const contributors = [...state.folded];
    if (contributors.length < ctx.minSurvivors) {
      return { abort: `quorum not reached: ${contributors.length} of ${ctx.minSurvivors} required updates by the deadline` };
    }
    if (contributors.length < state.decryptors) return { abort: `protection "he" needs ${state.decryptors} contributing sites to decrypt the aggregate, ${contributors.length} contributed` };
    state.chosen = byRank(ctx.roundId, contributors).slice(0, state.decryptors);
    try {
      const packed = packCiphertexts(state.accumulator.serialize());
      state.aggregate = { layout: [{ name: 'ckks/aggregate', shape: [packed.length], dtype: 'bytes' }], values: packed };
    } finally {
      state.accumulator.delete();
    }
    return { survivors: state.chosen };
  }

  return {
    name: 'he',
    async close() {
      await pool?.close();
    },
    async prepare() {
      if (he) return;
      loading ??= Ckks.create();
      he = await loading;
    },
    siteRevoked(federationId, siteId) {
      // The revoked site may still hold the secret key: a key it holds is never used again, and
      // every sealed copy of it goes with it.
      const epoch = epochs.get(federationId);
      if (epoch?.holders.has(siteId)) epochs.delete(federationId);
    },
    plan: (ctx) => ({ protocol: 'he', stages: ['submit', 'keys', 'encrypt', 'decrypt'], params: 'opaque', opaque: { data: encodeJson(plans.get(ctx.roundId) ?? planFor(ctx)) } }),
    begin(ctx, aggregation) {
      if (!isSumAggregation(aggregation)) throw new ConclaveError('INVALID_ARGUMENT', 'protection "he" yields only a sum: the aggregator must be a streaming-sum one');
      const plan = planFor(ctx);
      const decryptors = paramsOf(ctx).decryptors;
      if (!Number.isInteger(decryptors) || decryptors < 2) throw new ConclaveError('INVALID_ARGUMENT', 'protection "he" needs at least 2 decryptors');
      plans.set(ctx.roundId, plan);
      if (foldThreads > 0) pool ??= new HeFoldPool(foldThreads);
      return {
        federationId: ctx.federationId, roundId: ctx.roundId, aggregation, plan, decryptors, accumulator: ready().accumulator(ciphertextCount(plan.length)),
        pooled: pool ? pool.sum(ciphertextCount(plan.length)) : null, disposed: false,
        reports: new Map(), folded: new Set(), ceremony: null, chosen: [], aggregate: null, results: new Map(),
      };
    },
    stages: [
      {
        name: 'submit',
        expect(state, ctx, _siteId, header) {
          const body = opaqueJson(header, HE_SUBMIT_SCHEMA, 'stage "submit" of protection "he"');
          checkUpdateReport(body, ctx.dp);
          if (body.keyId === '') {
            if (header.tensor) throw new ConclaveError('INVALID_ARGUMENT', 'a site without the federation\'s key sends no ciphertexts; it gets the key in this round\'s ceremony');
            return null;
          }
          if (body.keyId !== state.plan.keyId) {
            throw new ConclaveError('INVALID_ARGUMENT', `the update is encrypted under key ${body.keyId.slice(0, 12)}…, the round's key is ${state.plan.keyId.slice(0, 12) || '(none yet)'}…`);
          }
          return expectCiphertexts(state, header);
        },
        accept(state, ctx, message) {
          const body = opaqueJson(message.header, HE_SUBMIT_SCHEMA, 'stage "submit" of protection "he"');
          const folding = body.keyId !== '' ? fold(state, message.siteId, message.tensor) : undefined;
          const report = (): UpdateReport => {
            state.reports.set(message.siteId, { weight: ctx.dp ? 1 : body.numExamples, exchangeKey: body.exchangeKey });
            return { numExamples: body.numExamples, trainLoss: body.trainLoss, trainAccuracy: body.trainAccuracy };
          };
          return folding ? folding.then(report) : report();
        },
        settle: (state) => merge(state),
        finish(state, ctx, answered) {
          if (answered.length < ctx.minSurvivors) {
            return { abort: `quorum not reached: ${answered.length} of ${ctx.minSurvivors} required updates by the deadline` };
          }
          const lacking = answered.filter((id) => !state.folded.has(id));
          if (lacking.length === 0) return toDecryption(state, ctx);
          const epoch = epochs.get(state.federationId);
          if (state.folded.size > 0) {
            if (epoch?.keyId !== state.plan.keyId) return { abort: 'the federation\'s CKKS key was retired during the round (a site holding it was revoked); the next round runs a new key ceremony' };
            // Someone in the round holds the key: it re-shares it, and what was encrypted stays.
            const [custodian] = byRank(ctx.roundId, state.folded);
            state.ceremony = { mode: 'share', custodian: custodian!, recipients: lacking, encrypting: lacking, keyId: state.plan.keyId, publicKey: null, sealed: new Map() };
          } else {
            const [custodian, ...others] = byRank(ctx.roundId, answered);
            state.ceremony = { mode: 'new', custodian: custodian!, recipients: others, encrypting: answered.slice(), keyId: '', publicKey: null, sealed: new Map() };
          }
          return { survivors: [state.ceremony.custodian] };
        },
      },
      {
        name: 'keys',
        skip: (state) => state.ceremony === null,
        task(state) {
          const c = state.ceremony!;
          const task: HeKeysTask = { mode: c.mode, keyId: c.mode === 'share' ? c.keyId : '', recipients: c.recipients.map((siteId) => ({ siteId, exchangeKey: state.reports.get(siteId)!.exchangeKey })) };
          return { body: 'opaque', opaque: { data: encodeJson(task) } };
        },
        expect(state, _ctx, siteId, header) {
          const c = state.ceremony!;
          if (siteId !== c.custodian) throw new ConclaveError('FORBIDDEN', 'only the round\'s key custodian answers stage "keys"');
          opaqueJson(header, HE_KEYS_SCHEMA, 'stage "keys" of protection "he"');
          if (!header.tensor) throw new ConclaveError('MALFORMED_STREAM', 'the key ceremony\'s answer needs its tensor (public key and sealed keys)');
          const max = 4 + MAX_PUBLIC_KEY_BYTES + c.recipients.length * (4 + MAX_SEALED_KEY_BYTES);
          if (header.tensor.totalElements > max) throw new ConclaveError('MESSAGE_TOO_LARGE', `${header.tensor.totalElements} bytes exceed the ${max} a public key and ${c.recipients.length} sealed keys can take`);
          return { dtype: 'bytes', maxElements: max };
        },
        accept(state, _ctx, message) {
          const c = state.ceremony!;
          const body = opaqueJson(message.header, HE_KEYS_SCHEMA, 'stage "keys" of protection "he"');
          if (!(message.tensor instanceof Uint8Array)) throw new ConclaveError('INVALID_ARGUMENT', 'the key ceremony\'s answer is a byte tensor');
          let items: Uint8Array[];
          try {
            items = unpackCiphertexts(message.tensor, 1 + c.recipients.length, MAX_PUBLIC_KEY_BYTES);
          } catch (err) {
            return refuse(err, 'the key ceremony\'s answer');
          }
          const [publicKey, ...sealed] = items;
          if (sealed.some((s) => s.length > MAX_SEALED_KEY_BYTES)) throw new ConclaveError('MALFORMED_STREAM', `a sealed key exceeds ${MAX_SEALED_KEY_BYTES} bytes`);
          if (keyIdOf(publicKey!) !== body.keyId) throw new ConclaveError('INVALID_ARGUMENT', 'the key id is not the SHA-256 of the public key sent with it');
          if (c.mode === 'share' && body.keyId !== c.keyId) throw new ConclaveError('INVALID_ARGUMENT', `the custodian was asked to share key ${c.keyId.slice(0, 12)}…, it sent ${body.keyId.slice(0, 12)}…`);
          try {
            ready().checkPublicKey(publicKey!);
          } catch (err) {
            refuse(err, 'the key ceremony\'s public key');
          }
          c.keyId = body.keyId;
          c.publicKey = Uint8Array.from(publicKey!);
          c.recipients.forEach((siteId, i) => c.sealed.set(siteId, Uint8Array.from(sealed[i]!)));
        },
        finish(state, _ctx, answered) {
          const c = state.ceremony!;
          if (!answered.includes(c.custodian) || !c.publicKey) return { abort: `key ceremony: the custodian site ${c.custodian} did not answer by the deadline` };
          if (c.mode === 'new') {
            epochs.set(state.federationId, { keyId: c.keyId, publicKey: c.publicKey, holders: new Set([c.custodian, ...c.recipients]), sealed: new Map(c.sealed) });
            state.plan = { ...state.plan, keyId: c.keyId };
          } else {
            const epoch = epochs.get(state.federationId);
            if (epoch?.keyId !== c.keyId) return { abort: 'the federation\'s CKKS key was retired during the key ceremony (a site holding it was revoked)' };
            for (const [siteId, sealed] of c.sealed) {
              epoch.holders.add(siteId);
              epoch.sealed.set(siteId, sealed);
            }
          }
          return { survivors: c.encrypting };
        },
      },
      {
        name: 'encrypt',
        skip: (state) => state.ceremony === null,
        task(state, siteId) {
          const c = state.ceremony!;
          const sealed = c.sealed.get(siteId);
          return { body: 'opaque', opaque: { data: encodeFramed({ keyId: c.keyId, siteId, sealed: sealed !== undefined }, packCiphertexts(sealed ? [c.publicKey!, sealed] : [c.publicKey!])) } };
        },
        expect(state, _ctx, _siteId, header) {
          const body = opaqueJson(header, HE_KEYS_SCHEMA, 'stage "encrypt" of protection "he"');
          if (body.keyId !== state.plan.keyId) throw new ConclaveError('INVALID_ARGUMENT', `the update is encrypted under key ${body.keyId.slice(0, 12)}…, the round's key is ${state.plan.keyId.slice(0, 12)}…`);
          return expectCiphertexts(state, header);
        },
        accept: (state, _ctx, message) => fold(state, message.siteId, message.tensor),
        settle: (state) => merge(state),
        finish: (state, ctx) => toDecryption(state, ctx),
      },
      {
        name: 'decrypt',
        task: (state) => ({ body: 'opaque', opaque: { data: encodeJson({ keyId: state.plan.keyId, length: state.plan.length, count: ciphertextCount(state.plan.length) }) } }),
        taskTensor: (state) => state.aggregate,
        expect(state, _ctx, siteId, header) {
          if (!state.chosen.includes(siteId)) throw new ConclaveError('FORBIDDEN', 'this site is not a designated decryptor of the round');
          if (header.body !== 'opaque') throw new ConclaveError('INVALID_ARGUMENT', 'stage "decrypt" takes an opaque body');
          if (!header.tensor) throw new ConclaveError('MALFORMED_STREAM', 'the decrypted aggregate needs its tensor');
          const bytes = 8 * state.plan.length;
          if (header.tensor.totalElements !== bytes) throw new ConclaveError('LAYOUT_MISMATCH', `the decrypted aggregate must be ${bytes} bytes (${state.plan.length} float64), got ${header.tensor.totalElements}`);
          return { dtype: 'bytes', maxElements: bytes };
        },
        accept(state, _ctx, message) {
          if (!(message.tensor instanceof Uint8Array) || message.tensor.length !== 8 * state.plan.length) throw new ConclaveError('LAYOUT_MISMATCH', 'the decrypted aggregate has the wrong size');
          const values = new Float64Array(Uint8Array.from(message.tensor).buffer);
          for (const v of values) if (!Number.isFinite(v)) throw new ConclaveError('NON_FINITE_VALUE', 'the decrypted aggregate holds a non-finite value');
          state.results.set(message.siteId, Buffer.from(message.tensor));
        },
        finish(state, _ctx, answered) {
          if (answered.length < state.chosen.length) {
            return { abort: `decryption incomplete: ${answered.length} of ${state.chosen.length} designated decryptors answered by the deadline` };
          }
          const [first, ...rest] = state.chosen.map((id) => state.results.get(id)!);
          if (rest.some((r) => !r.equals(first!))) {
            return { abort: `decryptors disagree on the aggregate (${state.chosen.join(', ')}): at least one of them returned a wrong decryption; nothing is committed` };
          }
          return { survivors: [...answered] };
        },
      },
    ],
    unprotect(state) {
      const [first] = state.results.values();
      const decrypted = new Float64Array(Uint8Array.from(first!).buffer);
      const parameters = state.plan.length - 1;
      const unclipped = Math.round(decrypted[parameters]!);
      let totalWeight = 0;
      for (const id of state.folded) totalWeight += state.reports.get(id)!.weight;
      state.aggregation.addSum(decrypted.subarray(0, parameters).slice(), state.folded.size, totalWeight, unclipped);
      state.results.clear();
    },
    dispose(state) {
      state.disposed = true;
      state.pooled?.drop();
      state.accumulator.delete();
      state.results.clear();
      state.aggregate = null;
      plans.delete(state.roundId);
    },
  };
}
