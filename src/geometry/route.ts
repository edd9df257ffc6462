/**
 * Ordering zoom targets to minimise stage travel: nearest-neighbour tour from the start position, improved by 2-opt
 * (reversing segments while it shortens the path) and Or-opt moves (relocating single targets). The path is open: it
 * starts at `start` and need not return.
 *
 * The cost of a leg is the stage's move time for it, which for an XY stage moving both axes at once is governed by the
 * longer axis (Chebyshev-like) — `cost` defaults to that with equal axes.
 */
export type Point = [number, number];
export type LegCost = (a: Point, b: Point) => number;

export const chebyshev: LegCost = (a, b) => Math.max(Math.abs(a[0] - b[0]), Math.abs(a[1] - b[1]));
export const euclidean: LegCost = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1]);

export function pathLength(start: Point, pts: Point[], order: number[], cost: LegCost = chebyshev): number {
  let len = 0;
  let cur = start;
  for (const i of order) {
    len += cost(cur, pts[i]!);
    cur = pts[i]!;
  }
  return len;
}

export function planRoute(start: Point, pts: Point[], cost: LegCost = chebyshev, opts: { maxIterations?: number } = {}): number[] {
  const n = pts.length;
  if (n <= 1) return n === 1 ? [0] : [];
  // Nearest neighbour.
  const used = new Uint8Array(n);
  const order: number[] = [];
  let cur = start;
  for (let k = 0; k < n; k++) {
    let best = -1;
    let bestD = Infinity;
    for (let i = 0; i < n; i++) {
      if (used[i]) continue;
      const d = cost(cur, pts[i]!);
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    }
    used[best] = 1;
    order.push(best);
    cur = pts[best]!;
  }
  // Node sequence with the fixed start at position 0.
  const P = (k: number): Point => (k === 0 ? start : pts[order[k - 1]!]!);
  const maxIter = opts.maxIterations ?? 50;
  for (let iter = 0; iter < maxIter; iter++) {
    let improved = false;
    // 2-opt on the open path: reverse order[i..j].
    for (let i = 1; i < n; i++) {
      for (let j = i + 1; j <= n; j++) {
        const a = P(i - 1);
        const b = P(i);
        const c = P(j);
        const before = cost(a, b) + (j < n ? cost(c, P(j + 1)) : 0);
        const after = cost(a, c) + (j < n ? cost(b, P(j + 1)) : 0);
        if (after < before - 1e-9) {
          const seg = order.slice(i - 1, j).reverse();
          order.splice(i - 1, j - i + 1, ...seg);
          improved = true;
        }
      }
    }
    // Or-opt: move one target elsewhere.
    for (let i = 1; i <= n; i++) {
      const prev = P(i - 1);
      const node = P(i);
      const next = i < n ? P(i + 1) : null;
      const removeGain = cost(prev, node) + (next ? cost(node, next) : 0) - (next ? cost(prev, next) : 0);
      let bestJ = -1;
      let bestDelta = -1e-9;
      for (let j = 0; j <= n; j++) {
        if (j === i || j === i - 1) continue;
        const u = P(j);
        const v = j < n ? P(j + 1) : null;
        const insertCost = cost(u, node) + (v ? cost(node, v) : 0) - (v ? cost(u, v) : 0);
        const delta = insertCost - removeGain;
        if (delta < bestDelta) {
          bestDelta = delta;
          bestJ = j;
        }
      }
      if (bestJ >= 0) {
        const [moved] = order.splice(i - 1, 1);
        const at = bestJ > i ? bestJ - 1 : bestJ;
        order.splice(at, 0, moved!);
        improved = true;
      }
    }
    if (!improved) break;
  }
  return order;
}

/**
 * Serpentine raster of field centres covering a rectangle with fields of fovX × fovY overlapping by `overlap`
 * (fraction of the field): rows along x, alternating direction, the grid centred on the rectangle.
 */
export function serpentine(x0: number, y0: number, x1: number, y1: number, fovX: number, fovY: number, overlap: number): Point[] {
  const stepX = fovX * (1 - overlap);
  const stepY = fovY * (1 - overlap);
  const nx = Math.max(1, Math.ceil((x1 - x0 - fovX) / stepX - 1e-9) + 1);
  const ny = Math.max(1, Math.ceil((y1 - y0 - fovY) / stepY - 1e-9) + 1);
  const ox = (x0 + x1) / 2 - ((nx - 1) * stepX) / 2;
  const oy = (y0 + y1) / 2 - ((ny - 1) * stepY) / 2;
  const out: Point[] = [];
  for (let j = 0; j < ny; j++) {
    for (let k = 0; k < nx; k++) {
      const i = j % 2 === 0 ? k : nx - 1 - k;
      out.push([ox + i * stepX, oy + j * stepY]);
    }
  }
  return out;
}
