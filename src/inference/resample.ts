/**
 * Resampling between frame pixels and a model's working resolution: k × k block means down (a model trained on
 * binned images sees binned frames), bilinear interpolation of probability planes back up.
 */

/** Block means of k × k pixels; the output is floor(w / k) × floor(h / k) (edge pixels that fill no block dropped). */
export function binFrame<T extends Uint8Array | Uint16Array>(src: T, width: number, height: number, k: number): { data: T; width: number; height: number } {
  const w = Math.floor(width / k);
  const h = Math.floor(height / k);
  const out = (src instanceof Uint8Array ? new Uint8Array(w * h) : new Uint16Array(w * h)) as T;
  const area = k * k;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let dy = 0; dy < k; dy++) {
        const row = (y * k + dy) * width + x * k;
        for (let dx = 0; dx < k; dx++) s += src[row + dx]!;
      }
      out[y * w + x] = Math.round(s / area);
    }
  }
  return { data: out, width: w, height: h };
}

/**
 * Bilinear upsampling of a plane of w × h (block centres of a k-binned frame) to W × H frame pixels: frame pixel x
 * sits at binned coordinate (x + 0.5) / k − 0.5, clamped to the plane.
 */
export function upsampleBilinear(src: Float32Array, w: number, h: number, W: number, H: number, k: number): Float32Array {
  const out = new Float32Array(W * H);
  const xs0 = new Int32Array(W);
  const xs1 = new Int32Array(W);
  const tx = new Float32Array(W);
  for (let x = 0; x < W; x++) {
    const f = Math.min(w - 1, Math.max(0, (x + 0.5) / k - 0.5));
    xs0[x] = Math.floor(f);
    xs1[x] = Math.min(w - 1, xs0[x]! + 1);
    tx[x] = f - xs0[x]!;
  }
  for (let y = 0; y < H; y++) {
    const f = Math.min(h - 1, Math.max(0, (y + 0.5) / k - 0.5));
    const y0 = Math.floor(f);
    const y1 = Math.min(h - 1, y0 + 1);
    const ty = f - y0;
    const r0 = y0 * w;
    const r1 = y1 * w;
    for (let x = 0; x < W; x++) {
      const a = src[r0 + xs0[x]!]! + (src[r0 + xs1[x]!]! - src[r0 + xs0[x]!]!) * tx[x]!;
      const b = src[r1 + xs0[x]!]! + (src[r1 + xs1[x]!]! - src[r1 + xs0[x]!]!) * tx[x]!;
      out[y * W + x] = a + (b - a) * ty;
    }
  }
  return out;
}
