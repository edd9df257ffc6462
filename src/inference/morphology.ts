/**
 * Image operations of the classical baseline: local median background, Otsu threshold, robust noise estimate and
 * binary morphology with square structuring elements (separable, O(pixels) for any radius).
 */

/**
 * Local median background: the median of a (2r+1)² window (every second pixel of it) on a grid of nodes `step` apart,
 * bilinearly interpolated in between. Unlike a mean, a defect smaller than half the window does not pull the
 * background towards itself, so no halo of the opposite polarity appears around it.
 */
export function medianBackground(src: Float32Array, w: number, h: number, r: number): Float32Array {
  const step = Math.max(2, Math.floor(r / 2));
  const gw = Math.ceil((w - 1) / step) + 1;
  const gh = Math.ceil((h - 1) / step) + 1;
  const grid = new Float32Array(gw * gh);
  const buf = new Float32Array((r + 1) * (r + 1) * 4 + 4);
  for (let gy = 0; gy < gh; gy++) {
    const cy = Math.min(h - 1, gy * step);
    for (let gx = 0; gx < gw; gx++) {
      const cx = Math.min(w - 1, gx * step);
      let n = 0;
      for (let y = Math.max(0, cy - r); y <= Math.min(h - 1, cy + r); y += 2) {
        for (let x = Math.max(0, cx - r); x <= Math.min(w - 1, cx + r); x += 2) buf[n++] = src[y * w + x]!;
      }
      grid[gy * gw + gx] = quickselect(buf, n, n >> 1);
    }
  }
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const fy = y / step;
    const y0 = Math.min(gh - 1, Math.floor(fy));
    const y1 = Math.min(gh - 1, y0 + 1);
    const ty = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = x / step;
      const x0 = Math.min(gw - 1, Math.floor(fx));
      const x1 = Math.min(gw - 1, x0 + 1);
      const tx = fx - x0;
      const a = grid[y0 * gw + x0]! + (grid[y0 * gw + x1]! - grid[y0 * gw + x0]!) * tx;
      const b = grid[y1 * gw + x0]! + (grid[y1 * gw + x1]! - grid[y1 * gw + x0]!) * tx;
      out[y * w + x] = a + (b - a) * ty;
    }
  }
  return out;
}

/** k-th smallest of the first n values (Hoare's selection; reorders them). */
function quickselect(a: Float32Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}

/** Otsu's threshold of values in [0, 1] (256 bins): the split maximising between-class variance. */
export function otsu(src: Float32Array): number {
  const hist = new Float64Array(256);
  for (let i = 0; i < src.length; i++) hist[Math.min(255, Math.max(0, Math.floor(src[i]! * 256)))]++;
  const total = src.length;
  let sum = 0;
  for (let i = 0; i < 256; i++) sum += i * hist[i]!;
  let wB = 0;
  let sumB = 0;
  let best = 0;
  let bestT = 128;
  for (let t = 0; t < 256; t++) {
    wB += hist[t]!;
    if (wB === 0) continue;
    const wF = total - wB;
    if (wF === 0) break;
    sumB += t * hist[t]!;
    const mB = sumB / wB;
    const mF = (sum - sumB) / wF;
    const between = wB * wF * (mB - mF) * (mB - mF);
    if (between > best) {
      best = between;
      bestT = t;
    }
  }
  return (bestT + 1) / 256;
}

/** 1.4826 × median absolute value of a (subsampled) signal: its noise σ, robust to the defects in it. */
export function robustSigma(d: Float32Array, step = 7): number {
  const s: number[] = [];
  for (let i = 0; i < d.length; i += step) s.push(Math.abs(d[i]!));
  s.sort((a, b) => a - b);
  const med = s.length ? s[Math.floor(s.length / 2)]! : 0;
  return Math.max(1e-4, 1.4826 * med);
}

function pass(src: Uint8Array, w: number, h: number, r: number, horizontal: boolean, dilate: boolean): Uint8Array {
  const out = new Uint8Array(w * h);
  const len = horizontal ? w : h;
  const lines = horizontal ? h : w;
  const step = horizontal ? 1 : w;
  const lineStep = horizontal ? w : 1;
  for (let l = 0; l < lines; l++) {
    const base = l * lineStep;
    // Count of set pixels in the window [i − r, i + r] (edges: the window is clipped; erosion treats outside as set
    // so objects touching the frame edge are not eaten from outside).
    let count = 0;
    for (let i = 0; i < Math.min(len, r); i++) count += src[base + i * step]!;
    for (let i = 0; i < len; i++) {
      const add = i + r;
      if (add < len) count += src[base + add * step]!;
      const drop = i - r - 1;
      if (drop >= 0) count -= src[base + drop * step]!;
      const lo = Math.max(0, i - r);
      const hi = Math.min(len - 1, i + r);
      const n = hi - lo + 1;
      out[base + i * step] = dilate ? (count > 0 ? 1 : 0) : count === n ? 1 : 0;
    }
  }
  return out;
}

export function dilate(src: Uint8Array, w: number, h: number, r: number): Uint8Array {
  if (r <= 0) return src.slice();
  return pass(pass(src, w, h, r, true, true), w, h, r, false, true);
}

export function erode(src: Uint8Array, w: number, h: number, r: number): Uint8Array {
  if (r <= 0) return src.slice();
  return pass(pass(src, w, h, r, true, false), w, h, r, false, false);
}

/**
 * Closing (bridges gaps narrower than 2r+1) on a canvas padded by r with background, so what the dilation pushed
 * towards the frame edge is eroded back as it would be inside the frame.
 */
export function close(src: Uint8Array, w: number, h: number, r: number): Uint8Array {
  if (r <= 0) return src.slice();
  const W = w + 2 * r;
  const H = h + 2 * r;
  const pad = new Uint8Array(W * H);
  for (let y = 0; y < h; y++) pad.set(src.subarray(y * w, (y + 1) * w), (y + r) * W + r);
  const c = erode(dilate(pad, W, H, r), W, H, r);
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) out.set(c.subarray((y + r) * W + r, (y + r) * W + r + w), y * w);
  return out;
}

/** Opening (removes specks narrower than 2r+1) then closing (bridges gaps narrower than 2r+1). */
export function openClose(src: Uint8Array, w: number, h: number, openR: number, closeR: number): Uint8Array {
  let m = openR > 0 ? dilate(erode(src, w, h, openR), w, h, openR) : src;
  if (closeR > 0) m = close(m, w, h, closeR);
  return m;
}
