/**
 * Site identity keys under protection "secagg": the coordinator pins each site's Ed25519 key on
 * first use, and an honest site checks every neighbour's advertised keys against that neighbour's
 * identity before sealing a share to it or masking with it. Here the coordinator's relay is
 * tampered with by hand, as a malicious coordinator would, and the honest site must refuse.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { secureAggregation as siteSecAgg } from '../../client-sdk/protection/secagg.ts';
import { generateX25519 } from '../../crypto/secagg/index.ts';
import { generateSiteIdentity, signAdvertisement } from '../../crypto/site-identity.ts';
import type { SecAggKeysMsg, SecAggTaskMsg } from '../../protocols/index.ts';
import { FakeSecAggSite, runSecAggRound } from '../helpers/secagg-site.ts';
import { inMemoryCoordinator, openRound, tinyConfig, tinyFederation, type InMemoryCoordinator } from '../helpers/in-memory-coordinator.ts';

let c: InMemoryCoordinator;
afterEach(() => c?.close());

const deltaOf = (i: number) => Float32Array.from({ length: 8 }, (_, j) => (i + 1) * 0.5 - j * 0.25 + i * i * 0.01);

type StageTask = Awaited<ReturnType<FakeSecAggSite['task']>>;

/** The task with peer `at`'s keys replaced. */
function withPeerKeys(task: StageTask, at: number, keys: SecAggKeysMsg): StageTask {
  if (task.body !== 'secagg') throw new Error('expected a secagg task');
  const secagg: SecAggTaskMsg = { ...task.secagg, peers: task.secagg.peers.map((p, i) => (i === at ? { ...p, keys } : p)) };
  return { ...task, secagg };
}

function peerKeys(task: StageTask, at: number): SecAggKeysMsg {
  if (task.body !== 'secagg') throw new Error('expected a secagg task');
  return task.secagg.peers[at]!.keys!;
}

async function twoRoundFederation() {
  c = await inMemoryCoordinator();
  const fed = await tinyFederation(c, 4, tinyConfig({ rounds: 2, sitesPerRound: 4, minSites: 3, protection: { kind: 'secagg' } }));
  const sites = fed.sites.map((s, i) => new FakeSecAggSite(c, s, deltaOf(i)));
  return { fed, sites };
}

describe('secagg identity keys', () => {
  test('an honest site refuses substituted, re-signed, replayed or swapped-in-between neighbour keys', async () => {
    const { fed, sites } = await twoRoundFederation();
    await openRound(c, fed.sites);
    for (const s of sites) await s.plan();
    for (const s of sites) await s.advertise();
    const firstRound = await sites[0]!.task('share-keys');
    const replayable = peerKeys(firstRound, 0);
    const victimId = firstRound.body === 'secagg' ? firstRound.secagg.peers[0]!.siteId : '';
    await sites[0]!.submit(await siteSecAgg.stage(sites[0]!.ctx, firstRound));
    for (const s of sites.slice(1)) await s.answer('share-keys');
    for (const s of sites) await s.answer('masked-input');
    for (const s of sites) await s.answer('unmask');
    expect(c.rounds.listRounds(fed.id)[0]).toMatchObject({ state: 'committed' });
    // Every site now knows its neighbours' identity keys.
    expect(sites[0]!.peerIdentities.get(victimId)).toBeDefined();

    await openRound(c, fed.sites);
    for (const s of sites) await s.plan();
    for (const s of sites) await s.advertise();
    const task = await sites[0]!.task('share-keys');
    const honest = peerKeys(task, 0);
    const attacker = { encryption: generateX25519(), mask: generateX25519() };
    const substituted = { ...honest, encryptionPublicKey: Buffer.from(attacker.encryption.publicKey), maskPublicKey: Buffer.from(attacker.mask.publicKey) };
    // 1. The coordinator's own X25519 keys under the neighbour's signature.
    await expect(siteSecAgg.stage(sites[0]!.ctx, withPeerKeys(task, 0, substituted)))
      .rejects.toMatchObject({ code: 'ROUND_CLOSED', message: expect.stringMatching(/not signed by its identity key/) });
    // 2. The same keys signed by an identity key the coordinator made up for that neighbour.
    const forger = generateSiteIdentity();
    const scope = { federationId: fed.id, roundId: sites[0]!.ctx.plan.roundId };
    const resigned = {
      ...substituted, identityPublicKey: Buffer.from(forger.publicKey),
      signature: Buffer.from(signAdvertisement(forger, scope, { encryptionPublicKey: attacker.encryption.publicKey, maskPublicKey: attacker.mask.publicKey, seedCommitment: new Uint8Array(honest.seedCommitment) })),
    };
    await expect(siteSecAgg.stage(sites[0]!.ctx, withPeerKeys(task, 0, resigned)))
      .rejects.toMatchObject({ code: 'ROUND_CLOSED', message: expect.stringMatching(/now has another identity key/) });
    // 3. The neighbour's genuine advertisement from the last round, whose mask key the coordinator may hold.
    await expect(siteSecAgg.stage(sites[0]!.ctx, withPeerKeys(task, 0, replayable)))
      .rejects.toMatchObject({ code: 'ROUND_CLOSED', message: expect.stringMatching(/not signed by its identity key for this round/) });
    // Nothing of the refused tasks stuck: the genuine one goes through.
    await sites[0]!.submit(await siteSecAgg.stage(sites[0]!.ctx, task));
    for (const s of sites.slice(1)) await s.answer('share-keys');
    // 4. Keys that differ at masked-input from those verified at share-keys.
    const masked = await sites[0]!.task('masked-input');
    const swapped = { ...peerKeys(masked, 0), maskPublicKey: Buffer.from(attacker.mask.publicKey) };
    await expect(siteSecAgg.stage(sites[0]!.ctx, withPeerKeys(masked, 0, swapped)))
      .rejects.toMatchObject({ code: 'ROUND_CLOSED', message: expect.stringMatching(/differ from those it advertised at share-keys/) });
    await sites[0]!.submit(await siteSecAgg.stage(sites[0]!.ctx, masked));
    for (const s of sites.slice(1)) await s.answer('masked-input');
    for (const s of sites) await s.answer('unmask');
    expect(c.rounds.listRounds(fed.id)[1]).toMatchObject({ state: 'committed' });
  });

  test('the coordinator pins a site\'s identity key and refuses unsigned advertisements', async () => {
    const { fed, sites } = await twoRoundFederation();
    await openRound(c, fed.sites);
    await runSecAggRound(c, sites, [4, 4, 4, 4]);
    expect(c.rounds.identities.get(fed.sites[1]!.siteId)).toEqual(sites[1]!.identity.publicKey);

    await openRound(c, fed.sites);
    for (const s of sites) await s.plan();
    const site = sites[1]!;
    const genuine = await site.advertisement();
    if (genuine.body !== 'secagg') throw new Error('expected a secagg body');
    const badSignature = { ...genuine, secagg: { ...genuine.secagg, keys: { ...genuine.secagg.keys!, signature: Buffer.alloc(64, 1) } } };
    await expect(site.submit(badSignature)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/not signed by the identity key/) });
    // A stolen token with a new key: the signature is valid, the key is not the pinned one.
    site.identity = generateSiteIdentity();
    site.ctx = { ...site.ctx, secrets: new Map(), identity: site.identity };
    await expect(site.advertise()).rejects.toMatchObject({ code: 'IDENTITY_MISMATCH' });
    expect(c.rounds.identities.get(fed.sites[1]!.siteId)).not.toEqual(site.identity.publicKey);
    await site.submit(genuine);
  });
});
