/** Polygon rasterisation (even-odd rule, pixel centres), for labelme annotations. */

/** Fills `poly` ([[x, y], ...] in pixel units, origin at the top-left corner of pixel (0, 0)) with `value`. */
export function fillPolygon(mask: Uint8Array, width: number, height: number, poly: ReadonlyArray<readonly [number, number]>, value: number): void {
  const n = poly.length;
  if (n < 3) return;
  let yMin = Infinity;
  let yMax = -Infinity;
  for (const [, y] of poly) {
    yMin = Math.min(yMin, y);
    yMax = Math.max(yMax, y);
  }
  const r0 = Math.max(0, Math.ceil(yMin - 0.5));
  const r1 = Math.min(height - 1, Math.ceil(yMax - 0.5) - 1);
  const xs: number[] = [];
  for (let r = r0; r <= r1; r++) {
    const yc = r + 0.5;
    xs.length = 0;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const [xi, yi] = poly[i]!;
      const [xj, yj] = poly[j]!;
      if (yi > yc !== yj > yc) xs.push(xi + ((yc - yi) * (xj - xi)) / (yj - yi));
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      // Pixel centres c + ½ with xs[k] ≤ c + ½ < xs[k + 1]: a centre exactly on the right edge is outside.
      const c0 = Math.max(0, Math.ceil(xs[k]! - 0.5));
      const c1 = Math.min(width - 1, Math.ceil(xs[k + 1]! - 0.5) - 1);
      if (c1 >= c0) mask.fill(value, r * width + c0, r * width + c1 + 1);
    }
  }
}
