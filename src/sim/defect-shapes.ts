/**
 * Geometry of the twin's defects and how each is drawn into a field of view with area-correct anti-aliasing.
 *
 * Two primitive kinds cover the four classes:
 * - a polyline of given width (scratch: nearly straight; crack: jagged, sometimes branched);
 * - a star-shaped blob, radius r(θ) = r0·(1 + Σ a_k cos(kθ + φ_k)) over an ellipse (pit: smooth ellipse; particle:
 *   irregular outline).
 */
import type { GroundTruthDefect, ViewMap } from './sample.js';

export interface PolylineShape {
  kind: 'polyline';
  /** Vertices as flat [x0, y0, x1, y1, …] (µm), one array per branch. */
  branches: Float64Array[];
  widthUm: number;
}

export interface BlobShape {
  kind: 'blob';
  cx: number;
  cy: number;
  /** Semi-axes (µm) and orientation of the base ellipse. */
  a: number;
  b: number;
  angleRad: number;
  /** Harmonic perturbation of the radius: amplitudes and phases for k = 2, 3, …. */
  harmonics: Array<[number, number]>;
  /** Pits are darker towards the centre (depth shading); particles are flat-toned. */
  shading: 'crater' | 'flat';
}

export type Shape = PolylineShape | BlobShape;

export interface ShapedDefect extends GroundTruthDefect {
  shape: Shape;
}

/** Distance from (px, py) to segment (ax, ay)–(bx, by). */
function segmentDistance(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  let t = len2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0;
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  const ex = px - (ax + t * dx);
  const ey = py - (ay + t * dy);
  return Math.sqrt(ex * ex + ey * ey);
}

export function polylineDistance(shape: PolylineShape, x: number, y: number): number {
  let best = Infinity;
  for (const v of shape.branches) {
    for (let i = 0; i + 3 < v.length; i += 2) {
      const d = segmentDistance(x, y, v[i]!, v[i + 1]!, v[i + 2]!, v[i + 3]!);
      if (d < best) best = d;
    }
  }
  return best;
}

/** Signed distance (µm, negative inside) to a blob's outline, approximated radially. */
export function blobSignedDistance(shape: BlobShape, x: number, y: number): { d: number; rho: number } {
  const dx = x - shape.cx;
  const dy = y - shape.cy;
  const c = Math.cos(-shape.angleRad);
  const s = Math.sin(-shape.angleRad);
  const u = dx * c - dy * s;
  const v = dx * s + dy * c;
  const theta = Math.atan2(v, u);
  let f = 1;
  for (let k = 0; k < shape.harmonics.length; k++) {
    const [amp, phase] = shape.harmonics[k]!;
    f += amp * Math.cos((k + 2) * theta + phase);
  }
  // Radius of the base ellipse in direction theta.
  const ct = Math.cos(theta);
  const st = Math.sin(theta);
  const re = (shape.a * shape.b) / Math.sqrt(shape.b * shape.b * ct * ct + shape.a * shape.a * st * st);
  const r = re * f;
  const dist = Math.sqrt(u * u + v * v);
  return { d: dist - r, rho: r > 0 ? dist / r : 1 };
}

/** Fraction (0 … 1) of a pixel of size p covered by a band of half-width h around a centreline at distance dist. */
function bandCoverage(dist: number, h: number, p: number): number {
  const lo = Math.max(dist - h, -p / 2);
  const hi = Math.min(dist + h, p / 2);
  return hi > lo ? (hi - lo) / p : 0;
}

/**
 * Draws one defect into a field: reflectance `refl` is modulated in place; `mask` (optional) receives `classId` where
 * the defect covers at least half the pixel, and along the skeleton of features thinner than a pixel (so a crack
 * narrower than a survey pixel is still labelled where it is, as an annotator would draw it).
 */
export function drawDefect(d: ShapedDefect, m: ViewMap, width: number, height: number, pixelUm: number, refl: Float32Array, mask?: Uint8Array): void {
  // Pixel range covering the defect bounds (padded by one pixel for the anti-aliased rim).
  const det = m.ax * m.by - m.bx * m.ay;
  let cMin = Infinity;
  let cMax = -Infinity;
  let rMin = Infinity;
  let rMax = -Infinity;
  const [bx0, by0, bx1, by1] = d.bboxUm;
  for (const [x, y] of [
    [bx0, by0],
    [bx1, by0],
    [bx0, by1],
    [bx1, by1],
  ] as const) {
    const dx = x - m.x0;
    const dy = y - m.y0;
    const c = (dx * m.by - dy * m.bx) / det;
    const r = (m.ax * dy - m.ay * dx) / det;
    cMin = Math.min(cMin, c);
    cMax = Math.max(cMax, c);
    rMin = Math.min(rMin, r);
    rMax = Math.max(rMax, r);
  }
  const c0 = Math.max(0, Math.floor(cMin) - 1);
  const c1 = Math.min(width - 1, Math.ceil(cMax) + 1);
  const r0 = Math.max(0, Math.floor(rMin) - 1);
  const r1 = Math.min(height - 1, Math.ceil(rMax) + 1);
  if (c0 > c1 || r0 > r1) return;

  const p = pixelUm;
  const shape = d.shape;
  const k = d.classId;
  if (shape.kind === 'polyline') {
    drawPolyline(d, shape, m, det, width, height, p, refl, mask);
    return;
  }
  // Blob.
  const cc = (shape.cx - m.x0) * m.by - (shape.cy - m.y0) * m.bx;
  const centreCol = Math.round(cc / det - 0.0);
  const centreRow = Math.round((m.ax * (shape.cy - m.y0) - m.ay * (shape.cx - m.x0)) / det);
  for (let r = r0; r <= r1; r++) {
    for (let c = c0; c <= c1; c++) {
      const x = m.x0 + c * m.ax + r * m.bx;
      const y = m.y0 + c * m.ay + r * m.by;
      const { d: sd, rho } = blobSignedDistance(shape, x, y);
      if (sd > p) continue;
      const cov = Math.min(1, Math.max(0, 0.5 - sd / p));
      const i = r * width + c;
      const depth = shape.shading === 'crater' ? 0.55 + 0.45 * Math.max(0, 1 - rho * rho) : 1;
      refl[i] = refl[i]! * (1 + d.contrast * depth * cov);
      if (mask && (cov >= 0.5 || (c === centreCol && r === centreRow))) mask[i] = k;
    }
  }
}

/** Scratch space shared by polyline draws: per-pixel minimum distance and the list of pixels touched. */
let distBuf = new Float32Array(0);
let touched = new Int32Array(0);

/**
 * Draws a polyline feature by visiting, per segment and per image row, only the span of columns that can lie within
 * reach of the segment (a long diagonal scratch across a 2048² field touches a few thousand pixels, not its bounding
 * box's millions).
 */
function drawPolyline(
  d: ShapedDefect,
  shape: PolylineShape,
  m: ViewMap,
  det: number,
  width: number,
  height: number,
  p: number,
  refl: Float32Array,
  mask?: Uint8Array,
): void {
  const n = width * height;
  if (distBuf.length < n) {
    distBuf = new Float32Array(n).fill(Infinity);
    touched = new Int32Array(Math.max(1024, touched.length));
  }
  let nt = 0;
  const h = shape.widthUm / 2;
  const reach = h + p; // µm
  const reachPx = reach / p + 1;
  const toPx = (x: number, y: number): [number, number] => {
    const dx = x - m.x0;
    const dy = y - m.y0;
    return [(dx * m.by - dy * m.bx) / det, (m.ax * dy - m.ay * dx) / det];
  };
  for (const v of shape.branches) {
    for (let i = 0; i + 3 < v.length; i += 2) {
      const ax = v[i]!;
      const ay = v[i + 1]!;
      const bx = v[i + 2]!;
      const by = v[i + 3]!;
      const [ac, ar] = toPx(ax, ay);
      const [bc, br] = toPx(bx, by);
      const rLo = Math.max(0, Math.floor(Math.min(ar, br) - reachPx));
      const rHi = Math.min(height - 1, Math.ceil(Math.max(ar, br) + reachPx));
      const cLoSeg = Math.min(ac, bc) - reachPx;
      const cHiSeg = Math.max(ac, bc) + reachPx;
      const dc = bc - ac;
      const dr = br - ar;
      const len = Math.hypot(dc, dr);
      const sinA = len > 0 ? Math.abs(dr) / len : 0;
      for (let r = rLo; r <= rHi; r++) {
        let c0 = cLoSeg;
        let c1 = cHiSeg;
        if (sinA > 0.05) {
          const cl = ac + ((r - ar) * dc) / dr;
          const half = reachPx / sinA;
          c0 = Math.max(c0, cl - half);
          c1 = Math.min(c1, cl + half);
        }
        const cs = Math.max(0, Math.floor(c0));
        const ce = Math.min(width - 1, Math.ceil(c1));
        for (let c = cs; c <= ce; c++) {
          const x = m.x0 + c * m.ax + r * m.bx;
          const y = m.y0 + c * m.ay + r * m.by;
          const dist = segmentDistance(x, y, ax, ay, bx, by);
          if (dist > reach) continue;
          const idx = r * width + c;
          if (distBuf[idx] === Infinity) {
            if (nt === touched.length) {
              const grown = new Int32Array(touched.length * 2);
              grown.set(touched);
              touched = grown;
            }
            touched[nt++] = idx;
          }
          if (dist < distBuf[idx]!) distBuf[idx] = dist;
        }
      }
    }
  }
  for (let t = 0; t < nt; t++) {
    const idx = touched[t]!;
    const dist = distBuf[idx]!;
    distBuf[idx] = Infinity;
    const cov = bandCoverage(dist, h, p);
    refl[idx] = refl[idx]! * (1 + d.contrast * cov);
    if (mask && (cov >= 0.5 || dist <= p / 2)) mask[idx] = d.classId;
  }
}
