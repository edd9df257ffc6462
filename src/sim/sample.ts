/**
 * What the twin's optics look at: a sample surface in sample coordinates (µm; origin at the sample's top-left
 * corner, x to the right, y down, as in an image of the sample seen from the objective).
 *
 * A sample renders reflectance for any field of view on demand (it is never materialised whole) and knows its ground
 * truth: the list of defects and, per rendered pixel, the class that covers it.
 */

import { DEFECT_CLASSES, type DefectClass } from '../scan/defect-classes.js';

/** Class names of the synthetic samples (the scan's defect classes); mask value = index + 1 (0 is background). */
export const TWIN_CLASSES = DEFECT_CLASSES;
export type TwinClass = DefectClass;

export interface GroundTruthDefect {
  /** Unique within its sample. */
  id: number;
  /** 1-based index into the sample's `classes` (the value written into label masks). */
  classId: number;
  className: string;
  /** Centre in sample coordinates (µm). */
  xUm: number;
  yUm: number;
  /** Longest extent (µm): length of a scratch or crack, major diameter of a pit or particle. */
  sizeUm: number;
  /** Extent across the long axis (µm). */
  widthUm: number;
  /** Angle of the long axis from +x towards +y (degrees, [0, 180)). */
  orientationDeg: number;
  /** Relative change of reflectance inside the defect (−1 … +1; negative is darker). */
  contrast: number;
  /** Axis-aligned bounds in sample coordinates (µm): [x0, y0, x1, y1]. */
  bboxUm: [number, number, number, number];
  areaUm2: number;
}

/**
 * A field of view on the sample: `width` × `height` pixels of `pixelSizeUm`, centred at (centreXUm, centreYUm).
 * Image column c / row r sit at sample position centre + R(rotation) · F · ((c + ½ − width/2)·p, (r + ½ − height/2)·p),
 * with F = diag(flipX ? −1 : 1, 1). This is how the camera is mounted relative to the sample; calibration measures it.
 */
export interface FieldView {
  centreXUm: number;
  centreYUm: number;
  pixelSizeUm: number;
  width: number;
  height: number;
  rotationRad?: number;
  flipX?: boolean;
}

export interface Sample {
  readonly id: string;
  readonly widthUm: number;
  readonly heightUm: number;
  /** Defect (or phase) class names; mask value k means classes[k − 1]. */
  readonly classes: readonly string[];
  /** All ground-truth defects. */
  defects(): readonly GroundTruthDefect[];
  /** Defects whose bounds intersect the rectangle [x0, x1) × [y0, y1) (µm). */
  defectsIn(x0: number, y0: number, x1: number, y1: number): GroundTruthDefect[];
  /** Height of the surface above the stage's z = 0 plane (µm) at a sample position. */
  surfaceHeightUm(xUm: number, yUm: number): number;
  /**
   * Writes reflectance (0 … 1) of every pixel of `view` into `out` (length width·height, row-major) and, when given,
   * the class of every pixel into `mask` (0 = background).
   */
  renderReflectance(view: FieldView, out: Float32Array, mask?: Uint8Array): void;
}

/** Per-pixel affine map of a view: sample position of pixel (c, r) = (x0 + c·ax + r·bx, y0 + c·ay + r·by). */
export interface ViewMap {
  x0: number;
  y0: number;
  ax: number;
  ay: number;
  bx: number;
  by: number;
}

/** Checks that the buffers hold the whole view (`out`, and `mask` when given); returns its pixel count. */
export function checkViewBuffers(view: FieldView, out: Float32Array, mask?: Uint8Array): number {
  const n = view.width * view.height;
  if (out.length < n) throw new RangeError(`reflectance buffer holds ${out.length} pixels but the view needs ${n}`);
  if (mask && mask.length < n) throw new RangeError(`mask buffer holds ${mask.length} pixels but the view needs ${n}`);
  return n;
}

export function viewMap(view: FieldView): ViewMap {
  const p = view.pixelSizeUm;
  const th = view.rotationRad ?? 0;
  const fx = view.flipX ? -1 : 1;
  const cos = Math.cos(th);
  const sin = Math.sin(th);
  // Column step: R·F·(p, 0); row step: R·F·(0, p).
  const ax = cos * fx * p;
  const ay = sin * fx * p;
  const bx = -sin * p;
  const by = cos * p;
  const c0 = 0.5 - view.width / 2;
  const r0 = 0.5 - view.height / 2;
  return {
    x0: view.centreXUm + c0 * ax + r0 * bx,
    y0: view.centreYUm + c0 * ay + r0 * by,
    ax,
    ay,
    bx,
    by,
  };
}

/** Axis-aligned bounds (µm) of a view in sample coordinates: [x0, y0, x1, y1]. */
export function viewBounds(view: FieldView): [number, number, number, number] {
  const m = viewMap(view);
  const xs: number[] = [];
  const ys: number[] = [];
  for (const [c, r] of [
    [-0.5, -0.5],
    [view.width - 0.5, -0.5],
    [-0.5, view.height - 0.5],
    [view.width - 0.5, view.height - 0.5],
  ] as const) {
    xs.push(m.x0 + c * m.ax + r * m.bx);
    ys.push(m.y0 + c * m.ay + r * m.by);
  }
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

/**
 * Inverse of {@link viewMap}: the (fractional) column and row at which a sample position appears in the view.
 */
export function sampleToPixel(view: FieldView, xUm: number, yUm: number): { col: number; row: number } {
  const m = viewMap(view);
  const det = m.ax * m.by - m.bx * m.ay;
  const dx = xUm - m.x0;
  const dy = yUm - m.y0;
  return { col: (dx * m.by - dy * m.bx) / det, row: (m.ax * dy - m.ay * dx) / det };
}

/** A smooth surface: tilt, bow and a gentle waviness (all µm), evaluated relative to the sample centre. */
export interface SurfaceShape {
  z0Um: number;
  tiltXUmPerMm: number;
  tiltYUmPerMm: number;
  bowUm: number;
  waveUm: number;
  wavePeriodUm: number;
}

export function surfaceHeight(shape: SurfaceShape, widthUm: number, heightUm: number, x: number, y: number): number {
  const cx = widthUm / 2;
  const cy = heightUm / 2;
  const dx = x - cx;
  const dy = y - cy;
  const r2 = (dx * dx + dy * dy) / Math.max(1, cx * cx + cy * cy);
  const k = (2 * Math.PI) / shape.wavePeriodUm;
  return (
    shape.z0Um +
    (shape.tiltXUmPerMm * dx) / 1000 +
    (shape.tiltYUmPerMm * dy) / 1000 +
    shape.bowUm * r2 +
    shape.waveUm * Math.sin(k * x) * Math.sin(k * 0.8 * y + 1)
  );
}

/** Uniform-grid spatial index over defect bounds. */
export class DefectIndex {
  private readonly cells = new Map<number, number[]>();
  constructor(
    private readonly items: readonly GroundTruthDefect[],
    private readonly cellUm: number,
  ) {
    items.forEach((d, i) => {
      const [x0, y0, x1, y1] = d.bboxUm;
      for (let cy = Math.floor(y0 / cellUm); cy <= Math.floor(y1 / cellUm); cy++) {
        for (let cx = Math.floor(x0 / cellUm); cx <= Math.floor(x1 / cellUm); cx++) {
          const key = this.key(cx, cy);
          let list = this.cells.get(key);
          if (!list) this.cells.set(key, (list = []));
          list.push(i);
        }
      }
    });
  }

  private key(cx: number, cy: number): number {
    return (cy + 32768) * 65536 + (cx + 32768);
  }

  query(x0: number, y0: number, x1: number, y1: number): GroundTruthDefect[] {
    const seen = new Set<number>();
    const out: GroundTruthDefect[] = [];
    const c = this.cellUm;
    for (let cy = Math.floor(y0 / c); cy <= Math.floor(y1 / c); cy++) {
      for (let cx = Math.floor(x0 / c); cx <= Math.floor(x1 / c); cx++) {
        for (const i of this.cells.get(this.key(cx, cy)) ?? []) {
          if (seen.has(i)) continue;
          seen.add(i);
          const b = this.items[i]!.bboxUm;
          if (b[0] < x1 && b[2] >= x0 && b[1] < y1 && b[3] >= y0) out.push(this.items[i]!);
        }
      }
    }
    return out.sort((a, b) => a.id - b.id);
  }
}
