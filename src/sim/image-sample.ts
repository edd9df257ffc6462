/**
 * A sample backed by real micrographs and their label masks, mounted as a mosaic at a stated pixel size. The optics
 * render lower (or higher) magnifications from the stored pixels: area-averaged when the objective's pixel is larger
 * than the micrograph's, bilinear when smaller. Ground-truth defects are the connected regions of each label class.
 */
import type { Dataset, LabelledImage } from '../datasets/dataset.js';
import { connectedComponentsJs } from '../geometry/regions.js';
import {
  checkViewBuffers,
  DefectIndex,
  sampleToPixel,
  surfaceHeight,
  viewBounds,
  viewMap,
  type FieldView,
  type GroundTruthDefect,
  type Sample,
  type SurfaceShape,
} from './sample.js';

interface Placed {
  img: LabelledImage;
  /** Top-left corner in sample µm. */
  x0: number;
  y0: number;
  /** Summed-area table of grey values (normalised to reflectance), (w+1)·(h+1). */
  sat: Float64Array;
  /** Summed-area tables of each class's pixel count. */
  classSat: Int32Array[];
  refl: Float32Array;
}

export interface ImageSampleOptions {
  id: string;
  pixelSizeUm: number;
  columns: number;
  gapUm: number;
  surface: SurfaceShape;
  /** Regions smaller than this many micrograph pixels are not listed as ground-truth objects (annotation specks). */
  minRegionPx?: number;
}

/** Mount resin around and between the micrographs. */
const BACKGROUND = 0.08;

export class ImageSample implements Sample {
  readonly widthUm: number;
  readonly heightUm: number;
  readonly classes: readonly string[];
  readonly id: string;
  readonly pixelSizeUm: number;
  private readonly placed: Placed[];
  private readonly list: GroundTruthDefect[];
  private readonly index: DefectIndex;
  private readonly surface: SurfaceShape;

  private constructor(images: LabelledImage[], classes: readonly string[], opts: ImageSampleOptions) {
    if (!(opts.pixelSizeUm > 0)) throw new RangeError(`Expected a pixel size > 0 µm for the micrographs but received ${opts.pixelSizeUm}`);
    this.id = opts.id;
    this.classes = classes;
    this.pixelSizeUm = opts.pixelSizeUm;
    this.surface = opts.surface;
    const s = opts.pixelSizeUm;
    const cellW = Math.max(...images.map((i) => i.width)) * s + opts.gapUm;
    const cellH = Math.max(...images.map((i) => i.height)) * s + opts.gapUm;
    const cols = Math.min(opts.columns, images.length);
    const rows = Math.ceil(images.length / cols);
    this.widthUm = cols * cellW + opts.gapUm;
    this.heightUm = rows * cellH + opts.gapUm;
    this.placed = images.map((img, k) => buildPlaced(img, opts.gapUm + (k % cols) * cellW, opts.gapUm + Math.floor(k / cols) * cellH, classes.length));
    this.list = [];
    const minPx = opts.minRegionPx ?? 4;
    for (const p of this.placed) {
      const { regions } = connectedComponentsJs(p.img.mask, p.img.width, p.img.height);
      for (const r of regions) {
        if (r.area < minPx) continue;
        const { x: bx, y: by, width: bw, height: bh } = r.bbox;
        this.list.push({
          id: this.list.length + 1,
          classId: r.value,
          className: classes[r.value - 1] ?? `class${r.value}`,
          // Pixel centres sit half a pixel inside the micrograph's corner.
          xUm: p.x0 + (r.centroid[0] + 0.5) * s,
          yUm: p.y0 + (r.centroid[1] + 0.5) * s,
          sizeUm: r.feretMaxPx * s,
          widthUm: r.feretMinPx * s,
          orientationDeg: r.orientationDeg,
          contrast: 0,
          bboxUm: [p.x0 + bx * s, p.y0 + by * s, p.x0 + (bx + bw) * s, p.y0 + (by + bh) * s],
          areaUm2: r.area * s * s,
        });
      }
    }
    this.index = new DefectIndex(this.list, 256);
  }

  /** Loads the images of a dataset (all, or the named ones, at most `maxImages`) and mounts them. */
  static async fromDataset(ds: Dataset, opts: ImageSampleOptions & { names?: string[]; maxImages?: number }): Promise<ImageSample> {
    let entries = ds.entries;
    if (opts.names && opts.names.length > 0) {
      entries = opts.names.map((n) => {
        const e = ds.entries.find((x) => x.name === n);
        if (!e) throw new Error(`dataset ${ds.dir} has no image named ${JSON.stringify(n)}`);
        return e;
      });
    }
    entries = entries.slice(0, opts.maxImages ?? entries.length);
    const images: LabelledImage[] = [];
    for (const e of entries) images.push(await ds.load(e));
    return new ImageSample(images, ds.classes, opts);
  }

  /** Mounts images already in memory (tests, replay). */
  static fromImages(images: LabelledImage[], classes: readonly string[], opts: ImageSampleOptions): ImageSample {
    if (images.length === 0) throw new RangeError('an image-backed sample needs at least one image');
    return new ImageSample(images, classes, opts);
  }

  defects(): readonly GroundTruthDefect[] {
    return this.list;
  }

  defectsIn(x0: number, y0: number, x1: number, y1: number): GroundTruthDefect[] {
    return this.index.query(x0, y0, x1, y1);
  }

  surfaceHeightUm(xUm: number, yUm: number): number {
    return surfaceHeight(this.surface, this.widthUm, this.heightUm, xUm, yUm);
  }

  renderReflectance(view: FieldView, out: Float32Array, mask?: Uint8Array): void {
    const n = checkViewBuffers(view, out, mask);
    out.fill(BACKGROUND, 0, n);
    if (mask) mask.fill(0, 0, n);
    const m = viewMap(view);
    const [vx0, vy0, vx1, vy1] = viewBounds(view);
    const s = this.pixelSizeUm;
    const ratio = view.pixelSizeUm / s; // micrograph pixels per view pixel
    const half = ratio / 2;
    for (const p of this.placed) {
      const w = p.img.width;
      const h = p.img.height;
      if (p.x0 > vx1 || p.y0 > vy1 || p.x0 + w * s < vx0 || p.y0 + h * s < vy0) continue;
      const W1 = w + 1;
      // Only the view pixels the micrograph can cover.
      let cMin = Infinity;
      let cMax = -Infinity;
      let rMin = Infinity;
      let rMax = -Infinity;
      for (const [x, y] of [
        [p.x0, p.y0],
        [p.x0 + w * s, p.y0],
        [p.x0, p.y0 + h * s],
        [p.x0 + w * s, p.y0 + h * s],
      ] as const) {
        const q = sampleToPixel(view, x, y);
        cMin = Math.min(cMin, q.col);
        cMax = Math.max(cMax, q.col);
        rMin = Math.min(rMin, q.row);
        rMax = Math.max(rMax, q.row);
      }
      const c0 = Math.max(0, Math.floor(cMin) - 1);
      const c1 = Math.min(view.width - 1, Math.ceil(cMax) + 1);
      const r0 = Math.max(0, Math.floor(rMin) - 1);
      const r1 = Math.min(view.height - 1, Math.ceil(rMax) + 1);
      for (let r = r0; r <= r1; r++) {
        for (let c = c0; c <= c1; c++) {
          // Position in micrograph pixel units (continuous; pixel k spans [k, k+1)).
          const u = (m.x0 + c * m.ax + r * m.bx - p.x0) / s;
          const v = (m.y0 + c * m.ay + r * m.by - p.y0) / s;
          if (u < 0 || v < 0 || u >= w || v >= h) continue;
          const i = r * view.width + c;
          if (ratio > 1) {
            const a0 = Math.max(0, Math.round(u - half));
            const a1 = Math.min(w, Math.max(a0 + 1, Math.round(u + half)));
            const b0 = Math.max(0, Math.round(v - half));
            const b1 = Math.min(h, Math.max(b0 + 1, Math.round(v + half)));
            const area = (a1 - a0) * (b1 - b0);
            out[i] = (p.sat[b1 * W1 + a1]! - p.sat[b0 * W1 + a1]! - p.sat[b1 * W1 + a0]! + p.sat[b0 * W1 + a0]!) / area;
            if (mask) {
              let best = 0;
              let bestCount = 0;
              for (let k = 0; k < p.classSat.length; k++) {
                const t = p.classSat[k]!;
                const cnt = t[b1 * W1 + a1]! - t[b0 * W1 + a1]! - t[b1 * W1 + a0]! + t[b0 * W1 + a0]!;
                if (cnt > bestCount) {
                  bestCount = cnt;
                  best = k + 1;
                }
              }
              // Majority, or a feature thinner than the pixel that still crosses it (a one-pixel line).
              if (best > 0 && (bestCount * 2 >= area || bestCount >= Math.max(a1 - a0, b1 - b0))) mask[i] = best;
            }
          } else {
            const fu = Math.min(w - 1, Math.max(0, u - 0.5));
            const fv = Math.min(h - 1, Math.max(0, v - 0.5));
            const iu = Math.min(w - 2, Math.floor(fu));
            const iv = Math.min(h - 2, Math.floor(fv));
            const tu = w > 1 ? fu - iu : 0;
            const tv = h > 1 ? fv - iv : 0;
            const R = p.refl;
            const k00 = Math.max(0, iv) * w + Math.max(0, iu);
            const k01 = k00 + (w > 1 ? 1 : 0);
            const k10 = k00 + (h > 1 ? w : 0);
            const k11 = k10 + (w > 1 ? 1 : 0);
            const top = R[k00]! + (R[k01]! - R[k00]!) * tu;
            const bot = R[k10]! + (R[k11]! - R[k10]!) * tu;
            out[i] = top + (bot - top) * tv;
            if (mask) mask[i] = p.img.mask[Math.floor(v) * w + Math.floor(u)]!;
          }
        }
      }
    }
  }
}

function buildPlaced(img: LabelledImage, x0: number, y0: number, nClasses: number): Placed {
  const w = img.width;
  const h = img.height;
  const refl = new Float32Array(w * h);
  // Grey levels → reflectance 0.05 … 0.95 (the micrograph is the sample's appearance).
  const k = 0.9 / img.maxValue;
  for (let i = 0; i < w * h; i++) refl[i] = 0.05 + img.pixels[i]! * k;
  const W1 = w + 1;
  const sat = new Float64Array(W1 * (h + 1));
  const classSat = Array.from({ length: nClasses }, () => new Int32Array(W1 * (h + 1)));
  for (let y = 0; y < h; y++) {
    let row = 0;
    const rowCounts = new Int32Array(nClasses);
    for (let x = 0; x < w; x++) {
      row += refl[y * w + x]!;
      sat[(y + 1) * W1 + x + 1] = sat[y * W1 + x + 1]! + row;
      const v = img.mask[y * w + x]!;
      if (v > 0 && v <= nClasses) rowCounts[v - 1]!++;
      for (let c = 0; c < nClasses; c++) classSat[c]![(y + 1) * W1 + x + 1] = classSat[c]![y * W1 + x + 1]! + rowCounts[c]!;
    }
  }
  return { img, x0, y0, sat, classSat, refl };
}
