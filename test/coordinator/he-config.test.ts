/** Protection "he" in the federation config, on the wire, and from the CLI's flags. */
import { describe, expect, it } from 'vitest';
import { configFromMessage, configMessage, parseFederationConfig, type FederationConfigInput } from '../../coordinator/federation-config.ts';
import { protectionFromFlags } from '../../coordinator/cli/protection-flags.ts';
import { baseConfig, overTheWire } from '../../coordinator/federation-config.fixture.ts';

const BASE = baseConfig({ minSites: 3, protection: { kind: 'he' } });


describe('protection "he" in the federation config', () => {
  it('defaults to 2 decryptors and seeded ciphertexts, and survives the wire and storage', () => {
    const parsed = parseFederationConfig(BASE);
    expect(parsed.protection).toEqual({ kind: 'he', decryptors: 2, ciphertexts: 'seeded' });
    for (const input of [BASE, { ...BASE, protection: { kind: 'he', decryptors: 3, ciphertexts: 'full' } }] as FederationConfigInput[]) {
      const expected = parseFederationConfig(input);
      const msg = overTheWire(configMessage(input));
      expect(msg.protection).toBe('he');
      expect(parseFederationConfig(configFromMessage(msg))).toEqual(expected);
      expect(parseFederationConfig(JSON.parse(JSON.stringify(expected)))).toEqual(expected);
    }
  });

  it('refuses fewer than 2 decryptors, more decryptors than a round may end with, and unknown ciphertext forms', () => {
    expect(() => parseFederationConfig({ ...BASE, protection: { kind: 'he', decryptors: 1 } })).toThrow(/at least 2 decryptors/);
    expect(() => parseFederationConfig({ ...BASE, protection: { kind: 'he', decryptors: 4 } })).toThrow(/protection\.decryptors: .*more than the 3 sites/);
    expect(() => parseFederationConfig({ ...BASE, protection: { kind: 'he', ciphertexts: 'compressed' } })).toThrow(/protection/);
  });

  it('robust aggregators need each update: refused with he, which yields only the sum', () => {
    for (const aggregation of [{ kind: 'median' }, { kind: 'trimmed-mean' }, { kind: 'krum', byzantine: 0 }] as const) {
      expect(() => parseFederationConfig({ ...BASE, aggregation })).toThrow(/only ever yields their sum/);
    }
    expect(parseFederationConfig({ ...BASE, aggregation: { kind: 'fedavg', serverOptimizer: { kind: 'fedadam' } } }).aggregation.kind).toBe('fedavg');
  });
});

describe('--protection flags', () => {
  it('he takes its parameters; another protection refuses them', () => {
    expect(protectionFromFlags({})).toBe('none');
    expect(protectionFromFlags({ protection: 'he' })).toEqual({ kind: 'he', decryptors: 2, ciphertexts: 'seeded' });
    expect(protectionFromFlags({ protection: 'he', 'he-decryptors': '3', 'he-ciphertexts': 'full' })).toEqual({ kind: 'he', decryptors: 3, ciphertexts: 'full' });
    expect(() => protectionFromFlags({ 'he-decryptors': '3' })).toThrow(/--he-decryptors needs --protection he/);
    expect(() => protectionFromFlags({ protection: 'he', 'he-decryptors': '1' })).toThrow(/he-decryptors/);
    expect(() => protectionFromFlags({ protection: 'paillier' })).toThrow(/--protection must be one of none, secagg, he/);
  });
});
