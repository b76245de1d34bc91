/**
 * The site half of protection `he` (see coordinator/protection/he.ts): encrypt the privatized,
 * weighted delta under the federation's CKKS key; take part in the key ceremony (as custodian:
 * generate or re-share the key, sealed to each recipient's X25519 key; as recipient: open the
 * sealed key); as a designated decryptor, decrypt the aggregate. The secret key and the round's
 * X25519 private key stay in memory; what leaves the site is ciphertext, sealed keys, the
 * clear-text counts of the plan, and (decryptors only) the SUM.
 */
import { ConclaveError } from '../../protocols/index.ts';
import { Ckks, HeError, MAX_FULL_CIPHERTEXT_BYTES, MAX_PUBLIC_KEY_BYTES, packCiphertexts, unpackCiphertexts, type CkksKeyPair } from '../../crypto/he/ckks.ts';
import { KeyWrapError, generateSiteKeyPair, openSecretKey, sealSecretKey, type X25519KeyPair } from '../../crypto/he/key-wrap.ts';
import {
  HE_DECRYPT_TASK_SCHEMA, HE_ENCRYPT_TASK_SCHEMA, HE_KEYS_TASK_SCHEMA, HE_PLAN_SCHEMA, MAX_KEYS_TASK_BYTES, decodeFramed, decodeJson, encodeJson, keyIdOf, type HePlan,
} from '../../crypto/he/wire.ts';
import type { StageSubmission } from '../connection.ts';
import { HeEncryption, type EncryptThreads } from './he-encrypt-pool.ts';
import type { SiteProtocol, SiteRoundContext } from './protocol.ts';

export interface HeSiteOptions {
  /** A CKKS context; omitted: one shared per process, loaded on first use. */
  he?: Ckks;
  /**
   * The CKKS key pairs this site holds, by federation id: memory only (a restarted site gets the
   * key again in a ceremony). Pass a map to share it between protocol objects of the same site.
   */
  keys?: Map<string, CkksKeyPair>;
  /**
   * Threads that encrypt an update (he-encrypt-pool.ts): 1, this thread; W > 1, a pool of W
   * workers; `auto` (default), a pool of 2 for large updates where a trial on this site's own
   * updates found it faster than one thread. The default is shared by the process's sites.
   */
  encryptWorkers?: EncryptThreads;
}

let shared: Promise<Ckks> | undefined;
let sharedEncryption: HeEncryption | undefined;

function invalid(what: string, err: unknown): never {
  const detail = err instanceof HeError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  throw new ConclaveError('INVALID_ARGUMENT', `${what}: ${detail}`);
}

/** The round's secrets, as first() left them in the round context. */
interface Pending {
  values: Float64Array;
  exchange: X25519KeyPair;
}
const PENDING = 'he/pending';

function ciphertextMessage(roundId: string, stage: string, keyId: string, packed: Uint8Array, extra: Record<string, unknown> = {}): StageSubmission {
  return {
    roundId, stage, body: 'opaque', opaque: { data: encodeJson({ keyId, ...extra }) },
    tensor: { layout: [{ name: 'ckks/ciphertexts', shape: [packed.length], dtype: 'bytes' }], values: packed },
  };
}

export function heSiteProtocol(options: HeSiteOptions = {}): SiteProtocol {
  const keys = options.keys ?? new Map<string, CkksKeyPair>();
  const context = async (): Promise<Ckks> => options.he ?? (shared ??= Ckks.create());
  const encryption = options.encryptWorkers === undefined && options.he === undefined
    ? (sharedEncryption ??= new HeEncryption(context))
    : new HeEncryption(context, options.encryptWorkers ?? 'auto');

  function planOf(ctx: SiteRoundContext): HePlan {
    const p = ctx.plan.protectionPlan;
    if (!p || p.params !== 'opaque') throw new ConclaveError('INVALID_ARGUMENT', 'protection "he" needs its CKKS plan in the round plan');
    try {
      return decodeJson(HE_PLAN_SCHEMA, p.opaque.data, 'he plan');
    } catch (err) {
      return invalid('the round\'s CKKS plan is not one this SDK can follow', err);
    }
  }

  function pendingOf(ctx: SiteRoundContext): Pending {
    const pending = ctx.secrets.get(PENDING) as Pending | undefined;
    if (!pending) throw new ConclaveError('ROUND_CLOSED', 'this site holds no update for the round');
    return pending;
  }

  async function encrypt(plan: HePlan, pair: CkksKeyPair, values: Float64Array): Promise<Uint8Array> {
    try {
      return packCiphertexts(await encryption.encrypt(pair, values, plan.mode));
    } catch (err) {
      return invalid('encrypting the update failed', err);
    }
  }

  return {
    name: 'he',
    async first(ctx, c) {
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
      // Kept until the round ends: a site without the key encrypts once the ceremony gave it one.
      const exchange = generateSiteKeyPair();
      ctx.secrets.set(PENDING, { values, exchange } satisfies Pending);
      const report = {
        exchangeKey: Buffer.from(exchange.publicKey).toString('base64url'),
        numExamples: c.numExamples, trainLoss: c.trainLoss, trainAccuracy: c.trainAccuracy,
      };
      const held = keys.get(ctx.plan.federationId);
      if (plan.keyId === '' || !held || keyIdOf(held.publicKey) !== plan.keyId) {
        return { roundId: ctx.plan.roundId, stage: 'submit', body: 'opaque', opaque: { data: encodeJson({ keyId: '', ...report }) } };
      }
      return ciphertextMessage(ctx.plan.roundId, 'submit', plan.keyId, await encrypt(plan, held, values), report);
    },
    async stage(ctx, task, tensor) {
      if (task.body !== 'opaque') throw new ConclaveError('INVALID_ARGUMENT', `protection "he" has no stage "${task.stage.slice(0, 64)}" with that body`);
      const plan = planOf(ctx);
      const federationId = ctx.plan.federationId;
      const he = await context();
      switch (task.stage) {
        case 'keys': {
          let answer: Uint8Array;
          let keyId: string;
          try {
            const t = decodeJson(HE_KEYS_TASK_SCHEMA, task.opaque.data, 'keys task', MAX_KEYS_TASK_BYTES);
            let pair = keys.get(federationId);
            if (t.mode === 'new') {
              pair = he.generateKeys();
              keys.set(federationId, pair);
            } else if (!pair || keyIdOf(pair.publicKey) !== t.keyId) {
              throw new Error(`asked to share key ${t.keyId.slice(0, 12)}…, which this site does not hold`);
            }
            keyId = keyIdOf(pair.publicKey);
            const sealed = t.recipients.map((r) => sealSecretKey(pair.secretKey, Buffer.from(r.exchangeKey, 'base64url'), { federationId, siteId: r.siteId, keyId }));
            answer = packCiphertexts([pair.publicKey, ...sealed]);
          } catch (err) {
            return invalid('cannot run the key ceremony', err);
          }
          return {
            roundId: task.roundId, stage: 'keys', body: 'opaque', opaque: { data: encodeJson({ keyId }) },
            tensor: { layout: [{ name: 'ckks/keys', shape: [answer.length], dtype: 'bytes' }], values: answer },
          };
        }
        case 'encrypt': {
          const pending = pendingOf(ctx);
          let pair: CkksKeyPair;
          try {
            const { head, packed } = decodeFramed(HE_ENCRYPT_TASK_SCHEMA, task.opaque.data, 'encrypt task');
            const [publicKey, sealed] = unpackCiphertexts(packed, head.sealed ? 2 : 1, MAX_PUBLIC_KEY_BYTES);
            if (keyIdOf(publicKey!) !== head.keyId) throw new Error('the public key does not match its key id');
            if (sealed) {
              pair = { publicKey: Uint8Array.from(publicKey!), secretKey: openSecretKey(sealed, pending.exchange, { federationId, siteId: head.siteId, keyId: head.keyId }) };
              keys.set(federationId, pair);
            } else {
              const held = keys.get(federationId);
              if (!held || keyIdOf(held.publicKey) !== head.keyId) throw new Error('this site was sent no sealed key and holds no key of that id');
              pair = held;
            }
          } catch (err) {
            return invalid('cannot take the federation\'s key', err instanceof KeyWrapError ? `${err.code}: ${err.message}` : err);
          }
          return ciphertextMessage(task.roundId, 'encrypt', keyIdOf(pair.publicKey), await encrypt(plan, pair, pending.values));
        }
        case 'decrypt': {
          let sum: Float64Array;
          try {
            const head = decodeJson(HE_DECRYPT_TASK_SCHEMA, task.opaque.data, 'decrypt task');
            if (!(tensor instanceof Uint8Array)) throw new Error('the decrypt task carries no aggregate tensor');
            const packed = tensor;
            const pair = keys.get(federationId);
            if (!pair || keyIdOf(pair.publicKey) !== head.keyId) throw new Error(`the aggregate is under key ${head.keyId.slice(0, 12)}…, which this site does not hold`);
            if (head.length !== plan.length) throw new Error('the aggregate is not of this round\'s size');
            sum = he.decrypt(pair.secretKey, unpackCiphertexts(packed, head.count, MAX_FULL_CIPHERTEXT_BYTES), head.length);
          } catch (err) {
            return invalid('cannot decrypt the aggregate', err);
          }
          const bytes = new Uint8Array(sum.buffer, sum.byteOffset, sum.byteLength);
          return {
            roundId: task.roundId, stage: 'decrypt', body: 'opaque', opaque: { data: Buffer.alloc(0) },
            tensor: { layout: [{ name: 'ckks/aggregate', shape: [bytes.length], dtype: 'bytes' }], values: bytes },
          };
        }
        default:
          throw new ConclaveError('INVALID_ARGUMENT', `protection "he" has no stage "${task.stage.slice(0, 64)}"`);
      }
    },
  };
}
