import { describe, expect, it } from 'vitest';
import { ProbabilityBlender, axisPositions, axisWeights, normaliseTile, reflect, tileGrid } from '../../src/inference/tiling.js';

describe('tile grid', () => {
  it('spreads tiles evenly from edge to edge with at least the overlap between neighbours', () => {
    expect(axisPositions(2048, 256, 32)).toEqual([0, 224, 448, 672, 896, 1120, 1344, 1568, 1792]);
    const p = axisPositions(1000, 256, 32);
    expect(p[0]).toBe(0);
    expect(p[p.length - 1]! + 256).toBe(1000);
    for (let i = 1; i < p.length; i++) expect(p[i - 1]! + 256 - p[i]!).toBeGreaterThanOrEqual(32);
  });

  it('uses one tile for a side no longer than a tile, rounded up to the size multiple', () => {
    expect(axisPositions(256, 256, 32)).toEqual([0]);
    const g = tileGrid(100, 300, 256, 32, 8);
    expect(g.tileWidth).toBe(104);
    expect(g.tileHeight).toBe(256);
    expect(g.xs).toEqual([0]);
    expect(g.ys).toEqual([0, 44]);
    expect(g.tiles).toHaveLength(2);
  });

  it('rejects an overlap as large as the tile', () => {
    expect(() => axisPositions(1000, 64, 64)).toThrow('tile overlap must be in [0, 64) but is 64');
  });
});

describe('blending weights', () => {
  it('cross-fade to exactly 1 wherever tiles overlap', () => {
    const len = 1000;
    const tile = 256;
    const pos = axisPositions(len, tile, 48);
    const sum = new Float64Array(len);
    pos.forEach((start, i) => {
      const w = axisWeights(pos, i, tile, len);
      for (let k = 0; k < tile; k++) sum[start + k] += w[k]!;
    });
    for (let x = 0; x < len; x++) expect(sum[x]).toBeCloseTo(1, 6);
  });

  it('keep full weight on sides at the frame edge', () => {
    const pos = axisPositions(600, 256, 32);
    const first = axisWeights(pos, 0, 256, 600);
    const last = axisWeights(pos, pos.length - 1, 256, 600);
    expect(first[0]).toBe(1);
    expect(last[255]).toBe(1);
    expect(first[255]).toBeLessThan(0.05);
  });
});

describe('probability blending', () => {
  /** Tiles cut from a known probability field and blended back must reproduce it. */
  function roundTrip(field: (x: number, y: number) => number, w: number, h: number, tile: number, overlap: number): number {
    const grid = tileGrid(w, h, tile, overlap);
    const b = new ProbabilityBlender(w, h, 2, grid);
    grid.ys.forEach((y0, iy) =>
      grid.xs.forEach((x0, ix) => {
        const t = new Float32Array(2 * tile * tile);
        for (let r = 0; r < tile; r++)
          for (let c = 0; c < tile; c++) {
            const p = field(Math.min(w - 1, x0 + c), Math.min(h - 1, y0 + r));
            t[r * tile + c] = 1 - p;
            t[tile * tile + r * tile + c] = p;
          }
        b.add(t, ix, iy);
      }),
    );
    b.finish();
    let worst = 0;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) worst = Math.max(worst, Math.abs(b.foreground[y * w + x]! - field(x, y)));
    return worst;
  }

  it('reproduces a smooth field without seams', () => {
    expect(roundTrip((x, y) => 0.5 + 0.4 * Math.sin(x / 37) * Math.cos(y / 23), 300, 200, 64, 16)).toBeLessThan(1e-5);
  });

  it('averages disagreeing tiles with the cross-fade weights', () => {
    // Two tiles side by side over a 96-pixel-wide frame: the left says 0, the right says 1; the overlap ramps.
    const grid = tileGrid(96, 64, 64, 32);
    expect(grid.xs).toEqual([0, 32]);
    const b = new ProbabilityBlender(96, 64, 2, grid);
    const zero = new Float32Array(2 * 64 * 64).fill(0);
    zero.fill(1, 0, 64 * 64);
    const one = new Float32Array(2 * 64 * 64).fill(0);
    one.fill(1, 64 * 64);
    b.add(zero, 0, 0);
    b.add(one, 1, 0);
    b.finish();
    expect(b.foreground[10]).toBe(0);
    expect(b.foreground[90]).toBe(1);
    expect(b.foreground[32]).toBeCloseTo(0.5 / 32, 6);
    expect(b.foreground[63]).toBeCloseTo(31.5 / 32, 6);
  });

  it('keeps a plane per foreground class for multi-class models', () => {
    const grid = tileGrid(8, 8, 8, 0);
    const b = new ProbabilityBlender(8, 8, 3, grid);
    const t = new Float32Array(3 * 64);
    t.fill(0.2, 0, 64);
    t.fill(0.5, 64, 128);
    t.fill(0.3, 128);
    b.add(t, 0, 0);
    b.finish();
    expect(b.foreground[5]).toBeCloseTo(0.8, 6);
    expect(b.classPlanes).toHaveLength(2);
    expect(b.classPlanes[0]![5]).toBeCloseTo(0.5, 6);
    expect(b.classPlanes[1]![5]).toBeCloseTo(0.3, 6);
  });
});

describe('tile normalisation', () => {
  it('scales by the bit depth, standardises, and mirrors beyond the frame edge', () => {
    const frame = Uint16Array.from([0, 4095, 2048, 1024, 0, 0, 0, 0, 4095]);
    const out = new Float32Array(16);
    normaliseTile(frame, 3, 3, 12, { x: 0, y: 0, width: 4, height: 4 }, 0.5, 0.25, out);
    expect(out[0]).toBeCloseTo(-2, 6);
    expect(out[1]).toBeCloseTo(2, 6);
    // Column 3 mirrors column 1, row 3 mirrors row 1.
    expect(out[3]).toBeCloseTo(out[1]!, 6);
    expect(out[12 + 1]).toBeCloseTo(out[4 + 1]!, 6);
  });

  it('reflects indices without repeating the edge', () => {
    expect([-2, -1, 0, 1, 2, 3, 4, 5].map((i) => reflect(i, 4))).toEqual([2, 1, 0, 1, 2, 3, 2, 1]);
    expect(reflect(5, 1)).toBe(0);
  });
});
