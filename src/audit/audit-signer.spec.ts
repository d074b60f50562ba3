import { generateKeyPairSync } from 'node:crypto';
import {
  AuditSigner,
  keyFingerprint,
  parsePublicKey,
  parseSigningKey,
  verifySignature,
} from './audit-signer';

/** RFC 8032 §7.1, TEST 1: secret key, public key and the signature of the empty message. */
const RFC8032_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const RFC8032_PUBLIC = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const RFC8032_SIGNATURE =
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';

describe('audit checkpoint signing', () => {
  it('derives the RFC 8032 public key and signature from a hex or base64 seed', () => {
    for (const encoded of [RFC8032_SEED, Buffer.from(RFC8032_SEED, 'hex').toString('base64')]) {
      const signer = new AuditSigner(parseSigningKey(encoded), false);
      expect(signer.publicKey.toString('hex')).toBe(RFC8032_PUBLIC);
      expect(signer.sign(Buffer.alloc(0)).toString('hex')).toBe(RFC8032_SIGNATURE);
      expect(signer.fingerprint).toBe(keyFingerprint(Buffer.from(RFC8032_PUBLIC, 'hex')));
    }
  });

  it('reads a PKCS#8 PEM key, also with its newlines written as \\n', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const fromPem = new AuditSigner(parseSigningKey(pem), false);
    const fromEscaped = new AuditSigner(parseSigningKey(pem.replace(/\n/g, '\\n')), false);
    expect(fromEscaped.publicKey.equals(fromPem.publicKey)).toBe(true);
  });

  it('refuses keys that are not Ed25519 and never echoes them', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .privateKey.export({ format: 'pem', type: 'pkcs8' })
      .toString();
    expect(() => parseSigningKey(rsa)).toThrow(/must be an Ed25519 key, not rsa/);
    expect(() => parseSigningKey('abcd')).toThrow(/FW_AUDIT_SIGNING_KEY must be an Ed25519 private key/);
    expect(() => parseSigningKey('zz'.repeat(32))).not.toThrow(/zzzz/);
  });

  it('verifies its own signatures and rejects a changed message, signature or key', () => {
    const signer = AuditSigner.fromConfig(undefined);
    expect(signer.ephemeral).toBe(true);
    const message = Buffer.from('fieldwatch-audit-checkpoint/1\n7\n00');
    const signature = signer.sign(message);
    expect(verifySignature(signer.publicKey, message, signature)).toBe(true);
    expect(
      verifySignature(signer.publicKey, Buffer.from('fieldwatch-audit-checkpoint/1\n8\n00'), signature),
    ).toBe(false);
    const flipped = Buffer.from(signature);
    flipped[0] ^= 1;
    expect(verifySignature(signer.publicKey, message, flipped)).toBe(false);
    expect(verifySignature(parsePublicKey(RFC8032_PUBLIC), message, signature)).toBe(false);
  });
});
