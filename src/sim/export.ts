/**
 * `dataset export`: renders N tiles of the twin at one objective and writes them as a labelled dataset — images
 * (16-bit PNG, or 8-bit for 8-bit sensors), class masks (8-bit PNG, 0 = background, k = classes[k − 1]), the
 * ground-truth defects per tile (JSON) and a manifest. Tiles come from several samples (seeds), which are the groups a
 * train/validation split must keep apart.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { depthOfFieldUm, pixelSizeUm, renderFrame, type IlluminationSpec, type ObjectiveSpec, type SensorSpec } from './optics.js';
import { hash4, Rng } from './rng.js';
import { sampleToPixel, type FieldView, type Sample } from './sample.js';

export interface ExportOptions {
  outDir: string;
  objective: ObjectiveSpec;
  sensor: SensorSpec;
  illumination: IlluminationSpec;
  camera: { rotationDeg: number; flipX: boolean };
  /** Samples to draw tiles from, each its own group. */
  samples: Array<{ sample: Sample; group: string; seed: number; density: number }>;
  count: number;
  tilePx: number;
  seed: number;
  /** Share of tiles centred near a defect (the rest are anywhere on the sample). */
  defectShare: number;
  /** Focus jitter as a fraction of the depth of field (uniform ±). */
  focusJitter: number;
  exposureMs: number;
  onProgress?: (done: number, total: number) => void;
}

export interface ExportedDefect {
  id: number;
  classId: number;
  className: string;
  xUm: number;
  yUm: number;
  sizeUm: number;
  widthUm: number;
  orientationDeg: number;
  areaUm2: number;
  /** Bounding box in tile pixels [x, y, w, h], clipped to the tile. */
  bboxPx: [number, number, number, number];
  /** Part of the defect lies outside the tile. */
  truncated: boolean;
}

export interface ExportManifest {
  format: 'smartscope-twin';
  version: 1;
  classes: readonly string[];
  objective: string;
  magnification: number;
  numericalAperture: number;
  pixelSizeUm: number;
  bitDepth: number;
  tilePx: number;
  seed: number;
  tiles: Array<{
    name: string;
    image: string;
    mask: string;
    defects: string;
    group: string;
    sampleSeed: number;
    defectDensity: number;
    centreUm: [number, number];
    focusOffsetUm: number;
    defectCount: number;
  }>;
}

export async function exportDataset(o: ExportOptions): Promise<ExportManifest> {
  if (o.samples.length === 0) throw new RangeError('dataset export needs at least one sample');
  if (!(o.tilePx >= 16 && o.tilePx <= Math.min(o.sensor.widthPx, o.sensor.heightPx))) {
    throw new RangeError(`Expected a tile size between 16 and ${Math.min(o.sensor.widthPx, o.sensor.heightPx)} px but received ${o.tilePx}`);
  }
  for (const d of ['images', 'masks', 'defects']) mkdirSync(join(o.outDir, d), { recursive: true });
  const rng = new Rng(o.seed, 99);
  const p = pixelSizeUm(o.objective, o.sensor);
  const t = o.tilePx;
  const dof = depthOfFieldUm(o.objective, o.sensor);
  const classes = o.samples[0]!.sample.classes;
  const manifest: ExportManifest = {
    format: 'smartscope-twin',
    version: 1,
    classes,
    objective: o.objective.name,
    magnification: o.objective.magnification,
    numericalAperture: o.objective.numericalAperture,
    pixelSizeUm: p,
    bitDepth: o.sensor.bitDepth,
    tilePx: t,
    seed: o.seed,
    tiles: [],
  };
  const rotation = (o.camera.rotationDeg * Math.PI) / 180;
  const pixels = o.sensor.bitDepth === 8 ? new Uint8Array(t * t) : new Uint16Array(t * t);
  const mask = new Uint8Array(t * t);
  for (let k = 0; k < o.count; k++) {
    const src = o.samples[k % o.samples.length]!;
    const s = src.sample;
    const half = (t * p) / 2;
    let cx: number;
    let cy: number;
    const all = s.defects();
    if (all.length > 0 && rng.next() < o.defectShare) {
      const d = all[Math.floor(rng.next() * all.length)]!;
      cx = d.xUm + rng.uniform(-0.4, 0.4) * 2 * half;
      cy = d.yUm + rng.uniform(-0.4, 0.4) * 2 * half;
    } else {
      cx = rng.uniform(half, Math.max(half, s.widthUm - half));
      cy = rng.uniform(half, Math.max(half, s.heightUm - half));
    }
    // A random place on the sensor, so tiles carry the illumination falloff of every part of the field.
    const roi = { x: rng.int(0, o.sensor.widthPx - t), y: rng.int(0, o.sensor.heightPx - t), width: t, height: t };
    const offC = roi.x + t / 2 - o.sensor.widthPx / 2;
    const offR = roi.y + t / 2 - o.sensor.heightPx / 2;
    const fx = o.camera.flipX ? -1 : 1;
    const cos = Math.cos(rotation);
    const sin = Math.sin(rotation);
    const focusOffset = rng.uniform(-1, 1) * o.focusJitter * dof;
    renderFrame(
      {
        sample: s,
        objective: o.objective,
        sensor: o.sensor,
        illumination: o.illumination,
        centreXUm: cx - (cos * fx * offC - sin * offR) * p,
        centreYUm: cy - (sin * fx * offC + cos * offR) * p,
        focalPlaneUm: s.surfaceHeightUm(cx, cy) + focusOffset,
        rotationRad: rotation,
        flipX: o.camera.flipX,
        exposureMs: o.exposureMs,
        gainDb: 0,
        noiseSeed: hash4(o.seed, k, 0x7e),
        roi,
      },
      pixels,
      mask,
    );
    const view: FieldView = { centreXUm: cx, centreYUm: cy, pixelSizeUm: p, width: t, height: t, rotationRad: rotation, flipX: o.camera.flipX };
    const defects = tileDefects(s, view);
    const name = `${src.group}-${String(k).padStart(5, '0')}`;
    await writeImage(join(o.outDir, 'images', `${name}.png`), pixels, t, o.sensor.bitDepth);
    await sharp(mask, { raw: { width: t, height: t, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toFile(join(o.outDir, 'masks', `${name}.png`));
    writeFileSync(join(o.outDir, 'defects', `${name}.json`), `${JSON.stringify(defects, null, 1)}\n`);
    manifest.tiles.push({
      name,
      image: `images/${name}.png`,
      mask: `masks/${name}.png`,
      defects: `defects/${name}.json`,
      group: src.group,
      sampleSeed: src.seed,
      defectDensity: src.density,
      centreUm: [cx, cy],
      focusOffsetUm: focusOffset,
      defectCount: defects.length,
    });
    o.onProgress?.(k + 1, o.count);
  }
  writeFileSync(join(o.outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  return manifest;
}

/** Ground-truth defects whose bounds meet the tile, with their bounding boxes in tile pixels. */
export function tileDefects(s: Sample, view: FieldView): ExportedDefect[] {
  const half = (view.width * view.pixelSizeUm) / 2;
  const out: ExportedDefect[] = [];
  for (const d of s.defectsIn(view.centreXUm - half * 1.5, view.centreYUm - half * 1.5, view.centreXUm + half * 1.5, view.centreYUm + half * 1.5)) {
    const [x0, y0, x1, y1] = d.bboxUm;
    let c0 = Infinity;
    let c1 = -Infinity;
    let r0 = Infinity;
    let r1 = -Infinity;
    for (const [x, y] of [
      [x0, y0],
      [x1, y0],
      [x0, y1],
      [x1, y1],
    ] as const) {
      const q = sampleToPixel(view, x, y);
      c0 = Math.min(c0, q.col + 0.5);
      c1 = Math.max(c1, q.col + 0.5);
      r0 = Math.min(r0, q.row + 0.5);
      r1 = Math.max(r1, q.row + 0.5);
    }
    if (c1 < 0 || r1 < 0 || c0 > view.width || r0 > view.height) continue;
    const cc0 = Math.max(0, Math.floor(c0));
    const rr0 = Math.max(0, Math.floor(r0));
    const cc1 = Math.min(view.width, Math.ceil(c1));
    const rr1 = Math.min(view.height, Math.ceil(r1));
    if (cc1 <= cc0 || rr1 <= rr0) continue;
    out.push({
      id: d.id,
      classId: d.classId,
      className: d.className,
      xUm: d.xUm,
      yUm: d.yUm,
      sizeUm: d.sizeUm,
      widthUm: d.widthUm,
      orientationDeg: d.orientationDeg,
      areaUm2: d.areaUm2,
      bboxPx: [cc0, rr0, cc1 - cc0, rr1 - rr0],
      truncated: c0 < 0 || r0 < 0 || c1 > view.width || r1 > view.height,
    });
  }
  return out;
}

export async function writeImage(path: string, pixels: Uint8Array | Uint16Array, width: number, bitDepth: number, height = width): Promise<void> {
  if (bitDepth === 8) {
    await sharp(pixels as Uint8Array, { raw: { width, height, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toFile(path);
  } else {
    await sharp(pixels as Uint16Array, { raw: { width, height, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toFile(path);
  }
}
