/**
 * Test bundles: real ONNX models (tiny-onnx.ts), golden sets computed by an independent JS reference, real ed25519
 * signatures. Options break one thing at a time to exercise each refusal.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generateSigningKey, type KeyPairPem } from '../../src/bundles/keys.js';
import type { Manifest, ModelRole } from '../../src/bundles/manifest.js';
import { formatNpy } from '../../src/bundles/npy.js';
import { assembleBundle, packBundle, type ManifestDraft } from '../../src/bundles/sign.js';
import { tinyConvModel, tinyConvReference, type TinyModel } from './tiny-onnx.js';

export interface TestKeys extends KeyPairPem {
  trustedDir: string;
}

/** A signing key whose public half is trusted in `<dir>/trusted-keys`. */
export function makeTrustedKey(dir: string, name = 'factory'): TestKeys {
  const k = generateSigningKey();
  const trustedDir = join(dir, 'trusted-keys');
  mkdirSync(trustedDir, { recursive: true });
  writeFileSync(join(trustedDir, `${name}.pub`), k.publicPem);
  return { ...k, trustedDir };
}

export interface BundleSpec {
  name?: string;
  version: string;
  role?: ModelRole;
  classes?: string[];
  size?: number;
  /** Classes the ONNX graph actually outputs (default: classes.length). */
  modelClasses?: number;
  /** Input shape written in the manifest (default: what the graph takes). */
  declaredInputShape?: Array<number | string>;
  /** Output shape written in the manifest (default: ['N', classes, size, size]). */
  declaredOutputShape?: Array<number | string>;
  /** Added to every reference output: a golden set the model cannot reproduce. */
  goldenOffset?: number;
  /** Scale of the model weights; different versions give different outputs. */
  scale?: number;
  goldenCases?: number;
}

export function makeBundle(spec: BundleSpec, privatePem: string): Map<string, Buffer> {
  const classes = spec.classes ?? ['background', 'scratch', 'pit'];
  const size = spec.size ?? 8;
  const nModel = spec.modelClasses ?? classes.length;
  const scale = spec.scale ?? 1;
  const model: TinyModel = {
    classes: nModel,
    height: size,
    width: size,
    weights: Array.from({ length: nModel }, (_, c) => scale * (c % 2 === 0 ? 1 + c : -0.5 * c)),
    bias: Array.from({ length: nModel }, (_, c) => 0.1 * c),
  };
  const payload = new Map<string, Buffer>();
  payload.set('model.onnx', tinyConvModel(model));
  payload.set('MODEL_CARD.md', Buffer.from(`# ${spec.name ?? 'tiny'} ${spec.version}\n\nA 1×1 convolution used by the tests.\n`));
  const cases: Manifest['golden']['cases'] = [];
  for (let i = 0; i < (spec.goldenCases ?? 2); i++) {
    const x = new Float32Array(size * size).map((_, p) => Math.sin(p * 0.37 + i));
    const y = tinyConvReference(model, x, 1, size, size).map((v) => v + (spec.goldenOffset ?? 0));
    payload.set(`golden/${i}.input.npy`, formatNpy({ dtype: 'float32', shape: [1, 1, size, size], data: x }));
    payload.set(`golden/${i}.logits.npy`, formatNpy({ dtype: 'float32', shape: [1, nModel, size, size], data: y }));
    cases.push({ name: `case ${i}`, inputs: { input: `golden/${i}.input.npy` }, outputs: { logits: `golden/${i}.logits.npy` } });
  }
  const draft: ManifestDraft = {
    format: 'smartscope-bundle/1',
    name: spec.name ?? 'tiny-seg',
    version: spec.version,
    role: spec.role ?? 'zoom',
    task: 'segmentation',
    createdAt: '2026-01-01T00:00:00Z',
    model: {
      file: 'model.onnx',
      opset: 17,
      inputs: [{ name: 'input', dtype: 'float32', shape: spec.declaredInputShape ?? ['N', 1, size, size] }],
      outputs: [{ name: 'logits', dtype: 'float32', shape: spec.declaredOutputShape ?? ['N', classes.length, size, size] }],
      classAxis: 1,
    },
    classes,
    golden: { tolerance: { maxAbsDiff: 1e-4 }, cases },
    card: 'MODEL_CARD.md',
  };
  return assembleBundle(draft, payload, privatePem);
}

export function writeBundleDir(files: Map<string, Buffer>, dir: string): string {
  for (const [p, d] of files) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), d);
  }
  return dir;
}

export function writeBundleTar(files: Map<string, Buffer>, path: string): string {
  writeFileSync(path, packBundle(files));
  return path;
}
