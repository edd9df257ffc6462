/**
 * The installer's checks that need the model itself: it loads in onnxruntime, its graph inputs/outputs match what the
 * manifest declares, its class axis matches the class list, and it reproduces the golden set.
 *
 * This runs in the `smartscope model install|verify` process (a CLI, where blocking the event loop is fine); the
 * daemon serves models through the inference runtime's worker.
 */
import ort from 'onnxruntime-node';
import type { GoldenCase, Manifest } from './manifest.js';
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
  /** Smallest fraction of pixels whose arg-max class agreed, over all cases. */
  minArgmaxAgreement: number;
}

type Dim = number | string;
const fmt = (shape: readonly Dim[]): string => `[${shape.join(',')}]`;
const CLASS_AXIS = 1; // NCHW

export async function openModel(bytes: Buffer, file: string): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  } catch (err) {
    throw new ModelCheckError('model-load', `${file} cannot be loaded by onnxruntime: ${(err as Error).message.split('\n')[0]}`);
  }
}

const fixed = (d: Dim | undefined): d is number => typeof d === 'number' && d > 0;

/**
 * The graph must take the declared input (float32 NCHW, `channels` channels, tiles of `tileSize` or any size that is
 * a multiple of `sizeMultiple`) and give the declared output with one channel per class.
 */
export function checkSignature(session: ort.InferenceSession, m: Manifest): void {
  const declaredIn = `float32 NCHW with ${m.input.channels} channel${m.input.channels === 1 ? '' : 's'} and ${m.input.tileSize}×${m.input.tileSize} tiles`;
  if (m.input.tileSize % m.input.sizeMultiple !== 0) {
    throw new ModelCheckError('shape', `the manifest's input.tileSize ${m.input.tileSize} is not a multiple of input.sizeMultiple ${m.input.sizeMultiple}`);
  }
  const inputs = session.inputMetadata;
  if (inputs.length !== 1 || inputs[0]!.name !== m.input.name) {
    throw new ModelCheckError(
      'shape',
      `the model's inputs are ${inputs.map((i) => `"${i.name}"`).join(', ')} but the manifest declares one input "${m.input.name}"`,
    );
  }
  const inp = inputs[0]!;
  if (!inp.isTensor) throw new ModelCheckError('shape', `input "${inp.name}" of the model is not a tensor`);
  const [, c, h, w] = inp.shape;
  const inOk =
    inp.type === 'float32' && inp.shape.length === 4 && (!fixed(c) || c === m.input.channels) && [h, w].every((d) => !fixed(d) || d === m.input.tileSize);
  if (!inOk) throw new ModelCheckError('shape', `input "${inp.name}": the model takes ${inp.type} ${fmt(inp.shape)} but the manifest declares ${declaredIn}`);
  const out = session.outputMetadata.find((o) => o.name === m.output.name);
  if (!out) {
    throw new ModelCheckError(
      'shape',
      `the model has no output "${m.output.name}" (its outputs: ${session.outputMetadata.map((o) => `"${o.name}"`).join(', ')})`,
    );
  }
  if (!out.isTensor || out.type !== 'float32' || out.shape.length !== 4) {
    throw new ModelCheckError(
      'shape',
      `output "${out.name}": the model gives ${out.isTensor ? `${out.type} ${fmt(out.shape)}` : 'a non-tensor'} but the manifest declares float32 NCHW`,
    );
  }
  const n = out.shape[CLASS_AXIS];
  if (fixed(n) && n !== m.classes.length) {
    throw new ModelCheckError('classes', `output "${out.name}" has ${n} channels but the manifest lists ${m.classes.length} classes (${m.classes.join(', ')})`);
  }
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
  m: Manifest & Required<Pick<Manifest, 'golden'>>,
  files: Map<string, Buffer>,
  onCase?: (done: number, total: number) => void,
): Promise<GoldenReport> {
  const tol = m.golden.tolerance;
  const report: GoldenReport = { cases: 0, maxAbsDiff: 0, minArgmaxAgreement: 1 };
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
      const got = result[outName] as ort.Tensor | undefined;
      if (!got) throw new ModelCheckError('golden', `${label}: the model produced no output "${outName}"`);
      const want = loadNpy(files, path);
      const dims = got.dims as readonly number[];
      const a = got.data as Float32Array;
      if (outName === m.output.name) {
        if (dims[CLASS_AXIS] !== m.classes.length) {
          throw new ModelCheckError(
            'classes',
            `output "${outName}" has ${dims[CLASS_AXIS]} channels but the manifest lists ${m.classes.length} classes (${m.classes.join(', ')})`,
          );
        }
        const worst = worstSoftmaxSum(a, dims);
        if (Math.abs(worst - 1) > 1e-3) {
          throw new ModelCheckError(
            'shape',
            `output "${outName}" is declared softmax but its channels sum to ${worst.toPrecision(4)} at some pixel (should be 1)`,
          );
        }
      }
      if (fmt(dims) !== fmt(want.shape)) {
        throw new ModelCheckError('golden', `${label}: output "${outName}" has shape ${fmt(dims)} but the reference ${path} has ${fmt(want.shape)}`);
      }
      let maxDiff = 0;
      for (let k = 0; k < a.length; k++) {
        const d = Math.abs(a[k]! - want.data[k]!);
        if (!(d <= maxDiff)) maxDiff = Number.isNaN(d) ? Infinity : d;
      }
      report.maxAbsDiff = Math.max(report.maxAbsDiff, maxDiff);
      const agreement = outName === m.output.name ? argmaxAgreement(a, want.data, dims) : 1;
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
          `${label}: output "${outName}" agrees with the reference classes at ${(agreement * 100).toFixed(1)}% of pixels (needs ${(tol.minArgmaxAgreement * 100).toFixed(1)}%)`,
        );
      }
    }
    report.cases++;
    onCase?.(i + 1, m.golden.cases.length);
  }
  return report;
}

function feedsFor(c: GoldenCase, m: Manifest, files: Map<string, Buffer>, label: string): Record<string, ort.Tensor> {
  const path = c.inputs[m.input.name];
  if (!path) throw new ModelCheckError('golden', `${label}: no reference input for "${m.input.name}"`);
  const arr = loadNpy(files, path);
  const [, ch, h, w] = arr.shape;
  if (arr.dtype !== 'float32') throw new ModelCheckError('golden', `${label}: ${path} holds ${arr.dtype} but input "${m.input.name}" takes float32`);
  if (arr.shape.length !== 4 || ch !== m.input.channels || h! % m.input.sizeMultiple !== 0 || w! % m.input.sizeMultiple !== 0) {
    throw new ModelCheckError(
      'shape',
      `${label}: ${path} has shape ${fmt(arr.shape)} but input "${m.input.name}" takes NCHW with ${m.input.channels} channel(s) and sides that are multiples of ${m.input.sizeMultiple}`,
    );
  }
  return { [m.input.name]: new ort.Tensor('float32', arr.data as Float32Array, arr.shape) };
}

/** The channel sum (over NCHW axis 1) that is furthest from 1. */
function worstSoftmaxSum(a: Float32Array, dims: readonly number[]): number {
  const [n = 1, c = 1, h = 1, w = 1] = dims;
  const plane = h * w;
  let worst = 1;
  for (let b = 0; b < n; b++)
    for (let p = 0; p < plane; p++) {
      let s = 0;
      for (let k = 0; k < c; k++) s += a[(b * c + k) * plane + p]!;
      if (Math.abs(s - 1) > Math.abs(worst - 1)) worst = s;
    }
  return worst;
}

/** Fraction of pixels whose arg-max over the class axis is the same in both NCHW arrays. */
function argmaxAgreement(a: ArrayLike<number>, b: ArrayLike<number>, dims: readonly number[]): number {
  const [n = 1, c = 1, h = 1, w = 1] = dims;
  const plane = h * w;
  let agree = 0;
  for (let o = 0; o < n; o++) {
    for (let i = 0; i < plane; i++) {
      let ba = 0;
      let bb = 0;
      for (let k = 1; k < c; k++) {
        const idx = (o * c + k) * plane + i;
        if (a[idx]! > a[(o * c + ba) * plane + i]!) ba = k;
        if (b[idx]! > b[(o * c + bb) * plane + i]!) bb = k;
      }
      if (ba === bb) agree++;
    }
  }
  return n * plane === 0 ? 1 : agree / (n * plane);
}
