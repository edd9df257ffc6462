/**
 * manifest.json of a model bundle, checked against models/manifest.schema.json (the contract shared with the training
 * scripts that build bundles).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';
import { packageRoot } from '../ops/paths.js';

const addFormats = addFormatsImport as unknown as (ajv: Ajv2020) => Ajv2020;

export type Dim = number | string;

export interface TensorSpec {
  name: string;
  dtype: 'float32' | 'float16' | 'uint8' | 'int8' | 'int32' | 'int64' | 'bool';
  shape: Dim[];
}

export interface ManifestFile {
  path: string;
  sha256: string;
  bytes: number;
}

export interface GoldenCase {
  name?: string;
  inputs: Record<string, string>;
  outputs: Record<string, string>;
}

export type ModelRole = 'survey' | 'zoom';

export interface Manifest {
  format: 'smartscope-bundle/1';
  name: string;
  version: string;
  role: ModelRole;
  task: 'segmentation' | 'detection' | 'classification';
  description?: string;
  createdAt: string;
  model: {
    file: string;
    opset?: number;
    inputs: TensorSpec[];
    outputs: TensorSpec[];
    classOutput?: string;
    classAxis?: number;
    preprocess?: Record<string, unknown>;
    postprocess?: Record<string, unknown>;
  };
  classes: string[];
  files: ManifestFile[];
  golden: { tolerance: { maxAbsDiff: number; minArgmaxAgreement?: number }; cases: GoldenCase[] };
  card?: string;
  training?: Record<string, unknown>;
}

export const MANIFEST_FILE = 'manifest.json';
export const SIGNATURE_FILE = 'manifest.sig';

let validator: ValidateFunction | undefined;

export function manifestSchemaPath(): string {
  return join(packageRoot(), 'models', 'manifest.schema.json');
}

/** Parses and validates manifest bytes; throws an Error listing every problem (JSON pointer path + message). */
export function parseManifest(bytes: Buffer): Manifest {
  if (!validator) {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    addFormats(ajv);
    validator = ajv.compile(JSON.parse(readFileSync(manifestSchemaPath(), 'utf8')) as object);
  }
  let data: unknown;
  try {
    data = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new Error(`manifest.json is not valid JSON (${(err as Error).message})`);
  }
  if (!validator(data)) {
    const problems = (validator.errors ?? []).map((e) => `${e.instancePath || '(top level)'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` "${String(e.params.additionalProperty)}"` : ''}`);
    throw new Error(`manifest.json does not follow models/manifest.schema.json: ${[...new Set(problems)].join('; ')}`);
  }
  const m = data as Manifest;
  const listed = new Set(m.files.map((f) => f.path));
  const needed = [m.model.file, ...(m.card ? [m.card] : []), ...m.golden.cases.flatMap((c) => [...Object.values(c.inputs), ...Object.values(c.outputs)])];
  const missing = needed.filter((p) => !listed.has(p));
  if (missing.length > 0) throw new Error(`manifest.json refers to files it does not list with a sha256: ${missing.join(', ')}`);
  if (listed.size !== m.files.length) throw new Error('manifest.json lists a file twice');
  return m;
}

/** name@version: how a bundle is named in records, events, metrics and folder names. */
export function bundleId(m: Pick<Manifest, 'name' | 'version'>): string {
  return `${m.name}@${m.version}`;
}
