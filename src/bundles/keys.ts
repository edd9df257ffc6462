/**
 * ed25519 keys for model bundles (node:crypto, RFC 8032). Public keys are PEM (SPKI) files `<name>.pub` in the trusted
 * keys folder; a key is named in signatures by its key id: the first 16 hex digits of the sha256 of its raw 32-byte
 * public key, so a renamed file still matches and two files with the same key are one key.
 */
import { createHash, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TrustedKey {
  id: string;
  /** File the key was read from. */
  file: string;
  key: KeyObject;
}

export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  // SPKI for Ed25519 is a fixed 12-byte prefix followed by the 32-byte key (RFC 8410 §4).
  return createHash('sha256')
    .update(der.subarray(der.length - 32))
    .digest('hex')
    .slice(0, 16);
}

/** Reads every *.pub in `dir`. A file that is not an ed25519 public key is reported in `problems`, not fatal. */
export function loadTrustedKeys(dir: string): { keys: TrustedKey[]; problems: string[] } {
  const keys: TrustedKey[] = [];
  const problems: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => n.endsWith('.pub'))
      .sort();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { keys, problems: [`trusted keys folder ${dir} cannot be read (${e.code ?? e.message})`] };
  }
  for (const n of names) {
    const file = join(dir, n);
    try {
      const key = createPublicKey(readFileSync(file));
      if (key.asymmetricKeyType !== 'ed25519') {
        problems.push(`${file}: a ${key.asymmetricKeyType} key; only ed25519 keys are trusted`);
        continue;
      }
      const id = keyIdOf(key);
      if (!keys.some((k) => k.id === id)) keys.push({ id, file, key });
    } catch (err) {
      problems.push(`${file}: not a PEM public key (${(err as Error).message})`);
    }
  }
  return { keys, problems };
}

export interface KeyPairPem {
  id: string;
  publicPem: string;
  privatePem: string;
}

export function generateSigningKey(): KeyPairPem {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    id: keyIdOf(publicKey),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

export interface BundleSignature {
  algorithm: 'ed25519';
  keyId: string;
  /** base64 signature over the exact bytes of manifest.json. */
  signature: string;
}

export function signManifest(manifestBytes: Buffer, privatePem: string): BundleSignature {
  const pub = createPublicKey(privatePem);
  return { algorithm: 'ed25519', keyId: keyIdOf(pub), signature: sign(null, manifestBytes, privatePem).toString('base64') };
}

export function verifyManifestSignature(manifestBytes: Buffer, sig: BundleSignature, key: KeyObject): boolean {
  return verify(null, manifestBytes, key, Buffer.from(sig.signature, 'base64'));
}
