/**
 * Protection `he`: homomorphic aggregation under CKKS (crypto/he). The coordinator holds the
 * federation's PUBLIC key only; it sums ciphertexts it can never decrypt, and only the aggregate is
 * ever decrypted, by sites that hold the secret key.
 *
 * Stages:
 * 1. `submit`: each selected site sends w·Δ (w = its example count, or 1 under DP) and its
 *    adaptive-clipping bit, encrypted, as a byte tensor of ⌈(P+1)/4096⌉ ciphertexts; the
 *    coordinator checks the stream's framing and every ciphertext's parameters and folds it into
 *    one running sum (O(model) memory whatever the number of sites).
 * 2. `decrypt`: d ≥ 2 of the submitters, chosen by a hash of the round id, each receive the
 *    aggregate ciphertexts and return the decrypted sum (float64, as bytes). The coordinator
 *    accepts the sum only if every designated decryptor returned the same bytes: decryption and
 *    decoding are deterministic, so a lying decryptor is caught unless all d collude.
 *
 * Threat model: an honest-but-curious coordinator; sites trust each other with the secret key.
 * What leaves a site in the clear: its example count (without DP, as under `none`) and training
 * metrics. Key custody is NOT part of this module: it is given the public key, and the sites their
 * key pair, by whoever created them (a key ceremony relayed by the coordinator is still to be built).
 */
import { createHash } from 'node:crypto';
import { ConclaveError } from '../../protocols/index.ts';
import {
  COEFF_MODULUS_BITS, MAX_ABS_SUM, MAX_FULL_CIPHERTEXT_BYTES, POLY_MODULUS_DEGREE, SCALE, HeError, ciphertextCount, packCiphertexts, unpackCiphertexts,
  type Ckks, type CkksAccumulator, type CiphertextMode,
} from '../../crypto/he/ckks.ts';
import { HE_SUBMIT_SCHEMA, decodeJson, encodeDecryptTask, encodeJson, keyIdOf, type HePlan } from '../../crypto/he/wire.ts';
import type { RoundAggregation, SumAggregation } from '../aggregation/aggregator.ts';
import { checkUpdateReport } from './none.ts';
import type { ProtectionProtocol, StageRoundContext } from './protocol.ts';

export interface HeProtectionOptions {
  /** A CKKS context (crypto/he); the protocol does not own it. */
  he: Ckks;
  /** The federation's serialized CKKS public key. */
  publicKey: Uint8Array;
  /** Sites that decrypt the aggregate; at least 2 so that one lying decryptor is caught. */
  decryptors?: number;
  /** `seeded` (default) or `full` ciphertexts; see bench/ckks.ts. */
  mode?: CiphertextMode;
}

interface HeState {
  aggregation: SumAggregation;
  plan: HePlan;
  accumulator: CkksAccumulator;
  totalWeight: number;
  decryptors: string[];
  aggregate: Buffer | null;
  results: Map<string, Buffer>;
}

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

export function heProtection(options: HeProtectionOptions): ProtectionProtocol<HeState> {
  const { he, publicKey } = options;
  const d = options.decryptors ?? 2;
  if (!Number.isInteger(d) || d < 2) throw new RangeError('protection "he" needs at least 2 decryptors, so that one lying decryptor is caught');
  // Seeded by default (bench/ckks.ts, 10 sites × 1M parameters, CPU time on the 2-core VM): half
  // the upload (16.1 vs 32.1 B/param) and 2.6× cheaper site encryption (461 vs 1182 ms per 1M), for
  // +35 ms of coordinator CPU per site per 1M parameters (1066 vs 716 ms for all ten): less than the
  // ~160 ms the coordinator spends receiving the 16 MB it saves at the ~100 MiB/s gRPC measured in
  // BENCHMARKS.md. Every site holds the secret key under this threat model, so symmetric
  // encryption costs no custody.
  const mode = options.mode ?? 'seeded';
  const keyId = keyIdOf(publicKey);

  function planFor(ctx: StageRoundContext): HePlan {
    const length = ctx.layout.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0) + 1;
    return {
      scheme: 'ckks', polyModulusDegree: POLY_MODULUS_DEGREE, coeffModulusBits: [COEFF_MODULUS_BITS[0]!, COEFF_MODULUS_BITS[1]!], scale: SCALE, keyId, mode,
      weighting: ctx.dp ? 'uniform' : 'examples', maxAbsPerSite: MAX_ABS_SUM / Math.max(1, ctx.selected.length), length,
    };
  }
  const maxStreamBytes = (plan: HePlan) => ciphertextCount(plan.length) * (4 + MAX_FULL_CIPHERTEXT_BYTES);

  return {
    name: 'he',
    plan: (ctx) => ({ protocol: 'he', stages: ['submit', 'decrypt'], params: 'opaque', opaque: { data: encodeJson(planFor(ctx)) } }),
    begin(ctx, aggregation) {
      if (!isSumAggregation(aggregation)) throw new ConclaveError('INVALID_ARGUMENT', 'protection "he" yields only a sum: the aggregator must be a streaming-sum one');
      const plan = planFor(ctx);
      return { aggregation, plan, accumulator: he.accumulator(ciphertextCount(plan.length)), totalWeight: 0, decryptors: [], aggregate: null, results: new Map() };
    },
    stages: [
      {
        name: 'submit',
        expect(state, ctx, _siteId, header) {
          if (header.body !== 'opaque') throw new ConclaveError('INVALID_ARGUMENT', 'stage "submit" of protection "he" takes an opaque body');
          let body;
          try {
            body = decodeJson(HE_SUBMIT_SCHEMA, header.opaque.data, 'he submit');
          } catch (err) {
            throw new ConclaveError('INVALID_ARGUMENT', (err as Error).message);
          }
          if (body.keyId !== state.plan.keyId) throw new ConclaveError('INVALID_ARGUMENT', `the update is encrypted under key ${body.keyId.slice(0, 12)}…, the federation's key is ${state.plan.keyId.slice(0, 12)}…`);
          checkUpdateReport(body, ctx.dp);
          if (!header.tensor) throw new ConclaveError('MALFORMED_STREAM', 'an encrypted update needs its ciphertext tensor');
          const max = maxStreamBytes(state.plan);
          if (header.tensor.totalElements > max) {
            throw new ConclaveError('MESSAGE_TOO_LARGE', `${header.tensor.totalElements} ciphertext bytes exceed the ${max} that ${ciphertextCount(state.plan.length)} ciphertexts can take`);
          }
          return { dtype: 'bytes', maxElements: max };
        },
        accept(state, ctx, message) {
          if (message.header.body !== 'opaque' || !(message.tensor instanceof Uint8Array)) throw new ConclaveError('INVALID_ARGUMENT', 'stage "submit" of protection "he" takes a byte tensor');
          const body = decodeJson(HE_SUBMIT_SCHEMA, message.header.opaque.data, 'he submit');
          const count = ciphertextCount(state.plan.length);
          try {
            state.accumulator.add(unpackCiphertexts(message.tensor, count, MAX_FULL_CIPHERTEXT_BYTES));
          } catch (err) {
            refuse(err, `the encrypted update of ${message.siteId}`);
          }
          state.totalWeight += ctx.dp ? 1 : body.numExamples;
        },
        finish(state, ctx, answered) {
          if (answered.length < ctx.minSurvivors) {
            return { abort: `quorum not reached: ${answered.length} of ${ctx.minSurvivors} required updates by the deadline` };
          }
          if (answered.length < d) return { abort: `protection "he" needs ${d} submitting sites to decrypt the aggregate, ${answered.length} submitted` };
          // A fixed, public choice: which sites decrypt does not depend on what they sent.
          const rank = (id: string) => createHash('sha256').update(ctx.roundId).update('\0').update(id).digest('hex');
          state.decryptors = [...answered].sort((a, b) => rank(a).localeCompare(rank(b))).slice(0, d);
          try {
            state.aggregate = encodeDecryptTask({ keyId: state.plan.keyId, length: state.plan.length, count: ciphertextCount(state.plan.length) }, packCiphertexts(state.accumulator.serialize()));
          } finally {
            state.accumulator.delete();
          }
          return { survivors: state.decryptors };
        },
      },
      {
        name: 'decrypt',
        task: (state) => ({ body: 'opaque', opaque: { data: state.aggregate! } }),
        expect(state, _ctx, siteId, header) {
          if (!state.decryptors.includes(siteId)) throw new ConclaveError('FORBIDDEN', 'this site is not a designated decryptor of the round');
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
          if (answered.length < state.decryptors.length) {
            return { abort: `decryption incomplete: ${answered.length} of ${state.decryptors.length} designated decryptors answered by the deadline` };
          }
          const [first, ...rest] = state.decryptors.map((id) => state.results.get(id)!);
          if (rest.some((r) => !r.equals(first!))) {
            return { abort: `decryptors disagree on the aggregate (${state.decryptors.join(', ')}): at least one of them returned a wrong decryption; nothing is committed` };
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
      state.aggregation.addSum(decrypted.subarray(0, parameters).slice(), state.accumulator.contributors, state.totalWeight, unclipped);
      state.results.clear();
    },
    dispose(state) {
      state.accumulator.delete();
      state.results.clear();
      state.aggregate = null;
    },
  };
}
