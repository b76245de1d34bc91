/**
 * The site half of protection `secagg` (see coordinator/protection/secagg.ts for the rounds). What a
 * site must remember between stages — its two X25519 private keys, its self-mask seed, the shares
 * its neighbours entrusted to it and its quantized update — lives in the round context's `secrets`
 * (memory only) and goes when the round does. An honest site refuses, and so ends the round for
 * itself, whenever answering would let the coordinator see more than the sum: a request for both
 * shares of one site, a second unmask request, fewer than t survivors, or a coordinator that
 * changes the site's number between stages.
 */
import {
  SecAggError, advertise, chooseQuantization, perSiteBound, placeSite, quantize, revealShares, setupRound, shareKeys,
  type Advertisement, type Quantization, type Round, type SiteSecrets,
} from '../../crypto/secagg/index.ts';
import { signAdvertisement, verifyAdvertisement } from '../../crypto/site-identity.ts';
import { assertNoWrap, encodeSiteUpdate } from '../../crypto/dp/ddg.ts';
import { DpError } from '../../crypto/dp/index.ts';
import { siteReleaseStd } from '../privacy-policy.ts';
import { ConclaveError, type SecAggBodyMsg, type SecAggKeysMsg, type SecAggParamsMsg, type SecAggTaskMsg, type StageTaskMsg } from '../../protocols/index.ts';
import type { StageSubmission } from '../connection.ts';
import type { SiteProtocol, SiteRoundContext } from './protocol.ts';
import { SiteMasking, type SiteMaskingOptions } from './secagg-masking.ts';

interface SecAggRoundSecrets {
  round: Round;
  site: SiteSecrets;
  /** The quantized update with its "unclipped" bit: what the masks hide. */
  input: Uint32Array;
  /** The neighbours' keys as verified at share-keys: the only keys this site ever uses. */
  verified?: Map<number, Advertisement>;
}

const SECRETS = 'secagg';

function paramsOf(ctx: SiteRoundContext): SecAggParamsMsg {
  const plan = ctx.plan.protectionPlan;
  if (!plan || plan.params !== 'secagg') throw new ConclaveError('INVALID_ARGUMENT', 'a secagg round needs secagg parameters in its plan');
  return plan.secagg;
}

/**
 * Checks the plan's quantization against the no-wrap bound itself rather than trusting the
 * coordinator's arithmetic: a scale too large would make the sum wrap and the round useless.
 */
function quantizationOf(p: SecAggParamsMsg): Quantization {
  if (p.maxSites < p.sites) throw new ConclaveError('INVALID_ARGUMENT', `the quantization is sized for ${p.maxSites} sites, the round has ${p.sites}`);
  const q = { clip: p.clip, scale: p.scale, maxSites: p.maxSites };
  const safe = chooseQuantization(p.clip, p.maxSites);
  if (!(p.scale > 0) || p.scale > safe.scale || p.maxSites * perSiteBound(q) > 2 ** 31 - 1) {
    throw new ConclaveError('INVALID_ARGUMENT', `the plan's quantization scale ${p.scale} lets a sum over ${p.maxSites} sites wrap around 2^32`);
  }
  return q;
}

function state(ctx: SiteRoundContext): SecAggRoundSecrets {
  const s = ctx.secrets.get(SECRETS) as SecAggRoundSecrets | undefined;
  if (!s) throw new ConclaveError('ROUND_CLOSED', 'this site holds no secagg keys for the round');
  return s;
}

function advertisementOf(keys: SecAggKeysMsg | null | undefined): Advertisement {
  if (!keys) throw new ConclaveError('INVALID_ARGUMENT', 'a peer without keys');
  return { encryptionPublicKey: new Uint8Array(keys.encryptionPublicKey), maskPublicKey: new Uint8Array(keys.maskPublicKey), seedCommitment: new Uint8Array(keys.seedCommitment) };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * The neighbours' keys, each checked against its site's identity key before this site seals a share
 * to it or masks with it: the signature must cover this federation and round, and a neighbour
 * seen before must still have the identity key it had then. A coordinator that substitutes keys
 * (its own X25519 keys to open the shares, or another round's to replay) is refused here.
 */
function verifiedPeers(ctx: SiteRoundContext, task: SecAggTaskMsg): Map<number, Advertisement> {
  const scope = { federationId: ctx.plan.federationId, roundId: ctx.plan.roundId };
  const out = new Map<number, Advertisement>();
  const seen = new Map<string, Uint8Array>();
  for (const peer of task.peers) {
    const a = advertisementOf(peer.keys);
    const identity = new Uint8Array(peer.keys!.identityPublicKey);
    if (out.has(peer.index)) throw new SecAggError('SECAGG_REFUSED', `site ${peer.index} is listed twice`);
    if (!verifyAdvertisement(identity, scope, a, new Uint8Array(peer.keys!.signature))) {
      throw new SecAggError('SECAGG_REFUSED', `site ${peer.index}'s keys are not signed by its identity key for this round: substituted or replayed keys`);
    }
    const pinned = ctx.peerIdentities?.get(peer.siteId) ?? seen.get(peer.siteId);
    if (pinned && !sameBytes(pinned, identity)) throw new SecAggError('SECAGG_REFUSED', `site ${peer.index} (${peer.siteId.slice(0, 64)}) now has another identity key than before`);
    seen.set(peer.siteId, identity);
    out.set(peer.index, a);
  }
  for (const [siteId, key] of seen) ctx.peerIdentities?.set(siteId, key);
  return out;
}

/**
 * Distributed DP: the clipped update encoded as the distributed discrete Gaussian (crypto/dp/ddg.ts)
 * with the plan's γ and β and the site's noise std, after checking itself that the sum of the
 * round's sites cannot wrap the 32-bit ring (a coordinator's γ that could would ruin the round).
 */
function encodeDistributed(delta: Float32Array, dp: NonNullable<SiteRoundContext['plan']['dp']>, sites: number, out: Uint32Array): void {
  if (out.length !== delta.length) throw new ConclaveError('LAYOUT_MISMATCH', `the plan's vector has ${out.length + 1} elements, the update ${delta.length} + 1`);
  const localStddev = siteReleaseStd(dp);
  const params = { clip: dp.clipNorm, localStddev, granularity: dp.granularity, beta: dp.beta };
  try {
    assertNoWrap({ mechanism: 'ddg', ...params, dim: delta.length, sites });
    encodeSiteUpdate(delta, params, { out });
  } catch (e) {
    if (e instanceof DpError) throw new ConclaveError('INVALID_ARGUMENT', `distributed DP: ${e.message}`);
    throw e;
  }
}

/** SecAgg refusals end the round for this site (ROUND_CLOSED), never its participation. */
function refusal(e: unknown, stage: string): never {
  if (e instanceof SecAggError) throw new ConclaveError('ROUND_CLOSED', `secagg ${stage}: ${e.message}`);
  throw e;
}

/** One masking pool for every Participant of the process (its threads end when idle). */
const SHARED_MASKING = new SiteMasking();

export const secureAggregation: SiteProtocol = {
  name: 'secagg',
  first(ctx, contribution) {
    // New keys for a round already advertised would break every share sealed to the old ones.
    if (ctx.secrets.has(SECRETS)) throw new ConclaveError('INVALID_ARGUMENT', 'this site already advertised its keys for the round');
    const p = paramsOf(ctx);
    const quantization = quantizationOf(p);
    const round = setupRound({ roundId: ctx.plan.roundId, n: p.sites, k: p.neighbours, t: p.threshold, graphSeed: new Uint8Array(p.graphSeed), length: p.vectorLength });
    if (p.vectorLength !== contribution.delta.length + 1) {
      throw new ConclaveError('LAYOUT_MISMATCH', `the plan's vector has ${p.vectorLength} elements, the update ${contribution.delta.length} + 1`);
    }
    const input = new Uint32Array(p.vectorLength);
    const dp = ctx.plan.dp;
    if (dp?.mode === 'distributed') {
      encodeDistributed(contribution.delta, dp, p.sites, input.subarray(0, p.vectorLength - 1));
      // The "unclipped" bit stays 0: nothing leaves this site that the ledger does not account.
      input[p.vectorLength - 1] = 0;
    } else {
      input.set(quantize(contribution.delta, quantization));
      input[p.vectorLength - 1] = contribution.unclipped ? 1 : 0;
    }
    if (!ctx.identity) throw new ConclaveError('INVALID_ARGUMENT', 'secure aggregation needs the site\'s identity key to sign its advertised keys');
    const { secrets, advertisement } = advertise();
    const signature = signAdvertisement(ctx.identity, { federationId: ctx.plan.federationId, roundId: ctx.plan.roundId }, advertisement);
    ctx.secrets.set(SECRETS, { round, site: secrets, input } satisfies SecAggRoundSecrets);
    return {
      roundId: ctx.plan.roundId, stage: 'advertise-keys', body: 'secagg',
      secagg: {
        keys: {
          encryptionPublicKey: Buffer.from(advertisement.encryptionPublicKey), maskPublicKey: Buffer.from(advertisement.maskPublicKey), seedCommitment: Buffer.from(advertisement.seedCommitment),
          identityPublicKey: Buffer.from(ctx.identity.publicKey), signature: Buffer.from(signature),
        },
        shares: [], revealed: [],
      },
    };
  },
  stage: (ctx, task) => secAggStage(ctx, task, SHARED_MASKING),
};

/**
 * The site half of secagg with its own masking threads (SiteMaskingOptions: `maskWorkers: 0` masks on
 * the calling thread); `secureAggregation`, the SDK's built-in one, shares one pool per process.
 */
export function secAggSiteProtocol(options: SiteMaskingOptions = {}): SiteProtocol & { masking: SiteMasking } {
  const masking = new SiteMasking(options);
  return { name: secureAggregation.name, first: secureAggregation.first, stage: (ctx, task) => secAggStage(ctx, task, masking), masking };
}

/** The later stages, masking with `masking`'s threads. */
async function secAggStage(ctx: SiteRoundContext, task: StageTaskMsg, masking: SiteMasking): Promise<StageSubmission> {
  if (task.body !== 'secagg') throw new ConclaveError('INVALID_ARGUMENT', `secagg stage "${task.stage.slice(0, 64)}" needs a secagg task`);
  const s = state(ctx);
  const t = task.secagg;
  const reply = (body: Omit<SecAggBodyMsg, 'keys'>, tensor?: StageSubmission['tensor']): StageSubmission => ({
    roundId: task.roundId, stage: task.stage, body: 'secagg', secagg: { keys: null, ...body }, ...(tensor ? { tensor } : {}),
  });
  try {
    switch (task.stage) {
      case 'share-keys': {
        placeSite(s.round, s.site, t.selfIndex);
        const peers = verifiedPeers(ctx, t);
        const sealed = await shareKeys(s.round, s.site, peers);
        s.verified = peers;
        return reply({ shares: [...sealed].map(([to, c]) => ({ from: s.site.self, to, ciphertext: Buffer.from(c) })), revealed: [] });
      }
      case 'masked-input': {
        placeSite(s.round, s.site, t.selfIndex);
        if (s.site.held) throw new SecAggError('SECAGG_REFUSED', 'this site already sent its masked input');
        // Only the keys verified at share-keys: the coordinator cannot swap them in between.
        const verified = s.verified;
        if (!verified) throw new SecAggError('SECAGG_REFUSED', 'this site has not shared its keys in this round');
        const peers = new Map<number, Advertisement>();
        for (const p of t.peers) {
          const a = verified.get(p.index);
          const given = advertisementOf(p.keys);
          if (!a || !sameBytes(a.encryptionPublicKey, given.encryptionPublicKey) || !sameBytes(a.maskPublicKey, given.maskPublicKey) || !sameBytes(a.seedCommitment, given.seedCommitment)) {
            throw new SecAggError('SECAGG_REFUSED', `site ${p.index}'s keys differ from those it advertised at share-keys`);
          }
          peers.set(p.index, a);
        }
        const inbox = new Map<number, Uint8Array>();
        for (const share of t.shares) {
          if (share.to !== s.site.self) throw new SecAggError('SECAGG_BAD_SHARE', `a share addressed to site ${share.to}`);
          if (inbox.has(share.from)) throw new SecAggError('SECAGG_BAD_SHARE', `two shares from site ${share.from}`);
          inbox.set(share.from, new Uint8Array(share.ciphertext));
        }
        // Masked in place: the plain input is not kept past this stage.
        const masked = await masking.mask(s.round, s.site, peers, inbox, s.input);
        s.input = new Uint32Array(0);
        return reply({ shares: [], revealed: [] }, { layout: [{ name: 'secagg/masked', shape: [masked.length], dtype: 'uint32' }], values: masked });
      }
      case 'unmask': {
        placeSite(s.round, s.site, t.selfIndex);
        // The ledger charged the round for at least this many sites' noise in the sum: unmasking
        // a sum of fewer would release more than was paid for.
        const charged = ctx.plan.dp?.mode === 'distributed' ? ctx.plan.dp.chargedClients : 0;
        if (t.survivors.length < charged) throw new SecAggError('SECAGG_REFUSED', `only ${t.survivors.length} survivors, the round was charged for at least ${charged}`);
        const r = revealShares(s.round, s.site, { survivors: t.survivors, dropped: t.dropped });
        return reply({
          shares: [],
          revealed: [
            ...[...r.seedShares].map(([owner, share]) => ({ owner, maskKey: false, share: Buffer.from(share) })),
            ...[...r.keyShares].map(([owner, share]) => ({ owner, maskKey: true, share: Buffer.from(share) })),
          ],
        });
      }
      default:
        throw new ConclaveError('INVALID_ARGUMENT', `protection "secagg" has no stage "${task.stage.slice(0, 64)}"`);
    }
  } catch (e) {
    refusal(e, task.stage);
  }
}
