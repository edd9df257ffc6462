/**
 * Model bundles on disk: models/<name>/{model.onnx, manifest.json, MODEL_CARD.md}. The manifest's JSON Schema is
 * models/manifest.schema.json, shared with the bundle tooling (src/bundles/) so both sides agree on one format.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validate } from '../kernel/validate.js';
import { packageRoot } from '../kernel/paths.js';
import manifestSchema from '../../models/manifest.schema.json' with { type: 'json' };
import { detectorError } from './detector.js';

export { manifestSchema };

export interface ClassSummary {
  class: string;
  iou: number | null;
  dice: number | null;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  ap50: number | null;
  /** Object recall / F1 matched at IoU ≥ 0.3 (absent in bundles measured before it was reported). */
  recallAt03?: number | null;
  f1At03?: number | null;
}

export interface MetricSummary {
  detector?: string;
  meanIoU: number;
  meanDice: number;
  mAP50: number;
  objectPrecision: number;
  objectRecall: number;
  objectF1: number;
  /** Object scores matched at IoU ≥ 0.3 (absent in bundles measured before they were reported). */
  objectPrecisionAt03?: number;
  objectRecallAt03?: number;
  objectF1At03?: number;
  msPerTile: number;
  perClass: ClassSummary[];
}

export interface BundleMetrics {
  split: string;
  groups: string[];
  images: number;
  measuredWith: string;
  measuredAt?: string;
  model: MetricSummary;
  baseline: MetricSummary;
}

export interface ModelManifest {
  schemaVersion: 1;
  name: string;
  version: string;
  task: 'segmentation' | 'defect-probability';
  description: string;
  classes: string[];
  model: {
    file: string;
    sha256: string;
    bytes: number;
    format: 'onnx';
    opset: number;
    architecture?: string;
    base?: number;
    depth?: number;
    parameters?: number;
  };
  input: {
    name: string;
    layout: 'NCHW';
    dtype: 'float32';
    channels: 1;
    colour: 'grey';
    sizeMultiple: number;
    tileSize: number;
    /** Frames are averaged in binning × binning blocks before the network (default 1). */
    binning?: number;
    trainedOnCrop?: number;
    normalisation: { formula: string; mean: number; std: number };
  };
  output: { name: string; layout: 'NCHW'; kind: 'softmax'; channels: number };
  pixelSizeUm: number | null;
  thresholds: { foreground: number; minAreaPx: number; closePx?: number; selectedBy?: string };
  training: {
    command: string;
    dataset: {
      name: string;
      format: 'mask-tiff' | 'color-mask' | 'labelme' | 'cvat-mask' | 'twin';
      images: number;
      groups?: number;
      license: string;
      licenseFile?: string | null;
      attribution: string;
    };
    split: { method: string; folds?: number | null; fold?: number | null; validationGroups: string[]; monitorGroups: string[]; trainingGroups: string[] };
    seed: number;
    [key: string]: unknown;
  };
  license: { model: string; shareAlike: boolean; note?: string | null };
  metrics: BundleMetrics | null;
  /** Added by the bundle tooling (scripts/sign-bundle, src/bundles/): the slot it serves, its files, golden cases. */
  role?: 'survey' | 'zoom';
  files?: Array<{ path: string; sha256: string; bytes: number }>;
  golden?: unknown;
}

export interface LoadedBundle {
  dir: string;
  manifest: ModelManifest;
  /** The ONNX bytes whose sha256 was checked: the session is created from exactly these. */
  modelBytes: Uint8Array;
}

/** The models/ folder shipped with the product (next to package.json). */
export function shippedModelsDir(): string {
  return join(packageRoot(), 'models');
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Parses and checks a manifest object; errors name the file, field, value and expectation. */
export function parseManifest(data: unknown, source: string): ModelManifest {
  const m = validate<ModelManifest>(manifestSchema, structuredClone(data), source);
  if (m.output.channels !== m.classes.length) {
    throw detectorError(`${source}: output.channels is ${m.output.channels} but classes lists ${m.classes.length} names`, { badModel: true });
  }
  return m;
}

export function readManifest(dir: string): ModelManifest {
  const path = join(dir, 'manifest.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw detectorError(`model bundle ${dir}: cannot read manifest.json (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, {
      badModel: true,
    });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw detectorError(`${path}: not valid JSON (${(err as Error).message})`, { badModel: true });
  }
  try {
    return parseManifest(data, path);
  } catch (err) {
    throw Object.assign(err as Error, { badModel: true });
  }
}

/** Reads a bundle and checks the model file against the manifest's size and sha256. */
export function loadBundle(dir: string): LoadedBundle {
  const manifest = readManifest(dir);
  const file = join(dir, manifest.model.file);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw detectorError(`model ${manifest.name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { badModel: true });
  }
  const sha = sha256Hex(bytes);
  if (sha !== manifest.model.sha256) {
    throw detectorError(
      `model ${manifest.name}: ${file} has sha256 ${sha} (${bytes.length} bytes) but the manifest says ${manifest.model.sha256} (${manifest.model.bytes} bytes)`,
      { badModel: true },
    );
  }
  return { dir, manifest, modelBytes: bytes };
}
