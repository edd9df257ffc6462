/**
 * Regions of a class mask — the one implementation of connected components, region properties and Feret diameters
 * in TypeScript. The runtime's post-processing runs the native addon's (native/src/components.cc, segment.cc) where it
 * is built, which gives the same regions (test/inference/pixel-ops.test.ts); datasets, the twin's image samples and
 * evaluation use this one directly.
 *
 * Conventions, shared with the addon: pixel centres at integer (x, y), y down; pixels belong to the same region when
 * they touch (4- or 8-connectivity) and carry the same non-zero mask value (0 is background); labels are 1-based in
 * raster order of each region's first pixel; bbox is { x, y, width, height } in whole pixels.
 */

export interface ComponentsOptions {
  connectivity?: 4 | 8;
  /** Per-pixel values (e.g. a probability) whose mean and maximum are reported per region. */
  values?: Float32Array;
}

export interface Region {
  label: number;
  /** The mask value shared by the region's pixels (the class). */
  value: number;
  area: number;
  /** Bounds in whole pixels. */
  bbox: { x: number; y: number; width: number; height: number };
  /** Centroid (column, row) of pixel centres. */
  centroid: [number, number];
  /** Angle of the major axis of the equivalent ellipse from +x towards +y (degrees, [0, 180)). */
  orientationDeg: number;
  /** Axes (px) of the ellipse with the same second moments (4·√eigenvalue; 0 across a one-pixel line). */
  majorAxisPx: number;
  minorAxisPx: number;
  /** Maximum and minimum Feret diameter (px): calipers over the contour's convex hull, +1 px (a pixel is 1 × 1). */
  feretMaxPx: number;
  feretMinPx: number;
  meanValue: number;
  maxValue: number;
  /** Boundary pixel centres, flat [x0, y0, …], traced clockwise (image coordinates) from the first pixel. */
  contour: number[];
}

export interface ComponentsResult {
  labels: Int32Array;
  regions: Region[];
}

export function connectedComponentsJs(mask: Uint8Array, width: number, height: number, opts: ComponentsOptions = {}): ComponentsResult {
  const n = width * height;
  if (mask.length < n) throw new RangeError(`mask holds ${mask.length} pixels but ${width}×${height} needs ${n}`);
  if (opts.values && opts.values.length < n) throw new RangeError(`values hold ${opts.values.length} pixels but ${width}×${height} needs ${n}`);
  const eight = (opts.connectivity ?? 8) === 8;
  const labels = new Int32Array(n);
  // Union-find over provisional labels.
  let parent = new Int32Array(1024);
  let next = 1;
  const find = (a: number): number => {
    while (parent[a] !== a) {
      parent[a] = parent[parent[a]!]!;
      a = parent[a]!;
    }
    return a;
  };
  const union = (a: number, b: number): number => {
    const ra = find(a);
    const rb = find(b);
    if (ra === rb) return ra;
    if (ra < rb) {
      parent[rb] = ra;
      return ra;
    }
    parent[ra] = rb;
    return rb;
  };
  // First pass: provisional labels; neighbours already visited are W, NW, N, NE (8-connectivity) or W, N (4).
  const offsets = eight ? [-1, -width - 1, -width, -width + 1] : [-1, -width];
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = row + x;
      const v = mask[i]!;
      if (v === 0) continue;
      let l = 0;
      for (let k = 0; k < offsets.length; k++) {
        // Skip neighbours outside the frame: W / NW at x = 0, NE at the last column, all of N's row at y = 0.
        if (k === 0 ? x === 0 : y === 0 || (eight && ((k === 1 && x === 0) || (k === 3 && x === width - 1)))) continue;
        const j = i + offsets[k]!;
        if (mask[j] !== v) continue;
        const lj = labels[j]!;
        if (l === 0) l = find(lj);
        else if (l !== lj) l = union(l, lj);
      }
      if (l === 0) {
        if (next >= parent.length) {
          const p = new Int32Array(parent.length * 2);
          p.set(parent);
          parent = p;
        }
        parent[next] = next;
        l = next++;
      }
      labels[i] = l;
    }
  }
  // Final labels in raster order of first appearance; accumulate statistics in flat arrays (one slot per region).
  const remap = new Int32Array(next);
  let count = 0;
  const cap = next;
  const val = new Uint8Array(cap);
  const area = new Float64Array(cap);
  const sx = new Float64Array(cap);
  const sy = new Float64Array(cap);
  const sxx = new Float64Array(cap);
  const syy = new Float64Array(cap);
  const sxy = new Float64Array(cap);
  const bx0 = new Int32Array(cap);
  const by0 = new Int32Array(cap);
  const bx1 = new Int32Array(cap);
  const by1 = new Int32Array(cap);
  const vs = new Float64Array(cap);
  const vm = new Float64Array(cap).fill(-Infinity);
  const first = new Int32Array(cap);
  const values = opts.values;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = row + x;
      const p = labels[i]!;
      if (p === 0) continue;
      const root = find(p);
      let l = remap[root]!;
      if (l === 0) {
        l = remap[root] = ++count;
        val[l] = mask[i]!;
        bx0[l] = x;
        by0[l] = y;
        bx1[l] = x;
        first[l] = i;
      }
      labels[i] = l;
      area[l]++;
      sx[l] += x;
      sy[l] += y;
      sxx[l] += x * x;
      syy[l] += y * y;
      sxy[l] += x * y;
      if (x < bx0[l]!) bx0[l] = x;
      if (x > bx1[l]!) bx1[l] = x;
      by1[l] = y;
      if (values) {
        const v = values[i]!;
        vs[l] += v;
        if (v > vm[l]!) vm[l] = v;
      }
    }
  }
  const regions: Region[] = [];
  for (let l = 1; l <= count; l++) {
    const a = area[l]!;
    const cx = sx[l]! / a;
    const cy = sy[l]! / a;
    const mu20 = sxx[l]! / a - cx * cx;
    const mu02 = syy[l]! / a - cy * cy;
    const mu11 = sxy[l]! / a - cx * cy;
    const common = Math.sqrt(((mu20 - mu02) * (mu20 - mu02)) / 4 + mu11 * mu11);
    const contour = traceContour(labels, width, height, first[l]!, l);
    const f = feret(contour);
    regions.push({
      label: l,
      value: val[l]!,
      area: a,
      bbox: { x: bx0[l]!, y: by0[l]!, width: bx1[l]! - bx0[l]! + 1, height: by1[l]! - by0[l]! + 1 },
      centroid: [cx, cy],
      orientationDeg: orientationDeg(mu20, mu02, mu11),
      majorAxisPx: 4 * Math.sqrt((mu20 + mu02) / 2 + common),
      minorAxisPx: 4 * Math.sqrt(Math.max(0, (mu20 + mu02) / 2 - common)),
      feretMaxPx: f.maxPx,
      feretMinPx: f.minPx,
      meanValue: values ? vs[l]! / a : 0,
      maxValue: values ? vm[l]! : 0,
      contour,
    });
  }
  return { labels, regions };
}

// Moore neighbourhood, clockwise in image coordinates (y down) starting east.
const DX = [1, 1, 0, -1, -1, -1, 0, 1];
const DY = [0, 1, 1, 1, 0, -1, -1, -1];

/**
 * Moore-neighbour boundary tracing from the region's first pixel in raster order (its top-left boundary pixel),
 * stopping when the start pixel is re-entered in the same direction (Jacob's criterion).
 */
export function traceContour(labels: Int32Array, width: number, height: number, start: number, label: number): number[] {
  const sx = start % width;
  const sy = (start - sx) / width;
  const out = [sx, sy];
  const at = (x: number, y: number): boolean => x >= 0 && y >= 0 && x < width && y < height && labels[y * width + x] === label;
  // The pixel west of the first pixel in raster order is outside: begin searching from there (direction 4).
  let x = sx;
  let y = sy;
  let dir = 4;
  let firstMove = -1;
  const limit = 4 * width * height + 8;
  for (let steps = 0; steps < limit; steps++) {
    let found = -1;
    for (let k = 1; k <= 8; k++) {
      const d = (dir + k) % 8;
      if (at(x + DX[d]!, y + DY[d]!)) {
        found = d;
        break;
      }
    }
    if (found < 0) return out; // a single pixel
    if (x === sx && y === sy) {
      if (firstMove === found) break;
      if (firstMove < 0) firstMove = found;
    }
    x += DX[found]!;
    y += DY[found]!;
    // Next search starts just after the neighbour we came from (the backtrack direction rotated).
    dir = (found + 4) % 8;
    if (!(x === sx && y === sy)) out.push(x, y);
  }
  return out;
}

/** Convex hull (monotone chain) of flat [x, y, …] points; returns flat hull vertices, counter-clockwise. */
export function convexHull(points: ArrayLike<number>): number[] {
  const n = points.length / 2;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => points[2 * a]! - points[2 * b]! || points[2 * a + 1]! - points[2 * b + 1]!);
  const cross = (o: number, a: number, b: number): number =>
    (points[2 * a]! - points[2 * o]!) * (points[2 * b + 1]! - points[2 * o + 1]!) -
    (points[2 * a + 1]! - points[2 * o + 1]!) * (points[2 * b]! - points[2 * o]!);
  const lower: number[] = [];
  for (const i of idx) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, i) <= 0) lower.pop();
    lower.push(i);
  }
  const upper: number[] = [];
  for (let k = idx.length - 1; k >= 0; k--) {
    const i = idx[k]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, i) <= 0) upper.pop();
    upper.push(i);
  }
  const hull = lower.slice(0, -1).concat(upper.slice(0, -1));
  const uniq = hull.length ? hull : idx.slice(0, 1);
  const out: number[] = [];
  for (const i of uniq) out.push(points[2 * i]!, points[2 * i + 1]!);
  return out;
}

/**
 * Maximum and minimum Feret diameters (px) of pixel-centre boundary points, each extended by one pixel so a single
 * pixel measures 1 × 1 and a w-pixel-wide line measures w across.
 */
export function feret(contour: ArrayLike<number>): { maxPx: number; minPx: number } {
  const h = convexHull(contour);
  const m = h.length / 2;
  if (m <= 1) return { maxPx: 1, minPx: 1 };
  let max = 0;
  for (let i = 0; i < m; i++) {
    for (let j = i + 1; j < m; j++) {
      const dx = h[2 * i]! - h[2 * j]!;
      const dy = h[2 * i + 1]! - h[2 * j + 1]!;
      const d = Math.sqrt(dx * dx + dy * dy);
      if (d > max) max = d;
    }
  }
  if (m === 2) return { maxPx: max + 1, minPx: 1 };
  let min = Infinity;
  for (let i = 0; i < m; i++) {
    const j = (i + 1) % m;
    const ex = h[2 * j]! - h[2 * i]!;
    const ey = h[2 * j + 1]! - h[2 * i + 1]!;
    const len = Math.sqrt(ex * ex + ey * ey);
    if (len === 0) continue;
    let far = 0;
    for (let k = 0; k < m; k++) {
      const d = Math.abs((h[2 * k]! - h[2 * i]!) * ey - (h[2 * k + 1]! - h[2 * i + 1]!) * ex) / len;
      if (d > far) far = d;
    }
    if (far < min) min = far;
  }
  return { maxPx: max + 1, minPx: (Number.isFinite(min) ? min : 0) + 1 };
}

/** Orientation (degrees in [0, 180), from +x towards +y) of the equivalent ellipse of central moments. */
export function orientationDeg(mu20: number, mu02: number, mu11: number): number {
  if (Math.abs(mu11) < 1e-12 && Math.abs(mu20 - mu02) < 1e-12) return 0;
  const deg = (0.5 * Math.atan2(2 * mu11, mu20 - mu02) * 180) / Math.PI;
  return ((deg % 180) + 180) % 180;
}
