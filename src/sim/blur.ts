/**
 * Separable Gaussian blur on float images, in place. Small sigmas use an exact kernel; larger ones three box passes
 * (whose variance matches the Gaussian's), which costs the same whatever the sigma — a badly defocused 2048² field is
 * as cheap to render as a sharp one.
 */

export function gaussianBlur(img: Float32Array, w: number, h: number, sigma: number, scratch?: Float32Array): void {
  if (!(sigma > 0.2)) return;
  const tmp = scratch && scratch.length >= w * h ? scratch : new Float32Array(w * h);
  if (sigma < 2.5) {
    const k = gaussianKernel(sigma);
    convolveRows(img, tmp, w, h, k);
    convolveCols(tmp, img, w, h, k);
    return;
  }
  for (const r of boxRadii(sigma, 3)) {
    boxRows(img, tmp, w, h, r);
    boxCols(tmp, img, w, h, r);
  }
}

/** Box blur along one direction only (motion blur of a frame exposed while the stage moved). */
export function motionBlur(img: Float32Array, w: number, h: number, lengthPx: number, horizontal: boolean): void {
  const r = Math.round(lengthPx / 2);
  if (r < 1) return;
  const tmp = new Float32Array(w * h);
  if (horizontal) {
    boxRows(img, tmp, w, h, r);
    img.set(tmp);
  } else {
    boxCols(img, tmp, w, h, r);
    img.set(tmp);
  }
}

function gaussianKernel(sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float32Array(2 * r + 1);
  let s = 0;
  for (let i = -r; i <= r; i++) s += k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i]! /= s;
  return k;
}

/** Radii of n box filters whose combined variance equals sigma² (Kovesi's "ideal" box widths). */
export function boxRadii(sigma: number, n: number): number[] {
  const wIdeal = Math.sqrt((12 * sigma * sigma) / n + 1);
  let wl = Math.floor(wIdeal);
  if (wl % 2 === 0) wl--;
  const wu = wl + 2;
  const mIdeal = (12 * sigma * sigma - n * wl * wl - 4 * n * wl - 3 * n) / (-4 * wl - 4);
  const m = Math.round(mIdeal);
  const radii: number[] = [];
  for (let i = 0; i < n; i++) radii.push(((i < m ? wl : wu) - 1) / 2);
  return radii;
}

function convolveRows(src: Float32Array, dst: Float32Array, w: number, h: number, k: Float32Array): void {
  const r = (k.length - 1) / 2;
  const n = k.length;
  for (let y = 0; y < h; y++) {
    const o = y * w;
    for (let x = 0; x < w; x++) {
      let s = 0;
      if (x >= r && x + r < w) {
        const b = o + x - r;
        for (let i = 0; i < n; i++) s += src[b + i]! * k[i]!;
      } else {
        for (let i = -r; i <= r; i++) {
          let xx = x + i;
          xx = xx < 0 ? 0 : xx >= w ? w - 1 : xx;
          s += src[o + xx]! * k[i + r]!;
        }
      }
      dst[o + x] = s;
    }
  }
}

function convolveCols(src: Float32Array, dst: Float32Array, w: number, h: number, k: Float32Array): void {
  const r = (k.length - 1) / 2;
  for (let y = 0; y < h; y++) {
    const o = y * w;
    dst.fill(0, o, o + w);
    for (let i = -r; i <= r; i++) {
      let yy = y + i;
      yy = yy < 0 ? 0 : yy >= h ? h - 1 : yy;
      const oo = yy * w;
      const kv = k[i + r]!;
      for (let x = 0; x < w; x++) dst[o + x]! += src[oo + x]! * kv;
    }
  }
}

/** Running-sum box filter of radius r along rows, edges clamped. */
function boxRows(src: Float32Array, dst: Float32Array, w: number, h: number, r: number): void {
  const inv = 1 / (2 * r + 1);
  for (let y = 0; y < h; y++) {
    const o = y * w;
    const first = src[o]!;
    const last = src[o + w - 1]!;
    let acc = r * first;
    for (let i = 0; i < r; i++) acc += src[o + Math.min(i, w - 1)]!;
    for (let x = 0; x < w; x++) {
      const add = x + r < w ? src[o + x + r]! : last;
      acc += add;
      dst[o + x] = acc * inv;
      const sub = x - r >= 0 ? src[o + x - r]! : first;
      acc -= sub;
    }
  }
}

function boxCols(src: Float32Array, dst: Float32Array, w: number, h: number, r: number): void {
  const inv = 1 / (2 * r + 1);
  const acc = new Float64Array(w);
  for (let x = 0; x < w; x++) acc[x] = r * src[x]!;
  for (let i = 0; i < r; i++) {
    const o = Math.min(i, h - 1) * w;
    for (let x = 0; x < w; x++) acc[x]! += src[o + x]!;
  }
  const lastRow = (h - 1) * w;
  for (let y = 0; y < h; y++) {
    const addRow = y + r < h ? (y + r) * w : lastRow;
    const subRow = y - r >= 0 ? (y - r) * w : 0;
    const o = y * w;
    for (let x = 0; x < w; x++) {
      acc[x]! += src[addRow + x]!;
      dst[o + x] = acc[x]! * inv;
      acc[x]! -= src[subRow + x]!;
    }
  }
}
