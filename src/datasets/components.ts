/**
 * Connected components of a class mask with region properties, in plain TypeScript. Used to derive ground-truth
 * objects from label masks (datasets, the twin's image-backed samples, evaluation). The runtime's post-processing
 * uses the native implementation; this one is the readable reference.
 */

export interface Region {
  /** Class value of the region's pixels. */
  value: number;
  area: number;
  /** [x, y, width, height] in pixels. */
  bbox: [number, number, number, number];
  centroid: [number, number];
  /** Angle of the major axis from +x towards +y (degrees, [0, 180)). */
  orientationDeg: number;
  majorAxisPx: number;
  minorAxisPx: number;
  /** Maximum caliper diameter (px), measured over 36 directions on pixel corners. */
  feretPx: number;
}

/** Labels 8-connected (or 4-connected) regions of equal non-zero value. Returns labels (0 = background) and regions. */
export function labelRegions(mask: Uint8Array, width: number, height: number, connectivity: 4 | 8 = 8): { labels: Int32Array; regions: Region[] } {
  const n = width * height;
  if (mask.length < n) throw new RangeError(`Expected a mask of ${n} pixels but received ${mask.length}`);
  const labels = new Int32Array(n);
  const parent: number[] = [0];
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
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const v = mask[i]!;
      if (v === 0) continue;
      let l = 0;
      const consider = (j: number): void => {
        if (mask[j] !== v) return;
        const lj = labels[j]!;
        l = l === 0 ? find(lj) : union(l, lj);
      };
      if (x > 0) consider(i - 1);
      if (y > 0) {
        consider(i - width);
        if (connectivity === 8) {
          if (x > 0) consider(i - width - 1);
          if (x < width - 1) consider(i - width + 1);
        }
      }
      if (l === 0) {
        l = parent.length;
        parent.push(l);
      }
      labels[i] = l;
    }
  }
  // Compact labels and accumulate moments.
  const remap = new Int32Array(parent.length);
  let count = 0;
  for (let l = 1; l < parent.length; l++) {
    const r = find(l);
    if (remap[r] === 0) remap[r] = ++count;
    remap[l] = remap[r]!;
  }
  const acc = Array.from({ length: count + 1 }, () => ({
    value: 0,
    area: 0,
    sx: 0,
    sy: 0,
    sxx: 0,
    syy: 0,
    sxy: 0,
    x0: Infinity,
    y0: Infinity,
    x1: -Infinity,
    y1: -Infinity,
    proj: new Float64Array(72).fill(NaN),
  }));
  const dirs = Array.from({ length: 36 }, (_, k) => [Math.cos((Math.PI * k) / 36), Math.sin((Math.PI * k) / 36)] as const);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (labels[i] === 0) continue;
      const l = remap[labels[i]!]!;
      labels[i] = l;
      const a = acc[l]!;
      a.value = mask[i]!;
      a.area++;
      const cx = x + 0.5;
      const cy = y + 0.5;
      a.sx += cx;
      a.sy += cy;
      a.sxx += cx * cx;
      a.syy += cy * cy;
      a.sxy += cx * cy;
      if (x < a.x0) a.x0 = x;
      if (y < a.y0) a.y0 = y;
      if (x > a.x1) a.x1 = x;
      if (y > a.y1) a.y1 = y;
      // Boundary pixels carry the extremes of every projection.
      const boundary =
        x === 0 || y === 0 || x === width - 1 || y === height - 1 || mask[i - 1] !== mask[i] || mask[i + 1] !== mask[i] || mask[i - width] !== mask[i] || mask[i + width] !== mask[i];
      if (!boundary) continue;
      for (let k = 0; k < 36; k++) {
        const [c, s] = dirs[k]!;
        for (const [ox, oy] of [
          [0, 0],
          [1, 0],
          [0, 1],
          [1, 1],
        ] as const) {
          const v = (x + ox) * c + (y + oy) * s;
          const lo = a.proj[2 * k]!;
          const hi = a.proj[2 * k + 1]!;
          if (!(v >= lo)) a.proj[2 * k] = v;
          if (!(v <= hi)) a.proj[2 * k + 1] = v;
        }
      }
    }
  }
  const regions: Region[] = [];
  for (let l = 1; l <= count; l++) {
    const a = acc[l]!;
    const mx = a.sx / a.area;
    const my = a.sy / a.area;
    // Central second moments, +1/12 per pixel for the pixel's own extent.
    const mxx = a.sxx / a.area - mx * mx + 1 / 12;
    const myy = a.syy / a.area - my * my + 1 / 12;
    const mxy = a.sxy / a.area - mx * my;
    const common = Math.sqrt(((mxx - myy) / 2) ** 2 + mxy * mxy);
    const l1 = (mxx + myy) / 2 + common;
    const l2 = Math.max(0, (mxx + myy) / 2 - common);
    let feret = 0;
    for (let k = 0; k < 36; k++) feret = Math.max(feret, a.proj[2 * k + 1]! - a.proj[2 * k]!);
    let ang = (0.5 * Math.atan2(2 * mxy, mxx - myy) * 180) / Math.PI;
    ang = ((ang % 180) + 180) % 180;
    regions.push({
      value: a.value,
      area: a.area,
      bbox: [a.x0, a.y0, a.x1 - a.x0 + 1, a.y1 - a.y0 + 1],
      centroid: [mx, my],
      orientationDeg: ang,
      majorAxisPx: 4 * Math.sqrt(l1),
      minorAxisPx: 4 * Math.sqrt(l2),
      feretPx: feret,
    });
  }
  return { labels, regions };
}
