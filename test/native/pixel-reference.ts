/**
 * Straightforward JS implementations of the native pixel work, written for clarity rather than speed: the tests
 * compare the addon against these on random and edge-case inputs.
 */
type Px = Uint8Array | Uint16Array | Float32Array;

import { seededRandom as rng } from '../support/cli.js';

/** The suite's seeded PRNG (mulberry32). */
export { rng };

export function randomImage<T extends Px>(ctor: new (n: number) => T, w: number, h: number, seed: number, max: number): T {
  const r = rng(seed);
  const a = new ctor(w * h);
  for (let i = 0; i < a.length; i++) a[i] = ctor === (Float32Array as unknown) ? r() * max : Math.floor(r() * (max + 1));
  return a;
}

export function randomMask(w: number, h: number, seed: number, density = 0.45): Uint8Array {
  const r = rng(seed);
  const m = new Uint8Array(w * h);
  for (let i = 0; i < m.length; i++) m[i] = r() < density ? 1 + Math.floor(r() * 200) : 0;
  return m;
}

const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

export function axisPositions(length: number, tile: number, overlap: number): number[] {
  if (length <= tile) return [0];
  const stride = tile - overlap;
  const out: number[] = [];
  for (let i = 0; i * stride < length - overlap; i++) {
    const p = Math.min(i * stride, length - tile);
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

export interface RefPreprocess {
  dark?: number | Px;
  flat?: Float32Array;
  tile?: number;
  overlap?: number;
  binning?: number;
  channels?: number;
  scale?: number;
  mean?: number | number[];
  std?: number | number[];
  pad?: number;
}

export function preprocessRef(frame: Px, w: number, h: number, o: RefPreprocess): { out: Float32Array; origins: number[] } {
  const T = o.tile ?? 256;
  const B = o.binning ?? 1;
  const C = o.channels ?? 1;
  const scale = o.scale ?? 1;
  const per = (v: number | number[] | undefined, d: number): number[] => (Array.isArray(v) ? v : Array.from({ length: C }, () => v ?? d));
  const mean = per(o.mean, 0);
  const std = per(o.std, 1);
  const corrected = (x: number, y: number): number => {
    const i = y * w + x;
    const d = o.dark === undefined ? 0 : typeof o.dark === 'number' ? o.dark : o.dark[i]!;
    return (frame[i]! - d) * (o.flat ? o.flat[i]! : 1);
  };
  const bw = Math.floor(w / B);
  const bh = Math.floor(h / B);
  const binned = (X: number, Y: number): number => {
    let s = 0;
    for (let dy = 0; dy < B; dy++) for (let dx = 0; dx < B; dx++) s += corrected(X * B + dx, Y * B + dy);
    return s / (B * B);
  };
  const xs = axisPositions(bw, T, o.overlap ?? 0);
  const ys = axisPositions(bh, T, o.overlap ?? 0);
  const out = new Float32Array(xs.length * ys.length * C * T * T);
  const origins: number[] = [];
  let t = 0;
  for (const y0 of ys) {
    for (const x0 of xs) {
      origins.push(x0 * B, y0 * B);
      for (let c = 0; c < C; c++) {
        for (let y = 0; y < T; y++) {
          for (let x = 0; x < T; x++) {
            const inside = x0 + x < bw && y0 + y < bh;
            out[((t * C + c) * T + y) * T + x] = inside ? (binned(x0 + x, y0 + y) * scale - mean[c]!) / std[c]! : (o.pad ?? 0);
          }
        }
      }
      t++;
    }
  }
  return { out, origins };
}

export function flatGainRef(flat: Px, dark: number | Px | undefined): { gain: Float32Array; mean: number } {
  const d = (i: number): number => (dark === undefined ? 0 : typeof dark === 'number' ? dark : dark[i]!);
  let sum = 0;
  let n = 0;
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i]! - d(i);
    if (v > 0) {
      sum += v;
      n++;
    }
  }
  const mean = sum / n;
  const gain = new Float32Array(flat.length);
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i]! - d(i);
    gain[i] = v > 0 ? mean / v : 0;
  }
  return { gain, mean };
}

export function medianRef(src: Px, w: number, h: number, r: number): number[] {
  const out: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const win: number[] = [];
      for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) win.push(src[clamp(y + dy, 0, h - 1) * w + clamp(x + dx, 0, w - 1)]!);
      win.sort((a, b) => a - b);
      out.push(win[win.length >> 1]!);
    }
  }
  return out;
}

export function gaussianRef(src: Px, w: number, h: number, sigma: number, radius = Math.max(1, Math.ceil(3 * sigma))): number[] {
  const k: number[] = [];
  let s = 0;
  for (let i = -radius; i <= radius; i++) s += Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = -radius; i <= radius; i++) k.push(Math.exp(-(i * i) / (2 * sigma * sigma)) / s);
  const tmp: number[] = [];
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let a = 0;
      for (let i = -radius; i <= radius; i++) a += k[i + radius]! * src[y * w + clamp(x + i, 0, w - 1)]!;
      tmp.push(a);
    }
  const out: number[] = [];
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let a = 0;
      for (let i = -radius; i <= radius; i++) a += k[i + radius]! * tmp[clamp(y + i, 0, h - 1) * w + x]!;
      out.push(a);
    }
  return out;
}

export function morphologyRef(mask: Uint8Array, w: number, h: number, op: string, shape: 'square' | 'disk', r: number): Uint8Array {
  const inElement = (dx: number, dy: number): boolean => (shape === 'square' ? true : dx * dx + dy * dy <= r * r);
  const pass = (m: Uint8Array, dilate: boolean): Uint8Array => {
    const out = new Uint8Array(w * h);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        let any = false;
        let all = true;
        for (let dy = -r; dy <= r; dy++)
          for (let dx = -r; dx <= r; dx++) {
            const xx = x + dx;
            const yy = y + dy;
            if (!inElement(dx, dy) || xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
            if (m[yy * w + xx]) any = true;
            else all = false;
          }
        out[y * w + x] = (dilate ? any : all) ? 1 : 0;
      }
    return out;
  };
  if (op === 'erode') return pass(mask, false);
  if (op === 'dilate') return pass(mask, true);
  if (op === 'open') return pass(pass(mask, false), true);
  return pass(pass(mask, true), false);
}

export function statisticsRef(src: Px, mask?: Uint8Array): { count: number; sum: number; min: number; max: number; mean: number; std: number } {
  const vals = Array.from(src).filter((_, i) => !mask || mask[i]);
  if (vals.length === 0) return { count: 0, sum: 0, min: 0, max: 0, mean: 0, std: 0 };
  const sum = vals.reduce((a, b) => a + b, 0);
  const mean = sum / vals.length;
  const std = Math.sqrt(vals.reduce((a, v) => a + (v - mean) * (v - mean), 0) / vals.length);
  return { count: vals.length, sum, min: Math.min(...vals), max: Math.max(...vals), mean, std };
}

export function otsuRef(src: Px, floatBins = 256): number {
  let hist: number[];
  let lo = 0;
  let width = 1;
  const isFloat = src instanceof Float32Array;
  if (!isFloat) {
    hist = new Array<number>(src instanceof Uint8Array ? 256 : 65536).fill(0);
    for (const v of src) hist[v]!++;
  } else {
    const mn = Math.min(...src);
    const mx = Math.max(...src);
    if (!(mx > mn)) return mn;
    hist = new Array<number>(floatBins).fill(0);
    lo = mn;
    width = (mx - mn) / floatBins;
    for (const v of src) hist[Math.min(floatBins - 1, Math.floor((v - mn) / width))]!++;
  }
  let total = 0;
  let sumAll = 0;
  hist.forEach((c, k) => {
    total += c;
    sumAll += k * c;
  });
  let w0 = 0;
  let sum0 = 0;
  let best = -1;
  let t = -1;
  let last = -1;
  for (let k = 0; k < hist.length; k++) {
    if (hist[k]! > 0) last = k;
    w0 += hist[k]!;
    sum0 += k * hist[k]!;
    if (w0 === 0) continue;
    const w1 = total - w0;
    if (w1 === 0) break;
    const d = sum0 / w0 - (sumAll - sum0) / w1;
    const between = w0 * w1 * d * d;
    if (between > best) {
      best = between;
      t = k;
    }
  }
  if (t < 0) t = last < 0 ? 0 : last;
  return isFloat ? lo + (t + 1) * width : t;
}

export function binRef(src: Px, w: number, f: number, ow: number, oh: number, integerOut: boolean): number[] {
  const out: number[] = [];
  for (let y = 0; y < oh; y++)
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let dy = 0; dy < f; dy++) for (let dx = 0; dx < f; dx++) s += src[(y * f + dy) * w + x * f + dx]!;
      out.push(integerOut ? Math.floor(s / (f * f) + 0.5) : s / (f * f));
    }
  return out;
}

export function resizeRef(src: Px, w: number, h: number, ow: number, oh: number, method: 'nearest' | 'bilinear'): number[] {
  const out: number[] = [];
  const sx = w / ow;
  const sy = h / oh;
  for (let y = 0; y < oh; y++)
    for (let x = 0; x < ow; x++) {
      if (method === 'nearest') {
        out.push(src[Math.min(Math.floor((y + 0.5) * sy), h - 1) * w + Math.min(Math.floor((x + 0.5) * sx), w - 1)]!);
      } else {
        const fx = clamp((x + 0.5) * sx - 0.5, 0, w - 1);
        const fy = clamp((y + 0.5) * sy - 0.5, 0, h - 1);
        const x0 = Math.floor(fx);
        const y0 = Math.floor(fy);
        const x1 = Math.min(x0 + 1, w - 1);
        const y1 = Math.min(y0 + 1, h - 1);
        const tx = fx - x0;
        const ty = fy - y0;
        const at = (xx: number, yy: number): number => src[yy * w + xx]!;
        const top = at(x0, y0) * (1 - tx) + at(x1, y0) * tx;
        const bottom = at(x0, y1) * (1 - tx) + at(x1, y1) * tx;
        out.push(top * (1 - ty) + bottom * ty);
      }
    }
  return out;
}

export function focusRef(src: Px, w: number, x0: number, y0: number, rw: number, rh: number): { varianceOfLaplacian: number; brenner: number; mean: number } {
  const at = (x: number, y: number): number => src[(y0 + y) * w + x0 + x]!;
  let sum = 0;
  for (let y = 0; y < rh; y++) for (let x = 0; x < rw; x++) sum += at(x, y);
  const lap: number[] = [];
  for (let y = 1; y < rh - 1; y++) for (let x = 1; x < rw - 1; x++) lap.push(at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4 * at(x, y));
  const lm = lap.reduce((a, b) => a + b, 0) / (lap.length || 1);
  const varianceOfLaplacian = lap.length ? lap.reduce((a, l) => a + (l - lm) * (l - lm), 0) / lap.length : 0;
  let bs = 0;
  for (let y = 0; y < rh; y++) for (let x = 0; x + 2 < rw; x++) bs += (at(x + 2, y) - at(x, y)) ** 2;
  return { varianceOfLaplacian, brenner: rw >= 3 ? bs / ((rw - 2) * rh) : 0, mean: sum / (rw * rh) };
}

/** Flood-fill labelling: labels in raster order of each component's first pixel. */
export function labelRef(mask: Uint8Array, w: number, h: number, connectivity: 4 | 8): { labels: Int32Array; count: number } {
  const labels = new Int32Array(w * h);
  let count = 0;
  const nbs =
    connectivity === 4
      ? [
          [1, 0],
          [-1, 0],
          [0, 1],
          [0, -1],
        ]
      : [
          [1, 0],
          [-1, 0],
          [0, 1],
          [0, -1],
          [1, 1],
          [1, -1],
          [-1, 1],
          [-1, -1],
        ];
  for (let i = 0; i < w * h; i++) {
    if (!mask[i] || labels[i]) continue;
    labels[i] = ++count;
    const stack = [i];
    while (stack.length) {
      const p = stack.pop()!;
      const x = p % w;
      const y = (p - x) / w;
      for (const [dx, dy] of nbs) {
        const xx = x + dx!;
        const yy = y + dy!;
        if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
        const q = yy * w + xx;
        if (mask[q] && !labels[q]) {
          labels[q] = count;
          stack.push(q);
        }
      }
    }
  }
  return { labels, count };
}

export function regionPropsRef(labels: Int32Array, w: number, label: number, values?: Float32Array) {
  const xs: number[] = [];
  const ys: number[] = [];
  const vs: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== label) continue;
    xs.push(i % w);
    ys.push(Math.floor(i / w));
    if (values) vs.push(values[i]!);
  }
  const n = xs.length;
  const cx = xs.reduce((a, b) => a + b, 0) / n;
  const cy = ys.reduce((a, b) => a + b, 0) / n;
  let mu20 = 0;
  let mu02 = 0;
  let mu11 = 0;
  for (let k = 0; k < n; k++) {
    mu20 += (xs[k]! - cx) ** 2 / n;
    mu02 += (ys[k]! - cy) ** 2 / n;
    mu11 += ((xs[k]! - cx) * (ys[k]! - cy)) / n;
  }
  const common = Math.sqrt((mu20 - mu02) ** 2 / 4 + mu11 ** 2);
  const l1 = (mu20 + mu02) / 2 + common;
  const l2 = Math.max(0, (mu20 + mu02) / 2 - common);
  return {
    area: n,
    bbox: { x: Math.min(...xs), y: Math.min(...ys), width: Math.max(...xs) - Math.min(...xs) + 1, height: Math.max(...ys) - Math.min(...ys) + 1 },
    centroid: { x: cx, y: cy },
    majorAxis: 4 * Math.sqrt(l1),
    minorAxis: 4 * Math.sqrt(l2),
    eccentricity: l1 > 0 ? Math.sqrt(1 - l2 / l1) : 0,
    orientation: 0.5 * Math.atan2(2 * mu11, mu20 - mu02),
    valueMean: values ? vs.reduce((a, b) => a + b, 0) / n : undefined,
    valueMax: values ? Math.max(...vs) : undefined,
  };
}

/** Region pixels that touch (4-neighbourhood) background connected to the outside of the image. */
export function outerBoundaryRef(labels: Int32Array, w: number, h: number, label: number): Set<string> {
  // Background = everything not in this region; the exterior is the background 4-connected to a frame around the image.
  const W = w + 2;
  const H = h + 2;
  const inRegion = (x: number, y: number): boolean => x >= 0 && y >= 0 && x < w && y < h && labels[y * w + x] === label;
  const exterior = new Uint8Array(W * H);
  const stack = [0];
  exterior[0] = 1;
  while (stack.length) {
    const p = stack.pop()!;
    const x = p % W;
    const y = (p - x) / W;
    for (const [dx, dy] of [
      [1, 0],
      [-1, 0],
      [0, 1],
      [0, -1],
    ]) {
      const xx = x + dx!;
      const yy = y + dy!;
      if (xx < 0 || yy < 0 || xx >= W || yy >= H) continue;
      const q = yy * W + xx;
      if (!exterior[q] && !inRegion(xx - 1, yy - 1)) {
        exterior[q] = 1;
        stack.push(q);
      }
    }
  }
  const out = new Set<string>();
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      if (!inRegion(x, y)) continue;
      for (const [dx, dy] of [
        [1, 0],
        [-1, 0],
        [0, 1],
        [0, -1],
      ]) {
        if (exterior[(y + dy! + 1) * W + (x + dx! + 1)]) out.add(`${x},${y}`);
      }
    }
  return out;
}

export function contourLength(c: Int32Array): number {
  const n = c.length / 2;
  if (n < 2) return 0;
  let len = 0;
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    const dx = c[2 * j]! - c[2 * i]!;
    const dy = c[2 * j + 1]! - c[2 * i + 1]!;
    len += dx !== 0 && dy !== 0 ? Math.SQRT2 : 1;
  }
  return len;
}
