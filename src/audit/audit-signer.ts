import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  KeyObject,
  sign,
  verify,
} from 'node:crypto';

/** PKCS#8 DER prefix of an Ed25519 private key (RFC 8410): the 32-byte seed follows. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
/** SubjectPublicKeyInfo DER prefix of an Ed25519 public key: the 32-byte key follows. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * Parses FW_AUDIT_SIGNING_KEY: a PKCS#8 PEM Ed25519 private key (newlines may be written as "\n"),
 * or a 32-byte seed as 64 hex characters or base64. Errors never echo the key.
 */
export function parseSigningKey(encoded: string): KeyObject {
  const text = encoded.trim();
  let key: KeyObject;
  try {
    if (text.includes('-----BEGIN')) {
      key = createPrivateKey({ key: text.replace(/\\n/g, '\n'), format: 'pem' });
    } else {
      const seed = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
      if (seed.length !== 32) throw new Error('length');
      key = createPrivateKey({
        key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
        format: 'der',
        type: 'pkcs8',
      });
    }
  } catch {
    throw new Error(
      'FW_AUDIT_SIGNING_KEY must be an Ed25519 private key: PKCS#8 PEM, or a 32-byte seed as 64 hex characters or base64',
    );
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`FW_AUDIT_SIGNING_KEY must be an Ed25519 key, not ${key.asymmetricKeyType ?? 'unknown'}`);
  }
  return key;
}

/** Raw 32-byte Ed25519 public key, from hex or base64 (FW_AUDIT_TRUSTED_PUBLIC_KEYS entries). */
export function parsePublicKey(encoded: string): Buffer {
  const text = encoded.trim();
  const raw = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (raw.length !== 32)
    throw new Error('an audit public key must be 32 bytes (64 hex characters or base64)');
  return raw;
}

/** Short, stable name of a public key: the first 16 hex characters of its sha256. */
export function keyFingerprint(rawPublicKey: Buffer): string {
  return createHash('sha256').update(rawPublicKey).digest('hex').slice(0, 16);
}

export function verifySignature(rawPublicKey: Buffer, message: Buffer, signature: Buffer): boolean {
  if (rawPublicKey.length !== 32 || signature.length !== 64) return false;
  const publicKey = createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, rawPublicKey]),
    format: 'der',
    type: 'spki',
  });
  try {
    return verify(null, message, publicKey, signature);
  } catch {
    return false;
  }
}

/** Signs audit checkpoints with one Ed25519 key. */
export class AuditSigner {
  readonly publicKey: Buffer;
  readonly fingerprint: string;

  constructor(
    private readonly privateKey: KeyObject,
    /** True when the key was generated at start because none was configured (development only). */
    readonly ephemeral: boolean,
  ) {
    const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    this.publicKey = Buffer.from(spki.subarray(spki.length - 32));
    this.fingerprint = keyFingerprint(this.publicKey);
  }

  static fromConfig(encoded: string | undefined): AuditSigner {
    if (encoded) return new AuditSigner(parseSigningKey(encoded), false);
    return new AuditSigner(generateKeyPairSync('ed25519').privateKey, true);
  }

  sign(message: Buffer): Buffer {
    return sign(null, message, this.privateKey);
  }
}
