import { describe, expect, it } from 'vitest';
import type { Rect } from '../../src/geometry/rect.js';
import { planZoom, rasterGrid } from '../../src/scan/plan.js';
import { parseRecipe } from '../../src/scan/recipe.js';
import type { Candidate } from '../../src/scan/survey.js';

const field: [number, number] = [266, 266];
const recipe = (zoom: Record<string, unknown> = {}, side = 4000) => parseRecipe({ id: 'r', outline: { xUm: 0, yUm: 0, widthUm: side, heightUm: side }, zoom });
const cand = (x: number, y: number, size = 10, score = 0.9): Candidate => ({
  rect: [x, y, x + size, y + size] as Rect,
  score,
  areaUm2: size * size,
  tile: 3,
  className: 'defect',
});

describe('zoom plan', () => {
  it('visits isolated candidates one by one and rasters nothing', () => {
    const r = recipe();
    const cs = [cand(100, 100), cand(2000, 2000), cand(3500, 400)];
    const plan = planZoom(cs, r, field, [0, 0]);
    expect(plan.rasterFields).toBe(0);
    expect(plan.rasterAll).toBe(false);
    expect(plan.targets).toHaveLength(3);
    expect(plan.targets.every((t) => !t.raster)).toBe(true);
    expect(plan.targets.map((t) => t.index)).toEqual([0, 1, 2]);
  });

  it('rasters a busy block, reports which candidates it covers, and visits the rest', () => {
    const r = recipe();
    const { cells } = rasterGrid(r, field);
    // One candidate in each of the first 3 × 3 fields' cores, and one far away.
    const busy = cells.filter((c) => c.row < 3 && c.col < 3).map((c) => cand(c.centre[0] - 5, c.centre[1] - 5));
    const far = cand(3600, 3600);
    const plan = planZoom([...busy, far], r, field, [0, 0]);
    expect(plan.rasterAll).toBe(false);
    expect(plan.rasterFields).toBeGreaterThanOrEqual(9);
    const raster = plan.targets.filter((t) => t.raster);
    expect(raster).toHaveLength(plan.rasterFields);
    // Every busy candidate lies in a raster field's part of the outline; only the far one is visited.
    const visits = plan.targets.filter((t) => !t.raster);
    expect(visits).toHaveLength(1);
    expect(visits[0]!.rect).toEqual(far.rect);
    for (const b of busy) expect(raster.some((t) => t.members!.some((m) => m[0] === b.rect[0] && m[1] === b.rect[1]))).toBe(true);
  });

  it('gives raster fields parts of the outline that tile it without overlap', () => {
    const r = recipe({}, 1000);
    const { cells } = rasterGrid(r, field);
    const area = cells.reduce((a, c) => a + (c.core[2] - c.core[0]) * (c.core[3] - c.core[1]), 0);
    const x0 = Math.min(...cells.map((c) => c.core[0]));
    const x1 = Math.max(...cells.map((c) => c.core[2]));
    const y0 = Math.min(...cells.map((c) => c.core[1]));
    const y1 = Math.max(...cells.map((c) => c.core[3]));
    expect(area).toBeCloseTo((x1 - x0) * (y1 - y0), 6);
    expect(x0).toBeLessThanOrEqual(0);
    expect(x1).toBeGreaterThanOrEqual(1000);
  });

  it('rasters the whole outline when visits would cost nearly as much, whatever maxTargets says', () => {
    const r = recipe({ maxTargets: 5 }, 1500);
    const { cells } = rasterGrid(r, field);
    const cs = cells.map((c, i) => cand(c.centre[0] + (i % 3) * 20 - 60, c.centre[1] - 60));
    const plan = planZoom(cs, r, field, [0, 0]);
    expect(plan.rasterAll).toBe(true);
    expect(plan.rasterFields).toBe(cells.length);
    expect(plan.targets).toHaveLength(cells.length);
    expect(plan.targets.every((t) => t.raster)).toBe(true);
  });

  it('can be told never to raster', () => {
    const r = recipe({ rasterCoverage: 1, rasterAllShare: 1 }, 1500);
    const { cells } = rasterGrid(r, field);
    const cs = cells.map((c) => cand(c.centre[0] - 5, c.centre[1] - 5));
    const plan = planZoom(cs, r, field, [0, 0]);
    expect(plan.rasterFields).toBe(0);
    expect(plan.targets.every((t) => !t.raster)).toBe(true);
  });
});
