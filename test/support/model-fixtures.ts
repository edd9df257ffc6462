/**
 * Model bundles for tests: tiny ONNX graphs with exactly known behaviour (written by test/support/onnx-fixtures.py
 * with Debian's python3-onnx) wrapped in manifests that pass models/manifest.schema.json.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256Hex, type ModelManifest } from '../../src/inference/manifest.js';

let fixtureDir: string | null = null;

/** Folder holding threshold.onnx, threeclass.onnx, wrong_input.onnx, wrong_output.onnx. */
export function onnxFixtures(): string {
  if (!fixtureDir) {
    fixtureDir = mkdtempSync(join(tmpdir(), 'smartscope-onnx-'));
    execFileSync('/usr/bin/python3', [join(dirname(fileURLToPath(import.meta.url)), 'onnx-fixtures.py'), fixtureDir], { stdio: 'pipe' });
  }
  return fixtureDir;
}

export function fixtureManifest(name: string, classes: string[], bytes: Uint8Array, over: Partial<ModelManifest> = {}): ModelManifest {
  return {
    schemaVersion: 1,
    name,
    version: '0.0.1',
    task: classes.length === 2 ? 'defect-probability' : 'segmentation',
    description: 'Test model with a known response.',
    classes,
    model: { file: 'model.onnx', sha256: sha256Hex(bytes), bytes: bytes.length, format: 'onnx', opset: 17 },
    input: {
      name: 'image',
      layout: 'NCHW',
      dtype: 'float32',
      channels: 1,
      colour: 'grey',
      sizeMultiple: 1,
      tileSize: 64,
      normalisation: { formula: '(pixel / (2^bitDepth - 1) - mean) / std', mean: 0.5, std: 1 },
    },
    output: { name: 'probs', layout: 'NCHW', kind: 'softmax', channels: classes.length },
    pixelSizeUm: 0.5,
    thresholds: { foreground: 0.5, minAreaPx: 1 },
    training: {
      command: 'test/support/onnx-fixtures.py',
      dataset: { name: 'none', format: 'twin', images: 1, license: 'UNLICENSED', attribution: 'test fixture' },
      split: { method: 'none', validationGroups: ['v'], monitorGroups: [], trainingGroups: ['t'] },
      seed: 0,
    },
    license: { model: 'UNLICENSED', shareAlike: false },
    metrics: null,
    ...over,
  };
}

/**
 * Writes a bundle folder from a fixture ONNX file (or raw bytes). `manifestOver` patches the manifest; with
 * `keepSha` false the manifest keeps the sha256 of `shaOf` bytes instead of the written file (a tampered bundle).
 */
export function writeBundle(root: string, name: string, model: string | Uint8Array, classes: string[], manifestOver: Partial<ModelManifest> = {}): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const bytes = typeof model === 'string' ? readFileSync(join(onnxFixtures(), model)) : model;
  if (typeof model === 'string') copyFileSync(join(onnxFixtures(), model), join(dir, 'model.onnx'));
  else writeFileSync(join(dir, 'model.onnx'), bytes);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(fixtureManifest(name, classes, bytes, manifestOver), null, 2));
  return dir;
}
