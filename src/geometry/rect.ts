/** Axis-aligned rectangles in stage µm: [x0, y0, x1, y1] with x0 ≤ x1, y0 ≤ y1. */
export type Rect = [number, number, number, number];

export function area(r: Rect): number {
  return Math.max(0, r[2] - r[0]) * Math.max(0, r[3] - r[1]);
}

export function intersection(a: Rect, b: Rect): number {
  return area([Math.max(a[0], b[0]), Math.max(a[1], b[1]), Math.min(a[2], b[2]), Math.min(a[3], b[3])]);
}

export function iou(a: Rect, b: Rect): number {
  const i = intersection(a, b);
  const u = area(a) + area(b) - i;
  return u > 0 ? i / u : 0;
}

export function union(a: Rect, b: Rect): Rect {
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];
}

export function expand(r: Rect, by: number): Rect {
  return [r[0] - by, r[1] - by, r[2] + by, r[3] + by];
}

export function centre(r: Rect): [number, number] {
  return [(r[0] + r[2]) / 2, (r[1] + r[3]) / 2];
}

export function contains(r: Rect, x: number, y: number): boolean {
  return x >= r[0] && x <= r[2] && y >= r[1] && y <= r[3];
}

/** Gap between two rectangles (0 when they touch or overlap). */
export function gap(a: Rect, b: Rect): number {
  const dx = Math.max(0, Math.max(a[0], b[0]) - Math.min(a[2], b[2]));
  const dy = Math.max(0, Math.max(a[1], b[1]) - Math.min(a[3], b[3]));
  return Math.hypot(dx, dy);
}

export interface Scored {
  rect: Rect;
  score: number;
}

/**
 * Merges detections of the same object seen in overlapping tiles: boxes closer than `joinUm` (or overlapping) are
 * joined into their union, keeping the highest score. Transitive (single-linkage), order-independent.
 */
export function mergeBoxes<T extends Scored>(items: T[], joinUm: number, combine: (a: T, b: T, rect: Rect) => T): T[] {
  const parent = items.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!;
      i = parent[i]!;
    }
    return i;
  };
  // Sort by x0 so each box only meets the ones that can reach it.
  const order = items.map((_, i) => i).sort((a, b) => items[a]!.rect[0] - items[b]!.rect[0]);
  for (let oi = 0; oi < order.length; oi++) {
    const i = order[oi]!;
    const ri = items[i]!.rect;
    for (let oj = oi + 1; oj < order.length; oj++) {
      const j = order[oj]!;
      const rj = items[j]!.rect;
      if (rj[0] > ri[2] + joinUm) break;
      if (gap(ri, rj) <= joinUm) parent[find(i)] = find(j);
    }
  }
  const groups = new Map<number, T>();
  for (const i of order) {
    const root = find(i);
    const cur = groups.get(root);
    const it = items[i]!;
    groups.set(root, cur ? combine(cur, it, union(cur.rect, it.rect)) : it);
  }
  return [...groups.values()];
}
