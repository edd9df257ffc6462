/**
 * Verifying a bundle before it may serve, in the order that trusts nothing early:
 *   1. manifest.sig exists and names a trusted key; 2. the ed25519 signature over manifest.json holds;
 *   3. manifest.json follows the schema; 4. every file has the size and sha256 the manifest lists, and there is no
 *   file the manifest does not list; 5. the ONNX graph loads; 6. its inputs/outputs and class axis match the manifest;
 *   7. the golden set reproduces within tolerance.
 * Any failure refuses the bundle with a {@link BundleRefused} whose message says what is wrong and what to do.
 */
import { createHash } from 'node:crypto';
import type { BundleSource } from './bundle-source.js';
import { verifyManifestSignature, type BundleSignature, type TrustedKey } from './keys.js';
import { MANIFEST_FILE, parseManifest, SIGNATURE_FILE, type InstallableManifest } from './manifest.js';
import { checkSignature, ModelCheckError, openModel, runGoldenSet, type GoldenReport } from './onnx-check.js';

export type RefusalCode =
  'no-manifest' | 'unsigned' | 'bad-signature' | 'unknown-key' | 'manifest' | 'corrupted' | 'unlisted' | 'model-load' | 'shape' | 'classes' | 'golden';

export class BundleRefused extends Error {
  constructor(
    readonly code: RefusalCode,
    message: string,
  ) {
    super(message);
    this.name = 'BundleRefused';
  }
}

export interface VerifiedBundle {
  manifest: InstallableManifest;
  manifestBytes: Buffer;
  manifestSha256: string;
  signature: BundleSignature;
  key: TrustedKey;
  files: Map<string, Buffer>;
  golden?: GoldenReport;
}

export type VerifyStep = 'signature' | 'files' | 'model' | 'golden';

export interface VerifyOptions {
  trustedKeys: TrustedKey[];
  trustedKeysDir: string;
  /** Load the model and replay the golden set (steps 5–7). Off only for the quick re-check of an installed version. */
  runModel?: boolean;
  onProgress?: (step: VerifyStep, done: number, total: number) => void;
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Steps 1–4: signature, schema, file hashes. Cheap; also used on every start for the active model. */
export function verifySignedFiles(src: BundleSource, opts: VerifyOptions): VerifiedBundle {
  const manifestBytes = src.files.get(MANIFEST_FILE);
  if (!manifestBytes) throw new BundleRefused('no-manifest', `${src.origin} is not a model bundle: it has no ${MANIFEST_FILE}`);
  const sigBytes = src.files.get(SIGNATURE_FILE);
  if (!sigBytes) {
    throw new BundleRefused(
      'unsigned',
      `${src.origin} is not signed (no ${SIGNATURE_FILE}): only bundles signed with a trusted key install; sign it with scripts/sign-bundle`,
    );
  }
  let sig: BundleSignature;
  try {
    sig = JSON.parse(sigBytes.toString('utf8')) as BundleSignature;
    if (sig.algorithm !== 'ed25519' || typeof sig.keyId !== 'string' || typeof sig.signature !== 'string') throw new Error('fields');
  } catch {
    throw new BundleRefused(
      'unsigned',
      `${SIGNATURE_FILE} of ${src.origin} is not a signature this installer understands (expected {"algorithm":"ed25519","keyId":…,"signature":…})`,
    );
  }
  const key = opts.trustedKeys.find((k) => k.id === sig.keyId);
  if (!key) {
    const known = opts.trustedKeys.map((k) => k.id).join(', ') || 'none';
    throw new BundleRefused(
      'unknown-key',
      `${src.origin} is signed by key ${sig.keyId}, which is not trusted on this microscope (trusted keys in ${opts.trustedKeysDir}: ${known})`,
    );
  }
  if (!verifyManifestSignature(manifestBytes, sig, key.key)) {
    throw new BundleRefused(
      'bad-signature',
      `the signature of ${src.origin} by key ${key.id} (${key.file}) does not match ${MANIFEST_FILE}: the manifest was changed after signing`,
    );
  }
  opts.onProgress?.('signature', 1, 1);
  let manifest: InstallableManifest;
  try {
    manifest = parseManifest(manifestBytes);
  } catch (err) {
    throw new BundleRefused('manifest', (err as Error).message);
  }
  const listed = new Set(manifest.files.map((f) => f.path));
  const extra = [...src.files.keys()].filter((p) => p !== MANIFEST_FILE && p !== SIGNATURE_FILE && !listed.has(p));
  if (extra.length > 0) {
    throw new BundleRefused(
      'unlisted',
      `${src.origin} holds files its manifest does not list, so the signature does not cover them: ${extra.sort().join(', ')}`,
    );
  }
  manifest.files.forEach((f, i) => {
    const data = src.files.get(f.path);
    if (!data) throw new BundleRefused('corrupted', `${f.path} is listed in the manifest but missing from ${src.origin}`);
    const actual = sha256(data);
    if (data.length !== f.bytes || actual !== f.sha256) {
      throw new BundleRefused(
        'corrupted',
        `${f.path} in ${src.origin} is corrupted: ${data.length} bytes with sha256 ${actual.slice(0, 12)}… but the signed manifest says ${f.bytes} bytes with sha256 ${f.sha256.slice(0, 12)}…`,
      );
    }
    opts.onProgress?.('files', i + 1, manifest.files.length);
  });
  return { manifest, manifestBytes, manifestSha256: sha256(manifestBytes), signature: sig, key, files: src.files };
}

/** All seven steps. */
export async function verifyBundle(src: BundleSource, opts: VerifyOptions): Promise<VerifiedBundle> {
  const v = verifySignedFiles(src, opts);
  if (opts.runModel === false) return v;
  const m = v.manifest;
  try {
    const session = await openModel(v.files.get(m.model.file)!, m.model.file);
    try {
      opts.onProgress?.('model', 1, 1);
      checkSignature(session, m);
      v.golden = await runGoldenSet(session, m, v.files, (done, total) => opts.onProgress?.('golden', done, total));
    } finally {
      await session.release();
    }
  } catch (err) {
    if (err instanceof ModelCheckError) throw new BundleRefused(err.code, err.message);
    throw err;
  }
  return v;
}
