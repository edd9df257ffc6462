import { describe, expect, it } from 'vitest';
import { connectedComponentsJs, convexHull, feret } from '../../src/geometry/regions.js';

/** Builds a mask from rows of characters: '.' is 0, digits are values. */
function maskOf(rows: string[]): { mask: Uint8Array; w: number; h: number } {
  const h = rows.length;
  const w = rows[0]!.length;
  const mask = new Uint8Array(w * h);
  rows.forEach((r, y) => [...r].forEach((ch, x) => (mask[y * w + x] = ch === '.' ? 0 : Number(ch))));
  return { mask, w, h };
}

describe('connected components', () => {
  it('labels regions of equal value in raster order with area, bbox and centroid', () => {
    const { mask, w, h } = maskOf([
      '11..2', //
      '11..2',
      '....2',
      '33...',
    ]);
    const { labels, regions } = connectedComponentsJs(mask, w, h);
    expect(regions.map((r) => [r.label, r.value, r.area])).toEqual([
      [1, 1, 4],
      [2, 2, 3],
      [3, 3, 2],
    ]);
    expect(regions[0]!.bbox).toEqual({ x: 0, y: 0, width: 2, height: 2 });
    expect(regions[0]!.centroid).toEqual([0.5, 0.5]);
    expect(regions[1]!.bbox).toEqual({ x: 4, y: 0, width: 1, height: 3 });
    expect(Array.from(labels.subarray(0, 5))).toEqual([1, 1, 0, 0, 2]);
  });

  it('keeps touching regions of different values apart', () => {
    const { mask, w, h } = maskOf(['1122', '1122']);
    expect(connectedComponentsJs(mask, w, h).regions.map((r) => r.area)).toEqual([4, 4]);
  });

  it('joins diagonal neighbours only with 8-connectivity', () => {
    const { mask, w, h } = maskOf(['1..', '.1.', '..1']);
    expect(connectedComponentsJs(mask, w, h, { connectivity: 8 }).regions).toHaveLength(1);
    expect(connectedComponentsJs(mask, w, h, { connectivity: 4 }).regions).toHaveLength(3);
  });

  it('merges branches that meet lower down (U shape)', () => {
    const { mask, w, h } = maskOf(['1.1', '1.1', '111']);
    const { regions } = connectedComponentsJs(mask, w, h);
    expect(regions).toHaveLength(1);
    expect(regions[0]!.area).toBe(7);
  });

  it('reports mean and maximum of the given values per region', () => {
    const { mask, w, h } = maskOf(['11.', '...']);
    const values = Float32Array.from([0.6, 0.8, 0.99, 0, 0, 0]);
    const r = connectedComponentsJs(mask, w, h, { values }).regions[0]!;
    expect(r.meanValue).toBeCloseTo(0.7, 6);
    expect(r.maxValue).toBeCloseTo(0.8, 6);
  });

  it('traces the outer boundary clockwise from the first pixel', () => {
    const { mask, w, h } = maskOf(['.....', '.111.', '.111.', '.111.', '.....']);
    const r = connectedComponentsJs(mask, w, h).regions[0]!;
    expect(r.contour).toEqual([1, 1, 2, 1, 3, 1, 3, 2, 3, 3, 2, 3, 1, 3, 1, 2]);
  });

  it('gives a single pixel a one-point contour', () => {
    const { mask, w, h } = maskOf(['...', '.1.', '...']);
    const r = connectedComponentsJs(mask, w, h).regions[0]!;
    expect(r.contour).toEqual([1, 1]);
    expect([r.feretMaxPx, r.feretMinPx, r.majorAxisPx, r.minorAxisPx]).toEqual([1, 1, 0, 0]);
  });

  it('rejects a mask shorter than the frame', () => {
    expect(() => connectedComponentsJs(new Uint8Array(3), 2, 2)).toThrow('mask holds 3 pixels but 2×2 needs 4');
  });
});

describe('region geometry', () => {
  it('measures a 10 × 3 bar: Feret 10 long and 3 wide, along x', () => {
    const rows = Array.from({ length: 3 }, () => '1'.repeat(10));
    const { mask, w, h } = maskOf(rows);
    const r = connectedComponentsJs(mask, w, h).regions[0]!;
    const f = feret(r.contour);
    expect(f.minPx).toBeCloseTo(3, 6);
    expect(f.maxPx).toBeCloseTo(Math.hypot(9, 2) + 1, 6);
    expect([r.feretMaxPx, r.feretMinPx]).toEqual([f.maxPx, f.minPx]);
    expect(r.orientationDeg).toBeCloseTo(0, 6);
    // Equal-moment ellipse: variance (n² − 1) / 12 along each side, axes 4σ.
    expect(r.majorAxisPx).toBeCloseTo(4 * Math.sqrt(99 / 12), 6);
    expect(r.minorAxisPx).toBeCloseTo(4 * Math.sqrt(8 / 12), 6);
  });

  it('finds the orientation of a diagonal line', () => {
    const rows = Array.from({ length: 8 }, (_, y) => [...'........'].map((_, x) => (x === y ? '1' : '.')).join(''));
    const { mask, w, h } = maskOf(rows);
    const r = connectedComponentsJs(mask, w, h).regions[0]!;
    expect(r.orientationDeg).toBeCloseTo(45, 6);
    expect(feret(r.contour).minPx).toBeCloseTo(1, 6);
  });

  it('hulls a square with an inner point', () => {
    expect(convexHull([0, 0, 2, 0, 2, 2, 0, 2, 1, 1])).toEqual([0, 0, 2, 0, 2, 2, 0, 2]);
  });
});
