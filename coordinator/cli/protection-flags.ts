import { CliError, int, oneOf, type Flags } from '../../protocols/cli.ts';
import { HE_CIPHERTEXTS, PROTECTIONS, type FederationConfigInput } from '../federation-config.ts';
import { SECAGG_OPTIONS, secAggProtectionFromFlags } from './secagg-flags.ts';

/** `--protection` and the parameters of each protection protocol (federation create, simulate). */
export const PROTECTION_OPTIONS = {
  'he-decryptors': { type: 'string', description: 'protection he: sites that decrypt the aggregate and must agree (default 2)' },
  'he-ciphertexts': { type: 'string', description: 'protection he: seeded (half the upload) or full ciphertexts (default seeded)' },
} as const;

export const PROTECTION_USAGE = `protection (default none):
  [--protection none|secagg|he]
  he: [--he-decryptors 2] [--he-ciphertexts seeded|full]   sites encrypt their updates under CKKS; the
      coordinator sums ciphertexts and d >= 2 sites decrypt the sum (README, "Homomorphic aggregation")`;

/** The protection config the flags ask for; a protocol's flags are refused with another protocol. */
export function protectionFromFlags(flags: Flags): FederationConfigInput['protection'] {
  const kind = oneOf(flags, 'protection', PROTECTIONS, 'none');
  if (kind === 'secagg') {
    const stray = Object.keys(PROTECTION_OPTIONS).find((name) => flags[name] !== undefined);
    if (stray) throw new CliError(`--${stray} needs --protection he`);
    return secAggProtectionFromFlags(flags);
  }
  const strayAgg = Object.keys(SECAGG_OPTIONS).find((name) => flags[name] !== undefined);
  if (strayAgg) throw new CliError(`--${strayAgg} needs --protection secagg`);
  const given = Object.keys(PROTECTION_OPTIONS).filter((name) => flags[name] !== undefined);
  if (kind !== 'he') {
    if (given.length) throw new CliError(`--${given[0]} needs --protection he`);
    // The bare kind, as the schema's legacy form: summaries print "none", not an object.
    return kind;
  }
  return {
    kind,
    decryptors: int(flags, 'he-decryptors', { min: 2, max: 100, fallback: 2 }),
    ciphertexts: oneOf(flags, 'he-ciphertexts', HE_CIPHERTEXTS, 'seeded'),
  };
}
