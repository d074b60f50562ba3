import { canonicalJson, stateDigest } from './canonical';

describe('canonicalJson', () => {
  it('sorts keys at every depth, drops undefined members and prints dates in UTC', () => {
    const state = {
      c: { z: true, y: new Date('2026-01-01T00:00:00Z'), skipped: undefined },
      b: [1, 2.5, null, 'x'],
      a: 'é',
    };
    expect(canonicalJson(state)).toBe(
      '{"a":"é","b":[1,2.5,null,"x"],"c":{"y":"2026-01-01T00:00:00.000Z","z":true}}',
    );
  });

  it('gives one digest per state, whatever the key order (vector from Python json.dumps sort_keys)', () => {
    const one = { a: 'é', b: [1, 2.5, null, 'x'], c: { z: true, y: '2026-01-01T00:00:00.000Z' } };
    const two = { c: { y: '2026-01-01T00:00:00.000Z', z: true }, b: [1, 2.5, null, 'x'], a: 'é' };
    expect(stateDigest(one)?.toString('hex')).toBe(
      '7101db807ebfb4deef42eee3198aeb046666dc0be2d97b784ae8224a42305cb9',
    );
    expect(stateDigest(two)?.equals(stateDigest(one) as Buffer)).toBe(true);
    expect(stateDigest(null)).toBeNull();
  });

  it('refuses bytes (key material), non-finite numbers and bigints', () => {
    expect(() => canonicalJson({ secretCiphertext: Buffer.from('x') })).toThrow(/binary values/);
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/non-finite/);
    expect(() => canonicalJson({ n: 1n })).toThrow(/bigint/);
  });
});
