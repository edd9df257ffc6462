/**
 * Building a bundle's golden set (`scripts/sign-bundle golden`): a few reference input tiles and the outputs the model
 * gives on them, which `smartscope model install|verify` replays on the microscope (src/bundles/onnx-check.ts
 * runGoldenSet) before the bundle may serve.
 *
 * Inputs are real-looking micrographs, not noise, so the replay exercises the model where it works:
 *   - `twin`: fields rendered by the digital twin (a SyntheticSample through the optics and sensor model, in focus) at
 *     the objective whose pixel size is the manifest's `pixelSizeUm`; even cases centred on a defect (classes in
 *     turn), odd cases anywhere on the sample. The default for models trained on twin exports.
 *   - `dataset`: crops of the labelled images the model was trained from (`training.dataset.name`, found under
 *     ../shared/datasets/ or given with --dataset); even cases where the labels show the most foreground, odd cases
 *     at a random place of another image. The default for models trained on real data.
 * Each input is normalised by the runtime's own pre-processing (src/inference/pixel-ops.ts tileFrame: k × k binning,
 * `(pixel / (2^bitDepth − 1) − mean) / std`), so the golden input is exactly the tile the runtime would feed.
 *
 * The reference outputs are computed here, in the packaging environment, by onnxruntime-node on its CPU execution
 * provider with the session settings of the installer's own check (onnx-check.ts openModel). The microscope's
 * installer replays the set with the same runtime on its CPU, so the two differ only by floating-point effects of a
 * different CPU (instruction set, FMA use, summation order): about 1e-6 on probabilities. The tolerance
 * (GOLDEN_TOLERANCE) leaves three orders of magnitude for that (and room for an FP32 GPU replay), yet a model whose
 * weights changed by any amount that matters, or a different model, misses it by far. After writing the set, the
 * installer's check is run on it, and once more with other CPU session settings (graph optimisations off, more
 * threads) to show the numeric noise is far inside the tolerance.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { Dataset } from '../../src/datasets/dataset.js';
import { frameOf } from '../../src/eval/evaluate.js';
import { loadBundle, type ModelManifest } from '../../src/inference/manifest.js';
import { jsPixelOps } from '../../src/inference/pixel-ops.js';
import { packageRoot } from '../../src/kernel/paths.js';
import { defaultWorldSpec } from '../../src/sim/defaults.js';
import { pixelSizeUm, renderFrame, type ObjectiveSpec, type SensorSpec } from '../../src/sim/optics.js';
import { hash4, Rng } from '../../src/sim/rng.js';
import { TWIN_CLASSES } from '../../src/sim/sample.js';
import { SyntheticSample } from '../../src/sim/synthetic-sample.js';
import { MANIFEST_FILE, type GoldenCase, type Manifest } from '../../src/bundles/manifest.js';
import { formatNpy } from '../../src/bundles/npy.js';
import { openModel, runGoldenSet, type GoldenReport } from '../../src/bundles/onnx-check.js';

/**
 * Tolerance written into every golden set.
 * - maxAbsDiff 1e-3 on softmax probabilities: CPU-to-CPU differences of the shipped networks measure 0.5–1.1e-6
 *   (other session settings; docs/models.md), and FP32 on a GPU (untested here) should stay well inside it; the
 *   sign of one first-layer weight flipped, or another network with the same classes, moves probabilities by
 *   0.75 … 1.
 * - minArgmaxAgreement 0.999: at most 1 pixel in 1000 may change its most probable class (a pixel where two classes
 *   tie within the numeric noise); more means the model segments differently.
 */
export const GOLDEN_TOLERANCE = { maxAbsDiff: 1e-3, minArgmaxAgreement: 0.999 } as const;

export const GOLDEN_DIR = 'golden';

export type GoldenSource = 'twin' | 'dataset';

export interface GoldenOptions {
  /** Number of cases (default 2). */
  cases?: number;
  /** Side of each input tile in network pixels (default: input.tileSize, at most 256). */
  size?: number;
  /** Seed of every choice (sample, places, images; default 1). */
  seed?: number;
  /** Where the inputs come from (default: twin for models trained on twin exports, dataset otherwise). */
  source?: GoldenSource;
  /** The labelled dataset folder for `dataset` (default: ../shared/datasets/<training.dataset.name>). */
  dataset?: string;
  tolerance?: { maxAbsDiff: number; minArgmaxAgreement?: number };
}

export interface GoldenCaseSummary {
  name: string;
  image: string;
  probs: string;
  bytes: number;
  /** Share of pixels whose most probable class is each class (the model's view of the tile). */
  argmaxShare: Record<string, number>;
}

export interface GoldenResult {
  bundle: string;
  source: GoldenSource;
  size: number;
  cases: GoldenCaseSummary[];
  bytes: number;
  tolerance: { maxAbsDiff: number; minArgmaxAgreement?: number };
  /** The installer's check on the written set (same settings: must be exact). */
  check: GoldenReport;
  /** The same check with other CPU session settings: the numeric noise the tolerance must absorb. */
  cpuVariation: GoldenReport;
}

interface RawTile {
  name: string;
  pixels: Uint8Array | Uint16Array;
  /** Side in frame pixels (size × binning). */
  side: number;
  bitDepth: number;
}

/** Writes `<dir>/golden/<i>.image.npy`, `<i>.probs.npy` and manifest.json's `golden`; leaves `files` and the signature to `sign`. */
export async function makeGoldenSet(dir: string, opts: GoldenOptions = {}): Promise<GoldenResult> {
  const bundle = loadBundle(dir); // schema + model.sha256/bytes against model.onnx
  const m = bundle.manifest;
  const nCases = opts.cases ?? 2;
  if (!(Number.isInteger(nCases) && nCases >= 1 && nCases <= 64)) throw new RangeError(`--cases must be an integer in [1, 64] but is ${nCases}`);
  const mult = m.input.sizeMultiple;
  const size = opts.size ?? Math.floor(Math.min(m.input.tileSize, 256) / mult) * mult;
  if (!(Number.isInteger(size) && size >= mult && size % mult === 0 && size <= m.input.tileSize)) {
    throw new RangeError(
      `--size must be a multiple of the model's input.sizeMultiple ${mult} between ${mult} and input.tileSize ${m.input.tileSize}, but is ${opts.size}`,
    );
  }
  const seed = opts.seed ?? 1;
  const source = opts.source ?? (m.training.dataset.format === 'twin' ? 'twin' : 'dataset');
  const binning = m.input.binning ?? 1;
  const side = size * binning;
  const tiles = source === 'twin' ? twinTiles(m, side, nCases, seed) : await datasetTiles(m, opts.dataset, side, nCases, seed);

  const session = await openModel(Buffer.from(bundle.modelBytes), m.model.file);
  const files = new Map<string, Buffer>([[m.model.file, Buffer.from(bundle.modelBytes)]]);
  const cases: GoldenCase[] = [];
  const summaries: GoldenCaseSummary[] = [];
  try {
    for (const [i, t] of tiles.entries()) {
      const { mean, std } = m.input.normalisation;
      // The runtime's pre-processing (the JS reference of the native kernels): one tile of size × size network pixels.
      const tiled = await jsPixelOps.tileFrame(t.pixels, t.side, t.side, { tile: size, overlap: 0, multiple: mult, binning, bitDepth: t.bitDepth, mean, std });
      if (tiled.grid.tiles.length !== 1 || tiled.grid.tileWidth !== size || tiled.grid.tileHeight !== size) {
        throw new Error(`internal: a ${t.side}² frame binned ${binning}× did not give one ${size}² tile`);
      }
      const x = Float32Array.from(tiled.tensor);
      const out = await session.run({ [m.input.name]: new ort.Tensor('float32', x, [1, 1, size, size]) });
      const probs = out[m.output.name] as ort.Tensor | undefined;
      if (!probs || probs.type !== 'float32') throw new Error(`model ${m.name} gave no float32 output "${m.output.name}"`);
      const y = Float32Array.from(probs.data as Float32Array);
      const image = `${GOLDEN_DIR}/${i}.image.npy`;
      const probsPath = `${GOLDEN_DIR}/${i}.probs.npy`;
      const xb = formatNpy({ dtype: 'float32', shape: [1, 1, size, size], data: x });
      const yb = formatNpy({ dtype: 'float32', shape: [...(probs.dims as readonly number[])], data: y });
      files.set(image, xb);
      files.set(probsPath, yb);
      cases.push({ name: t.name, inputs: { [m.input.name]: image }, outputs: { [m.output.name]: probsPath } });
      summaries.push({ name: t.name, image, probs: probsPath, bytes: xb.length + yb.length, argmaxShare: argmaxShare(y, m.classes, size * size) });
    }
  } finally {
    await session.release();
  }

  const tolerance = opts.tolerance ?? { ...GOLDEN_TOLERANCE };
  const golden = { tolerance, cases };
  const withGolden = { ...(m as unknown as Manifest), golden };
  const check = await replay(Buffer.from(bundle.modelBytes), m.model.file, withGolden, files);
  const cpuVariation = await replay(Buffer.from(bundle.modelBytes), m.model.file, withGolden, files, {
    graphOptimizationLevel: 'disabled',
    intraOpNumThreads: 2,
  });

  // Only now touch the bundle: old golden files out, new ones in, manifest.json's golden replaced in place.
  const gdir = join(dir, GOLDEN_DIR);
  if (existsSync(gdir)) for (const f of readdirSync(gdir)) if (/^\d+\.(image|probs)\.npy$/.test(f)) rmSync(join(gdir, f));
  mkdirSync(gdir, { recursive: true });
  for (const [p, b] of files) if (p.startsWith(`${GOLDEN_DIR}/`)) writeFileSync(join(dir, p), b);
  const raw = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as Record<string, unknown>;
  raw.golden = golden;
  writeFileSync(join(dir, MANIFEST_FILE), `${JSON.stringify(raw, null, 2)}\n`);

  return {
    bundle: `${m.name}@${m.version}`,
    source,
    size,
    cases: summaries,
    bytes: summaries.reduce((a, c) => a + c.bytes, 0),
    tolerance,
    check,
    cpuVariation,
  };
}

async function replay(
  model: Buffer,
  file: string,
  m: Manifest & Required<Pick<Manifest, 'golden'>>,
  files: Map<string, Buffer>,
  options?: ort.InferenceSession.SessionOptions,
): Promise<GoldenReport> {
  const session = options ? await ort.InferenceSession.create(model, options) : await openModel(model, file);
  try {
    return await runGoldenSet(session, m, files);
  } finally {
    await session.release();
  }
}

function argmaxShare(y: Float32Array, classes: string[], plane: number): Record<string, number> {
  const counts = new Array<number>(classes.length).fill(0);
  for (let p = 0; p < plane; p++) {
    let best = 0;
    for (let k = 1; k < classes.length; k++) if (y[k * plane + p]! > y[best * plane + p]!) best = k;
    counts[best]!++;
  }
  return Object.fromEntries(classes.map((c, k) => [c, Math.round((counts[k]! / plane) * 1e4) / 1e4]));
}

/** The twin's objective whose pixel size at the sample is the model's (within 2 %), else the survey objective. */
function objectiveFor(objectives: ObjectiveSpec[], sensor: SensorSpec, wantUm: number | null): ObjectiveSpec {
  if (wantUm !== null) {
    const match = objectives.find((o) => Math.abs(pixelSizeUm(o, sensor) - wantUm) <= 0.02 * wantUm);
    if (match) return match;
  }
  return objectives[0]!;
}

function twinTiles(m: ModelManifest, side: number, n: number, seed: number): RawTile[] {
  const spec = defaultWorldSpec();
  const sensor = spec.sensor;
  const objective = objectiveFor(spec.objectives, sensor, m.pixelSizeUm);
  const p = pixelSizeUm(objective, sensor);
  if (side > Math.min(sensor.widthPx, sensor.heightPx))
    throw new RangeError(`a ${side}² px field does not fit the twin's ${sensor.widthPx} × ${sensor.heightPx} sensor`);
  const sampleSeed = hash4(seed, 0x601d);
  const sample = new SyntheticSample({ seed: sampleSeed, widthUm: 4000, heightUm: 4000, defectDensity: 0.01 });
  const rng = new Rng(seed, 0x601d);
  const rotation = (spec.camera.rotationDeg * Math.PI) / 180;
  // The field sits in the middle of the sensor (its illumination falloff included).
  const roi = { x: Math.floor((sensor.widthPx - side) / 2), y: Math.floor((sensor.heightPx - side) / 2), width: side, height: side };
  const offC = roi.x + side / 2 - sensor.widthPx / 2;
  const offR = roi.y + side / 2 - sensor.heightPx / 2;
  const fx = spec.camera.flipX ? -1 : 1;
  const half = (side * p) / 2;
  const out: RawTile[] = [];
  for (let i = 0; i < n; i++) {
    let cx: number;
    let cy: number;
    let what: string;
    const cls = TWIN_CLASSES[Math.floor(i / 2) % TWIN_CLASSES.length]!;
    const ofClass = sample
      .defects()
      .filter((d) => d.className === cls && d.xUm > half && d.yUm > half && d.xUm < sample.widthUm - half && d.yUm < sample.heightUm - half);
    if (i % 2 === 0 && ofClass.length > 0) {
      const d = rng.pick(ofClass);
      cx = d.xUm;
      cy = d.yUm;
      what = `centred on a ${cls} (${d.sizeUm.toFixed(1)} µm)`;
    } else {
      cx = rng.uniform(half, sample.widthUm - half);
      cy = rng.uniform(half, sample.heightUm - half);
      what = 'anywhere on the sample';
    }
    const pixels = sensor.bitDepth === 8 ? new Uint8Array(side * side) : new Uint16Array(side * side);
    const cos = Math.cos(rotation);
    const sin = Math.sin(rotation);
    renderFrame(
      {
        sample,
        objective,
        sensor,
        illumination: spec.illumination,
        centreXUm: cx - (cos * fx * offC - sin * offR) * p,
        centreYUm: cy - (sin * fx * offC + cos * offR) * p,
        focalPlaneUm: sample.surfaceHeightUm(cx, cy),
        rotationRad: rotation,
        flipX: spec.camera.flipX,
        exposureMs: 2,
        gainDb: 0,
        noiseSeed: hash4(seed, i, 0x7e),
        roi,
      },
      pixels,
    );
    out.push({
      name: `twin ${objective.name} field (${p} µm/px, ${sensor.bitDepth}-bit) ${what}, sample seed ${sampleSeed}, at (${cx.toFixed(1)}, ${cy.toFixed(1)}) µm`,
      pixels,
      side,
      bitDepth: sensor.bitDepth,
    });
  }
  return out;
}

/** Default folder of a model's training dataset: ../shared/datasets/<name> next to the repository. */
export function defaultDatasetDir(m: Pick<ModelManifest, 'training'>): string {
  return join(packageRoot(), '..', 'shared', 'datasets', m.training.dataset.name);
}

async function datasetTiles(m: ModelManifest, given: string | undefined, side: number, n: number, seed: number): Promise<RawTile[]> {
  const dir = given ?? defaultDatasetDir(m);
  if (!existsSync(dir)) {
    throw new Error(`golden inputs from the training data: dataset folder ${dir} not found; give it with --dataset DIR, or use --source twin`);
  }
  // Known collections (by folder name) bring their label colours; the classes are the manifest's foreground classes.
  const ds = Dataset.open(dir, { format: m.training.dataset.format, classes: m.classes.slice(1) });
  const rng = new Rng(seed, 0xda7a);
  // A seeded shuffle of the images: case i takes image i (mod count).
  const order = ds.entries
    .map((e) => ({ e, k: rng.next() }))
    .sort((a, b) => a.k - b.k)
    .map((x) => x.e);
  const out: RawTile[] = [];
  for (let i = 0; i < n; i++) {
    const entry = order[i % order.length]!;
    const img = await ds.load(entry);
    const frame = frameOf(img);
    if (img.width < side || img.height < side) {
      throw new RangeError(`${entry.imagePath} is ${img.width} × ${img.height} px, smaller than the ${side}² px crop; use a smaller --size`);
    }
    let x0: number;
    let y0: number;
    let what: string;
    if (i % 2 === 0) {
      // Where the labels show the most foreground (integral image over a grid of positions).
      [x0, y0] = mostForeground(img.mask, img.width, img.height, side);
      what = 'where its labels show the most foreground';
    } else {
      x0 = rng.int(0, img.width - side);
      y0 = rng.int(0, img.height - side);
      what = 'at a random place';
    }
    const Ctor = frame.data instanceof Uint8Array ? Uint8Array : Uint16Array;
    const pixels = new Ctor(side * side);
    for (let r = 0; r < side; r++) pixels.set(frame.data.subarray((y0 + r) * img.width + x0, (y0 + r) * img.width + x0 + side), r * side);
    out.push({
      name: `${m.training.dataset.name} image ${entry.name}, ${side}² px crop at (${x0}, ${y0}) ${what} (${m.training.dataset.license}; attribution in MODEL_CARD.md)`,
      pixels,
      side,
      bitDepth: frame.bitDepth,
    });
  }
  return out;
}

function mostForeground(mask: Uint8Array, w: number, h: number, side: number): [number, number] {
  const sum = new Float64Array((w + 1) * (h + 1));
  for (let y = 0; y < h; y++) {
    let row = 0;
    for (let x = 0; x < w; x++) {
      row += mask[y * w + x]! > 0 ? 1 : 0;
      sum[(y + 1) * (w + 1) + x + 1] = sum[y * (w + 1) + x + 1]! + row;
    }
  }
  const step = Math.max(1, Math.floor(side / 8));
  let best = -1;
  let at: [number, number] = [0, 0];
  const positions = (len: number): number[] => {
    const ps: number[] = [];
    for (let v = 0; v <= len - side; v += step) ps.push(v);
    if (ps[ps.length - 1] !== len - side) ps.push(len - side);
    return ps;
  };
  for (const y of positions(h)) {
    for (const x of positions(w)) {
      const s = sum[(y + side) * (w + 1) + x + side]! - sum[y * (w + 1) + x + side]! - sum[(y + side) * (w + 1) + x]! + sum[y * (w + 1) + x]!;
      if (s > best) {
        best = s;
        at = [x, y];
      }
    }
  }
  return at;
}
