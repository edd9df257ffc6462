import { describe, expect, it } from 'vitest';
import { hasNativeAddon } from '../../src/native/binding.js';
import { jsPixelOps, nativePixelOps, pixelOps } from '../../src/inference/pixel-ops.js';
import { tileGrid, type TileGrid } from '../../src/inference/tiling.js';
import { seededRandom as prng } from '../support/cli.js';

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
    expect(b.regions.map((r) => r.value)).toContain(2);
    expect(Array.from(b.labels)).toEqual(Array.from(a.labels));
    expect(b.regions).toEqual(a.regions);
  });

  // Softmax outputs of a K-class network for every tile of a grid: smooth blobs of each class, different per tile
  // (so blending matters), with exact ties and probabilities right at the threshold mixed in.
  function tileOutputs(grid: TileGrid, K: number, seed: number): Float32Array[] {
    const rand = prng(seed);
    const plane = grid.tileWidth * grid.tileHeight;
    return grid.tiles.map(() => {
      const out = new Float32Array(K * plane);
      const cx = Array.from({ length: K }, () => rand() * grid.tileWidth);
      const cy = Array.from({ length: K }, () => rand() * grid.tileHeight);
      for (let i = 0; i < plane; i++) {
        const x = i % grid.tileWidth;
        const y = (i - x) / grid.tileWidth;
        let sum = 0;
        for (let k = 0; k < K; k++) {
          const d = Math.hypot(x - cx[k]!, y - cy[k]!);
          const e = Math.exp((k === 0 ? 1.5 : 3) * Math.cos(d / (6 + 3 * k)) + 0.3 * rand());
          out[k * plane + i] = e;
          sum += e;
        }
        for (let k = 0; k < K; k++) out[k * plane + i]! /= sum;
        if (i % 997 === 0 && K > 2) out[2 * plane + i] = out[plane + i]!;
      }
      return out;
    });
  }

  it('segment blended tile outputs into the same class map, labels and regions', async () => {
    for (const c of [
      { K: 2, w: 300, h: 200, tile: 96, overlap: 24, binning: 1, closePx: 2, threshold: 0.7 },
      { K: 5, w: 250, h: 190, tile: 64, overlap: 16, binning: 1, closePx: 0, threshold: 0.5 },
      { K: 3, w: 150, h: 110, tile: 64, overlap: 16, binning: 2, closePx: 1, threshold: 0.35 },
      { K: 4, w: 40, h: 30, tile: 64, overlap: 16, binning: 1, closePx: 0, threshold: 0.4 },
    ]) {
      const gw = Math.floor(c.w / c.binning);
      const gh = Math.floor(c.h / c.binning);
      const grid = tileGrid(gw, gh, c.tile, c.overlap, 16);
      const outputs = tileOutputs(grid, c.K, c.K * 101 + c.w);
      const p = { threshold: c.threshold, closePx: c.closePx, outWidth: c.w, outHeight: c.h, binning: c.binning, foreground: true, probabilityMaxSide: 16 };
      const run = async (ops: typeof jsPixelOps) => {
        const s = ops.segmenter(grid, gw, gh, c.K);
        grid.tiles.forEach((_, k) => s.add(outputs[k]!, k % grid.xs.length, Math.floor(k / grid.xs.length)));
        return s.segment(p);
      };
      const a = await run(jsPixelOps);
      const b = await run(nativePixelOps);
      expect(a.regions.length, JSON.stringify(c)).toBeGreaterThan(1);
      expect(Array.from(b.foreground!)).toEqual(Array.from(a.foreground!));
      expect(b.probability!.scale).toBeGreaterThan(1);
      expect({ ...b.probability!, data: Array.from(b.probability!.data) }).toEqual({ ...a.probability!, data: Array.from(a.probability!.data) });
      expect(Array.from(b.classMap)).toEqual(Array.from(a.classMap));
      expect(Array.from(b.labels)).toEqual(Array.from(a.labels));
      expect(b.regions).toEqual(a.regions);
    }
  });
});
