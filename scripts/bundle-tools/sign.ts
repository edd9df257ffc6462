/**
 * Building a signed bundle: list every file with its size and sha256 in manifest.json, then sign manifest.json's exact
 * bytes with ed25519. Used by scripts/sign-bundle and by the tests that make bundles.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { signManifest } from '../../src/bundles/keys.js';
import { bundleId, MANIFEST_FILE, SIGNATURE_FILE, type Manifest } from '../../src/bundles/manifest.js';
import { writeTar } from '../../src/bundles/tar.js';
import { sha256 } from '../../src/bundles/verify.js';

/** A manifest whose `files` list (and model.sha256/bytes) sign-bundle fills in. */
export type ManifestDraft = Manifest;

/** Returns all files of the signed bundle (payload + manifest.json + manifest.sig). */
export function assembleBundle(draft: ManifestDraft, payload: Map<string, Buffer>, privatePem: string): Map<string, Buffer> {
  const files = [...payload.entries()]
    .filter(([p]) => p !== MANIFEST_FILE && p !== SIGNATURE_FILE)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, data]) => ({ path, sha256: sha256(data), bytes: data.length }));
  const model = payload.get(draft.model.file);
  if (!model) throw new Error(`the bundle has no ${draft.model.file} (manifest model.file)`);
  const manifest: Manifest = { ...draft, model: { ...draft.model, sha256: sha256(model), bytes: model.length }, files };
  const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  const sig = signManifest(manifestBytes, privatePem);
  const out = new Map(payload);
  out.set(MANIFEST_FILE, manifestBytes);
  out.set(SIGNATURE_FILE, Buffer.from(`${JSON.stringify(sig)}\n`));
  return out;
}

/** Signs the bundle folder `dir` in place (rewriting manifest.json's file list and manifest.sig). */
export function signBundleDir(dir: string, privatePem: string): { id: string; keyId: string; files: Map<string, Buffer> } {
  const draft = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as ManifestDraft;
  const payload = new Map<string, Buffer>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) payload.set(relative(dir, p).split('\\').join('/'), readFileSync(p));
    }
  };
  walk(dir);
  const files = assembleBundle(draft, payload, privatePem);
  writeFileSync(join(dir, MANIFEST_FILE), files.get(MANIFEST_FILE)!);
  writeFileSync(join(dir, SIGNATURE_FILE), files.get(SIGNATURE_FILE)!);
  const sig = JSON.parse(files.get(SIGNATURE_FILE)!.toString()) as { keyId: string };
  return { id: bundleId(draft), keyId: sig.keyId, files };
}

export function packBundle(files: Map<string, Buffer>): Buffer {
  return writeTar([...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([path, data]) => ({ path, data })));
}
