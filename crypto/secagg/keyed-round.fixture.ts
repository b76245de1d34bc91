/**
 * Test and benchmark fixture (excluded from the build): a round in which every site has advertised
 * its keys and shared them with its neighbours, the coordinator's relay done by hand — where the
 * masking and unmasking tests and bench/secagg.ts start from.
 */
import { advertise, placeSite, shareKeys, type Advertisement, type Round, type SiteSecrets } from './round.ts';

export interface KeyedRound {
  secrets: SiteSecrets[];
  ads: Map<number, Advertisement>;
  /** Sealed shares by recipient, then sender. */
  inbox: Map<number, Map<number, Uint8Array>>;
}

export async function keyedRound(round: Round): Promise<KeyedRound> {
  const secrets: SiteSecrets[] = [];
  const ads = new Map<number, Advertisement>();
  for (let i = 0; i < round.n; i++) {
    const a = advertise();
    placeSite(round, a.secrets, i);
    secrets.push(a.secrets);
    ads.set(i, a.advertisement);
  }
  const inbox = new Map<number, Map<number, Uint8Array>>();
  for (let i = 0; i < round.n; i++) {
    for (const [to, c] of await shareKeys(round, secrets[i]!, new Map(round.graph.neighbours[i]!.map((j) => [j, ads.get(j)!])))) {
      if (!inbox.has(to)) inbox.set(to, new Map());
      inbox.get(to)!.set(i, c);
    }
  }
  return { secrets, ads, inbox };
}
