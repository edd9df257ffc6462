/**
 * Focus: a sharpness metric on frames, autofocus by a z sweep with a peak fit, and a focus map — a smooth surface
 * z(x, y) fitted to sparse autofocus points so that survey tiles and zoom targets start in focus without a sweep each.
 */
import type { Frame, FrameSource, Roi } from '../camera/frame-source.js';
import type { Clock } from '../kernel/clock.js';
import type { Stage } from '../stage/stage.js';

/**
 * Brenner gradient on 2 × 2-binned pixels, normalised by the squared mean: Σ (I(x+2) − I(x))² / (N·mean²).
 * Binning keeps sensor noise from dominating at high magnification; normalising makes it independent of exposure.
 */
export function brenner(data: Uint8Array | Uint16Array, width: number, height: number): number {
  const w = width >> 1;
  const h = height >> 1;
  if (w < 3 || h < 1) return 0;
  const b = new Float32Array(w * h);
  let sum = 0;
  for (let y = 0; y < h; y++) {
    const r0 = 2 * y * width;
    const r1 = r0 + width;
    for (let x = 0; x < w; x++) {
      const v = data[r0 + 2 * x]! + data[r0 + 2 * x + 1]! + data[r1 + 2 * x]! + data[r1 + 2 * x + 1]!;
      b[y * w + x] = v;
      sum += v;
    }
  }
  const mean = sum / (w * h);
  let acc = 0;
  for (let y = 0; y < h; y++) {
    const r = y * w;
    for (let x = 0; x + 2 < w; x++) {
      const d = b[r + x + 2]! - b[r + x]!;
      acc += d * d;
    }
  }
  return mean > 0 ? acc / ((w - 2) * h * mean * mean) : 0;
}

export interface AutofocusOptions {
  /** Where to search around (µm). */
  centreZUm: number;
  /** Full width of the first sweep (µm). */
  rangeUm: number;
  /** Frames in the first sweep (odd ≥ 3). */
  steps: number;
  /** Sweeps after the first, each over ± one step of the previous around its peak. */
  refinements: number;
  /** Central region read out during the sweep (default: the full frame). */
  roi?: Roi | null;
  signal?: AbortSignal;
  zLimits: { minUm: number; maxUm: number };
  /** Best-to-median score ratio below which the sweep saw no focus peak (default 1.05). */
  minContrast?: number;
  /** Reduces the focus score of a frame (default: Brenner gradient). */
  metric?: (frame: Frame) => number;
}

export interface AutofocusResult {
  zUm: number;
  score: number;
  frames: number;
  /** True when the best score lies inside the sweep (not at its edge) and is clearly above the background. */
  found: boolean;
  /** Instrument time spent (ms). */
  ms: number;
}

/**
 * Sweeps z, fits a parabola to the log of the score around the best frame (a Gaussian peak), and repeats over a
 * narrower range. Ends with the stage at the best z. Sweeps always approach from below, so the z drive's backlash is
 * taken up the same way every time.
 */
export async function autofocus(stage: Stage, camera: FrameSource, clock: Clock, o: AutofocusOptions): Promise<AutofocusResult> {
  const t0 = clock.now();
  const metric = o.metric ?? ((f: Frame) => brenner(f.data, f.width, f.height));
  const clampZ = (z: number): number => Math.min(o.zLimits.maxUm, Math.max(o.zLimits.minUm, z));
  if (o.roi !== undefined && camera.setRoi) await camera.setRoi(o.roi);
  let centre = o.centreZUm;
  let step = o.rangeUm / Math.max(1, o.steps - 1);
  let frames = 0;
  let best = { z: centre, score: -Infinity };
  let edge = false;
  let contrast = 0;
  try {
    for (let pass = 0; pass <= o.refinements; pass++) {
      const n = pass === 0 ? o.steps : 5;
      const zs = Array.from({ length: n }, (_, i) => clampZ(centre + (i - (n - 1) / 2) * step));
      await stage.moveTo({ z: clampZ(zs[0]! - step) }, { signal: o.signal });
      const scores: number[] = [];
      for (const z of zs) {
        await stage.moveTo({ z }, { signal: o.signal });
        const f = await camera.grab({ signal: o.signal });
        try {
          scores.push(metric(f));
        } finally {
          f.release();
        }
        frames++;
      }
      let k = 0;
      for (let i = 1; i < n; i++) if (scores[i]! > scores[k]!) k = i;
      if (pass === 0) {
        edge = k === 0 || k === n - 1;
        const sorted = [...scores].sort((a, b) => a - b);
        contrast = sorted[n - 1]! / Math.max(1e-12, sorted[Math.floor(n / 2)]!);
      }
      let z = zs[k]!;
      if (k > 0 && k < n - 1) {
        const [a, b, c] = [Math.log(scores[k - 1]! + 1e-12), Math.log(scores[k]! + 1e-12), Math.log(scores[k + 1]! + 1e-12)];
        const denom = a - 2 * b + c;
        if (denom < 0) z = zs[k]! + (0.5 * (a - c) * step) / denom;
      }
      if (scores[k]! > best.score || pass > 0) best = { z: clampZ(z), score: Math.max(scores[k]!, best.score) };
      centre = best.z;
      // The next sweep spans ± one step of this one with five frames.
      step /= 2;
    }
    await stage.moveTo({ z: clampZ(best.z - step * 2) }, { signal: o.signal });
    await stage.moveTo({ z: best.z }, { signal: o.signal });
  } finally {
    if (o.roi !== undefined && camera.setRoi) await camera.setRoi(null);
  }
  return { zUm: best.z, score: best.score, frames, found: !edge && contrast >= (o.minContrast ?? 1.05), ms: clock.now() - t0 };
}

/**
 * z(x, y) fitted by least squares to autofocus points: a plane with 3–5 points, a quadratic surface with 6 or more.
 * Points added later (e.g. from zoom-level refinements) update the fit.
 */
export class FocusMap {
  private readonly pts: Array<{ x: number; y: number; z: number; w: number }> = [];
  private coef: number[] = [0];
  private cx = 0;
  private cy = 0;
  private scale = 1;

  get size(): number {
    return this.pts.length;
  }

  add(x: number, y: number, z: number, weight = 1): void {
    this.pts.push({ x, y, z, w: weight });
    this.fit();
  }

  /** Predicted focus z (µm) at stage (x, y). */
  at(x: number, y: number): number {
    const u = (x - this.cx) / this.scale;
    const v = (y - this.cy) / this.scale;
    const basis = [1, u, v, u * u, u * v, v * v];
    let z = 0;
    for (let i = 0; i < this.coef.length; i++) z += this.coef[i]! * basis[i]!;
    return z;
  }

  /** RMS of the fit residuals at the measured points (µm). */
  residualUm(): number {
    if (this.pts.length === 0) return 0;
    let s = 0;
    for (const p of this.pts) s += (this.at(p.x, p.y) - p.z) ** 2;
    return Math.sqrt(s / this.pts.length);
  }

  private fit(): void {
    const n = this.pts.length;
    const terms = n >= 6 ? 6 : n >= 3 ? 3 : 1;
    this.cx = this.pts.reduce((a, p) => a + p.x, 0) / n;
    this.cy = this.pts.reduce((a, p) => a + p.y, 0) / n;
    this.scale = Math.max(1, ...this.pts.map((p) => Math.max(Math.abs(p.x - this.cx), Math.abs(p.y - this.cy))));
    const A: number[][] = Array.from({ length: terms }, () => new Array<number>(terms).fill(0));
    const b = new Array<number>(terms).fill(0);
    for (const p of this.pts) {
      const u = (p.x - this.cx) / this.scale;
      const v = (p.y - this.cy) / this.scale;
      const basis = [1, u, v, u * u, u * v, v * v].slice(0, terms);
      for (let i = 0; i < terms; i++) {
        b[i]! += p.w * basis[i]! * p.z;
        for (let j = 0; j < terms; j++) A[i]![j]! += p.w * basis[i]! * basis[j]!;
      }
    }
    // Tiny ridge keeps degenerate layouts (collinear points) solvable.
    for (let i = 1; i < terms; i++) A[i]![i]! += 1e-9;
    this.coef = solve(A, b);
  }
}

/** Gaussian elimination with partial pivoting. */
export function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r;
    [M[c], M[p]] = [M[p]!, M[c]!];
    const piv = M[c]![c]!;
    if (Math.abs(piv) < 1e-15) continue;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r]![c]! / piv;
      for (let k = c; k <= n; k++) M[r]![k]! -= f * M[c]![k]!;
    }
  }
  return M.map((row, i) => (Math.abs(row[i]!) < 1e-15 ? 0 : row[n]! / row[i]!));
}

export interface ClimbOptions {
  startZUm: number;
  stepUm: number;
  maxSteps: number;
  roi?: Roi | null;
  signal?: AbortSignal;
  zLimits: { minUm: number; maxUm: number };
  metric?: (frame: Frame) => number;
}

/**
 * Focus when the prediction is close: three frames around it, then steps towards the better side until the score
 * falls, and a parabola through the best three. Typically three or four frames where a sweep takes a dozen.
 */
export async function climbFocus(stage: Stage, camera: FrameSource, clock: Clock, o: ClimbOptions): Promise<AutofocusResult> {
  const t0 = clock.now();
  const metric = o.metric ?? ((f: Frame) => brenner(f.data, f.width, f.height));
  const clampZ = (z: number): number => Math.min(o.zLimits.maxUm, Math.max(o.zLimits.minUm, z));
  if (o.roi !== undefined && camera.setRoi) await camera.setRoi(o.roi);
  const scores = new Map<number, number>();
  let frames = 0;
  const at = async (k: number): Promise<number> => {
    const known = scores.get(k);
    if (known !== undefined) return known;
    await stage.moveTo({ z: clampZ(o.startZUm + k * o.stepUm) }, { signal: o.signal });
    const f = await camera.grab({ signal: o.signal });
    try {
      const v = metric(f);
      scores.set(k, v);
      frames++;
      return v;
    } finally {
      f.release();
    }
  };
  try {
    // Always approach from below (z-drive backlash taken up the same way).
    await stage.moveTo({ z: clampZ(o.startZUm - 2 * o.stepUm) }, { signal: o.signal });
    const m1 = await at(-1);
    const c0 = await at(0);
    const p1 = await at(1);
    let k = c0 >= m1 && c0 >= p1 ? 0 : p1 > m1 ? 1 : -1;
    const dir = Math.sign(k);
    let found = k === 0;
    for (let i = 0; !found && i < o.maxSteps; i++) {
      if (dir < 0) {
        // Stepping down: re-approach from below for each new frame.
        await stage.moveTo({ z: clampZ(o.startZUm + (k - 2) * o.stepUm) }, { signal: o.signal });
      }
      const next = await at(k + dir);
      if (next <= (await at(k))) found = true;
      else k += dir;
    }
    const [a, b, c] = [scores.get(k - 1), scores.get(k)!, scores.get(k + 1)];
    let z = o.startZUm + k * o.stepUm;
    if (a !== undefined && c !== undefined) {
      const [la, lb, lc] = [Math.log(a + 1e-12), Math.log(b + 1e-12), Math.log(c + 1e-12)];
      const d = la - 2 * lb + lc;
      if (d < 0) z += (0.5 * (la - lc) * o.stepUm) / d;
    }
    z = clampZ(z);
    await stage.moveTo({ z: clampZ(z - 2 * o.stepUm) }, { signal: o.signal });
    await stage.moveTo({ z }, { signal: o.signal });
    return { zUm: z, score: b, frames, found, ms: clock.now() - t0 };
  } finally {
    if (o.roi !== undefined && camera.setRoi) await camera.setRoi(null);
  }
}
