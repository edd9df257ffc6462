/**
 * Pixel ↔ stage transforms.
 *
 * Conventions (pinned by tests): image pixels are addressed as [x, y] = [column, row] with the origin at the CENTRE
 * of the top-left pixel; (x, y) = (col, row). Stage positions are [x, y] in µm in the stage's machine frame. A frame
 * taken with the stage at S shows the sample point that sits at stage position S + A·(p − c) at pixel p, where c is
 * the image centre ((w − 1)/2, (h − 1)/2) and A the 2 × 2 matrix of the objective (µm per pixel, with rotation and
 * mirror). "The sample point at pixel p" is the stage position that would bring that point onto the optical axis.
 */

/** Row-major 2 × 2 matrix [a, b, c, d] mapping (dx, dy) px → (a·dx + b·dy, c·dx + d·dy) µm. */
export type Mat2 = [number, number, number, number];

export interface ObjectiveCalibration {
  objective: string;
  /** µm per pixel, with rotation and mirror. */
  pixelToStage: Mat2;
  /** Stage offset (µm) to add when moving a point seen by the reference objective under this one. */
  offsetUm: [number, number];
  /** Residual of the fit (µm, RMS) — how well the measured image shifts follow the matrix. */
  residualUm: number;
}

export function det(m: Mat2): number {
  return m[0] * m[3] - m[1] * m[2];
}

export function invert(m: Mat2): Mat2 {
  const d = det(m);
  if (Math.abs(d) < 1e-18) throw new RangeError('pixel-to-stage matrix is singular');
  return [m[3] / d, -m[1] / d, -m[2] / d, m[0] / d];
}

export function apply(m: Mat2, x: number, y: number): [number, number] {
  return [m[0] * x + m[1] * y, m[2] * x + m[3] * y];
}

/** Matrix of a camera with the given scale (µm/px), rotation (rad) of image x relative to stage x, and mirror. */
export function matrixFrom(scaleUmPerPx: number, rotationRad: number, flipX: boolean): Mat2 {
  const c = Math.cos(rotationRad) * scaleUmPerPx;
  const s = Math.sin(rotationRad) * scaleUmPerPx;
  const f = flipX ? -1 : 1;
  return [c * f, -s, s * f, c];
}

/** Scale (µm/px), rotation (rad) and mirror recovered from a matrix. */
export function decompose(m: Mat2): { scaleUmPerPx: number; rotationRad: number; flipX: boolean } {
  const flipX = det(m) < 0;
  const f = flipX ? -1 : 1;
  const rotationRad = Math.atan2(m[2] * f, m[0] * f);
  const scaleUmPerPx = Math.sqrt(Math.abs(det(m)));
  return { scaleUmPerPx, rotationRad, flipX };
}

/** Stage position of the sample point at pixel (x, y) of a frame taken with the stage at (sx, sy). */
export function pixelToStage(cal: ObjectiveCalibration, stage: [number, number], px: [number, number], size: [number, number]): [number, number] {
  const [dx, dy] = apply(cal.pixelToStage, px[0] - (size[0] - 1) / 2, px[1] - (size[1] - 1) / 2);
  return [stage[0] + dx, stage[1] + dy];
}

/** Pixel at which the sample point at stage position `pt` appears in a frame taken with the stage at `stage`. */
export function stageToPixel(cal: ObjectiveCalibration, stage: [number, number], pt: [number, number], size: [number, number]): [number, number] {
  const [x, y] = apply(invert(cal.pixelToStage), pt[0] - stage[0], pt[1] - stage[1]);
  return [x + (size[0] - 1) / 2, y + (size[1] - 1) / 2];
}

/**
 * Least-squares fit of the matrix from pairs (pixel shift d_i, stage shift s_i) with s_i = A·d_i. Returns A and the
 * RMS residual in µm.
 */
export function fitMatrix(pixelShifts: Array<[number, number]>, stageShifts: Array<[number, number]>): { m: Mat2; residualUm: number } {
  if (pixelShifts.length !== stageShifts.length || pixelShifts.length < 2) throw new RangeError('fitting a matrix needs at least two shift pairs');
  // Normal equations for each output row: [sxx sxy; sxy syy]·[a b] = [Σ dx·sx, Σ dy·sx].
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  let bx0 = 0;
  let bx1 = 0;
  let by0 = 0;
  let by1 = 0;
  for (let i = 0; i < pixelShifts.length; i++) {
    const [dx, dy] = pixelShifts[i]!;
    const [ux, uy] = stageShifts[i]!;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
    bx0 += dx * ux;
    bx1 += dy * ux;
    by0 += dx * uy;
    by1 += dy * uy;
  }
  const inv = invert([sxx, sxy, sxy, syy]);
  const [a, b] = apply(inv, bx0, bx1);
  const [c, d] = apply(inv, by0, by1);
  const m: Mat2 = [a, b, c, d];
  let r2 = 0;
  for (let i = 0; i < pixelShifts.length; i++) {
    const [px, py] = apply(m, pixelShifts[i]![0], pixelShifts[i]![1]);
    r2 += (px - stageShifts[i]![0]) ** 2 + (py - stageShifts[i]![1]) ** 2;
  }
  return { m, residualUm: Math.sqrt(r2 / pixelShifts.length) };
}
