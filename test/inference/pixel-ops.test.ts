import { describe, expect, it } from 'vitest';
import { hasNativeAddon } from '../../src/native/binding.js';
import { jsPixelOps, nativePixelOps, pixelOps } from '../../src/inference/pixel-ops.js';

// The native addon is built by scripts/bootstrap on every machine that runs the tests; the JS implementations are the
// reference the native ones must agree with.
describe('pixel ops: native against the JS reference', () => {
  it('uses the native addon when it is built', () => {
    expect(hasNativeAddon()).toBe(true);
    expect(pixelOps().kind).toBe('native');
  });

  it('tile the same frame into the same grid and the same normalised values', async () => {
    for (const [w, h, binning, bits] of [
      [600, 450, 1, 12],
      [700, 520, 2, 16],
      [200, 120, 1, 8],
    ] as const) {
      const frame = bits === 8 ? new Uint8Array(w * h) : new Uint16Array(w * h);
      const max = (1 << bits) - 1;
      for (let i = 0; i < frame.length; i++) frame[i] = (i * 7919) % (max + 1);
      const o = { tile: 256, overlap: 32, multiple: 256, binning, bitDepth: bits, mean: 0.4, std: 0.2 };
      const a = await jsPixelOps.tileFrame(frame, w, h, o);
      const b = await nativePixelOps.tileFrame(frame, w, h, o);
      expect([b.width, b.height]).toEqual([a.width, a.height]);
      expect(b.grid.xs.length).toBe(a.grid.xs.length);
      expect(b.grid.ys.length).toBe(a.grid.ys.length);
      // Both grids start at 0 and end flush with the (binned) frame edge; compare the first tile's content.
      const per = 256 * 256;
      const vw = Math.min(256, a.width);
      const vh = Math.min(256, a.height);
      let worst = 0;
      for (let y = 0; y < vh; y++) for (let x = 0; x < vw; x++) worst = Math.max(worst, Math.abs(a.tensor[y * 256 + x]! - b.tensor[y * 256 + x]!));
      expect(worst).toBeLessThan(binning > 1 ? 0.02 : 1e-4);
      expect(b.tensor.length).toBe(b.grid.tiles.length * per);
    }
  });

  it('find the same regions with the same properties, classes kept apart', async () => {
    const w = 120;
    const h = 90;
    const mask = new Uint8Array(w * h);
    const values = new Float32Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        const a = Math.sin(x / 7) * Math.cos(y / 5);
        mask[i] = a > 0.4 ? 1 : a < -0.5 ? 2 : 0;
        values[i] = Math.abs(a);
      }
    }
    // Two classes touching: they must stay two regions.
    for (let x = 0; x < 10; x++) {
      mask[85 * w + x] = 1;
      mask[86 * w + x] = 2;
    }
    const a = await jsPixelOps.connectedComponents(mask, w, h, { values });
    const b = await nativePixelOps.connectedComponents(mask, w, h, { values });
    const key = (r: { value: number; bbox: number[] }) => `${r.value}:${r.bbox.join(',')}`;
    const byKey = new Map(b.regions.map((r) => [key(r), r]));
    expect(b.regions).toHaveLength(a.regions.length);
    for (const r of a.regions) {
      const n = byKey.get(key(r))!;
      expect(n).toBeDefined();
      expect(n.area).toBe(r.area);
      expect(n.centroid[0]).toBeCloseTo(r.centroid[0], 6);
      expect(n.centroid[1]).toBeCloseTo(r.centroid[1], 6);
      expect(n.meanValue).toBeCloseTo(r.meanValue, 5);
      expect(n.maxValue).toBeCloseTo(r.maxValue, 6);
      if (r.area > 4) expect(Math.min(Math.abs(n.orientationDeg - r.orientationDeg), 180 - Math.abs(n.orientationDeg - r.orientationDeg))).toBeLessThan(0.01);
      expect(new Set(toPairs(n.contour))).toEqual(new Set(toPairs(r.contour)));
      // The label image points at the same pixels.
      for (let i = 0; i < mask.length; i++) if (a.labels[i] === r.label) expect(b.labels[i]).toBe(n.label);
    }
  });
});

function toPairs(flat: number[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push(`${flat[i]},${flat[i + 1]}`);
  return out;
}
