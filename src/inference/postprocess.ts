/**
 * Post-processing: blended probabilities → threshold → class per pixel → connected components → region properties →
 * detections with class, confidence, bbox, contour, area and size in µm.
 */
import type { Detection, PixelToStage, ProbabilityMap, SegmentationMasks } from './detector.js';
import type { Region } from './components.js';
import { openClose } from './morphology.js';
import type { PixelOps } from './pixel-ops.js';
import { feret } from './region-geometry.js';

export interface PostprocessInput {
  width: number;
  height: number;
  /** P(not background) per pixel. */
  foreground: Float32Array;
  /** P(class k + 1) per pixel for each foreground class; empty when the model has one foreground class. */
  classPlanes: Float32Array[];
  classes: readonly string[];
  threshold: number;
  minAreaPx: number;
  /** Closing radius (px) of the foreground before regions are formed (0: none). */
  closePx?: number;
  pixelSizeUm: number;
  pixelToStage?: PixelToStage;
  connectivity?: 4 | 8;
}

export interface PostprocessOutput {
  detections: Detection[];
  masks: SegmentationMasks;
}

/**
 * A pixel is foreground when P(not background) ≥ threshold (then closed with radius `closePx`); its class is the most
 * probable foreground class (so a recall-tuned threshold below 0.5 still yields a class). Regions smaller than
 * `minAreaPx` are dropped (and cleared from the class map).
 */
export async function postprocess(input: PostprocessInput, ops: PixelOps): Promise<PostprocessOutput> {
  const { width, height, foreground, classPlanes, threshold } = input;
  const n = width * height;
  const classMap = new Uint8Array(n);
  const values = new Float32Array(n);
  const K = classPlanes.length;
  let fg: Uint8Array = new Uint8Array(n);
  for (let i = 0; i < n; i++) fg[i] = foreground[i]! >= threshold ? 1 : 0;
  // Closing joins pieces of one defect across narrow gaps; the gap pixels take their most probable class.
  if ((input.closePx ?? 0) > 0) fg = openClose(fg, width, height, 0, input.closePx!);
  for (let i = 0; i < n; i++) {
    if (!fg[i]) continue;
    const f = foreground[i]!;
    if (K === 0) {
      classMap[i] = 1;
      values[i] = f;
      continue;
    }
    let best = 0;
    let bp = classPlanes[0]![i]!;
    for (let k = 1; k < K; k++) {
      const p = classPlanes[k]![i]!;
      if (p > bp) {
        bp = p;
        best = k;
      }
    }
    classMap[i] = best + 1;
    values[i] = bp;
  }
  const { labels, regions } = await ops.connectedComponents(classMap, width, height, { connectivity: input.connectivity ?? 8, values });
  const p = input.pixelSizeUm;
  const keep = new Int32Array(regions.length + 1);
  const detections: Detection[] = [];
  const order = regions.filter((r) => r.area >= input.minAreaPx).sort((a, b) => b.meanValue - a.meanValue || a.label - b.label);
  for (const r of order) {
    const det = regionToDetection(r, input.classes[r.value] ?? `class${r.value}`, r.meanValue, r.maxValue, p, input.pixelToStage);
    detections.push(det);
    keep[r.label] = detections.length;
  }
  // Instances: detection index + 1; the class map loses the regions that were dropped.
  const instances = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = labels[i]!;
    if (l === 0) continue;
    const k = keep[l]!;
    if (k === 0) classMap[i] = 0;
    else instances[i] = k;
  }
  return { detections, masks: { classMap, instances, width, height } };
}

/** Detection of one region: bbox, contour, area, Feret sizes and orientation; µm from the pixel size. */
export function regionToDetection(r: Region, className: string, confidence: number, maxProbability: number, pixelSizeUm: number, pixelToStage?: PixelToStage): Detection {
  const p = pixelSizeUm;
  const f = feret(r.contour);
  const [cx, cy] = r.centroid;
  const det: Detection = {
    classId: r.value,
    className,
    confidence: round(confidence, 4),
    maxProbability: round(maxProbability, 4),
    bbox: { x: r.bbox[0], y: r.bbox[1], width: r.bbox[2] - r.bbox[0], height: r.bbox[3] - r.bbox[1] },
    contour: r.contour,
    areaPx: r.area,
    areaUm2: round(r.area * p * p, 4),
    sizePx: round(f.maxPx, 3),
    widthPx: round(Math.min(f.minPx, f.maxPx), 3),
    sizeUm: round(f.maxPx * p, 4),
    widthUm: round(Math.min(f.minPx, f.maxPx) * p, 4),
    centroidPx: [round(cx, 2), round(cy, 2)],
    orientationDeg: round(r.orientationDeg, 2),
  };
  if (pixelToStage) {
    const m = pixelToStage;
    det.centroidUm = [round(m.x0 + cx * m.ax + cy * m.bx, 3), round(m.y0 + cx * m.ay + cy * m.by, 3)];
  }
  return det;
}

/** Downsamples the foreground probability to at most `maxSide` per side by max-pooling (small defects stay visible). */
export function probabilityMap(foreground: Float32Array, width: number, height: number, maxSide: number): ProbabilityMap {
  const scale = Math.max(1, Math.ceil(Math.max(width, height) / maxSide));
  const w = Math.ceil(width / scale);
  const h = Math.ceil(height / scale);
  const data = new Uint8Array(w * h);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const orow = Math.floor(y / scale) * w;
    for (let x = 0; x < width; x++) {
      const v = Math.round(Math.min(1, Math.max(0, foreground[row + x]!)) * 255);
      const o = orow + Math.floor(x / scale);
      if (v > data[o]!) data[o] = v;
    }
  }
  return { data, width: w, height: h, scale };
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
