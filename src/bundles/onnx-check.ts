/**
 * The installer's checks that need the model itself: it loads in onnxruntime, its graph inputs/outputs match what the
 * manifest declares, its class axis matches the class list, and it reproduces the golden set.
 *
 * This runs in the `smartscope model install|verify` process (a CLI, where blocking the event loop is fine); the
 * daemon serves models through the inference runtime's worker.
 */
import ort from 'onnxruntime-node';
import type { Dim, GoldenCase, Manifest, TensorSpec } from './manifest.js';
import { parseNpy, type NpyArray } from './npy.js';

export class ModelCheckError extends Error {
  constructor(
    readonly code: 'model-load' | 'shape' | 'classes' | 'golden',
    message: string,
  ) {
    super(message);
  }
}

export interface GoldenReport {
  cases: number;
  /** Largest |output − reference| over all cases. */
  maxAbsDiff: number;
  /** Smallest fraction of positions whose arg-max class agreed, over all cases. */
  minArgmaxAgreement: number;
}

const fmt = (shape: readonly Dim[]): string => `[${shape.join(',')}]`;

export async function openModel(bytes: Buffer, file: string): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  } catch (err) {
    throw new ModelCheckError('model-load', `${file} cannot be loaded by onnxruntime: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** Graph tensors must match the manifest: same names in order, same element types, compatible dimensions. */
export function checkSignature(session: ort.InferenceSession, m: Manifest): void {
  const compare = (kind: 'input' | 'output', declared: TensorSpec[], actual: readonly ort.InferenceSession.ValueMetadata[]): void => {
    const names = actual.map((a) => a.name);
    if (names.join('\n') !== declared.map((d) => d.name).join('\n')) {
      throw new ModelCheckError('shape', `the model's ${kind}s are ${names.join(', ')} but the manifest declares ${declared.map((d) => d.name).join(', ')}`);
    }
    declared.forEach((d, i) => {
      const a = actual[i]!;
      if (!a.isTensor) throw new ModelCheckError('shape', `${kind} "${d.name}" of the model is not a tensor`);
      const shapeOk =
        a.shape.length === d.shape.length &&
        a.shape.every((dim, k) => {
          const want = d.shape[k]!;
          // A symbolic dimension in the manifest accepts anything; a fixed one needs the same size or a dynamic axis.
          return typeof want === 'string' || typeof dim === 'string' || dim === -1 || dim === want;
        });
      if (a.type !== d.dtype || !shapeOk) {
        throw new ModelCheckError(
          'shape',
          `${kind} "${d.name}": the model has ${a.type} ${fmt(a.shape)} but the manifest declares ${d.dtype} ${fmt(d.shape)}`,
        );
      }
    });
  };
  compare('input', m.model.inputs, session.inputMetadata);
  compare('output', m.model.outputs, session.outputMetadata);
  const out = classOutput(m);
  const axis = m.model.classAxis ?? 1;
  const meta = session.outputMetadata.find((o) => o.name === out.name);
  const n = meta && meta.isTensor ? meta.shape[axis] : undefined;
  if (typeof n === 'number' && n > 0 && n !== m.classes.length) {
    throw new ModelCheckError(
      'classes',
      `output "${out.name}" has ${n} classes on axis ${axis} but the manifest lists ${m.classes.length} (${m.classes.join(', ')})`,
    );
  }
}

function classOutput(m: Manifest): TensorSpec {
  const name = m.model.classOutput ?? m.model.outputs[0]!.name;
  const t = m.model.outputs.find((o) => o.name === name);
  if (!t) throw new ModelCheckError('classes', `classOutput "${name}" is not one of the model's outputs`);
  return t;
}

function shapeMatches(actual: readonly number[], declared: readonly Dim[]): boolean {
  return actual.length === declared.length && actual.every((v, i) => typeof declared[i] === 'string' || declared[i] === v);
}

function loadNpy(files: Map<string, Buffer>, path: string): NpyArray {
  const buf = files.get(path);
  if (!buf) throw new ModelCheckError('golden', `golden file ${path} is missing`);
  try {
    return parseNpy(buf, path);
  } catch (err) {
    throw new ModelCheckError('golden', (err as Error).message);
  }
}

/** Runs every golden case and compares with the reference outputs; throws on the first case out of tolerance. */
export async function runGoldenSet(
  session: ort.InferenceSession,
  m: Manifest,
  files: Map<string, Buffer>,
  onCase?: (done: number, total: number) => void,
): Promise<GoldenReport> {
  const tol = m.golden.tolerance;
  const report: GoldenReport = { cases: 0, maxAbsDiff: 0, minArgmaxAgreement: 1 };
  const cls = classOutput(m);
  const axis = m.model.classAxis ?? 1;
  for (const [i, c] of m.golden.cases.entries()) {
    const label = `golden case ${i + 1}${c.name ? ` ("${c.name}")` : ''}`;
    const feeds = feedsFor(c, m, files, label);
    let result: ort.InferenceSession.ReturnType;
    try {
      result = await session.run(feeds);
    } catch (err) {
      throw new ModelCheckError('golden', `${label}: the model failed to run: ${(err as Error).message.split('\n')[0]}`);
    }
    for (const [outName, path] of Object.entries(c.outputs)) {
      const spec = m.model.outputs.find((o) => o.name === outName);
      if (!spec) throw new ModelCheckError('golden', `${label}: output "${outName}" is not declared in the manifest`);
      const got = result[outName] as ort.Tensor | undefined;
      const want = loadNpy(files, path);
      if (!got) throw new ModelCheckError('golden', `${label}: the model produced no output "${outName}"`);
      const dims = got.dims as readonly number[];
      if (!shapeMatches(dims, spec.shape)) {
        throw new ModelCheckError('shape', `${label}: output "${outName}" has shape ${fmt(dims)} but the manifest declares ${fmt(spec.shape)}`);
      }
      if (outName === cls.name && dims[axis] !== m.classes.length) {
        throw new ModelCheckError('classes', `output "${outName}" has ${dims[axis]} classes on axis ${axis} but the manifest lists ${m.classes.length} (${m.classes.join(', ')})`);
      }
      if (fmt(dims) !== fmt(want.shape)) {
        throw new ModelCheckError('golden', `${label}: output "${outName}" has shape ${fmt(dims)} but the reference ${path} has ${fmt(want.shape)}`);
      }
      const a = got.data as Float32Array;
      let maxDiff = 0;
      for (let k = 0; k < a.length; k++) {
        const d = Math.abs(a[k]! - want.data[k]!);
        if (!(d <= maxDiff)) maxDiff = Number.isNaN(d) ? Infinity : d;
      }
      report.maxAbsDiff = Math.max(report.maxAbsDiff, maxDiff);
      const agreement = outName === cls.name ? argmaxAgreement(a, want.data, dims, axis) : 1;
      report.minArgmaxAgreement = Math.min(report.minArgmaxAgreement, agreement);
      if (maxDiff > tol.maxAbsDiff) {
        throw new ModelCheckError(
          'golden',
          `${label}: output "${outName}" differs from the reference by up to ${maxDiff.toPrecision(3)} (tolerance ${tol.maxAbsDiff}); the model does not reproduce its golden set`,
        );
      }
      if (tol.minArgmaxAgreement !== undefined && agreement < tol.minArgmaxAgreement) {
        throw new ModelCheckError(
          'golden',
          `${label}: output "${outName}" agrees with the reference classes at ${(agreement * 100).toFixed(1)}% of positions (needs ${(tol.minArgmaxAgreement * 100).toFixed(1)}%)`,
        );
      }
    }
    report.cases++;
    onCase?.(i + 1, m.golden.cases.length);
  }
  return report;
}

function feedsFor(c: GoldenCase, m: Manifest, files: Map<string, Buffer>, label: string): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const spec of m.model.inputs) {
    const path = c.inputs[spec.name];
    if (!path) throw new ModelCheckError('golden', `${label}: no reference input for "${spec.name}"`);
    const arr = loadNpy(files, path);
    if (arr.dtype !== spec.dtype) throw new ModelCheckError('golden', `${label}: ${path} holds ${arr.dtype} but input "${spec.name}" takes ${spec.dtype}`);
    if (!shapeMatches(arr.shape, spec.shape)) {
      throw new ModelCheckError('shape', `${label}: ${path} has shape ${fmt(arr.shape)} but input "${spec.name}" is declared ${fmt(spec.shape)}`);
    }
    feeds[spec.name] = new ort.Tensor(spec.dtype as 'float32', arr.data as Float32Array, arr.shape);
  }
  return feeds;
}

/** Fraction of positions (all axes but `axis`) whose arg-max over `axis` is the same in both arrays. */
function argmaxAgreement(a: ArrayLike<number>, b: ArrayLike<number>, dims: readonly number[], axis: number): number {
  const n = dims[axis] ?? 1;
  const inner = dims.slice(axis + 1).reduce((x, y) => x * y, 1);
  const outer = dims.slice(0, axis).reduce((x, y) => x * y, 1);
  let agree = 0;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let ba = 0;
      let bb = 0;
      for (let k = 1; k < n; k++) {
        const idx = (o * n + k) * inner + i;
        if (a[idx]! > a[(o * n + ba) * inner + i]!) ba = k;
        if (b[idx]! > b[(o * n + bb) * inner + i]!) bb = k;
      }
      if (ba === bb) agree++;
    }
  }
  return outer * inner === 0 ? 1 : agree / (outer * inner);
}
