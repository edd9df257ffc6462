/**
 * Connected components with region properties — the JS implementation behind the same signature as the native
 * addon's `connectedComponents(mask, w, h, { connectivity, values })`, so post-processing swaps one for the other in
 * one place (src/inference/pixel-ops.ts).
 *
 * Pixels belong to the same component when they touch (4- or 8-connectivity) and carry the same non-zero mask value;
 * value 0 is background. Labels are 1-based in raster order of each component's first pixel.
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
  /** Bounds in pixels: [x0, y0, x1, y1), x1/y1 exclusive. */
  bbox: [number, number, number, number];
  /** Centroid (column, row) of pixel centres. */
  centroid: [number, number];
  /** Central second moments (px²) of pixel centres, normalised by area. */
  mu20: number;
  mu02: number;
  mu11: number;
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
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = row + x;
      const v = mask[i]!;
      if (v === 0) continue;
      let l = 0;
      const join = (j: number): void => {
        if (mask[j] !== v) return;
        const lj = labels[j]!;
        l = l === 0 ? find(lj) : union(l, lj);
      };
      if (x > 0) join(i - 1);
      if (y > 0) {
        join(i - width);
        if (eight) {
          if (x > 0) join(i - width - 1);
          if (x < width - 1) join(i - width + 1);
        }
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
  // Final labels in raster order of first appearance; accumulate statistics.
  const remap = new Int32Array(next);
  const stats: Array<{ v: number; a: number; sx: number; sy: number; sxx: number; syy: number; sxy: number; x0: number; y0: number; x1: number; y1: number; vs: number; vm: number; first: number }> = [];
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
        l = remap[root] = stats.length + 1;
        stats.push({ v: mask[i]!, a: 0, sx: 0, sy: 0, sxx: 0, syy: 0, sxy: 0, x0: x, y0: y, x1: x, y1: y, vs: 0, vm: -Infinity, first: i });
      }
      labels[i] = l;
      const s = stats[l - 1]!;
      s.a++;
      s.sx += x;
      s.sy += y;
      s.sxx += x * x;
      s.syy += y * y;
      s.sxy += x * y;
      if (x < s.x0) s.x0 = x;
      if (x > s.x1) s.x1 = x;
      if (y > s.y1) s.y1 = y;
      if (values) {
        const val = values[i]!;
        s.vs += val;
        if (val > s.vm) s.vm = val;
      }
    }
  }
  const regions: Region[] = stats.map((s, k) => {
    const cx = s.sx / s.a;
    const cy = s.sy / s.a;
    return {
      label: k + 1,
      value: s.v,
      area: s.a,
      bbox: [s.x0, s.y0, s.x1 + 1, s.y1 + 1],
      centroid: [cx, cy],
      mu20: s.sxx / s.a - cx * cx,
      mu02: s.syy / s.a - cy * cy,
      mu11: s.sxy / s.a - cx * cy,
      meanValue: values ? s.vs / s.a : 0,
      maxValue: values ? s.vm : 0,
      contour: traceContour(labels, width, height, s.first, k + 1),
    };
  });
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
