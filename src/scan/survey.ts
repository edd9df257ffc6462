/**
 * Survey: a serpentine raster of the outline at the survey objective, focused from a focus map, with the survey model
 * running on field N while the stage moves to field N + 1. Candidates are converted to stage µm and merged across
 * field overlaps.
 */
import type { Frame } from '../camera/frame-source.js';
import { pixelToStage } from '../geometry/affine.js';
import { mergeBoxes, type Rect } from '../geometry/rect.js';
import { serpentine } from '../geometry/route.js';
import { autofocus } from './focus.js';
import type { ScanRun } from './run.js';
import type { PixelDetection } from './ports.js';

export interface Candidate {
  /** Stage µm (reference objective frame). */
  rect: Rect;
  score: number;
  areaUm2: number;
  tile: number;
  className: string;
  /** The candidates a zoom target groups (one field covers them all). */
  members?: Rect[];
}

/**
 * Where a frame sits on the sensor: the full sensor size, and the offset of the frame's first pixel when it was read
 * out from a region of interest.
 */
export interface FrameGeometry {
  sensor: [number, number];
  roiOffset: [number, number];
}

/** Stage position (reference frame) of a pixel of a frame taken with the stage at `pose`. */
export function framePixelToStage(run: ScanRun, objective: string, pose: { x: number; y: number }, g: FrameGeometry, px: [number, number]): [number, number] {
  const cal = run.objectiveCal(objective);
  return pixelToStage(cal, [pose.x + cal.offsetUm[0], pose.y + cal.offsetUm[1]], [px[0] + g.roiOffset[0], px[1] + g.roiOffset[1]], g.sensor);
}

/** Converts a detection's box to a stage rectangle (the box's four corners through the pixel → stage map). */
export function detectionRect(run: ScanRun, objective: string, pose: { x: number; y: number }, d: PixelDetection, g: FrameGeometry): Rect {
  const [bx, by, bw, bh] = d.bboxPx;
  const xs: number[] = [];
  const ys: number[] = [];
  // Pixel centres run from bx to bx + bw − 1; the box's edges are half a pixel further out.
  for (const p of [
    [bx - 0.5, by - 0.5],
    [bx + bw - 0.5, by - 0.5],
    [bx - 0.5, by + bh - 0.5],
    [bx + bw - 0.5, by + bh - 0.5],
  ] as Array<[number, number]>) {
    const [sx, sy] = framePixelToStage(run, objective, pose, g, p);
    xs.push(sx);
    ys.push(sy);
  }
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

/**
 * Focus map on a grid of points inside the outline, measured at the survey objective (points already in the journal
 * are kept). z is stored for the reference objective; each objective adds its own offset.
 */
export async function buildFocusMap(run: ScanRun): Promise<void> {
  const r = run.recipe;
  const ob = r.survey.objective;
  const cal = run.objectiveCal(ob);
  const o = r.outline;
  if (r.survey.focus.strategy !== 'map' || run.focusPoints().length > 0) return;
  await run.account.track('travel', () => run.deps.nosepiece.select(ob, run.control.signal));
  await run.deps.camera.setExposure(r.survey.exposureUs);
  await run.deps.camera.setGain(r.survey.gainDb);
  {
    const g = r.survey.focus.gridPoints;
    const inset = (k: number, n: number, lo: number, span: number, fov: number): number =>
      n === 1 ? lo + span / 2 : lo + Math.min(fov / 2, span / 2) + (k * Math.max(0, span - fov)) / (n - 1);
    let z = r.survey.focus.startZUm;
    for (let j = 0; j < g; j++) {
      for (let i = 0; i < g; i++) {
        await run.control.checkpoint();
        // Serpentine over the grid: short moves between points.
        const x = inset(j % 2 === 0 ? i : g - 1 - i, g, o.xUm, o.widthUm, cal.fieldUm[0]);
        const y = inset(j, g, o.yUm, o.heightUm, cal.fieldUm[1]);
        await run.account.track('focus', async () => {
          await run.moveTo(ob, x, y, z);
          const af = await autofocus(run.deps.stage, run.deps.camera, run.deps.clock, {
            centreZUm: z,
            rangeUm: r.survey.focus.rangeUm,
            steps: r.survey.focus.steps,
            refinements: r.survey.focus.refinements,
            roi: run.centralRoi(512),
            zLimits: run.deps.stage.limits.z,
            signal: run.control.signal,
          });
          if (!af.found) run.log.warn({ x, y, z: af.zUm }, 'survey autofocus found no clear peak; using the best frame');
          z = af.zUm;
          run.addFocusPoint(x, y, af.zUm - cal.zOffsetUm, ob);
        });
      }
    }
  }
}

export async function survey(run: ScanRun): Promise<Candidate[]> {
  const r = run.recipe;
  const ob = r.survey.objective;
  const cal = run.objectiveCal(ob);
  const o = r.outline;
  await run.account.track('travel', () => run.deps.nosepiece.select(ob, run.control.signal));
  await run.deps.camera.setExposure(r.survey.exposureUs);
  await run.deps.camera.setGain(r.survey.gainDb);

  await buildFocusMap(run);

  const fields = serpentine(o.xUm, o.yUm, o.xUm + o.widthUm, o.yUm + o.heightUm, cal.fieldUm[0], cal.fieldUm[1], r.survey.overlap);
  run.surveyFieldCount = fields.length;
  const done = run.tilesDone();
  let inflight: Promise<void> | null = null;
  for (let i = 0; i < fields.length; i++) {
    if (done.has(i)) continue;
    await run.control.checkpoint();
    const [x, y] = fields[i]!;
    const z = run.focusZ(ob, x, y, r.survey.focus.startZUm);
    const pose = await run.account.track('travel', () => run.moveTo(ob, x, y, z));
    const settledAt = run.deps.clock.now();
    const { frame, discarded } = await run.account.track('capture', () => run.grabStill(settledAt));
    run.keepOverview(i, frame, pose);
    if (inflight) await run.account.track('inference', () => inflight!);
    inflight = inferSurvey(run, i, frame, { x: pose.x, y: pose.y, z: pose.z }, discarded);
    // Awaited after the next move; marked handled now so a failure that lands during the move is not an unhandled
    // rejection (which ends the process) but the error the next await throws.
    inflight.catch(() => undefined);
    run.progress('survey', i + 1, fields.length);
    run.deps.heartbeat?.();
  }
  if (inflight) await run.account.track('inference', () => inflight!);

  // Merge candidates across overlapping fields.
  const all = run.surveyCandidates();
  // A faint scratch or crack comes out of the survey as a dashed line: joining the dashes (and the halves of a defect
  // cut by a field edge) makes it one candidate, so the zoom phase images it whole, as one defect.
  return mergeBoxes(all, r.survey.mergeUm, (a, b, rect) => ({
    rect,
    score: Math.max(a.score, b.score),
    areaUm2: a.areaUm2 + b.areaUm2,
    tile: a.score >= b.score ? a.tile : b.tile,
    className: a.score >= b.score ? a.className : b.className,
    members: [...(a.members ?? [a.rect]), ...(b.members ?? [b.rect])],
  }));
}

async function inferSurvey(run: ScanRun, index: number, frame: Frame, pose: { x: number; y: number; z: number }, discarded: number): Promise<void> {
  const r = run.recipe;
  const ob = r.survey.objective;
  const capturedAt = run.deps.clock.wallTime().toISOString();
  try {
    const out = await run.account.infer(() => run.deps.surveyDetector.detect(frame, run.control.signal));
    const um2PerPx = run.umPerPx(ob) ** 2;
    const candidates: Candidate[] = [];
    for (const d of out.detections) {
      if (d.confidence < r.survey.threshold) continue;
      const areaUm2 = d.areaPx * um2PerPx;
      if (areaUm2 < r.survey.minAreaUm2) continue;
      candidates.push({
        rect: detectionRect(run, ob, pose, d, { sensor: [frame.width, frame.height], roiOffset: [0, 0] }),
        score: d.confidence,
        areaUm2,
        tile: index,
        className: d.className,
      });
    }
    run.recordTile(index, pose, candidates, discarded, capturedAt);
  } finally {
    frame.release();
  }
}
