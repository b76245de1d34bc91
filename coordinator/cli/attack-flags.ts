/**
 * `conclave simulate` flags for hostile sites (SIMULATION ONLY, issue 13 and issue 12): K of the
 * simulated sites follow the protocol but send what an attacker would. Their behaviour lives on the
 * site side (client-sdk/simulation/attacker.ts), reached through `participant host --attack`.
 */
import { CliError, int, oneOf, type FlagOptions, type Flags } from '../../protocols/cli.ts';

export const ATTACK_KINDS = ['huge-update', 'inflated-count', 'scaled-random'] as const;
export type AttackKind = (typeof ATTACK_KINDS)[number];

export const ATTACK_OPTIONS = {
  attackers: { type: 'string', value: 'K', description: 'SIMULATION ONLY: sites 0..K-1 attack every round (with --attack); the JSON reports per round the updates the coordinator clipped, capped (weight) or refused' },
  attack: {
    type: 'string', value: 'huge-update|inflated-count|scaled-random',
    description: 'huge-update: Δ = ±3.4e38; inflated-count: Δ = −w claiming 1e9 examples; scaled-random: a random direction at 100× the norm of the site\'s honest update',
  },
  byzantine: { type: 'string', value: 'K', description: 'the same as --attackers K --attack scaled-random' },
} as const satisfies FlagOptions;

export interface SimulatedAttack {
  kind: AttackKind;
  /** Site indices that attack: the first K. */
  sites: number[];
}

export function attackFromFlags(flags: Flags, sites: number): SimulatedAttack | null {
  const byzantine = flags['byzantine'] !== undefined;
  if (byzantine && (flags['attackers'] !== undefined || flags['attack'] !== undefined)) {
    throw new CliError('--byzantine K is --attackers K --attack scaled-random: give one or the other');
  }
  if (!byzantine && flags['attackers'] === undefined) {
    if (flags['attack'] !== undefined) throw new CliError('--attack needs --attackers K');
    return null;
  }
  // At least one honest site: a federation of attackers measures nothing.
  const count = int(flags, byzantine ? 'byzantine' : 'attackers', { min: 0, max: Math.max(0, sites - 1) });
  const kind = byzantine ? 'scaled-random' : oneOf(flags, 'attack', ATTACK_KINDS);
  return count === 0 ? null : { kind, sites: Array.from({ length: count }, (_, i) => i) };
}

/** The `participant host` arguments for the attackers among `indices` (none when this process hosts none). */
export function attackArgs(attack: SimulatedAttack | null, indices: readonly number[]): string[] {
  const mine = attack ? indices.filter((i) => attack.sites.includes(i)) : [];
  return mine.length ? ['--attack', attack!.kind, '--attack-sites', mine.join(',')] : [];
}
