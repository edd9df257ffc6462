/**
 * A synthetic polished materials sample: grain texture (or a patterned die) with ground-truth defects of four
 * classes, deterministic from a seed, rendered per field of view on demand.
 */
import { Rng, hashUnit } from './rng.js';
import {
  checkViewBuffers,
  DefectIndex,
  TWIN_CLASSES,
  surfaceHeight,
  viewBounds,
  viewMap,
  type FieldView,
  type GroundTruthDefect,
  type Sample,
  type SurfaceShape,
  type TwinClass,
} from './sample.js';
import { drawDefect, type BlobShape, type PolylineShape, type ShapedDefect } from './defect-shapes.js';

export interface SyntheticSampleConfig {
  /** Free-form id carried by records and events (default `twin-<seed>`). */
  id?: string;
  seed: number;
  widthUm: number;
  heightUm: number;
  texture?: 'grains' | 'die';
  /** Mean grain (or die cell) size in µm. */
  grainSizeUm?: number;
  /** Area fraction covered by defects (0.0005 … 0.05). */
  defectDensity: number;
  /** Relative number of defects per class (default: equal). */
  classWeights?: Partial<Record<TwinClass, number>>;
  /** Minimum clear gap between two defects (µm), so each ground-truth defect is one object. */
  minSpacingUm?: number;
  /** Surface shape; fields left out are drawn from the seed. */
  surface?: Partial<SurfaceShape>;
  /**
   * Share of particles drawn as stringers: elongated inclusions (aspect 3–10, 10–60 µm long) lying along the rolling
   * direction, as sulfide and silicate inclusions do in a longitudinal section of rolled steel (ASTM E45 types A and
   * C). Default 0: samples drawn without it are unchanged.
   */
  stringerShare?: number;
  /** Rolling direction of a stringer-bearing section (degrees from the sample's x axis; default 0). */
  rollingDirectionDeg?: number;
}

export const SYNTHETIC_LIMITS = {
  maxSideUm: 50_000,
  minDensity: 0.0005,
  maxDensity: 0.05,
} as const;

const OCC_CELL_UM = 4;

export class SyntheticSample implements Sample {
  readonly id: string;
  readonly widthUm: number;
  readonly heightUm: number;
  readonly classes: readonly string[] = TWIN_CLASSES;
  readonly seed: number;
  readonly texture: 'grains' | 'die';
  readonly grainSizeUm: number;
  readonly surface: SurfaceShape;
  /** Area fraction actually covered by the placed defects. */
  readonly achievedDensity: number;
  private readonly list: ShapedDefect[];
  private readonly index: DefectIndex;

  constructor(cfg: SyntheticSampleConfig) {
    if (!(cfg.widthUm > 0 && cfg.widthUm <= SYNTHETIC_LIMITS.maxSideUm)) {
      throw new RangeError(`sample widthUm must be in (0, ${SYNTHETIC_LIMITS.maxSideUm}] but is ${cfg.widthUm}`);
    }
    if (!(cfg.heightUm > 0 && cfg.heightUm <= SYNTHETIC_LIMITS.maxSideUm)) {
      throw new RangeError(`sample heightUm must be in (0, ${SYNTHETIC_LIMITS.maxSideUm}] but is ${cfg.heightUm}`);
    }
    if (!(cfg.defectDensity >= 0 && cfg.defectDensity <= SYNTHETIC_LIMITS.maxDensity)) {
      throw new RangeError(`sample defectDensity must be in [0, ${SYNTHETIC_LIMITS.maxDensity}] but is ${cfg.defectDensity}`);
    }
    if (cfg.stringerShare !== undefined && !(cfg.stringerShare >= 0 && cfg.stringerShare <= 1)) {
      throw new RangeError(`sample stringerShare must be in [0, 1] but is ${cfg.stringerShare}`);
    }
    this.seed = cfg.seed >>> 0;
    this.id = cfg.id ?? `twin-${this.seed}`;
    this.widthUm = cfg.widthUm;
    this.heightUm = cfg.heightUm;
    this.texture = cfg.texture ?? 'grains';
    this.grainSizeUm = cfg.grainSizeUm ?? (this.texture === 'die' ? 160 : 35);
    this.surface = surfaceFromSeed(this.seed, cfg.surface);
    const { list, area } = placeDefects(cfg, this.seed);
    this.list = list;
    this.achievedDensity = area / (this.widthUm * this.heightUm);
    this.index = new DefectIndex(list, 256);
  }

  defects(): readonly GroundTruthDefect[] {
    return this.list;
  }

  defectsIn(x0: number, y0: number, x1: number, y1: number): GroundTruthDefect[] {
    return this.index.query(x0, y0, x1, y1);
  }

  surfaceHeightUm(xUm: number, yUm: number): number {
    return surfaceHeight(this.surface, this.widthUm, this.heightUm, xUm, yUm);
  }

  renderReflectance(view: FieldView, out: Float32Array, mask?: Uint8Array): void {
    const n = checkViewBuffers(view, out, mask);
    if (this.texture === 'die') this.renderDie(view, out);
    else this.renderGrains(view, out);
    if (mask) mask.fill(0, 0, n);
    const m = viewMap(view);
    const [x0, y0, x1, y1] = viewBounds(view);
    for (const d of this.index.query(x0, y0, x1, y1) as ShapedDefect[]) {
      drawDefect(d, m, view.width, view.height, view.pixelSizeUm, out, mask);
    }
    // Outside the sample: the dark mount (resin).
    this.maskOutside(view, out, mask);
  }

  private maskOutside(view: FieldView, out: Float32Array, mask?: Uint8Array): void {
    const [x0, y0, x1, y1] = viewBounds(view);
    if (x0 >= 0 && y0 >= 0 && x1 <= this.widthUm && y1 <= this.heightUm) return;
    const m = viewMap(view);
    for (let r = 0; r < view.height; r++) {
      for (let c = 0; c < view.width; c++) {
        const x = m.x0 + c * m.ax + r * m.bx;
        const y = m.y0 + c * m.ay + r * m.by;
        if (x < 0 || y < 0 || x >= this.widthUm || y >= this.heightUm) {
          const i = r * view.width + c;
          out[i] = 0.08;
          if (mask) mask[i] = 0;
        }
      }
    }
  }

  /**
   * Voronoi grains: each grain has its own tone (orientation contrast after etching), boundaries are faint dark lines
   * whose integrated darkness is kept when they are thinner than a pixel, plus two octaves of polishing texture.
   */
  private renderGrains(view: FieldView, out: Float32Array): void {
    const g = this.grainSizeUm;
    const seed = this.seed;
    const p = view.pixelSizeUm;
    const m = viewMap(view);
    const [bx0, by0, bx1, by1] = viewBounds(view);
    const i0 = Math.floor(bx0 / g) - 2;
    const j0 = Math.floor(by0 / g) - 2;
    const ni = Math.floor(bx1 / g) + 2 - i0 + 1;
    const nj = Math.floor(by1 / g) + 2 - j0 + 1;
    const sx = new Float64Array(ni * nj);
    const sy = new Float64Array(ni * nj);
    const tone = new Float32Array(ni * nj);
    for (let j = 0; j < nj; j++) {
      for (let i = 0; i < ni; i++) {
        const gi = i + i0;
        const gj = j + j0;
        const k = j * ni + i;
        sx[k] = (gi + 0.1 + 0.8 * hashUnit(seed, gi, gj, 11)) * g;
        sy[k] = (gj + 0.1 + 0.8 * hashUnit(seed, gi, gj, 12)) * g;
        tone[k] = 0.62 + 0.07 * (2 * hashUnit(seed, gi, gj, 13) - 1);
      }
    }
    // Boundary line: half-width 0.5 µm, 12 % darker; widened to half a pixel at coarse sampling, with the same
    // integrated darkness.
    const bw = Math.max(0.5, p * 0.5);
    const bDark = 0.12 * Math.min(1, 0.5 / bw);
    const inv2bw2 = 1 / (2 * bw * bw);
    // Beyond 4·bw from a boundary the darkening is below 0.04 %: skip it. d2b − d2a = 2·|s_b − s_a|·db and
    // neighbouring seeds are less than 3·g apart, so d2b − d2a < 2·(3·g)·4·bw holds for every db < 4·bw.
    const boundaryReach = 24 * bw;
    const octaves = [new LatticeNoise(seed, 21, 6, 0.02, bx0, by0, bx1, by1, p), new LatticeNoise(seed, 22, 1.2, 0.015, bx0, by0, bx1, by1, p)].filter(
      (o) => o.weight > 0.5,
    );

    const w = view.width;
    const invG = 1 / g;
    // The nine candidate seeds of the current cell, reloaded only when the pixel walk enters another cell.
    const nx = new Float64Array(9);
    const ny = new Float64Array(9);
    const nk = new Int32Array(9);
    let curI = -1e9;
    let curJ = -1e9;
    const o0 = octaves[0];
    const o1 = octaves[1];
    for (let r = 0; r < view.height; r++) {
      let x = m.x0 + r * m.bx;
      let y = m.y0 + r * m.by;
      const row = r * w;
      for (let c = 0; c < w; c++, x += m.ax, y += m.ay) {
        const ci = Math.floor(x * invG) - i0;
        const cj = Math.floor(y * invG) - j0;
        if (ci !== curI || cj !== curJ) {
          curI = ci;
          curJ = cj;
          let q = 0;
          for (let dj = -1; dj <= 1; dj++) {
            for (let di = -1; di <= 1; di++, q++) {
              const k = (cj + dj) * ni + ci + di;
              nx[q] = sx[k]!;
              ny[q] = sy[k]!;
              nk[q] = k;
            }
          }
        }
        let d2a = Infinity;
        let d2b = Infinity;
        let qa = 0;
        let qb = 0;
        for (let q = 0; q < 9; q++) {
          const ex = x - nx[q]!;
          const ey = y - ny[q]!;
          const d2 = ex * ex + ey * ey;
          if (d2 < d2a) {
            d2b = d2a;
            qb = qa;
            d2a = d2;
            qa = q;
          } else if (d2 < d2b) {
            d2b = d2;
            qb = q;
          }
        }
        let v = tone[nk[qa]!]!;
        // Near a boundary only (d2b − d2a grows with the distance to the bisector).
        if (d2b - d2a < boundaryReach * g) {
          const lx = nx[qb]! - nx[qa]!;
          const ly = ny[qb]! - ny[qa]!;
          const db = (d2b - d2a) / (2 * Math.sqrt(lx * lx + ly * ly));
          v *= 1 - bDark * Math.exp(-db * db * inv2bw2);
        }
        if (o0) v += o0.at(x, y);
        if (o1) v += o1.at(x, y);
        out[row + c] = v;
      }
    }
  }

  /** A patterned die: rectangular metal pads (bright) on dielectric (dark), one pad per cell of a regular pitch. */
  private renderDie(view: FieldView, out: Float32Array): void {
    const g = this.grainSizeUm;
    const seed = this.seed;
    const p = view.pixelSizeUm;
    const m = viewMap(view);
    const w = view.width;
    for (let r = 0; r < view.height; r++) {
      let x = m.x0 + r * m.bx;
      let y = m.y0 + r * m.by;
      for (let c = 0; c < w; c++, x += m.ax, y += m.ay) {
        const gi = Math.floor(x / g);
        const gj = Math.floor(y / g);
        const fw = 0.35 + 0.3 * hashUnit(seed, gi, gj, 31);
        const fh = 0.35 + 0.3 * hashUnit(seed, gi, gj, 32);
        const ux = Math.abs(x - (gi + 0.5) * g) - (fw * g) / 2;
        const uy = Math.abs(y - (gj + 0.5) * g) - (fh * g) / 2;
        const sd = Math.max(ux, uy);
        const cov = Math.min(1, Math.max(0, 0.5 - sd / p));
        // Thin bus lines between pads along x.
        const ly = Math.abs(y - (gj + 0.5) * g) - 2;
        const lineCov = Math.min(1, Math.max(0, 0.5 - ly / p));
        out[r * w + c] = 0.38 + 0.44 * Math.max(cov, lineCov * 0.9);
      }
    }
  }
}

/** The surface shape: given fields where present, the rest drawn from the seed. */
export function surfaceFromSeed(seed: number, given: Partial<SurfaceShape> = {}): SurfaceShape {
  const rng = new Rng(seed, 1);
  const sign = (): number => (rng.next() < 0.5 ? -1 : 1);
  return {
    z0Um: given.z0Um ?? 0,
    tiltXUmPerMm: given.tiltXUmPerMm ?? sign() * rng.uniform(0.5, 3),
    tiltYUmPerMm: given.tiltYUmPerMm ?? sign() * rng.uniform(0.5, 3),
    bowUm: given.bowUm ?? sign() * rng.uniform(1, 6),
    waveUm: given.waveUm ?? rng.uniform(0.2, 0.8),
    wavePeriodUm: given.wavePeriodUm ?? rng.uniform(2000, 5000),
  };
}

/** Bilinear value noise on a lattice precomputed over the view's bounds. */
class LatticeNoise {
  readonly weight: number;
  private readonly vals: Float32Array;
  private readonly i0: number;
  private readonly j0: number;
  private readonly ni: number;
  private readonly inv: number;
  private readonly amp: number;

  constructor(seed: number, stream: number, lattice: number, amp: number, x0: number, y0: number, x1: number, y1: number, pixelUm: number) {
    // Sub-pixel texture averages out in a pixel: attenuate octaves finer than two pixels.
    this.weight = Math.min(1, lattice / (2 * pixelUm));
    this.amp = amp * this.weight;
    this.inv = 1 / lattice;
    this.i0 = Math.floor(x0 * this.inv) - 1;
    this.j0 = Math.floor(y0 * this.inv) - 1;
    this.ni = Math.floor(x1 * this.inv) + 2 - this.i0 + 1;
    const nj = Math.floor(y1 * this.inv) + 2 - this.j0 + 1;
    this.vals = new Float32Array(this.weight > 0.5 ? this.ni * nj : 0);
    if (this.weight <= 0.5) return;
    for (let j = 0; j < nj; j++) {
      for (let i = 0; i < this.ni; i++) {
        this.vals[j * this.ni + i] = 2 * hashUnit(seed, i + this.i0, j + this.j0, stream) - 1;
      }
    }
  }

  at(x: number, y: number): number {
    const fx = x * this.inv;
    const fy = y * this.inv;
    const ix = Math.floor(fx);
    const iy = Math.floor(fy);
    const tx = fx - ix;
    const ty = fy - iy;
    const k = (iy - this.j0) * this.ni + (ix - this.i0);
    const v = this.vals;
    const a = v[k]! + (v[k + 1]! - v[k]!) * tx;
    const b = v[k + this.ni]! + (v[k + this.ni + 1]! - v[k + this.ni]!) * tx;
    return this.amp * (a + (b - a) * ty);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Defect placement

function placeDefects(cfg: SyntheticSampleConfig, seed: number): { list: ShapedDefect[]; area: number } {
  const rng = new Rng(seed, 2);
  const W = cfg.widthUm;
  const H = cfg.heightUm;
  const target = cfg.defectDensity * W * H;
  const spacing = cfg.minSpacingUm ?? 4;
  const weights = TWIN_CLASSES.map((c) => Math.max(0, cfg.classWeights?.[c] ?? 1));
  const wsum = weights.reduce((a, b) => a + b, 0);
  if (wsum <= 0 && target > 0) throw new RangeError('sample classWeights must give at least one class a weight > 0');
  const margin = 20;
  const occ = new Occupancy(W, H, OCC_CELL_UM);
  const draw = (): ShapedDefect | null => {
    let u = rng.next() * wsum;
    let ci = 0;
    while (u >= weights[ci]! && ci < weights.length - 1) u -= weights[ci++]!;
    return makeDefect(TWIN_CLASSES[ci]!, ci + 1, rng, W, H, margin, Infinity, cfg);
  };
  const list: ShapedDefect[] = [];
  let area = 0;
  const tryPlace = (d: ShapedDefect): boolean => {
    const [x0, y0, x1, y1] = d.bboxUm;
    if (x0 < margin || y0 < margin || x1 > W - margin || y1 > H - margin) return false;
    const cells = occ.footprint(d, spacing);
    if (!occ.free(cells)) return false;
    occ.mark(cells);
    list.push(d);
    area += d.areaUm2;
    return true;
  };
  // Draw the class mix until it covers the target area, then place the largest first (random sequential placement
  // jams early when long scratches come last; largest-first reaches 5 % coverage with the defects kept apart).
  const candidates: ShapedDefect[] = [];
  let drawn = 0;
  while (drawn < target) {
    const d = draw();
    if (!d) continue;
    candidates.push(d);
    drawn += d.areaUm2;
  }
  const footprintArea = (d: ShapedDefect): number => (d.bboxUm[2] - d.bboxUm[0]) * (d.bboxUm[3] - d.bboxUm[1]);
  candidates.sort((a, b) => footprintArea(b) - footprintArea(a));
  // A crowded sample has no room left for a long scratch or crack: retry it shorter (as scratches on a heavily
  // damaged surface are cut by one another), down to the class's shortest.
  const place = (cand: ShapedDefect): void => {
    let d: ShapedDefect | null = cand;
    for (let k = 0; d && k < 24; k++) {
      if (tryPlace(d)) return;
      if (k % 6 === 5 && d.shape.kind === 'polyline') {
        d = makeDefect(d.className as TwinClass, d.classId, rng, W, H, margin, d.sizeUm / 2, cfg);
        continue;
      }
      const [x0, y0, x1, y1] = d.bboxUm;
      translateDefect(d, rng.uniform(margin, W - margin - (x1 - x0)) - x0, rng.uniform(margin, H - margin - (y1 - y0)) - y0);
    }
  };
  for (const cand of candidates) {
    if (area >= target) break;
    place(cand);
  }
  // Top up with fresh draws where gaps remain.
  for (let attempts = 0; area < target && attempts < 3 * candidates.length; attempts++) {
    const d = draw();
    if (d) place(d);
  }
  list.forEach((d, i) => (d.id = i + 1));
  return { list, area };
}

function translateDefect(d: ShapedDefect, dx: number, dy: number): void {
  d.xUm += dx;
  d.yUm += dy;
  d.bboxUm = [d.bboxUm[0] + dx, d.bboxUm[1] + dy, d.bboxUm[2] + dx, d.bboxUm[3] + dy];
  const s = d.shape;
  if (s.kind === 'blob') {
    s.cx += dx;
    s.cy += dy;
    return;
  }
  for (const v of s.branches) {
    for (let i = 0; i < v.length; i += 2) {
      v[i]! += dx;
      v[i + 1]! += dy;
    }
  }
}

function makeDefect(
  cls: TwinClass,
  classId: number,
  rng: Rng,
  W: number,
  H: number,
  margin: number,
  maxLenUm = Infinity,
  opts: Pick<SyntheticSampleConfig, 'stringerShare' | 'rollingDirectionDeg'> = {},
): ShapedDefect | null {
  const cx = rng.uniform(margin, W - margin);
  const cy = rng.uniform(margin, H - margin);
  switch (cls) {
    case 'scratch': {
      const len = rng.logUniform(40, Math.max(40, Math.min(1500, maxLenUm)));
      const width = rng.uniform(0.6, 3);
      const th = rng.uniform(0, Math.PI);
      const sag = rng.uniform(-0.02, 0.02) * len;
      const n = 9;
      const v = new Float64Array(n * 2);
      const ux = Math.cos(th);
      const uy = Math.sin(th);
      for (let i = 0; i < n; i++) {
        const t = i / (n - 1) - 0.5;
        const off = sag * (1 - 4 * t * t);
        v[2 * i] = cx + t * len * ux - off * uy;
        v[2 * i + 1] = cy + t * len * uy + off * ux;
      }
      const contrast = rng.next() < 0.85 ? rng.uniform(-0.4, -0.2) : rng.uniform(0.15, 0.3);
      return polylineDefect(cls, classId, [v], width, contrast);
    }
    case 'crack': {
      const len = rng.logUniform(20, Math.max(20, Math.min(400, maxLenUm)));
      const width = rng.uniform(0.4, 2);
      const th = rng.uniform(0, Math.PI);
      const main = randomWalk(rng, cx, cy, th, len);
      const branches = [main];
      if (rng.next() < 0.3 && main.length >= 8) {
        const k = 2 * rng.int(1, main.length / 2 - 2);
        const bth = th + (rng.next() < 0.5 ? -1 : 1) * rng.uniform(0.45, 0.9);
        branches.push(randomWalk(rng, main[k]!, main[k + 1]!, bth, len * rng.uniform(0.2, 0.5), true));
      }
      return polylineDefect(cls, classId, branches, width, rng.uniform(-0.7, -0.4));
    }
    case 'pit': {
      const dia = rng.logUniform(3, 40);
      const aspect = rng.uniform(1, 1.4);
      const shape: BlobShape = {
        kind: 'blob',
        cx,
        cy,
        a: dia / 2,
        b: dia / 2 / aspect,
        angleRad: rng.uniform(0, Math.PI),
        harmonics: [[rng.uniform(0, 0.03), rng.uniform(0, 6.28)]],
        shading: 'crater',
      };
      return blobDefect(cls, classId, shape, rng.uniform(-0.75, -0.45));
    }
    case 'particle': {
      // Draws for stringers only when the sample has them, so samples without keep their seeds' defects.
      if ((opts.stringerShare ?? 0) > 0 && rng.next() < opts.stringerShare!) {
        const len = rng.logUniform(10, 60);
        const aspect = rng.uniform(3, 10);
        const along = (((opts.rollingDirectionDeg ?? 0) + rng.uniform(-5, 5)) * Math.PI) / 180;
        const shape: BlobShape = {
          kind: 'blob',
          cx,
          cy,
          a: len / 2,
          b: len / 2 / aspect,
          angleRad: along,
          harmonics: [[rng.uniform(0, 0.05), rng.uniform(0, 6.28)]],
          shading: 'flat',
        };
        // Mid-grey in reflected light: darker than the polished matrix, lighter than a pit.
        return blobDefect(cls, classId, shape, rng.uniform(-0.45, -0.25));
      }
      const dia = rng.logUniform(3, 30);
      const aspect = rng.uniform(1, 1.8);
      const harmonics: Array<[number, number]> = [];
      for (let k = 0; k < 4; k++) harmonics.push([rng.uniform(0, 0.1), rng.uniform(0, 6.28)]);
      const shape: BlobShape = {
        kind: 'blob',
        cx,
        cy,
        a: dia / 2,
        b: dia / 2 / aspect,
        angleRad: rng.uniform(0, Math.PI),
        harmonics,
        shading: 'flat',
      };
      const contrast = rng.next() < 0.6 ? rng.uniform(-0.5, -0.25) : rng.uniform(0.25, 0.42);
      return blobDefect(cls, classId, shape, contrast);
    }
  }
}

/** A jagged path: steps of 3–8 µm whose heading wanders around `th` (mean-reverting). */
function randomWalk(rng: Rng, x: number, y: number, th: number, len: number, fromStart = false): Float64Array {
  const pts: number[] = [];
  // Start half a length back so the crack is centred on (x, y), unless this is a branch growing from a vertex.
  let heading = th;
  let px = fromStart ? x : x - (Math.cos(th) * len) / 2;
  let py = fromStart ? y : y - (Math.sin(th) * len) / 2;
  pts.push(px, py);
  let walked = 0;
  while (walked < len) {
    const step = Math.min(len - walked, rng.uniform(3, 8));
    heading += rng.normal() * 0.35 + 0.3 * (th - heading);
    px += Math.cos(heading) * step;
    py += Math.sin(heading) * step;
    pts.push(px, py);
    walked += step;
  }
  return Float64Array.from(pts);
}

function polylineDefect(cls: TwinClass, classId: number, branches: Float64Array[], width: number, contrast: number): ShapedDefect {
  const shape: PolylineShape = { kind: 'polyline', branches, widthUm: width };
  const h = width / 2;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  let length = 0;
  const xs: number[] = [];
  const ys: number[] = [];
  for (const v of branches) {
    for (let i = 0; i < v.length; i += 2) {
      xs.push(v[i]!);
      ys.push(v[i + 1]!);
      x0 = Math.min(x0, v[i]!);
      x1 = Math.max(x1, v[i]!);
      y0 = Math.min(y0, v[i + 1]!);
      y1 = Math.max(y1, v[i + 1]!);
      if (i >= 2) length += Math.hypot(v[i]! - v[i - 2]!, v[i + 1]! - v[i - 1]!);
    }
  }
  const feret = feretDiameter(xs, ys);
  return {
    id: 0,
    classId,
    className: cls,
    xUm: (x0 + x1) / 2,
    yUm: (y0 + y1) / 2,
    sizeUm: feret + width,
    widthUm: width,
    orientationDeg: principalAngleDeg(xs, ys),
    contrast,
    bboxUm: [x0 - h, y0 - h, x1 + h, y1 + h],
    areaUm2: length * width + Math.PI * h * h,
    shape,
  };
}

function blobDefect(cls: TwinClass, classId: number, shape: BlobShape, contrast: number): ShapedDefect {
  // Sample the outline to get bounds, area (½∮r²dθ) and Feret diameter.
  const n = 96;
  const xs: number[] = [];
  const ys: number[] = [];
  let area = 0;
  for (let i = 0; i < n; i++) {
    const th = (2 * Math.PI * i) / n;
    let f = 1;
    shape.harmonics.forEach(([amp, ph], k) => (f += amp * Math.cos((k + 2) * th + ph)));
    const ct = Math.cos(th);
    const st = Math.sin(th);
    const re = (shape.a * shape.b) / Math.sqrt(shape.b * shape.b * ct * ct + shape.a * shape.a * st * st);
    const r = re * f;
    area += 0.5 * r * r * ((2 * Math.PI) / n);
    const c = Math.cos(shape.angleRad);
    const s = Math.sin(shape.angleRad);
    xs.push(shape.cx + r * (ct * c - st * s));
    ys.push(shape.cy + r * (ct * s + st * c));
  }
  const feret = feretDiameter(xs, ys);
  return {
    id: 0,
    classId,
    className: cls,
    xUm: shape.cx,
    yUm: shape.cy,
    sizeUm: feret,
    widthUm: 2 * shape.b,
    orientationDeg: normDeg((shape.angleRad * 180) / Math.PI),
    contrast,
    bboxUm: [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)],
    areaUm2: area,
    shape,
  };
}

/** Maximum caliper (Feret) diameter, measured over 36 directions (error below 0.1 %). */
function feretDiameter(xs: number[], ys: number[]): number {
  let best = 0;
  for (let k = 0; k < 36; k++) {
    const th = (Math.PI * k) / 36;
    const c = Math.cos(th);
    const s = Math.sin(th);
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < xs.length; i++) {
      const v = xs[i]! * c + ys[i]! * s;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    best = Math.max(best, hi - lo);
  }
  return best;
}

function principalAngleDeg(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx;
    const dy = ys[i]! - my;
    sxx += dx * dx;
    syy += dy * dy;
    sxy += dx * dy;
  }
  return normDeg((0.5 * Math.atan2(2 * sxy, sxx - syy) * 180) / Math.PI);
}

function normDeg(d: number): number {
  const r = ((d % 180) + 180) % 180;
  return r >= 180 ? 0 : r;
}

/** Coarse occupancy grid: keeps defects apart so each ground-truth defect stays one object. */
class Occupancy {
  private readonly grid: Uint8Array;
  private readonly nx: number;
  private readonly ny: number;

  constructor(
    W: number,
    H: number,
    private readonly cell: number,
  ) {
    this.nx = Math.ceil(W / cell) + 1;
    this.ny = Math.ceil(H / cell) + 1;
    this.grid = new Uint8Array(this.nx * this.ny);
  }

  footprint(d: ShapedDefect, spacing: number): number[] {
    const cells: number[] = [];
    const c = this.cell;
    const add = (x0: number, y0: number, x1: number, y1: number): void => {
      const i0 = Math.max(0, Math.floor(x0 / c));
      const i1 = Math.min(this.nx - 1, Math.floor(x1 / c));
      const j0 = Math.max(0, Math.floor(y0 / c));
      const j1 = Math.min(this.ny - 1, Math.floor(y1 / c));
      for (let j = j0; j <= j1; j++) for (let i = i0; i <= i1; i++) cells.push(j * this.nx + i);
    };
    const s = d.shape;
    if (s.kind === 'polyline') {
      // Per segment and per row of cells, the x-range of the capsule (segment widened by r) within that row.
      const r = s.widthUm / 2 + spacing;
      for (const v of s.branches) {
        for (let i = 0; i + 3 < v.length; i += 2) {
          const ax = v[i]!;
          const ay = v[i + 1]!;
          const bx = v[i + 2]!;
          const by = v[i + 3]!;
          const j0 = Math.floor((Math.min(ay, by) - r) / c);
          const j1 = Math.floor((Math.max(ay, by) + r) / c);
          for (let j = j0; j <= j1; j++) {
            const yLo = j * c - r;
            const yHi = (j + 1) * c + r;
            let t0 = 0;
            let t1 = 1;
            if (by !== ay) {
              const ta = (yLo - ay) / (by - ay);
              const tb = (yHi - ay) / (by - ay);
              t0 = Math.max(0, Math.min(ta, tb));
              t1 = Math.min(1, Math.max(ta, tb));
              if (t0 > t1) continue;
            }
            const xa = ax + t0 * (bx - ax);
            const xb = ax + t1 * (bx - ax);
            add(Math.min(xa, xb) - r, j * c, Math.max(xa, xb) + r, j * c + c * 0.5);
          }
        }
      }
    } else {
      const [x0, y0, x1, y1] = d.bboxUm;
      add(x0 - spacing, y0 - spacing, x1 + spacing, y1 + spacing);
    }
    return cells;
  }

  free(cells: number[]): boolean {
    for (const k of cells) if (this.grid[k]) return false;
    return true;
  }

  mark(cells: number[]): void {
    for (const k of cells) this.grid[k] = 1;
  }
}
