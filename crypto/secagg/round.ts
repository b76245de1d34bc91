/**
 * One SecAgg+ round as the paper's rounds (Bonawitz et al., CCS 2017, Fig. 4, semi-honest/active
 * server variant; SecAgg+ neighbourhoods of Bell et al., CCS 2020), as pure functions of explicit
 * state. Sites are numbered 0..n−1 by their place in the round plan.
 *   0 advertise    site i: two X25519 pairs (c_i share encryption, s_i mask agreement), a 256-bit
 *                  self-mask seed b_i, and a SHA-256 commitment to b_i (so a reconstruction is checked).
 *   1 share keys   site i, given the advertisements of its live neighbours (U1 ∩ N(i), ≥ t): t-of-m
 *                  shares of s_i^SK and b_i, each pair sealed with AES-GCM to one neighbour.
 *   2 masked input site i, given the sealed shares addressed to it (senders = U2 ∩ N(i), ≥ t):
 *                  y_i = x_i + PRG(b_i) + Σ_{j ∈ U2∩N(i), j>i} PRG(s_ij) − Σ_{j<i} PRG(s_ij).
 *   3 unmask       site i, given U3 (sent y) and D = U2 \ U3: its shares of b_j for j ∈ U3 ∩ N(i)
 *                  and of s_j^SK for j ∈ D ∩ N(i); NEVER both for one j (refuses), at most once.
 *   server         Σ_{U3} y − Σ_{U3} PRG(b_i) ± PRG(s_jd) for each d ∈ D and j ∈ U3 ∩ N(d).
 */
import { createHash, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { SecAggError, invalidParameter } from './errors.ts';
import { neighbourGraph, type NeighbourGraph } from './graph.ts';
import { KEY_BYTES, agreeKey, generateX25519, openShare, privateKeyObject, publicKeyObject, sealShare, x25519PublicOf, type X25519KeyPair } from './keys.ts';
import { applyMasks, type MaskTerm } from './prg.ts';
import { addWithKernel } from './simd-fold.ts';
import { SHARE_BYTES, reconstructSecret, shareSecret } from './shamir.ts';

export interface RoundSetup {
  roundId: string;
  n: number;
  k: number;
  t: number;
  /** Public 256-bit seed of the neighbourhood graph. */
  graphSeed: Uint8Array;
  /** uint32 elements of a masked input. */
  length: number;
}

export interface Round extends RoundSetup {
  graph: NeighbourGraph;
}

export function setupRound(setup: RoundSetup): Round {
  if (setup.t < 2 || setup.t > setup.k) throw invalidParameter(`t must be in [2, k = ${setup.k}], got ${setup.t}`);
  if (!Number.isInteger(setup.length) || setup.length < 1) throw invalidParameter('the masked vector needs at least one element');
  return { ...setup, graph: neighbourGraph(setup.n, setup.k, setup.graphSeed) };
}

export interface Advertisement {
  encryptionPublicKey: Uint8Array;
  maskPublicKey: Uint8Array;
  seedCommitment: Uint8Array;
}

export interface SiteSecrets {
  self: number;
  encryption: X25519KeyPair;
  mask: X25519KeyPair;
  selfSeed: Uint8Array;
  /** After masked input: the shares this site holds, by owner. */
  held?: Map<number, { keyShare: Uint8Array; seedShare: Uint8Array }>;
  /** After masked input: the neighbours it masked with (U2 ∩ N(i)). */
  maskedWith?: number[];
  /** Set once the site answered an unmask request: a second, different request is the split attack. */
  unmasked?: boolean;
}

function commit(seed: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update('conclave-secagg/self-seed').update(seed).digest());
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function isNeighbour(round: Round, i: number, j: number): boolean {
  return round.graph.neighbours[i]!.includes(j);
}

function checkSite(round: Round, i: number, what: string): void {
  if (!Number.isInteger(i) || i < 0 || i >= round.n) throw invalidParameter(`${what} ${i} is not a site of this round`);
}

function associatedData(round: Round, from: number, to: number): Uint8Array {
  return Buffer.from(`conclave-secagg/share/${round.roundId}/${from}/${to}`, 'utf8');
}

/** Stage 0. The site learns its number with its share-keys task (placeSite); until then it is −1. */
export function advertise(): { secrets: SiteSecrets; advertisement: Advertisement } {
  const secrets: SiteSecrets = { self: -1, encryption: generateX25519(), mask: generateX25519(), selfSeed: new Uint8Array(randomBytes(KEY_BYTES)) };
  return {
    secrets,
    advertisement: { encryptionPublicKey: secrets.encryption.publicKey, maskPublicKey: secrets.mask.publicKey, seedCommitment: commit(secrets.selfSeed) },
  };
}

export function placeSite(round: Round, secrets: SiteSecrets, self: number): void {
  checkSite(round, self, 'site');
  if (secrets.self !== -1 && secrets.self !== self) throw new SecAggError('SECAGG_REFUSED', `this site was told it is site ${secrets.self}, now ${self}`);
  secrets.self = self;
}

export function checkAdvertisement(a: Advertisement): void {
  if (a.encryptionPublicKey.length !== KEY_BYTES || a.maskPublicKey.length !== KEY_BYTES || a.seedCommitment.length !== 32) {
    throw new SecAggError('SECAGG_BAD_SHARE', 'an advertisement holds two 32-byte X25519 public keys and a 32-byte commitment');
  }
  if (sameBytes(a.encryptionPublicKey, a.maskPublicKey)) throw new SecAggError('SECAGG_BAD_SHARE', 'the two advertised keys must differ');
}

/** Stage 1: sealed shares for each live neighbour, keyed by recipient. */
export async function shareKeys(round: Round, secrets: SiteSecrets, advertisements: ReadonlyMap<number, Advertisement>): Promise<Map<number, Uint8Array>> {
  const recipients = round.graph.neighbours[secrets.self]!.filter((j) => advertisements.has(j));
  for (const j of advertisements.keys()) {
    if (j !== secrets.self && !isNeighbour(round, secrets.self, j)) throw new SecAggError('SECAGG_NOT_NEIGHBOUR', `site ${j} is not a neighbour of site ${secrets.self}`);
  }
  if (recipients.length < round.t) {
    throw new SecAggError('SECAGG_TOO_FEW_SURVIVORS', `${recipients.length} live neighbours, ${round.t} needed to share keys`);
  }
  const keyShares = await shareSecret(secrets.mask.privateKey, recipients.length, round.t);
  const seedShares = await shareSecret(secrets.selfSeed, recipients.length, round.t);
  const out = new Map<number, Uint8Array>();
  recipients.forEach((j, at) => {
    const a = advertisements.get(j)!;
    checkAdvertisement(a);
    const key = agreeKey(secrets.encryption.privateKey, a.encryptionPublicKey, 'share-encryption', round.roundId, secrets.self, j);
    const plain = new Uint8Array(2 * SHARE_BYTES);
    plain.set(keyShares[at]!, 0);
    plain.set(seedShares[at]!, SHARE_BYTES);
    out.set(j, sealShare(key, plain, associatedData(round, secrets.self, j)));
  });
  return out;
}

/**
 * Stage 2: opens the shares addressed to this site (by sender), then masks `input` (not modified).
 * `advertisements` are those of the senders, as advertised in stage 0.
 */
export function maskInput(round: Round, secrets: SiteSecrets, advertisements: ReadonlyMap<number, Advertisement>, sealed: ReadonlyMap<number, Uint8Array>, input: Uint32Array): Uint32Array {
  if (input.length !== round.length) throw invalidParameter(`the input has ${input.length} elements, the round ${round.length}`);
  const terms = maskTerms(round, secrets, advertisements, sealed);
  const y = new Uint32Array(input);
  applyMasks(y, terms);
  return y;
}

/**
 * maskInput's first half: opens the shares addressed to this site and records them (the site is then
 * committed to this set of neighbours), and returns the masks to add to its input — its self mask and
 * one pairwise mask per neighbour that shared keys. Expanding them (applyMasks) can be split by
 * coordinate range across threads with the same result.
 */
export function maskTerms(round: Round, secrets: SiteSecrets, advertisements: ReadonlyMap<number, Advertisement>, sealed: ReadonlyMap<number, Uint8Array>): MaskTerm[] {
  const held = new Map<number, { keyShare: Uint8Array; seedShare: Uint8Array }>();
  const encryptionKey = privateKeyObject(secrets.encryption.privateKey);
  const maskKey = privateKeyObject(secrets.mask.privateKey);
  for (const [from, ciphertext] of sealed) {
    if (!isNeighbour(round, secrets.self, from)) throw new SecAggError('SECAGG_NOT_NEIGHBOUR', `a share from site ${from}, which is not a neighbour of site ${secrets.self}`);
    const a = advertisements.get(from);
    if (!a) throw new SecAggError('SECAGG_BAD_SHARE', `a share from site ${from}, which did not advertise keys`);
    const key = agreeKey(encryptionKey, a.encryptionPublicKey, 'share-encryption', round.roundId, from, secrets.self);
    const plain = openShare(key, ciphertext, associatedData(round, from, secrets.self));
    if (plain.length !== 2 * SHARE_BYTES) throw new SecAggError('SECAGG_BAD_SHARE', `a share from site ${from} has the wrong length`);
    held.set(from, { keyShare: plain.slice(0, SHARE_BYTES), seedShare: plain.slice(SHARE_BYTES) });
  }
  if (held.size < round.t) throw new SecAggError('SECAGG_TOO_FEW_SURVIVORS', `${held.size} neighbours shared keys, ${round.t} needed`);
  secrets.held = held;
  secrets.maskedWith = [...held.keys()].sort((x, y) => x - y);
  const terms: MaskTerm[] = [{ seed: secrets.selfSeed, sign: 1 }];
  for (const j of secrets.maskedWith) {
    const seed = agreeKey(maskKey, advertisements.get(j)!.maskPublicKey, 'pairwise-mask', round.roundId, secrets.self, j);
    terms.push({ seed, sign: secrets.self < j ? 1 : -1 });
  }
  return terms;
}

export interface UnmaskRequest {
  /** U3: the sites whose masked input the coordinator summed. */
  survivors: readonly number[];
  /** U2 \ U3: sites that shared keys but sent no masked input. */
  dropped: readonly number[];
}

export interface Revealed {
  /** Shares of b_j for surviving neighbours j. */
  seedShares: Map<number, Uint8Array>;
  /** Shares of s_j^SK for dropped neighbours j. */
  keyShares: Map<number, Uint8Array>;
}

/** Stage 3. An honest site answers one request, in which no site is both a survivor and dropped. */
export function revealShares(round: Round, secrets: SiteSecrets, request: UnmaskRequest): Revealed {
  if (!secrets.held) throw new SecAggError('SECAGG_REFUSED', 'this site has not sent its masked input: nothing to unmask');
  if (secrets.unmasked) throw new SecAggError('SECAGG_REFUSED', 'this site already answered the unmask request of this round');
  const survivors = new Set(request.survivors);
  const dropped = new Set(request.dropped);
  if (survivors.size !== request.survivors.length || dropped.size !== request.dropped.length) throw new SecAggError('SECAGG_REFUSED', 'the unmask request lists a site twice');
  for (const j of dropped) {
    if (survivors.has(j)) throw new SecAggError('SECAGG_REFUSED', `asked for both shares of site ${j}: revealing them would unmask its input`);
  }
  if (!survivors.has(secrets.self)) throw new SecAggError('SECAGG_REFUSED', 'the unmask request does not count this site as a survivor');
  if (dropped.has(secrets.self)) throw new SecAggError('SECAGG_REFUSED', 'the unmask request counts this site as dropped');
  // Bonawitz et al.: fewer than t summed inputs and the "sum" is too close to a single input.
  if (survivors.size < round.t) throw new SecAggError('SECAGG_REFUSED', `only ${survivors.size} survivors, fewer than t = ${round.t}`);
  secrets.unmasked = true;
  const out: Revealed = { seedShares: new Map(), keyShares: new Map() };
  for (const [owner, shares] of secrets.held) {
    if (survivors.has(owner)) out.seedShares.set(owner, shares.seedShare);
    else if (dropped.has(owner)) out.keyShares.set(owner, shares.keyShare);
  }
  return out;
}

/**
 * Which sites the coordinator must reconstruct, and whether it can: every survivor's b (t shares
 * from its neighbours among the responders), every dropped site that a survivor masked with (its
 * s^SK). `maskedWith` is U2 ∩ N(i) for each survivor, as the server knows U2.
 */
export function missingShares(round: Round, u2: ReadonlySet<number>, survivors: readonly number[], responders: ReadonlySet<number>): string | null {
  if (survivors.length < round.t) return `${survivors.length} masked inputs, fewer than t = ${round.t}: the sum would be too close to one site's input (honest sites refuse to unmask it)`;
  const u3 = new Set(survivors);
  for (const i of survivors) {
    const have = round.graph.neighbours[i]!.filter((j) => u2.has(j) && responders.has(j)).length;
    if (have < round.t) return `site ${i}'s self mask: ${have} of its neighbours can reveal shares, ${round.t} needed`;
  }
  for (const d of u2) {
    if (u3.has(d)) continue;
    if (!round.graph.neighbours[d]!.some((j) => u3.has(j))) continue;
    const have = round.graph.neighbours[d]!.filter((j) => responders.has(j)).length;
    if (have < round.t) return `dropped site ${d}'s mask key: ${have} of its neighbours can reveal shares, ${round.t} needed`;
  }
  return null;
}

/**
 * Reconstructs one secret from revealed shares, or null when they do not reconstruct the committed
 * value. The coordinator starts these as shares arrive, so the stage's end has only to look them up.
 */
export async function reconstruct(round: Round, owner: number, kind: 'seed' | 'mask-key', shares: readonly Uint8Array[], ad: Advertisement): Promise<Uint8Array | null> {
  try {
    return await reconstructSecret(shares, round.t, kind === 'seed'
      ? (s) => sameBytes(commit(s), ad.seedCommitment)
      : (sk) => sameBytes(x25519PublicOf(sk), ad.maskPublicKey));
  } catch (e) {
    if (e instanceof SecAggError) return null;
    throw e;
  }
}

/** The dropped sites whose mask key must be reconstructed: those a survivor masked with. */
export function droppedPartners(round: Round, u2: ReadonlySet<number>, survivors: readonly number[]): Map<number, number[]> {
  const u3 = new Set(survivors);
  const out = new Map<number, number[]>();
  for (const d of u2) {
    if (u3.has(d)) continue;
    const partners = round.graph.neighbours[d]!.filter((j) => u3.has(j));
    if (partners.length > 0) out.set(d, partners);
  }
  return out;
}

/**
 * The masks to take out of Σ_{U3} y, given the reconstructed secrets — every survivor's self-mask
 * seed, the mask key of every dropped site a survivor masked with: −PRG(b_i) for each survivor and,
 * for each dropped d and surviving neighbour j, the opposite of what j added for the pair.
 * Expanding them (applyMasks) can be split by coordinate range across threads.
 */
export function unmaskTerms(round: Round, advertisements: ReadonlyMap<number, Advertisement>, u2: ReadonlySet<number>, survivors: readonly number[], selfSeeds: ReadonlyMap<number, Uint8Array>, maskKeys: ReadonlyMap<number, Uint8Array>): MaskTerm[] {
  const terms: MaskTerm[] = [];
  for (const i of survivors) {
    const seed = selfSeeds.get(i);
    if (!seed) throw new SecAggError('SECAGG_TOO_FEW_SURVIVORS', `site ${i}'s self-mask seed was not reconstructed`);
    terms.push({ seed, sign: -1 });
  }
  // A survivor can neighbour several dropped sites: its public key is parsed once.
  const publicKeys = new Map<number, KeyObject>();
  for (const [d, partners] of droppedPartners(round, u2, survivors)) {
    const raw = maskKeys.get(d);
    if (!raw) throw new SecAggError('SECAGG_TOO_FEW_SURVIVORS', `dropped site ${d}'s mask key was not reconstructed`);
    const key = privateKeyObject(raw);
    for (const j of partners) {
      let peer = publicKeys.get(j);
      if (!peer) publicKeys.set(j, (peer = publicKeyObject(advertisements.get(j)!.maskPublicKey)));
      const seed = agreeKey(key, peer, 'pairwise-mask', round.roundId, d, j);
      // j added +PRG(s_jd) when j < d and −PRG otherwise; take it back out.
      terms.push({ seed, sign: j < d ? -1 : 1 });
    }
  }
  return terms;
}

/** From Σ_{U3} y (in place, returned) and the reconstructed secrets, the sum of the survivors' inputs. */
export function removeMasks(round: Round, sum: Uint32Array, advertisements: ReadonlyMap<number, Advertisement>, u2: ReadonlySet<number>, survivors: readonly number[], selfSeeds: ReadonlyMap<number, Uint8Array>, maskKeys: ReadonlyMap<number, Uint8Array>): Uint32Array {
  if (sum.length !== round.length) throw invalidParameter(`the sum has ${sum.length} elements, the round ${round.length}`);
  applyMasks(sum, unmaskTerms(round, advertisements, u2, survivors, selfSeeds, maskKeys));
  return sum;
}

/** The shares of `owner`'s secret that the responders revealed. */
export function sharesOf(round: Round, owner: number, kind: 'seed' | 'mask-key', revealed: ReadonlyMap<number, Revealed>): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const j of round.graph.neighbours[owner]!) {
    const r = revealed.get(j);
    const share = r && (kind === 'seed' ? r.seedShares : r.keyShares).get(owner);
    if (share) out.push(share);
  }
  return out;
}

/**
 * Reconstructs what unmasking needs from the revealed shares: each survivor's self-mask seed and the
 * mask key of each dropped site a survivor masked with, each checked against its commitment.
 */
export async function reconstructAll(round: Round, advertisements: ReadonlyMap<number, Advertisement>, u2: ReadonlySet<number>, survivors: readonly number[], revealed: ReadonlyMap<number, Revealed>): Promise<{ selfSeeds: Map<number, Uint8Array>; maskKeys: Map<number, Uint8Array> }> {
  const missing = missingShares(round, u2, survivors, new Set(revealed.keys()));
  if (missing) throw new SecAggError('SECAGG_TOO_FEW_SURVIVORS', missing);
  const selfSeeds = new Map<number, Uint8Array>();
  const maskKeys = new Map<number, Uint8Array>();
  for (const i of survivors) {
    selfSeeds.set(i, await reconstructSecret(sharesOf(round, i, 'seed', revealed), round.t, (s) => sameBytes(commit(s), advertisements.get(i)!.seedCommitment)));
  }
  for (const d of droppedPartners(round, u2, survivors).keys()) {
    maskKeys.set(d, await reconstructSecret(sharesOf(round, d, 'mask-key', revealed), round.t, (sk) => sameBytes(x25519PublicOf(sk), advertisements.get(d)!.maskPublicKey)));
  }
  return { selfSeeds, maskKeys };
}

/** The whole last step at once (tests, the benchmark): reconstruct, then remove the masks. */
export async function unmaskSum(round: Round, sum: Uint32Array, advertisements: ReadonlyMap<number, Advertisement>, u2: ReadonlySet<number>, survivors: readonly number[], revealed: ReadonlyMap<number, Revealed>): Promise<Uint32Array> {
  const { selfSeeds, maskKeys } = await reconstructAll(round, advertisements, u2, survivors, revealed);
  return removeMasks(round, sum, advertisements, u2, survivors, selfSeeds, maskKeys);
}

/** Σ_{U3} y, the coordinator's running sum (each masked input is folded and dropped on arrival). */
export function addInto(sum: Uint32Array, y: Uint32Array): void {
  if (y.length !== sum.length) throw invalidParameter(`a masked input of ${y.length} elements, expected ${sum.length}`);
  const s = new Int32Array(sum.buffer, sum.byteOffset, sum.length);
  const v = new Int32Array(y.buffer, y.byteOffset, y.length);
  if (addWithKernel(s, v)) return;
  for (let i = 0; i < v.length; i++) s[i] = (s[i]! + v[i]!) | 0;
}
