/**
 * Calibration: the pixel ↔ stage transform of each objective (scale, rotation, mirror), the offset between
 * objectives (xy and z), measured by moving the stage and tracking the image shift with phase correlation. Stored as a
 * versioned JSON file; every scan result carries the version it was computed with.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../kernel/durable-fs.js';
import type { FrameSource } from '../camera/frame-source.js';
import type { Nosepiece } from '../camera/nosepiece.js';
import { decompose, fitMatrix, matrixFrom, type Mat2, type ObjectiveCalibration } from '../geometry/affine.js';
import { crop, phaseCorrelate } from '../geometry/fft.js';
import type { Clock } from '../kernel/clock.js';
import type { Stage } from '../stage/stage.js';
import { autofocus } from './focus.js';

export interface Calibration {
  version: string;
  createdAt: string;
  /** Objective whose optical axis defines stage positions of sample points. */
  reference: string;
  objectives: Record<string, ObjectiveCalibration & { zOffsetUm: number; fieldUm: [number, number] }>;
}

export interface CalibrateOptions {
  stage: Stage;
  camera: FrameSource;
  nosepiece: Nosepiece;
  clock: Clock;
  /** Stage position of a textured area to calibrate on. */
  at: { x: number; y: number; z: number };
  /** Nominal µm per pixel of each objective (from the optics), the starting guess for the shifts. */
  nominalUmPerPx: Record<string, number>;
  /** Image shift used for the matrix, as a fraction of the field. */
  shiftFraction?: number;
  /** Distance by which every position is approached from −x, −y, so drive backlash is taken up the same way. */
  approachUm?: number;
  focusRangeUm: Record<string, number>;
  signal?: AbortSignal;
  log?: (msg: string) => void;
}

/** Grey values of a frame as float64, as the crop helper takes them. */
async function grabCentre(camera: FrameSource, n: number, bin: number, signal?: AbortSignal): Promise<{ img: Float64Array; w: number; h: number }> {
  const f = await camera.grab({ signal });
  try {
    return { img: crop(f.data, f.width, f.height, (f.width - 1) / 2 + 0.5, (f.height - 1) / 2 + 0.5, n, bin), w: f.width, h: f.height };
  } finally {
    f.release();
  }
}

export async function calibrate(o: CalibrateOptions): Promise<Calibration> {
  const { stage, camera, nosepiece } = o;
  const names = nosepiece.objectives;
  const reference = names[0]!;
  const approach = o.approachUm ?? 50;
  const moveXY = async (x: number, y: number): Promise<void> => {
    await stage.moveTo({ x: x - approach, y: y - approach }, { signal: o.signal });
    await stage.moveTo({ x, y }, { signal: o.signal });
  };
  const result: Calibration['objectives'] = {};
  const n = 512;
  let refZ = o.at.z;
  for (const name of names) {
    await nosepiece.select(name, o.signal);
    await moveXY(o.at.x, o.at.y);
    const af = await autofocus(stage, camera, o.clock, {
      centreZUm: refZ,
      rangeUm: o.focusRangeUm[name] ?? 20,
      steps: 9,
      refinements: 2,
      zLimits: stage.limits.z,
      signal: o.signal,
    });
    if (name === reference) refZ = af.zUm;
    const nominal = o.nominalUmPerPx[name];
    if (!nominal) throw new Error(`calibration: no nominal pixel size for objective ${name}`);
    const info = camera.info();
    const bin = Math.max(1, Math.floor(Math.min(info.width, info.height) / n));
    const fov = Math.min(info.width, info.height) * nominal;
    const d = fov * (o.shiftFraction ?? 0.12);
    const base = await grabCentre(camera, n, bin, o.signal);
    const pixelShifts: Array<[number, number]> = [];
    const stageShifts: Array<[number, number]> = [];
    for (const [sx, sy] of [
      [d, 0],
      [0, d],
      [-d, 0],
      [0, -d],
      [d, d],
    ] as const) {
      await moveXY(o.at.x + sx, o.at.y + sy);
      const img = await grabCentre(camera, n, bin, o.signal);
      const s = phaseCorrelate(base.img, img.img, n);
      if (s.peak < 0.02)
        throw new Error(`calibration of ${name}: no clear image shift for a stage move of (${sx.toFixed(1)}, ${sy.toFixed(1)}) µm; choose a textured area`);
      // Content moves opposite to the stage: A·d = −Δ.
      pixelShifts.push([s.dx * bin, s.dy * bin]);
      stageShifts.push([-sx, -sy]);
    }
    const fit = fitMatrix(pixelShifts, stageShifts);
    o.log?.(`calibration ${name}: ${JSON.stringify(decompose(fit.m))}, residual ${fit.residualUm.toFixed(3)} µm`);
    result[name] = {
      objective: name,
      pixelToStage: fit.m,
      offsetUm: [0, 0],
      residualUm: fit.residualUm,
      zOffsetUm: af.zUm - refZ,
      fieldUm: [
        info.width * Math.sqrt(Math.abs(fit.m[0] * fit.m[3] - fit.m[1] * fit.m[2])),
        info.height * Math.sqrt(Math.abs(fit.m[0] * fit.m[3] - fit.m[1] * fit.m[2])),
      ],
    };
  }
  // Offset of every other objective's axis: find its (scaled-down) image inside the reference objective's image.
  await nosepiece.select(reference, o.signal);
  await moveXY(o.at.x, o.at.y);
  await stage.moveTo({ z: refZ }, { signal: o.signal });
  const refFrame = await camera.grab({ signal: o.signal });
  const refW = refFrame.width;
  const refH = refFrame.height;
  const refData = Float64Array.from(refFrame.data);
  refFrame.release();
  const refCal = result[reference]!;
  for (const name of names) {
    if (name === reference) continue;
    const cal = result[name]!;
    await nosepiece.select(name, o.signal);
    await moveXY(o.at.x, o.at.y);
    await stage.moveTo({ z: refZ + cal.zOffsetUm }, { signal: o.signal });
    const f = await camera.grab({ signal: o.signal });
    const ratio =
      Math.sqrt(Math.abs(cal.pixelToStage[0] * cal.pixelToStage[3] - cal.pixelToStage[1] * cal.pixelToStage[2])) /
      Math.sqrt(Math.abs(refCal.pixelToStage[0] * refCal.pixelToStage[3] - refCal.pixelToStage[1] * refCal.pixelToStage[2]));
    // Zoom image binned down to the reference's scale, compared with the reference image's centre.
    const bin = Math.max(1, Math.round(1 / ratio));
    const m = 128;
    const small = crop(f.data, f.width, f.height, f.width / 2, f.height / 2, m, bin);
    f.release();
    const refCrop = crop(refData, refW, refH, refW / 2, refH / 2, m, 1);
    const s = phaseCorrelate(refCrop, small, m);
    if (s.peak < 0.02) throw new Error(`calibration of ${name}: its field was not found in the ${reference} field`);
    // The zoom field centre appears at −(dx, dy) from the reference centre in reference pixels.
    const [ox, oy] = [refCal.pixelToStage[0] * -s.dx + refCal.pixelToStage[1] * -s.dy, refCal.pixelToStage[2] * -s.dx + refCal.pixelToStage[3] * -s.dy];
    cal.offsetUm = [ox, oy];
    o.log?.(`calibration ${name}: axis offset (${ox.toFixed(2)}, ${oy.toFixed(2)}) µm, z offset ${cal.zOffsetUm.toFixed(2)} µm`);
  }
  await nosepiece.select(reference, o.signal);
  const createdAt = o.clock.wallTime().toISOString();
  const body = { reference, objectives: result };
  const version = `cal-${createdAt.replace(/[-:]/g, '').replace(/\..*$/, '')}-${createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 8)}`;
  return { version, createdAt, ...body };
}

/** A calibration computed from the nominal optics, for a first run before `calibrate` has been done. */
export function nominalCalibration(
  objectives: Array<{
    name: string;
    umPerPx: number;
    rotationRad: number;
    flipX: boolean;
    offsetUm: [number, number];
    zOffsetUm: number;
    sensor: [number, number];
  }>,
): Calibration {
  const result: Calibration['objectives'] = {};
  for (const o of objectives) {
    const m: Mat2 = matrixFrom(o.umPerPx, o.rotationRad, o.flipX);
    result[o.name] = {
      objective: o.name,
      pixelToStage: m,
      offsetUm: o.offsetUm,
      residualUm: 0,
      zOffsetUm: o.zOffsetUm,
      fieldUm: [o.sensor[0] * o.umPerPx, o.sensor[1] * o.umPerPx],
    };
  }
  const body = { reference: objectives[0]!.name, objectives: result };
  return { version: `nominal-${createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 8)}`, createdAt: new Date(0).toISOString(), ...body };
}

export function saveCalibration(path: string, cal: Calibration): void {
  writeFileAtomic(path, `${JSON.stringify(cal, null, 2)}\n`);
}

export function loadCalibration(path: string): Calibration {
  let cal: Calibration;
  try {
    cal = JSON.parse(readFileSync(path, 'utf8')) as Calibration;
  } catch (err) {
    throw new Error(`calibration file ${path} cannot be read (${(err as Error).message}); run "smartscope calibrate"`);
  }
  if (!cal.version || !cal.objectives || !cal.reference || !cal.objectives[cal.reference]) {
    throw new Error(`calibration file ${path} is incomplete (needs version, reference and objectives); run "smartscope calibrate"`);
  }
  return cal;
}
