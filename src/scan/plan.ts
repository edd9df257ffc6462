/**
 * The zoom plan: which places the zoom objective visits after the survey. Isolated candidates are visited one by one
 * (grouped when several fit in one field); where candidates touch most fields of a region, the region is rastered
 * instead — every zoom field of it imaged and every defect in it reported — so a busy region costs no more than a
 * raster of it and loses nothing the survey merged or missed there. When the visits would image nearly as many fields
 * as a raster of the whole outline, the whole outline is rastered: the loop is never slower than a raster.
 */
import { centre, gap, type Rect } from '../geometry/rect.js';
import { planRoute, serpentine, type Point } from '../geometry/route.js';
import type { Recipe } from './recipe.js';
import type { Candidate } from './survey.js';

export interface Target extends Candidate {
  index: number;
  /**
   * A field of a rastered region: `rect` is the part of the outline this field answers for (its share of the raster
   * grid, overlaps split halfway), and every defect centred in it is reported, with or without a candidate.
   */
  raster?: boolean;
}

export interface ZoomPlan {
  targets: Target[];
  /** Zoom fields planned as raster fields, and whether the whole outline is rastered. */
  rasterFields: number;
  rasterAll: boolean;
  /** Fields of a raster of the whole outline (what the plan is compared with). */
  outlineFields: number;
}

/**
 * Groups candidates that fit together in one zoom field (their union within `fill` of the field), best scores first,
 * so neighbouring candidates cost one visit.
 */
export function clusterCandidates(candidates: Candidate[], fieldUm: [number, number], fill = 0.8): Candidate[] {
  const maxW = fieldUm[0] * fill;
  const maxH = fieldUm[1] * fill;
  const clusters: Candidate[] = [];
  for (const c of [...candidates].sort((a, b) => b.score - a.score)) {
    const into = clusters.find((k) => {
      const u: Rect = [Math.min(k.rect[0], c.rect[0]), Math.min(k.rect[1], c.rect[1]), Math.max(k.rect[2], c.rect[2]), Math.max(k.rect[3], c.rect[3])];
      return u[2] - u[0] <= maxW && u[3] - u[1] <= maxH;
    });
    if (!into) {
      clusters.push({ ...c, members: c.members ?? [c.rect] });
      continue;
    }
    into.members = [...(into.members ?? [into.rect]), ...(c.members ?? [c.rect])];
    into.rect = [Math.min(into.rect[0], c.rect[0]), Math.min(into.rect[1], c.rect[1]), Math.max(into.rect[2], c.rect[2]), Math.max(into.rect[3], c.rect[3])];
    into.areaUm2 += c.areaUm2;
  }
  return clusters;
}

/** Zoom fields a visit to this target images: one, or a mosaic along a candidate larger than a field. */
export function visitFields(t: Candidate, fieldUm: [number, number], maxFields: number, mosaic: boolean): number {
  const usable = 0.9;
  const w = t.rect[2] - t.rect[0] + 10;
  const h = t.rect[3] - t.rect[1] + 10;
  if (!mosaic || (w <= fieldUm[0] * usable && h <= fieldUm[1] * usable)) return 1;
  return Math.min(maxFields, Math.ceil(w / (fieldUm[0] * usable)) * Math.ceil(h / (fieldUm[1] * usable)));
}

interface Cell {
  centre: Point;
  /** The part of the outline this field answers for. */
  core: Rect;
  row: number;
  col: number;
}

/** The zoom raster grid of the outline (the same fields as an exhaustive raster), with each field's share of it. */
export function rasterGrid(recipe: Recipe, fieldUm: [number, number]): { cells: Cell[]; nx: number; ny: number } {
  const o = recipe.outline;
  const overlap = recipe.survey.overlap;
  const pts = serpentine(o.xUm, o.yUm, o.xUm + o.widthUm, o.yUm + o.heightUm, fieldUm[0], fieldUm[1], overlap);
  const stepX = fieldUm[0] * (1 - overlap);
  const stepY = fieldUm[1] * (1 - overlap);
  const xs = [...new Set(pts.map((p) => p[0]))].sort((a, b) => a - b);
  const ys = [...new Set(pts.map((p) => p[1]))].sort((a, b) => a - b);
  const cells: Cell[] = [];
  for (const [x, y] of pts) {
    const col = xs.indexOf(x);
    const row = ys.indexOf(y);
    // Inner edges split the overlap halfway; the outer edges reach the end of the field.
    const x0 = col === 0 ? x - fieldUm[0] / 2 : x - stepX / 2;
    const x1 = col === xs.length - 1 ? x + fieldUm[0] / 2 : x + stepX / 2;
    const y0 = row === 0 ? y - fieldUm[1] / 2 : y - stepY / 2;
    const y1 = row === ys.length - 1 ? y + fieldUm[1] / 2 : y + stepY / 2;
    cells.push({ centre: [x, y], core: [x0, y0, x1, y1], row, col });
  }
  return { cells, nx: xs.length, ny: ys.length };
}

/**
 * Plans the zoom phase from the survey's candidates. Blocks of `rasterBlockFields` × `rasterBlockFields` zoom fields in
 * which candidates touch at least `rasterCoverage` of the fields are rastered; the remaining candidates are clustered
 * and visited. If the visits and raster fields together would image at least `rasterAllShare` of a whole-outline
 * raster, the outline is rastered. `maxTargets` caps the visits, never the raster fields (a busy region is imaged whole).
 */
export function planZoom(candidates: Candidate[], recipe: Recipe, fieldUm: [number, number], start: Point): ZoomPlan {
  const z = recipe.zoom;
  const { cells, nx, ny } = rasterGrid(recipe, fieldUm);
  const byRowCol = new Map(cells.map((c) => [c.row * nx + c.col, c]));
  const touched = new Set<number>();
  for (const c of candidates) {
    for (const cell of cells) if (gap(cell.core, c.rect) === 0) touched.add(cell.row * nx + cell.col);
  }
  const rastered = new Set<number>();
  const b = z.rasterBlockFields;
  if (z.rasterCoverage < 1) {
    // Blocks on a grid, and the same grid shifted by half a block, so a busy region across a block edge is still seen.
    for (const shift of b > 1 ? [0, Math.floor(b / 2)] : [0]) {
      for (let by = -shift; by < ny; by += b) {
        for (let bx = -shift; bx < nx; bx += b) {
          const block: number[] = [];
          for (let r = Math.max(0, by); r < Math.min(ny, by + b); r++) for (let k = Math.max(0, bx); k < Math.min(nx, bx + b); k++) block.push(r * nx + k);
          if (block.length === 0) continue;
          const busy = block.filter((i) => touched.has(i)).length;
          // A block of one field is rastered only when it is the whole outline; elsewhere a visit does the same job.
          if (busy >= 2 && busy / block.length >= z.rasterCoverage) for (const i of block) rastered.add(i);
        }
      }
    }
  }
  const inRaster = (rect: Rect): boolean => {
    // A candidate is covered by the raster when every field it touches is rastered.
    let any = false;
    for (const cell of cells) {
      if (gap(cell.core, rect) > 0) continue;
      any = true;
      if (!rastered.has(cell.row * nx + cell.col)) return false;
    }
    return any;
  };
  const visited = clusterCandidates(
    candidates.filter((c) => !inRaster(c.rect)),
    fieldUm,
  )
    .sort((a, b2) => b2.score - a.score)
    .slice(0, z.maxTargets);
  const visitCost = visited.reduce((a, t) => a + visitFields(t, fieldUm, z.maxFieldsPerTarget, z.mosaic), 0);
  const rasterAll = cells.length > 0 && z.rasterAllShare < 1 && visitCost + rastered.size >= z.rasterAllShare * cells.length;
  if (rasterAll) for (const c of cells) rastered.add(c.row * nx + c.col);
  const rasterTargets: Candidate[] = [];
  for (const i of rastered) {
    const cell = byRowCol.get(i)!;
    const inside = candidates.filter((c) => gap(cell.core, c.rect) === 0);
    const best = inside.reduce<Candidate | null>((a, c) => (!a || c.score > a.score ? c : a), null);
    rasterTargets.push({
      rect: cell.core,
      score: best?.score ?? 0,
      areaUm2: inside.reduce((a, c) => a + c.areaUm2, 0),
      tile: best?.tile ?? nearestTile(candidates, cell.centre),
      className: best?.className ?? 'defect',
      members: inside.map((c) => c.rect),
      raster: true,
    } as Candidate & { raster: true });
  }
  const all: Candidate[] = [...(rasterAll ? [] : visited), ...rasterTargets];
  const order = planRoute(
    start,
    all.map((c) => centre(c.rect)),
  );
  const targets: Target[] = order.map((i, k) => ({ ...all[i]!, index: k }));
  return { targets, rasterFields: rastered.size, rasterAll, outlineFields: cells.length };
}

/** The survey tile of the candidate nearest to a point (a raster field with no candidate of its own). */
function nearestTile(candidates: Candidate[], p: Point): number {
  let best = 0;
  let bestD = Infinity;
  for (const c of candidates) {
    const [x, y] = centre(c.rect);
    const d = Math.hypot(x - p[0], y - p[1]);
    if (d < bestD) {
      bestD = d;
      best = c.tile;
    }
  }
  return best;
}
