/**
 * Shape measures of a region from its boundary: convex hull, maximum Feret diameter (the longest extent, as calipers
 * would measure it) and minimum Feret width (the narrowest caliper opening), plus the orientation of the equivalent
 * ellipse from second moments.
 */

/** Convex hull (monotone chain) of flat [x, y, …] points; returns flat hull vertices, counter-clockwise. */
export function convexHull(points: ArrayLike<number>): number[] {
  const n = points.length / 2;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => points[2 * a]! - points[2 * b]! || points[2 * a + 1]! - points[2 * b + 1]!);
  const cross = (o: number, a: number, b: number): number =>
    (points[2 * a]! - points[2 * o]!) * (points[2 * b + 1]! - points[2 * o + 1]!) - (points[2 * a + 1]! - points[2 * o + 1]!) * (points[2 * b]! - points[2 * o]!);
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
      const d = Math.hypot(h[2 * i]! - h[2 * j]!, h[2 * i + 1]! - h[2 * j + 1]!);
      if (d > max) max = d;
    }
  }
  if (m === 2) return { maxPx: max + 1, minPx: 1 };
  let min = Infinity;
  for (let i = 0; i < m; i++) {
    const j = (i + 1) % m;
    const ex = h[2 * j]! - h[2 * i]!;
    const ey = h[2 * j + 1]! - h[2 * i + 1]!;
    const len = Math.hypot(ex, ey);
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
