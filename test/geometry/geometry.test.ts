import { describe, expect, it } from 'vitest';
import { decompose, fitMatrix, invert, matrixFrom, pixelToStage, stageToPixel, type ObjectiveCalibration } from '../../src/geometry/affine.js';
import { crop, phaseCorrelate } from '../../src/geometry/fft.js';
import { iou, mergeBoxes, type Rect } from '../../src/geometry/rect.js';
import { chebyshev, pathLength, planRoute, serpentine, type Point } from '../../src/geometry/route.js';
import { Rng } from '../../src/sim/rng.js';

const cal = (m = matrixFrom(2, 0, false)): ObjectiveCalibration => ({ objective: 'x', pixelToStage: m, offsetUm: [0, 0], residualUm: 0 });

describe('pixel ↔ stage conventions', () => {
  it('addresses pixels as [x, y] = [column, row] from the centre of the top-left pixel', () => {
    // A 5 × 3 frame: its centre pixel is (2, 1).
    const c = cal();
    expect(pixelToStage(c, [100, 200], [2, 1], [5, 3])).toEqual([100, 200]);
    // One column right = +x on an unrotated camera; one row down = +y.
    expect(pixelToStage(c, [100, 200], [3, 1], [5, 3])).toEqual([102, 200]);
    expect(pixelToStage(c, [100, 200], [2, 2], [5, 3])).toEqual([100, 202]);
    // The top-left pixel centre.
    expect(pixelToStage(c, [0, 0], [0, 0], [5, 3])).toEqual([-4, -2]);
  });

  it('mirrors columns with flipX and rotates columns towards +y with a positive rotation', () => {
    const flip = cal(matrixFrom(1, 0, true));
    expect(pixelToStage(flip, [0, 0], [3, 1], [5, 3])).toEqual([-1, 0]);
    const rot = cal(matrixFrom(1, Math.PI / 2, false));
    const [x, y] = pixelToStage(rot, [0, 0], [3, 1], [5, 3]);
    expect(x).toBeCloseTo(0, 12);
    expect(y).toBeCloseTo(1, 12);
  });

  it('round-trips stage → pixel → stage and recovers scale, rotation and mirror', () => {
    for (const flip of [false, true]) {
      const m = matrixFrom(0.13, 0.01, flip);
      const c = cal(m);
      const p = stageToPixel(c, [5000, 7000], [5012.3, 6990.1], [2048, 2048]);
      const back = pixelToStage(c, [5000, 7000], p, [2048, 2048]);
      expect(back[0]).toBeCloseTo(5012.3, 9);
      expect(back[1]).toBeCloseTo(6990.1, 9);
      const d = decompose(m);
      expect(d.scaleUmPerPx).toBeCloseTo(0.13, 12);
      expect(d.rotationRad).toBeCloseTo(0.01, 12);
      expect(d.flipX).toBe(flip);
    }
    expect(() => invert([1, 2, 2, 4])).toThrow('pixel-to-stage matrix is singular');
  });

  it('fits the matrix from shift pairs', () => {
    const m = matrixFrom(1.3, 0.02, true);
    const px: Array<[number, number]> = [
      [100, 0],
      [0, 100],
      [-80, 30],
    ];
    const st = px.map(([x, y]) => [m[0] * x + m[1] * y, m[2] * x + m[3] * y] as [number, number]);
    const fit = fitMatrix(px, st);
    fit.m.forEach((v, i) => expect(v).toBeCloseTo(m[i]!, 9));
    expect(fit.residualUm).toBeLessThan(1e-9);
  });
});

describe('phase correlation', () => {
  it('measures a sub-pixel shift of a textured image', () => {
    const rng = new Rng(1);
    const W = 300;
    const base = new Float64Array(W * W);
    // Smooth random texture: sum of blobs.
    for (let k = 0; k < 400; k++) {
      const cx = rng.uniform(0, W);
      const cy = rng.uniform(0, W);
      const r = rng.uniform(3, 10);
      for (let y = Math.max(0, Math.floor(cy - 3 * r)); y < Math.min(W, cy + 3 * r); y++)
        for (let x = Math.max(0, Math.floor(cx - 3 * r)); x < Math.min(W, cx + 3 * r); x++)
          base[y * W + x]! += Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r));
    }
    const sample = (dx: number, dy: number): Float64Array => {
      // b(x) = a(x − d), bilinear.
      const out = new Float64Array(W * W);
      for (let y = 1; y < W - 1; y++)
        for (let x = 1; x < W - 1; x++) {
          const u = x - dx;
          const v = y - dy;
          const i = Math.floor(u);
          const j = Math.floor(v);
          const fu = u - i;
          const fv = v - j;
          const at = (a: number, b: number): number => base[Math.min(W - 1, Math.max(0, b)) * W + Math.min(W - 1, Math.max(0, a))]!;
          out[y * W + x] = (1 - fu) * (1 - fv) * at(i, j) + fu * (1 - fv) * at(i + 1, j) + (1 - fu) * fv * at(i, j + 1) + fu * fv * at(i + 1, j + 1);
        }
      return out;
    };
    const a = crop(sample(0, 0), W, W, W / 2, W / 2, 128);
    const b = crop(sample(7.4, -3.6), W, W, W / 2, W / 2, 128);
    const s = phaseCorrelate(a, b, 128);
    expect(s.dx).toBeCloseTo(7.4, 0);
    expect(s.dy).toBeCloseTo(-3.6, 0);
    expect(Math.abs(s.dx - 7.4)).toBeLessThan(0.25);
    expect(Math.abs(s.dy + 3.6)).toBeLessThan(0.25);
  });
});

describe('rectangles', () => {
  it('merges boxes of one object seen in overlapping fields, transitively, keeping the best score', () => {
    const items = [
      { rect: [0, 0, 10, 10] as Rect, score: 0.5 },
      { rect: [12, 0, 20, 10] as Rect, score: 0.9 },
      { rect: [21, 0, 30, 10] as Rect, score: 0.3 },
      { rect: [100, 100, 110, 110] as Rect, score: 0.7 },
    ];
    const merged = mergeBoxes(items, 2, (a, b, rect) => ({ rect, score: Math.max(a.score, b.score) }));
    expect(merged.map((m) => [m.rect, m.score]).sort()).toEqual([
      [[0, 0, 30, 10], 0.9],
      [[100, 100, 110, 110], 0.7],
    ]);
    expect(iou([0, 0, 10, 10], [5, 0, 15, 10])).toBeCloseTo(1 / 3, 12);
  });
});

describe('route planning', () => {
  it('visits every target once and is never longer than nearest neighbour', () => {
    const rng = new Rng(4);
    for (let trial = 0; trial < 5; trial++) {
      const pts: Point[] = Array.from({ length: 60 }, () => [rng.uniform(0, 10_000), rng.uniform(0, 10_000)]);
      const order = planRoute([0, 0], pts);
      expect([...order].sort((a, b) => a - b)).toEqual(pts.map((_, i) => i));
      const nn = planRoute([0, 0], pts, chebyshev, { maxIterations: 0 });
      expect(pathLength([0, 0], pts, order)).toBeLessThanOrEqual(pathLength([0, 0], pts, nn) + 1e-9);
    }
    expect(planRoute([0, 0], [])).toEqual([]);
  });

  it('finds the obvious order on a line', () => {
    const pts: Point[] = [
      [30, 0],
      [10, 0],
      [20, 0],
      [40, 0],
    ];
    expect(planRoute([0, 0], pts)).toEqual([1, 2, 0, 3]);
  });

  it('covers a rectangle with overlapping fields in a serpentine', () => {
    const f = serpentine(0, 0, 1000, 500, 300, 300, 0.1);
    // Columns: ceil((1000 − 300) / 270) + 1 = 4; rows: ceil((500 − 300) / 270) + 1 = 2.
    expect(f).toHaveLength(8);
    expect(f[3]![0]).toBeGreaterThan(f[0]![0]);
    expect(f[4]![0]).toBeCloseTo(f[3]![0], 9);
    expect(f[0]![0] - 150).toBeLessThanOrEqual(0);
    expect(f[3]![0] + 150).toBeGreaterThanOrEqual(1000);
  });
});
