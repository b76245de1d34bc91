/** simulate's hostile-site flags: --attackers K --attack KIND, --byzantine K, and their mistakes. */
import { expect, test } from 'vitest';
import { attackArgs, attackFromFlags } from '../../coordinator/cli/attack-flags.ts';

test('--attackers K --attack KIND picks sites 0..K-1; --byzantine K is scaled-random', () => {
  expect(attackFromFlags({ attackers: '2', attack: 'inflated-count' }, 10)).toEqual({ kind: 'inflated-count', sites: [0, 1] });
  expect(attackFromFlags({ byzantine: '2' }, 10)).toEqual({ kind: 'scaled-random', sites: [0, 1] });
  expect(attackFromFlags({ byzantine: '0' }, 10)).toBeNull();
  expect(attackFromFlags({}, 10)).toBeNull();
});

test('mistakes are usage errors with the reason', () => {
  expect(() => attackFromFlags({ attack: 'huge-update' }, 10)).toThrow(/--attack needs --attackers/);
  expect(() => attackFromFlags({ attackers: '1' }, 10)).toThrow(/--attack is required/);
  expect(() => attackFromFlags({ attackers: '1', attack: 'nuke' }, 10)).toThrow(/must be one of huge-update, inflated-count, scaled-random/);
  expect(() => attackFromFlags({ attackers: '10', attack: 'huge-update' }, 10)).toThrow(/\[0, 9\]/);
  expect(() => attackFromFlags({ byzantine: '1', attackers: '1' }, 10)).toThrow(/one or the other/);
});

test('each site process gets the attackers it hosts, and only those', () => {
  const attack = { kind: 'huge-update' as const, sites: [0, 1] };
  expect(attackArgs(attack, [0, 4, 8])).toEqual(['--attack', 'huge-update', '--attack-sites', '0']);
  expect(attackArgs(attack, [2, 6])).toEqual([]);
  expect(attackArgs(null, [0])).toEqual([]);
});
