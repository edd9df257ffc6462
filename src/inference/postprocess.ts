/**
 * Post-processing after segmentation (pixel-ops' TileSegmenter: blended probabilities → threshold → class per pixel →
 * regions with their properties): regions → detections with class, confidence, bbox, contour, area and size in µm.
 */
import type { Detection, PixelToStage, ProbabilityMap, SegmentationMasks } from './detector.js';
import type { Region } from '../geometry/regions.js';
import type { Segmentation } from './pixel-ops.js';

export interface DetectionParams {
  classes: readonly string[];
  minAreaPx: number;
  pixelSizeUm: number;
  pixelToStage?: PixelToStage;
  /** Also return the class map and instance map (a per-pixel pass; evaluation asks for it, the scan does not). */
  masks: boolean;
}

export interface PostprocessOutput {
  detections: Detection[];
  masks?: SegmentationMasks;
}

/**
 * Detections of the regions of at least `minAreaPx` pixels, most confident first; the masks (when asked) lose the
 * regions that were dropped.
 */
export function detectionsOf(seg: Segmentation, width: number, height: number, p: DetectionParams): PostprocessOutput {
  const { labels, regions } = seg;
  const keep = new Int32Array(regions.length + 1);
  const detections: Detection[] = [];
  const order = regions.filter((r) => r.area >= p.minAreaPx).sort((a, b) => b.meanValue - a.meanValue || a.label - b.label);
  for (const r of order) {
    detections.push(regionToDetection(r, p.classes[r.value] ?? `class${r.value}`, r.meanValue, r.maxValue, p.pixelSizeUm, p.pixelToStage));
    keep[r.label] = detections.length;
  }
  if (!p.masks) return { detections };
  // Instances: detection index + 1. The class map is copied: the segmenter reuses its buffer for the next frame.
  const n = width * height;
  const classMap = seg.classMap.slice();
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
export function regionToDetection(
  r: Region,
  className: string,
  confidence: number,
  maxProbability: number,
  pixelSizeUm: number,
  pixelToStage?: PixelToStage,
): Detection {
  const p = pixelSizeUm;
  const f = { maxPx: r.feretMaxPx, minPx: r.feretMinPx };
  const [cx, cy] = r.centroid;
  const det: Detection = {
    classId: r.value,
    className,
    confidence: round(confidence, 4),
    maxProbability: round(maxProbability, 4),
    bbox: { ...r.bbox },
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

/** Block size of a probability map of at most `maxSide` pixels per side. */
export function probabilityScale(width: number, height: number, maxSide: number): number {
  return Math.max(1, Math.ceil(Math.max(width, height) / maxSide));
}

/** Downsamples the foreground probability to at most `maxSide` per side by max-pooling (small defects stay visible). */
export function probabilityMap(foreground: Float32Array, width: number, height: number, maxSide: number): ProbabilityMap {
  const scale = probabilityScale(width, height, maxSide);
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
