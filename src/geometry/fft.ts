/** Radix-2 complex FFT (in place) and phase correlation for measuring image shifts. */

export function fft(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if ((n & (n - 1)) !== 0) throw new RangeError(`FFT length must be a power of two but is ${n}`);
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j]!, re[i]!];
      [im[i], im[j]] = [im[j]!, im[i]!];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = ((inverse ? 2 : -2) * Math.PI) / len;
    const wr = Math.cos(ang);
    const wi = Math.sin(ang);
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const a = i + k;
        const b = a + len / 2;
        const tr = re[b]! * cr - im[b]! * ci;
        const ti = re[b]! * ci + im[b]! * cr;
        re[b] = re[a]! - tr;
        im[b] = im[a]! - ti;
        re[a]! += tr;
        im[a]! += ti;
        const nr = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = nr;
      }
    }
  }
  if (inverse) {
    for (let i = 0; i < n; i++) {
      re[i]! /= n;
      im[i]! /= n;
    }
  }
}

export function fft2(re: Float64Array, im: Float64Array, n: number, inverse = false): void {
  const rr = new Float64Array(n);
  const ri = new Float64Array(n);
  for (let y = 0; y < n; y++) {
    const row = re.subarray(y * n, y * n + n);
    const rowI = im.subarray(y * n, y * n + n);
    fft(row, rowI, inverse);
  }
  for (let x = 0; x < n; x++) {
    for (let y = 0; y < n; y++) {
      rr[y] = re[y * n + x]!;
      ri[y] = im[y * n + x]!;
    }
    fft(rr, ri, inverse);
    for (let y = 0; y < n; y++) {
      re[y * n + x] = rr[y]!;
      im[y * n + x] = ri[y]!;
    }
  }
}

/**
 * Shift (dx, dy) in pixels such that image `b` ≈ image `a` translated by (dx, dy), i.e. content at (x, y) in `a`
 * appears at (x + dx, y + dy) in `b`. Both are n × n (n a power of two), given as grey values. Sub-pixel by a
 * parabolic fit around the correlation peak. `peak` (0 … 1) tells how clear the match is.
 */
export function phaseCorrelate(a: Float64Array, b: Float64Array, n: number): { dx: number; dy: number; peak: number } {
  const window = hann(n);
  const prep = (img: Float64Array): [Float64Array, Float64Array] => {
    let mean = 0;
    for (const v of img) mean += v;
    mean /= img.length;
    const re = new Float64Array(n * n);
    for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) re[y * n + x] = (img[y * n + x]! - mean) * window[x]! * window[y]!;
    const im = new Float64Array(n * n);
    fft2(re, im, n);
    return [re, im];
  };
  const [ar, ai] = prep(a);
  const [br, bi] = prep(b);
  const re = new Float64Array(n * n);
  const im = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) {
    // conj(A)·B: its inverse peaks at the shift of b relative to a.
    const r = ar[i]! * br[i]! + ai[i]! * bi[i]!;
    const m = ar[i]! * bi[i]! - ai[i]! * br[i]!;
    const mag = Math.hypot(r, m) + 1e-12;
    re[i] = r / mag;
    im[i] = m / mag;
  }
  fft2(re, im, n, true);
  let k = 0;
  for (let i = 1; i < n * n; i++) if (re[i]! > re[k]!) k = i;
  const px = k % n;
  const py = Math.floor(k / n);
  const at = (x: number, y: number): number => re[((y + n) % n) * n + ((x + n) % n)]!;
  const sub = (m1: number, c: number, p1: number): number => {
    const d = m1 - 2 * c + p1;
    return d < 0 ? (0.5 * (m1 - p1)) / d : 0;
  };
  let dx = px + sub(at(px - 1, py), at(px, py), at(px + 1, py));
  let dy = py + sub(at(px, py - 1), at(px, py), at(px, py + 1));
  if (dx > n / 2) dx -= n;
  if (dy > n / 2) dy -= n;
  return { dx, dy, peak: re[k]! };
}

function hann(n: number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1));
  return w;
}

/** An n × n crop (n a power of two) of a frame around (cx, cy), optionally binned by `bin`. */
export function crop(data: ArrayLike<number>, width: number, height: number, cx: number, cy: number, n: number, bin = 1): Float64Array {
  const out = new Float64Array(n * n);
  const x0 = Math.round(cx - (n * bin) / 2);
  const y0 = Math.round(cy - (n * bin) / 2);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      let s = 0;
      for (let j = 0; j < bin; j++) {
        const yy = Math.min(height - 1, Math.max(0, y0 + y * bin + j));
        for (let i = 0; i < bin; i++) {
          const xx = Math.min(width - 1, Math.max(0, x0 + x * bin + i));
          s += data[yy * width + xx]!;
        }
      }
      out[y * n + x] = s / (bin * bin);
    }
  }
  return out;
}
