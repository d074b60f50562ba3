import { matchingSecretIndex, signMessageValue } from '../kafka/signature';
import { Sender, verifySenderSignature } from './sender-directory';

const value = Buffer.from('{"schema":"fieldwatch.analysis/1"}');
const NOW = Date.parse('2026-06-01T12:00:00Z');

const sender = (previous: Sender['previousSecret'] = null): Sender => ({
  kind: 'device',
  id: '00000000-0000-4000-8000-000000000001',
  code: 'DVF-1',
  manufacturerId: '00000000-0000-4000-8000-0000000000aa',
  productId: '00000000-0000-4000-8000-0000000000bb',
  siteId: '00000000-0000-4000-8000-0000000000cc',
  siteCode: 'SH-RJ',
  secret: 'fws_current',
  secretKeyId: 'sk_current',
  previousSecret: previous,
});

const previous = { secret: 'fws_previous', keyId: 'sk_previous', validUntil: new Date(NOW + 1000) };

describe('matchingSecretIndex', () => {
  it('names the secret that signed, or -1', () => {
    const secrets = ['fws_a', 'fws_b'];
    expect(matchingSecretIndex(secrets, value, signMessageValue('fws_a', value))).toBe(0);
    expect(matchingSecretIndex(secrets, value, signMessageValue('fws_b', value))).toBe(1);
    expect(matchingSecretIndex(secrets, value, signMessageValue('fws_c', value))).toBe(-1);
    expect(matchingSecretIndex(secrets, value, 'sha256=short')).toBe(-1);
    expect(matchingSecretIndex(secrets, value, '')).toBe(-1);
  });

  it('never tries more than the current and the previous secret', () => {
    expect(() => matchingSecretIndex(['a', 'b', 'c'], value, signMessageValue('c', value))).toThrow(
      /at most two/,
    );
  });
});

describe('verifySenderSignature', () => {
  it('accepts the current secret of a sender that was never rotated, and nothing else', () => {
    expect(verifySenderSignature(sender(), value, signMessageValue('fws_current', value), NOW)).toEqual({
      verdict: 'current',
    });
    expect(verifySenderSignature(sender(), value, signMessageValue('fws_previous', value), NOW)).toEqual({
      verdict: 'invalid',
    });
  });

  it('accepts the previous secret strictly before its deadline and calls it retired from then on', () => {
    const signed = signMessageValue('fws_previous', value);
    const window = { keyId: 'sk_previous', validUntil: previous.validUntil };
    expect(verifySenderSignature(sender(previous), value, signed, NOW + 999)).toEqual({
      verdict: 'previous',
      ...window,
    });
    expect(verifySenderSignature(sender(previous), value, signed, NOW + 1000)).toEqual({
      verdict: 'retired',
      ...window,
    });
    expect(
      verifySenderSignature(sender(previous), value, signMessageValue('fws_current', value), NOW + 1e9),
    ).toEqual({ verdict: 'current' });
    expect(verifySenderSignature(sender(previous), value, signMessageValue('fws_other', value), NOW)).toEqual(
      { verdict: 'invalid' },
    );
  });

  it('checks the signature over the exact bytes, for the previous secret too', () => {
    const signed = signMessageValue('fws_previous', value);
    const changed = Buffer.from(value.toString().replace('1', '2'));
    expect(verifySenderSignature(sender(previous), changed, signed, NOW).verdict).toBe('invalid');
  });
});
