/**
 * Runs a Detector over a labelled dataset and scores it: every image is fed as one frame (the detector tiles it as
 * in production), the result's class map and detections are compared with the truth mask and its objects.
 *
 * Truth objects are the connected regions of each class in the mask; for the twin's export, regions that belong to
 * one listed defect (e.g. a scratch broken into dashes where it is thinner than a pixel) are joined into one object.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { connectedComponentsJs } from '../geometry/regions.js';
import type { Dataset, DatasetEntry, LabelledImage } from '../datasets/dataset.js';
import type { Detector, FrameInput } from '../inference/detector.js';
import { MetricAccumulator, type ImageTruth, type Scores } from './metrics.js';

export interface EvalOptions {
  /** Only images of these groups (e.g. a model's validation groups). */
  groups?: string[];
  limit?: number;
  /** Pixel size of the images (µm) when the dataset does not state one. */
  pixelSizeUm?: number;
  /**
   * Folder for what the detector predicted, so errors can be looked at: `<stem>.png` (8-bit class index per pixel, in
   * the detector's classes) and `overlays/<stem>.png` (the image with truth vs prediction coloured, see
   * `overlayImage`).
   */
  saveMasks?: string;
  onProgress?: (done: number, total: number, name: string) => void;
}

export interface EvalReport {
  detector: { name: string; version: string; kind: string; provider: string; sha256: string | null };
  dataset: { dir: string; format: string; images: number; groups: string[] };
  scores: Scores;
  latency: { images: number; tiles: number; msPerTile: number; inferenceMsPerTile: number; msPerImage: number };
}

/**
 * Maps dataset class values (1-based into `datasetClasses`) to the detector's class indices: by name
 * (case-insensitive); a detector with a single foreground class takes every dataset class as that one.
 */
export function classMapping(datasetClasses: readonly string[], detectorClasses: readonly string[]): Uint8Array {
  const map = new Uint8Array(256);
  if (detectorClasses.length === 2) {
    for (let v = 1; v <= datasetClasses.length; v++) map[v] = 1;
    return map;
  }
  const lower = detectorClasses.map((c) => c.toLowerCase());
  const missing: string[] = [];
  datasetClasses.forEach((c, i) => {
    const k = lower.indexOf(c.toLowerCase());
    if (k <= 0) missing.push(c);
    else map[i + 1] = k;
  });
  if (missing.length) {
    throw new Error(`dataset classes ${missing.join(', ')} are not among the detector's classes (${detectorClasses.slice(1).join(', ')})`);
  }
  return map;
}

interface TwinDefect {
  classId: number;
  bboxPx: [number, number, number, number];
}

/** Truth objects of one image: regions per class; for the twin, joined per listed defect. */
export function truthOf(img: LabelledImage, mapping: Uint8Array, defects?: TwinDefect[]): ImageTruth {
  const n = img.width * img.height;
  const classMap = new Uint8Array(n);
  for (let i = 0; i < n; i++) classMap[i] = mapping[img.mask[i]!]!;
  const { labels, regions } = connectedComponentsJs(classMap, img.width, img.height, { connectivity: 8 });
  // Object id per region: by default one object per region.
  const objectOf = new Int32Array(regions.length + 1);
  const objectClasses: number[] = [];
  const byDefect = new Map<number, number>();
  regions.forEach((r, k) => {
    let owner = -1;
    if (defects) {
      // Pixel centres to the defect list's pixel-corner coordinates.
      const [cx, cy] = [r.centroid[0] + 0.5, r.centroid[1] + 0.5];
      let bestArea = 0;
      defects.forEach((d, j) => {
        if (mapping[d.classId] !== r.value) return;
        const [x, y, w, h] = d.bboxPx;
        if (cx >= x - 1 && cx <= x + w + 1 && cy >= y - 1 && cy <= y + h + 1 && (owner < 0 || w * h < bestArea)) {
          owner = j;
          bestArea = w * h;
        }
      });
    }
    if (owner >= 0 && byDefect.has(owner)) {
      objectOf[k + 1] = byDefect.get(owner)!;
      return;
    }
    objectClasses.push(r.value);
    objectOf[k + 1] = objectClasses.length;
    if (owner >= 0) byDefect.set(owner, objectClasses.length);
  });
  const instances = new Int32Array(n);
  for (let i = 0; i < n; i++) if (labels[i]) instances[i] = objectOf[labels[i]!]!;
  return { classMap, instances, objectClasses };
}

function twinDefects(dataset: Dataset, entry: DatasetEntry): TwinDefect[] | undefined {
  if (dataset.spec.format !== 'twin') return undefined;
  const m = JSON.parse(readFileSync(join(dataset.dir, 'manifest.json'), 'utf8')) as { tiles: Array<{ name: string; defects?: string }> };
  const t = m.tiles.find((x) => x.name === entry.name);
  if (!t?.defects || !existsSync(join(dataset.dir, t.defects))) return undefined;
  return JSON.parse(readFileSync(join(dataset.dir, t.defects), 'utf8')) as TwinDefect[];
}

export function frameOf(img: LabelledImage, pixelSizeUm?: number): FrameInput {
  const bitDepth = img.maxValue <= 255 ? 8 : img.maxValue <= 4095 ? 12 : 16;
  const data =
    bitDepth === 8 && !(img.pixels instanceof Uint8Array)
      ? Uint8Array.from(img.pixels)
      : bitDepth > 8 && !(img.pixels instanceof Uint16Array)
        ? Uint16Array.from(img.pixels)
        : img.pixels;
  return { data, width: img.width, height: img.height, bitDepth, pixelSizeUm };
}

export function selectEntries(dataset: Dataset, groups?: string[], limit?: number): DatasetEntry[] {
  let entries = dataset.entries;
  if (groups) {
    const want = new Set(groups);
    const present = new Set(entries.map((e) => e.group));
    const absent = groups.filter((g) => !present.has(g));
    if (absent.length === groups.length) throw new Error(`dataset ${dataset.dir} has none of the groups ${groups.join(', ')}`);
    entries = entries.filter((e) => want.has(e.group));
  }
  return limit ? entries.slice(0, limit) : entries;
}

/** Overlay colours (RGB): truth and prediction agree on a defect class; truth missed; predicted where truth has none;
 * both defect but of different classes. */
export const OVERLAY_COLOURS = {
  hit: [0, 200, 0],
  missed: [255, 0, 255],
  spurious: [255, 200, 0],
  wrongClass: [0, 160, 255],
} as const;

/**
 * The image as 8-bit grey (stretched between its 0.5th and 99.5th percentiles) with every pixel where truth or
 * prediction has a defect tinted half-and-half by OVERLAY_COLOURS. RGB, width × height × 3.
 */
export function overlayImage(img: LabelledImage, truth: Uint8Array, pred: Uint8Array): Uint8Array {
  const n = img.width * img.height;
  const px = img.pixels;
  const hist = new Uint32Array(Math.max(1, img.maxValue) + 1);
  for (let i = 0; i < n; i++) hist[Math.min(px[i]!, img.maxValue)]!++;
  const quantile = (q: number): number => {
    let acc = 0;
    for (let v = 0; v < hist.length; v++) if ((acc += hist[v]!) >= q * n) return v;
    return hist.length - 1;
  };
  const lo = quantile(0.005);
  const hi = Math.max(lo + 1, quantile(0.995));
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const g = Math.max(0, Math.min(255, Math.round(((px[i]! - lo) * 255) / (hi - lo))));
    const t = truth[i]!;
    const p = pred[i]!;
    const c = !t && !p ? null : t && p ? (t === p ? OVERLAY_COLOURS.hit : OVERLAY_COLOURS.wrongClass) : t ? OVERLAY_COLOURS.missed : OVERLAY_COLOURS.spurious;
    for (let k = 0; k < 3; k++) out[i * 3 + k] = c ? (g + c[k]!) >> 1 : g;
  }
  return out;
}

async function saveMasks(dir: string, name: string, img: LabelledImage, truth: Uint8Array, pred: Uint8Array): Promise<void> {
  const stem = name.replace(/[/\\]/g, '_'); // entry names are image stems
  mkdirSync(join(dir, 'overlays'), { recursive: true });
  const { width, height } = img;
  await sharp(Buffer.from(pred.buffer, pred.byteOffset, pred.byteLength), { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toFile(join(dir, `${stem}.png`));
  await sharp(Buffer.from(overlayImage(img, truth, pred).buffer), { raw: { width, height, channels: 3 } })
    .png()
    .toFile(join(dir, 'overlays', `${stem}.png`));
}

export async function evaluate(detector: Detector, dataset: Dataset, opts: EvalOptions = {}): Promise<EvalReport> {
  const info = detector.info();
  const mapping = classMapping(dataset.classes, info.classes);
  const entries = selectEntries(dataset, opts.groups, opts.limit);
  const acc = new MetricAccumulator(info.classes);
  let tiles = 0;
  let totalMs = 0;
  let inferenceMs = 0;
  const pixelSizeUm = opts.pixelSizeUm ?? dataset.spec.pixelSizeUm;
  for (const [k, entry] of entries.entries()) {
    opts.onProgress?.(k, entries.length, entry.name);
    const img = await dataset.load(entry);
    const truth = truthOf(img, mapping, twinDefects(dataset, entry));
    const r = await detector.detect(frameOf(img, pixelSizeUm), { masks: true });
    const masks = r.masks!;
    acc.add(truth, {
      classMap: masks.classMap,
      instances: masks.instances,
      objects: r.detections.map((d) => ({ classId: d.classId, confidence: d.confidence })),
    });
    if (opts.saveMasks) await saveMasks(opts.saveMasks, entry.name, img, truth.classMap, masks.classMap);
    tiles += r.timing.tiles;
    totalMs += r.timing.totalMs;
    inferenceMs += r.timing.inferenceMs;
  }
  opts.onProgress?.(entries.length, entries.length, '');
  return {
    detector: { name: info.name, version: info.version, kind: info.kind, provider: info.provider, sha256: info.sha256 },
    dataset: { dir: dataset.dir, format: dataset.spec.format, images: entries.length, groups: [...new Set(entries.map((e) => e.group))].sort() },
    scores: acc.scores(),
    latency: {
      images: entries.length,
      tiles,
      msPerTile: tiles ? totalMs / tiles : 0,
      inferenceMsPerTile: tiles ? inferenceMs / tiles : 0,
      msPerImage: entries.length ? totalMs / entries.length : 0,
    },
  };
}
