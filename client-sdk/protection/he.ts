/**
 * The site half of protection `he` (see coordinator/protection/he.ts): encrypt the privatized,
 * weighted delta under the federation's CKKS key for stage `submit`; as a designated decryptor,
 * decrypt the aggregate for stage `decrypt`. The secret key stays in this object's memory; what
 * leaves the site is ciphertext, the clear-text counts of the plan, and (decryptors only) the SUM.
 */
import { ConclaveError } from '../../protocols/index.ts';
import { HeError, MAX_FULL_CIPHERTEXT_BYTES, packCiphertexts, unpackCiphertexts, type Ckks, type CkksKeyPair } from '../../crypto/he/ckks.ts';
import { HE_PLAN_SCHEMA, decodeDecryptTask, decodeJson, encodeJson, keyIdOf, type HePlan } from '../../crypto/he/wire.ts';
import type { SiteProtocol, SiteRoundContext } from './protocol.ts';

export interface HeSiteOptions {
  he: Ckks;
  /** The federation's CKKS key pair, as this site received it. */
  keys: CkksKeyPair;
}

function invalid(what: string, err: unknown): never {
  const detail = err instanceof HeError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  throw new ConclaveError('INVALID_ARGUMENT', `${what}: ${detail}`);
}

export function heSiteProtocol(options: HeSiteOptions): SiteProtocol {
  const { he, keys } = options;
  const keyId = keyIdOf(keys.publicKey);

  function planOf(ctx: SiteRoundContext): HePlan {
    const p = ctx.plan.protectionPlan;
    if (!p || p.params !== 'opaque') throw new ConclaveError('INVALID_ARGUMENT', 'protection "he" needs its CKKS plan in the round plan');
    let plan: HePlan;
    try {
      plan = decodeJson(HE_PLAN_SCHEMA, p.opaque.data, 'he plan');
    } catch (err) {
      return invalid('the round\'s CKKS plan is not one this SDK can follow', err);
    }
    if (plan.keyId !== keyId) throw new ConclaveError('INVALID_ARGUMENT', `the round uses CKKS key ${plan.keyId.slice(0, 12)}…, this site holds ${keyId.slice(0, 12)}…`);
    return plan;
  }

  return {
    name: 'he',
    first(ctx, c) {
      const plan = planOf(ctx);
      if (plan.length !== c.delta.length + 1) throw new ConclaveError('LAYOUT_MISMATCH', `the plan encrypts ${plan.length - 1} parameters, the delta has ${c.delta.length}`);
      const weight = plan.weighting === 'examples' ? c.numExamples : 1;
      const values = new Float64Array(plan.length);
      for (let i = 0; i < c.delta.length; i++) {
        const v = weight * c.delta[i]!;
        // Beyond it the sum over the selected sites could wrap modulo q0 and decrypt to garbage.
        if (!(Math.abs(v) <= plan.maxAbsPerSite)) throw new ConclaveError('NON_FINITE_VALUE', `weighted update value ${i} is ${v}, outside the ±${plan.maxAbsPerSite} CKKS can sum exactly`);
        values[i] = v;
      }
      values[c.delta.length] = c.unclipped ? 1 : 0;
      let packed: Uint8Array;
      try {
        packed = packCiphertexts(he.encrypt(keys, values, plan.mode));
      } catch (err) {
        return invalid('encrypting the update failed', err);
      }
      return {
        roundId: ctx.plan.roundId, stage: 'submit', body: 'opaque',
        opaque: { data: encodeJson({ keyId, numExamples: c.numExamples, trainLoss: c.trainLoss, trainAccuracy: c.trainAccuracy }) },
        tensor: { layout: [{ name: 'ckks/ciphertexts', shape: [packed.length], dtype: 'bytes' }], values: packed },
      };
    },
    stage(ctx, task) {
      if (task.stage !== 'decrypt' || task.body !== 'opaque') throw new ConclaveError('INVALID_ARGUMENT', `protection "he" has no stage "${task.stage.slice(0, 64)}" with that body`);
      const plan = planOf(ctx);
      let sum: Float64Array;
      try {
        const { task: t, packed } = decodeDecryptTask(task.opaque.data);
        if (t.keyId !== keyId || t.length !== plan.length) throw new Error('the aggregate is not of this round\'s key and size');
        sum = he.decrypt(keys.secretKey, unpackCiphertexts(packed, t.count, MAX_FULL_CIPHERTEXT_BYTES), t.length);
      } catch (err) {
        return invalid('cannot decrypt the aggregate', err);
      }
      const bytes = new Uint8Array(sum.buffer, sum.byteOffset, sum.byteLength);
      return {
        roundId: task.roundId, stage: 'decrypt', body: 'opaque', opaque: { data: Buffer.alloc(0) },
        tensor: { layout: [{ name: 'ckks/aggregate', shape: [bytes.length], dtype: 'bytes' }], values: bytes },
      };
    },
  };
}
