/**
 * manifest.json of a model bundle, checked against models/manifest.schema.json (the contract shared with the training
 * scripts that build bundles).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';
import { packageRoot } from '../kernel/paths.js';

const addFormats = addFormatsImport as unknown as (ajv: Ajv2020) => Ajv2020;

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

/**
 * The fields the installer relies on. The schema defines more (training provenance, licence, metrics, thresholds);
 * they travel untouched to the inference runtime.
 */
export interface Manifest {
  schemaVersion: 1;
  name: string;
  version: string;
  task: 'segmentation' | 'defect-probability';
  description: string;
  classes: string[];
  model: { file: string; sha256: string; bytes: number; format: 'onnx'; opset: number; [key: string]: unknown };
  input: { name: string; layout: 'NCHW'; dtype: 'float32'; channels: number; sizeMultiple: number; tileSize: number; [key: string]: unknown };
  output: { name: string; layout: 'NCHW'; kind: 'softmax'; channels: number };
  role?: ModelRole;
  files?: ManifestFile[];
  golden?: { tolerance: { maxAbsDiff: number; minArgmaxAgreement?: number }; cases: GoldenCase[] };
  [key: string]: unknown;
}

/** A manifest that can be installed: it lists its files and carries a golden set. */
export type InstallableManifest = Manifest & Required<Pick<Manifest, 'files' | 'golden'>>;

/** The slot a model serves: explicit `role`, else by task (a defect-probability model finds survey candidates). */
export function roleOf(m: Pick<Manifest, 'role' | 'task'>): ModelRole {
  return m.role ?? (m.task === 'defect-probability' ? 'survey' : 'zoom');
}

export const MANIFEST_FILE = 'manifest.json';
export const SIGNATURE_FILE = 'manifest.sig';

let validator: ValidateFunction | undefined;

export function manifestSchemaPath(): string {
  return join(packageRoot(), 'models', 'manifest.schema.json');
}

/** Reads and compiles the manifest schema (once). */
export function loadManifestSchema(): ValidateFunction {
  if (!validator) {
    const ajv = new Ajv2020({ allErrors: true, strict: false, code: { optimize: false } });
    addFormats(ajv);
    validator = ajv.compile(JSON.parse(readFileSync(manifestSchemaPath(), 'utf8')) as object);
  }
  return validator;
}

/** Parses and validates manifest bytes; throws an Error listing every problem (JSON pointer path + message). */
export function parseManifest(bytes: Buffer): InstallableManifest {
  const validate = loadManifestSchema();
  let data: unknown;
  try {
    data = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new Error(`manifest.json is not valid JSON (${(err as Error).message})`);
  }
  if (!validate(data)) {
    const problems = (validate.errors ?? []).map(
      (e) =>
        `${e.instancePath || '(top level)'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` "${String(e.params.additionalProperty)}"` : ''}`,
    );
    throw new Error(`manifest.json does not follow models/manifest.schema.json: ${[...new Set(problems)].join('; ')}`);
  }
  const m = data as Manifest;
  if (m.output.channels !== m.classes.length) {
    throw new Error(`manifest.json: output.channels is ${m.output.channels} but classes lists ${m.classes.length} names`);
  }
  if (!m.files) throw new Error('manifest.json has no "files" list: sign the bundle with scripts/sign-bundle, which writes it');
  if (!m.golden) {
    throw new Error('manifest.json has no "golden" set: a bundle installs only when the model reproduces its reference outputs on this microscope');
  }
  const listed = new Map(m.files.map((f) => [f.path, f]));
  if (listed.size !== m.files.length) throw new Error('manifest.json lists a file twice');
  const needed = [m.model.file, ...m.golden.cases.flatMap((c) => [...Object.values(c.inputs), ...Object.values(c.outputs)])];
  const missing = needed.filter((p) => !listed.has(p));
  if (missing.length > 0) throw new Error(`manifest.json refers to files it does not list with a sha256: ${[...new Set(missing)].join(', ')}`);
  const mf = listed.get(m.model.file)!;
  if (mf.sha256 !== m.model.sha256 || mf.bytes !== m.model.bytes) {
    throw new Error(`manifest.json: model.sha256/bytes disagree with the files entry for ${m.model.file}`);
  }
  return m as InstallableManifest;
}

/** name@version: how a bundle is named in records, events, metrics and folder names. */
export function bundleId(m: Pick<Manifest, 'name' | 'version'>): string {
  return `${m.name}@${m.version}`;
}
