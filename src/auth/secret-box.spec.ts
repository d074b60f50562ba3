import { newSigningSecret, SecretBox } from './secret-box';

describe('SecretBox (AES-256-GCM)', () => {
  const box = new SecretBox(Buffer.alloc(32, 1));

  it('round-trips a secret bound to its sender', () => {
    const secret = newSigningSecret();
    expect(box.open(box.seal(secret, 'device:DVF-1'), 'device:DVF-1')).toBe(secret);
  });

  it('uses a fresh IV each time, so equal secrets do not give equal ciphertexts', () => {
    expect(box.seal('same', 'device:A').equals(box.seal('same', 'device:A'))).toBe(false);
  });

  it('refuses a ciphertext moved to another sender, altered, or opened with another key', () => {
    const sealed = box.seal('fws_secret', 'device:DVF-1');
    expect(() => box.open(sealed, 'device:DVF-2')).toThrow();
    const altered = Buffer.from(sealed);
    altered[altered.length - 1] ^= 1;
    expect(() => box.open(altered, 'device:DVF-1')).toThrow();
    expect(() => new SecretBox(Buffer.alloc(32, 2)).open(sealed, 'device:DVF-1')).toThrow();
  });

  it('requires a 32-byte key', () => {
    expect(() => new SecretBox(Buffer.alloc(16))).toThrow('32 bytes');
  });
});
