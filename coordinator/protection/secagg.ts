/**
 * Protection `secagg`: SecAgg+ (Bonawitz et al., CCS 2017, with the k-regular neighbourhoods of
 * Bell et al., CCS 2020), read top to bottom as the paper's rounds:
 *   advertise-keys → share-keys → masked-input → unmask.
 * The coordinator relays public keys and AES-GCM ciphertexts, sums masked uint32 vectors as they
 * arrive (one running sum, never one site's vector kept), and at the end reconstructs exactly the
 * secrets that cancel the masks: each survivor's self-mask seed, and the mask key of each dropped
 * site a survivor masked with. What it learns is the sum of the survivors' quantized updates and
 * their "unclipped" bits (the vector's last element), never one site's update.
 * Sites may drop at any stage; a site whose neighbourhood is too thin to go on is dropped by the
 * coordinator before it is handed a task it would have to refuse, and the round aborts with a
 * reason once some needed secret can no longer gather t shares.
 * The maths is crypto/secagg/; this file only validates, relays and keeps the round's state.
 * Under secure aggregation every site weighs 1: the sum cannot be weighted by example counts the
 * coordinator does not see.
 */
import { randomBytes } from 'node:crypto';
import {
  addInto, boundsFor, checkAdvertisement, chooseParameters, chooseQuantization, dequantizeSum, missingShares,
  setupRound, SHARE_BYTES,
  type Advertisement, type Quantization, type Revealed, type Round, type SecAggParameters,
} from '../../crypto/secagg/index.ts';
import { verifyAdvertisement } from '../../crypto/site-identity.ts';
import { decodeSum } from '../../crypto/dp/ddg.ts';
import type { DdgRoundPlan } from '../privacy/ddg-plan.ts';
import { ConclaveError, type ProtectionPlanMsg, type SecAggKeysMsg, type StageHeaderMsg } from '../../protocols/index.ts';
import type { RoundAggregation, SumAggregation } from '../aggregation/aggregator.ts';
import type { ProtectionProtocol, Stage, StageRoundContext, StageOutcome } from './protocol.ts';
import { DEFAULT_SECAGG_CLIP } from './secagg-config.ts';
import { noiseNormBound } from '../limits.ts';
import { MaskExpansionPool } from '../../crypto/parallel/mask-expansion-pool.ts';
import { unmaskSumParallel } from './mask-expansion-pool.ts';

/**
 * One pool of mask-expansion threads per coordinator process, kept across rounds (a warm thread's
 * pass is ~2× a cold one's: BENCHMARKS.md); its threads never keep the process alive, and vectors
 * too short to pay stay on the event loop's thread (MaskExpansionPool.apply).
 */
let unmaskPool: MaskExpansionPool | undefined;

export interface SecAggOptions {
  /** The largest fraction of sites expected to drop out of a round, at any stage (sizes k and t). */
  dropoutRate: number;
  /** Sites that may collude with the coordinator (sizes t). */
  colluders: number;
  /** L2 clip of an update before quantization (the DP clip when there is one). */
  clip: number;
  /** Fixed k and t instead of the choice from the dropout rate (benchmarks, tests). */
  neighbours?: { k: number; t: number };
}

export const DEFAULT_SECAGG_OPTIONS: SecAggOptions = { dropoutRate: 0.3, colluders: 0, clip: 100 };

interface Setup {
  round: Round;
  params: SecAggParameters;
  quantization: Quantization;
  /** Site ids in plan order: a site's number is its place here. */
  ids: readonly string[];
  index: ReadonlyMap<string, number>;
  /** Distributed DP: the round's discrete Gaussian; its sum is decoded, not dequantized. */
  ddg: DdgRoundPlan | null;
}

export interface SecAggState {
  setup: Setup;
  aggregation: RoundAggregation;
  /** U1 after pruning: the advertised keys of sites still in the round. */
  keys: Map<number, Advertisement>;
  /** Each advertiser's identity key and signature over its keys, relayed so neighbours can check them. */
  signed: Map<number, { identityPublicKey: Uint8Array; signature: Uint8Array }>;
  /** Sealed shares from share-keys, by recipient then sender. */
  inbox: Map<number, Map<number, Uint8Array>>;
  /** U2: the sites that sent shares. */
  u2: Set<number>;
  /** Σ of the masked inputs summed so far (uint32, wraps), and whose they are (U3). */
  sum: Uint32Array | null;
  summed: number[];
  /** Revealed shares, by responder. */
  revealed: Map<number, Revealed>;
}

/** One setup per round context: the plan and the state must agree on the graph seed. */
const setups = new WeakMap<StageRoundContext, Setup>();

/**
 * The federation's secagg config, when the round's context carries one, wins over the options the
 * module was built with (tests register the module under other names with options of their own).
 * The quantization clip bounds what a site's update can be after its DP step: the DP clip, plus
 * room for the site's own noise where it adds some (noiseNormBound: exceeded with negligible
 * probability, and then only clipped, never wrapped).
 */
export function optionsFor(ctx: StageRoundContext, base: SecAggOptions): SecAggOptions {
  const p = ctx.protection;
  if (p?.kind !== 'secagg') return base;
  const size = ctx.layout.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
  const clip = ctx.privacy ? ctx.privacy.clipNorm + noiseNormBound(ctx.privacy.siteNoiseStd, size) : p.clipNorm ?? DEFAULT_SECAGG_CLIP;
  return {
    dropoutRate: p.maxDropout, colluders: p.colluders, clip,
    ...(p.neighbours !== undefined && p.threshold !== undefined ? { neighbours: { k: p.neighbours, t: p.threshold } } : {}),
  };
}

function setupFor(ctx: StageRoundContext, base: SecAggOptions): Setup {
  let setup = setups.get(ctx);
  if (setup) return setup;
  const options = optionsFor(ctx, base);
  const n = ctx.selected.length;
  if (n < 3) throw new ConclaveError('INVALID_ARGUMENT', `secure aggregation needs at least 3 sites in a round, ${n} were selected`);
  const params = options.neighbours
    ? boundsFor(n, options.neighbours.k, options.neighbours.t, options.dropoutRate, options.colluders)
    : chooseParameters({ n, dropoutRate: options.dropoutRate, colluders: options.colluders });
  const ddg = ctx.privacy?.mode === 'distributed' ? ctx.privacy.distributed?.ddg ?? null : null;
  if (ctx.privacy?.mode === 'distributed' && !ddg) throw new ConclaveError('INTERNAL', 'secagg: a distributed DP round has no discrete Gaussian plan');
  if (ddg && ddg.chargedClients < params.t) throw new ConclaveError('INTERNAL', `secagg: the ledger charged ${ddg.chargedClients} survivors, below t = ${params.t}`);
  const size = ctx.layout.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
  // One more element for the "unclipped" bit (0 under DDG: nothing unaccounted is released).
  const length = (ddg ? ddg.dim : size) + 1;
  const round = setupRound({ roundId: ctx.roundId, n, k: params.k, t: params.t, graphSeed: new Uint8Array(randomBytes(32)), length });
  const ids = [...ctx.selected];
  setup = { round, params, quantization: chooseQuantization(options.clip, n), ids, index: new Map(ids.map((id, i) => [id, i])), ddg };
  setups.set(ctx, setup);
  return setup;
}

const bad = (message: string) => new ConclaveError('INVALID_ARGUMENT', message);

function secaggBody(stage: string, header: StageHeaderMsg) {
  if (header.body !== 'secagg') throw bad(`stage "${stage}" takes a secagg body`);
  return header.secagg;
}

function noTensor(stage: string, header: StageHeaderMsg): null {
  if (header.tensor) throw bad(`stage "${stage}" takes no tensor`);
  return null;
}

function toAdvertisement(keys: SecAggKeysMsg): Advertisement {
  return { encryptionPublicKey: new Uint8Array(keys.encryptionPublicKey), maskPublicKey: new Uint8Array(keys.maskPublicKey), seedCommitment: new Uint8Array(keys.seedCommitment) };
}

function peerOf(state: SecAggState, j: number) {
  const a = state.keys.get(j)!;
  const signed = state.signed.get(j)!;
  return {
    index: j, siteId: state.setup.ids[j]!,
    keys: {
      encryptionPublicKey: Buffer.from(a.encryptionPublicKey), maskPublicKey: Buffer.from(a.maskPublicKey), seedCommitment: Buffer.from(a.seedCommitment),
      identityPublicKey: Buffer.from(signed.identityPublicKey), signature: Buffer.from(signed.signature),
    } satisfies SecAggKeysMsg,
  };
}

/** The sites that keep at least t neighbours in `alive`, dropping the thin ones until none is left thin. */
function prune(round: Round, alive: Set<number>, degree: (i: number, alive: Set<number>) => number): Set<number> {
  const out = new Set(alive);
  for (let changed = true; changed;) {
    changed = false;
    for (const i of out) {
      if (degree(i, out) < round.t) {
        out.delete(i);
        changed = true;
      }
    }
  }
  return out;
}

function survivorsOrAbort(state: SecAggState, ctx: StageRoundContext, stage: string, kept: Iterable<number>): StageOutcome {
  const ids = [...kept].sort((a, b) => a - b).map((i) => state.setup.ids[i]!);
  // Under distributed DP the ledger charged the round for at least this many sites' noise in the sum.
  const charged = state.setup.ddg?.chargedClients ?? 0;
  const need = Math.max(state.setup.round.t, ctx.minSurvivors, charged);
  if (ids.length < need) {
    return { abort: `secagg ${stage}: ${ids.length} sites can go on, at least ${need} needed (t = ${state.setup.round.t}${charged ? `, ${charged} charged by the privacy ledger` : ''})` };
  }
  return { survivors: ids };
}

const advertiseKeys: Stage<SecAggState> = {
  name: 'advertise-keys',
  expect(_state, _ctx, _siteId, header) {
    const body = secaggBody('advertise-keys', header);
    if (!body.keys) throw bad('advertise-keys needs the site\'s keys');
    return noTensor('advertise-keys', header);
  },
  accept(state, ctx, { siteId, header }) {
    const keys = secaggBody('advertise-keys', header).keys!;
    const a = toAdvertisement(keys);
    try {
      checkAdvertisement(a);
    } catch (e) {
      throw bad((e as Error).message);
    }
    // Checked here too, not only by the neighbours: a site whose keys no honest neighbour would
    // accept is better refused now, with a reason, than dropped silently at share-keys.
    const identityPublicKey = new Uint8Array(keys.identityPublicKey);
    const signature = new Uint8Array(keys.signature);
    if (!verifyAdvertisement(identityPublicKey, { federationId: ctx.federationId, roundId: ctx.roundId }, a, signature)) {
      throw bad('the advertised keys are not signed by the identity key they name (Ed25519 over the federation, the round and the keys)');
    }
    ctx.pinIdentity?.(siteId, identityPublicKey);
    const self = state.setup.index.get(siteId)!;
    state.keys.set(self, a);
    state.signed.set(self, { identityPublicKey, signature });
  },
  finish(state, ctx, answered) {
    const { round, index } = state.setup;
    const alive = new Set(answered.map((id) => index.get(id)!));
    const kept = prune(round, alive, (i, live) => round.graph.neighbours[i]!.filter((j) => live.has(j)).length);
    for (const i of [...state.keys.keys()]) if (!kept.has(i)) state.keys.delete(i);
    return survivorsOrAbort(state, ctx, 'advertise-keys', kept);
  },
};

const shareKeys: Stage<SecAggState> = {
  name: 'share-keys',
  task(state, siteId) {
    const self = state.setup.index.get(siteId)!;
    const peers = state.setup.round.graph.neighbours[self]!.filter((j) => state.keys.has(j)).map((j) => peerOf(state, j));
    return { body: 'secagg', secagg: { selfIndex: self, peers, shares: [], survivors: [], dropped: [] } };
  },
  expect(state, _ctx, _siteId, header) {
    const body = secaggBody('share-keys', header);
    if (body.shares.length > state.setup.round.k) throw bad(`at most ${state.setup.round.k} shares (one per neighbour), got ${body.shares.length}`);
    return noTensor('share-keys', header);
  },
  accept(state, _ctx, { siteId, header }) {
    const { round, index } = state.setup;
    const self = index.get(siteId)!;
    const shares = secaggBody('share-keys', header).shares;
    const seen = new Set<number>();
    // Validate everything before storing anything: a refused message leaves no trace.
    for (const s of shares) {
      if (s.from !== self) throw bad(`a share claims to be from site ${s.from}, but site ${self} sent it`);
      if (!round.graph.neighbours[self]!.includes(s.to)) throw bad(`a share for site ${s.to}, which is not a neighbour of site ${self}`);
      if (!state.keys.has(s.to)) throw bad(`a share for site ${s.to}, which is not in the round`);
      if (seen.has(s.to)) throw bad(`two shares for site ${s.to}`);
      seen.add(s.to);
    }
    const expected = round.graph.neighbours[self]!.filter((j) => state.keys.has(j)).length;
    if (seen.size !== expected) throw bad(`site ${self} must send one share to each of its ${expected} live neighbours, sent ${seen.size}`);
    for (const s of shares) {
      if (!state.inbox.has(s.to)) state.inbox.set(s.to, new Map());
      state.inbox.get(s.to)!.set(self, new Uint8Array(s.ciphertext));
    }
    state.u2.add(self);
  },
  finish(state, ctx, answered) {
    const { round, index } = state.setup;
    const u2 = new Set(answered.map((id) => index.get(id)!));
    for (const i of [...state.u2]) if (!u2.has(i)) state.u2.delete(i);
    // A site that received fewer than t shares cannot mask: it gets no masked-input task. It stays
    // in U2 (its neighbours hold its shares and mask with it), so dropping it cascades to no one.
    const kept = [...state.u2].filter((i) => round.graph.neighbours[i]!.filter((j) => state.u2.has(j)).length >= round.t);
    return survivorsOrAbort(state, ctx, 'share-keys', kept);
  },
};

const maskedInput: Stage<SecAggState> = {
  name: 'masked-input',
  contribution: true,
  task(state, siteId) {
    const self = state.setup.index.get(siteId)!;
    const inbox = [...(state.inbox.get(self) ?? new Map<number, Uint8Array>())].filter(([from]) => state.u2.has(from));
    return {
      body: 'secagg',
      secagg: {
        selfIndex: self,
        peers: inbox.map(([from]) => peerOf(state, from)),
        shares: inbox.map(([from, c]) => ({ from, to: self, ciphertext: Buffer.from(c) })),
        survivors: [], dropped: [],
      },
    };
  },
  expect(state, _ctx, _siteId, header) {
    secaggBody('masked-input', header);
    if (!header.tensor) throw new ConclaveError('MALFORMED_STREAM', 'masked-input needs its uint32 tensor');
    const length = state.setup.round.length;
    return { dtype: 'uint32', layout: [{ name: 'secagg/masked', shape: [length], dtype: 'uint32' }], maxElements: length };
  },
  accept(state, _ctx, { siteId, tensor }) {
    if (!(tensor instanceof Uint32Array) || tensor.length !== state.setup.round.length) {
      throw new ConclaveError('LAYOUT_MISMATCH', `a masked input is ${state.setup.round.length} uint32 elements`);
    }
    state.sum ??= new Uint32Array(state.setup.round.length);
    addInto(state.sum, tensor);
    state.summed.push(state.setup.index.get(siteId)!);
  },
  finish(state, ctx, answered) {
    const { round, index } = state.setup;
    const u3 = answered.map((id) => index.get(id)!).sort((a, b) => a - b);
    // A masked input already in the sum cannot be taken out again without its site's secrets.
    if (u3.length !== state.summed.length) return { abort: 'secagg masked-input: a summed site is no longer live; its input cannot be separated from the sum' };
    const missing = missingShares(round, state.u2, u3, new Set(u3));
    if (missing) return { abort: `secagg masked-input: ${missing}` };
    return survivorsOrAbort(state, ctx, 'masked-input', u3);
  },
};

const unmask: Stage<SecAggState> = {
  name: 'unmask',
  task(state, siteId) {
    const self = state.setup.index.get(siteId)!;
    const survivors = [...state.summed].sort((a, b) => a - b);
    const dropped = [...state.u2].filter((i) => !survivors.includes(i)).sort((a, b) => a - b);
    return { body: 'secagg', secagg: { selfIndex: self, peers: [], shares: [], survivors, dropped } };
  },
  expect(state, _ctx, _siteId, header) {
    const body = secaggBody('unmask', header);
    if (body.revealed.length > state.setup.round.k) throw bad(`at most ${state.setup.round.k} revealed shares, got ${body.revealed.length}`);
    return noTensor('unmask', header);
  },
  accept(state, _ctx, { siteId, header }) {
    const { round, index } = state.setup;
    const self = index.get(siteId)!;
    const u3 = new Set(state.summed);
    const r: Revealed = { seedShares: new Map(), keyShares: new Map() };
    for (const s of secaggBody('unmask', header).revealed) {
      if (!round.graph.neighbours[self]!.includes(s.owner)) throw bad(`a share of site ${s.owner}, which is not a neighbour of site ${self}`);
      if (s.share.length !== SHARE_BYTES) throw bad(`a share is ${SHARE_BYTES} bytes, got ${s.share.length}`);
      if (s.maskKey ? u3.has(s.owner) || !state.u2.has(s.owner) : !u3.has(s.owner)) throw bad(`site ${s.owner}'s ${s.maskKey ? 'mask key' : 'self-mask seed'} was not asked for`);
      const into = s.maskKey ? r.keyShares : r.seedShares;
      if (into.has(s.owner)) throw bad(`two shares of site ${s.owner}`);
      // Each neighbour holds a share at its own x-coordinate (the last byte): one that repeats
      // another responder's is a replay, and would fail the reconstruction of the whole round.
      const x = s.share[SHARE_BYTES - 1];
      for (const [from, other] of state.revealed) {
        const seen = (s.maskKey ? other.keyShares : other.seedShares).get(s.owner);
        if (seen && seen[SHARE_BYTES - 1] === x) throw bad(`the share of site ${s.owner} repeats the one site ${from} revealed (a replayed share)`);
      }
      into.set(s.owner, new Uint8Array(s.share));
    }
    state.revealed.set(self, r);
  },
  finish(state, ctx, answered) {
    const { round, index } = state.setup;
    const survivors = [...state.summed].sort((a, b) => a - b);
    const responders = new Set(answered.map((id) => index.get(id)!));
    for (const j of [...state.revealed.keys()]) if (!responders.has(j)) state.revealed.delete(j);
    const missing = missingShares(round, state.u2, survivors, responders);
    if (missing) return { abort: `secagg unmask: ${missing}` };
    return survivorsOrAbort(state, ctx, 'unmask', survivors);
  },
};

export function secureAggregation(options: SecAggOptions = DEFAULT_SECAGG_OPTIONS): ProtectionProtocol<SecAggState> {
  return {
    name: 'secagg',
    stages: [advertiseKeys, shareKeys, maskedInput, unmask],
    plan(ctx): ProtectionPlanMsg {
      const { round, quantization } = setupFor(ctx, options);
      return {
        protocol: 'secagg', stages: ['advertise-keys', 'share-keys', 'masked-input', 'unmask'], params: 'secagg',
        secagg: {
          sites: round.n, neighbours: round.k, threshold: round.t, graphSeed: Buffer.from(round.graphSeed),
          clip: quantization.clip, scale: quantization.scale, maxSites: quantization.maxSites, vectorLength: round.length,
        },
      };
    },
    begin(ctx, aggregation) {
      if (!('addSum' in aggregation)) throw new ConclaveError('INVALID_ARGUMENT', 'secure aggregation yields only a sum: the aggregator must be a streaming-sum one (FedAvg), not a robust one');
      return {
        setup: setupFor(ctx, options), aggregation, keys: new Map(), signed: new Map(), inbox: new Map(), u2: new Set(),
        sum: null, summed: [], revealed: new Map(),
      };
    },
    async unprotect(state, _ctx, survivorIds) {
      const { round, index, quantization } = state.setup;
      const survivors = survivorIds.map((id) => index.get(id)!).sort((a, b) => a - b);
      if (!state.sum || survivors.length !== state.summed.length) throw new ConclaveError('INTERNAL', 'secagg: the survivors are not the sites whose inputs were summed');
      // Reconstruction checks every secret against its commitment (the self-mask seed's hash, the
      // advertised public key): a forged share fails the round instead of corrupting the sum.
      const sum = await unmaskSumParallel(unmaskPool ??= new MaskExpansionPool(), round, state.sum, state.keys, state.u2, survivors, state.revealed);
      state.sum = null;
      const params = round.length - 1;
      const unclipped = sum[params]!;
      if (unclipped > survivors.length) throw new ConclaveError('INVALID_ARGUMENT', `secagg: the "unclipped" count ${unclipped} exceeds the ${survivors.length} contributors (a site sent a malformed input)`);
      const { ddg } = state.setup;
      if (ddg && unclipped !== 0) throw new ConclaveError('INVALID_ARGUMENT', 'secagg: a distributed DP round carries no "unclipped" bits (a site sent a malformed input)');
      // DDG: centred lift of the modular sum, times γ (the clipped updates' sum plus the sites' noise).
      const decoded = ddg ? decodeSum(sum.subarray(0, params), { granularity: ddg.granularity, dim: ddg.dim }) : dequantizeSum(sum.subarray(0, params), survivors.length, quantization);
      (state.aggregation as SumAggregation).addSum(decoded, survivors.length, survivors.length, unclipped);
    },
    laterStageDeadlineMs(ctx) {
      return ctx.protection?.kind === 'secagg' ? ctx.protection.stageDeadlineMs : undefined;
    },
    dispose(state) {
      state.sum = null;
      state.inbox.clear();
      state.revealed.clear();
    },
  };
}

