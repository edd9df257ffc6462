/**
 * Zoom: visit each candidate at the zoom objective in an order that minimises travel, refine focus locally, capture
 * (a mosaic of fields when the candidate is larger than one field), run the zoom model, and confirm or reject the
 * candidate with the defects measured in µm. The model runs on one field while the stage moves to the next.
 */
import { createHash } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { Frame } from '../camera/frame-source.js';
import { stageToPixel } from '../geometry/affine.js';
import { centre, contains, expand, gap, iou, mergeBoxes, type Rect } from '../geometry/rect.js';
import type { Point } from '../geometry/route.js';
import { autofocus, climbFocus } from './focus.js';
import type { ConfirmedDefect, PixelDetection, ThumbnailSource } from './ports.js';
import type { Target } from './plan.js';
import type { ScanRun } from './run.js';
import { detectionRect, framePixelToStage, type FrameGeometry } from './survey.js';

export type { Target } from './plan.js';

export interface TargetOutcome {
  index: number;
  outcome: 'confirmed' | 'rejected' | 'skipped';
  reason?: string;
  defects: ConfirmedDefect[];
  fields: number;
  /** Where the zoom objective's axis was for each field (stage µm, reference frame). */
  fieldCentres?: Array<[number, number]>;
}

/** A zoom detection in stage µm, with what is needed to report it. */
interface Found {
  rect: Rect;
  score: number;
  d: PixelDetection;
  umPerPx: number;
  contourUm: Array<[number, number]>;
  touchesEdge: boolean;
  pose: { x: number; y: number; z: number };
  focusScore: number;
  capturedAt: string;
  detectedAt: string;
  thumbnail: ThumbnailSource | null;
}

/** Field centres covering a target: one field, or a grid when it is larger than a field (mosaic). */
export function fieldsFor(run: ScanRun, t: Target): Point[] {
  const z = run.recipe.zoom;
  const [fw, fh] = run.objectiveCal(z.objective).fieldUm;
  // A raster field is imaged where the raster grid puts it.
  if (t.raster) return [centre(t.rect)];
  const r = expand(t.rect, 5);
  const w = r[2] - r[0];
  const h = r[3] - r[1];
  const usable = 0.9;
  if (!z.mosaic || (w <= fw * usable && h <= fh * usable)) return [centre(t.rect)];
  // A grid of fields over the candidate's box, keeping only the fields its parts fall in (a diagonal scratch needs
  // the fields along it, not the whole box), the most covered first when there are more than allowed.
  const nx = Math.ceil(w / (fw * usable));
  const ny = Math.ceil(h / (fh * usable));
  const members = t.members ?? [t.rect];
  const cells: Array<{ p: Point; cover: number; order: number }> = [];
  for (let j = 0; j < ny; j++) {
    for (let k = 0; k < nx; k++) {
      const i = j % 2 === 0 ? k : nx - 1 - k;
      const cx = r[0] + (w * (i + 0.5)) / nx;
      const cy = r[1] + (h * (j + 0.5)) / ny;
      const cell: Rect = [cx - (fw * usable) / 2, cy - (fh * usable) / 2, cx + (fw * usable) / 2, cy + (fh * usable) / 2];
      const cover = members.reduce(
        (a, m) =>
          a +
          Math.max(0, Math.min(m[2], cell[2]) - Math.max(m[0], cell[0])) * Math.max(0, Math.min(m[3], cell[3]) - Math.max(m[1], cell[1])) +
          (gap(m, cell) === 0 ? 1e-6 : 0),
        0,
      );
      if (cover > 0) cells.push({ p: [cx, cy], cover, order: cells.length });
    }
  }
  return cells
    .sort((a, b) => b.cover - a.cover)
    .slice(0, z.maxFieldsPerTarget)
    .sort((a, b) => a.order - b.order)
    .map((c) => c.p);
}

/** Event ids derived from the scan, target and defect: a target redone after a crash reproduces the same ids. */
export function eventId(scanId: string, startedAtMs: number, target: number, defect: number): string {
  const random = createHash('sha256').update(`${scanId}/${target}/${defect}`).digest().subarray(0, 16);
  return uuidv7({ msecs: startedAtMs + target, random: Uint8Array.from(random) });
}

export async function zoom(
  run: ScanRun,
  targets: Target[],
  alreadyConfirmed: ConfirmedDefect[],
  done: Set<number>,
  startedAtMs: number,
): Promise<TargetOutcome[]> {
  const r = run.recipe;
  const ob = r.zoom.objective;
  const outcomes: TargetOutcome[] = [];
  if (targets.every((t) => done.has(t.index))) return outcomes;
  await run.account.track('travel', () => run.deps.nosepiece.select(ob, run.control.signal));
  await run.deps.camera.setExposure(r.zoom.exposureUs);
  await run.deps.camera.setGain(r.zoom.gainDb);
  const confirmed = [...alreadyConfirmed];
  let inflight: Promise<void> | null = null;
  type Pending = { t: Target; found: Found[]; fields: number; results: Array<Promise<void>>; centres: Array<[number, number]> };
  const pendingFinal: Pending[] = [];

  const finalize = async (p: Pending): Promise<void> => {
    await Promise.all(p.results);
    const o = await confirmTarget(run, p.t, p.found, p.fields, confirmed, startedAtMs, p.centres);
    outcomes.push(o);
  };

  for (const t of targets) {
    if (done.has(t.index)) continue;
    await run.control.checkpoint();
    const entry = { t, found: [] as Found[], fields: 0, results: [] as Array<Promise<void>>, centres: [] as Array<[number, number]> };
    pendingFinal.push(entry);
    for (const [fx, fy] of fieldsFor(run, t)) {
      await run.control.checkpoint();
      let pose;
      const z0 = run.focusZ(ob, fx, fy, r.survey.focus.startZUm);
      try {
        pose = await run.account.track('travel', () => run.moveTo(ob, fx, fy, z0));
      } catch (err) {
        if (!(err instanceof RangeError)) throw err;
        // Out of travel: the recipe says what to do.
        if (r.unreachable === 'fail') throw new Error(`target ${t.index} at (${fx.toFixed(1)}, ${fy.toFixed(1)}) µm cannot be reached: ${err.message}`);
        if (r.unreachable === 'pause') {
          run.control.fault(`target ${t.index} cannot be reached: ${err.message}`);
          await run.control.checkpoint();
        }
        entry.found.length = 0;
        entry.fields = -1;
        run.log.warn({ target: t.index, reason: err.message }, 'zoom target skipped: cannot be reached');
        break;
      }
      let focusScore = 0;
      if (r.zoom.focus.strategy === 'sweep') {
        const af = await run.account.track('focus', () => zoomFocus(run, fx, fy, z0));
        focusScore = af.score;
        pose = { ...pose, z: af.zUm };
      }
      // Read out only the part of the field the candidate (and a margin) covers: the zoom model then looks where
      // the survey pointed, which is what keeps its cost per target small.
      const geometry = await captureRoi(run, t, pose);
      const settledAt = run.deps.clock.now();
      const { frame } = await run.account.track('capture', () => run.grabStill(settledAt));
      entry.fields++;
      entry.centres.push([fx, fy]);
      const capturedAt = run.deps.clock.wallTime().toISOString();
      if (inflight) await run.account.track('inference', () => inflight!);
      const fieldPose = { x: pose.x, y: pose.y, z: pose.z };
      inflight = inferField(run, frame, fieldPose, geometry, focusScore, capturedAt, entry.found);
      entry.results.push(inflight);
      run.deps.heartbeat?.();
    }
    // Finish targets whose fields have all been inferred, in order (the current one's last field may still run).
    while (pendingFinal.length > 1) await finalize(pendingFinal.shift()!);
    run.progress('zoom', outcomes.length + done.size, targets.length);
  }
  if (inflight) await run.account.track('inference', () => inflight!);
  while (pendingFinal.length > 0) await finalize(pendingFinal.shift()!);
  run.progress('zoom', targets.length, targets.length);
  return outcomes;
}

/**
 * Local focus at a zoom field. Where an earlier zoom field nearby was focused, the prediction is already close and a
 * short climb from it finds the peak. Elsewhere, or when the climb finds none, the full sweep of the recipe.
 */
export async function zoomFocus(run: ScanRun, x: number, y: number, z0: number): Promise<{ zUm: number; score: number; frames: number }> {
  const f = run.recipe.zoom.focus;
  const ob = run.recipe.zoom.objective;
  const base = { roi: run.centralRoi(f.roiPx), zLimits: run.deps.stage.limits.z, signal: run.control.signal };
  let af = null;
  if (run.nearestCorrectionUm(x, y) <= f.nearbyUm) {
    af = await climbFocus(run.deps.stage, run.deps.camera, run.deps.clock, { ...base, startZUm: z0, stepUm: f.checkRangeUm / 2, maxSteps: 6 });
    if (!af.found) af = null;
  }
  af ??= await autofocus(run.deps.stage, run.deps.camera, run.deps.clock, {
    ...base,
    centreZUm: z0,
    rangeUm: f.rangeUm,
    steps: f.steps,
    refinements: f.refinements,
  });
  if (af.found) run.addZoomCorrection(x, y, af.zUm - run.objectiveCal(ob).zOffsetUm);
  return af;
}

/** Sets the camera's region of interest to the target's box (with a margin) inside this field. */
async function captureRoi(run: ScanRun, t: Target, pose: { x: number; y: number }): Promise<FrameGeometry> {
  const cam = run.deps.camera;
  if (!cam.setRoi || t.raster) {
    // A raster field is read whole: what it reports is not limited to where the survey pointed.
    if (cam.setRoi) await cam.setRoi(null);
    const info = cam.info();
    return { sensor: [info.width, info.height], roiOffset: [0, 0] };
  }
  await cam.setRoi(null);
  const full = cam.info();
  const sensor: [number, number] = [full.width, full.height];
  const ob = run.recipe.zoom.objective;
  const cal = run.objectiveCal(ob);
  const axis: [number, number] = [pose.x + cal.offsetUm[0], pose.y + cal.offsetUm[1]];
  // The parts of the target inside this field (all of it for a single-field target; for a mosaic, its own stretch).
  const field: Rect = [axis[0] - cal.fieldUm[0] / 2, axis[1] - cal.fieldUm[1] / 2, axis[0] + cal.fieldUm[0] / 2, axis[1] + cal.fieldUm[1] / 2];
  const parts = (t.members ?? [t.rect]).filter((m) => gap(m, field) === 0);
  const box = (parts.length > 0 ? parts : [t.rect]).reduce(
    (a, m) => [Math.min(a[0], m[0]), Math.min(a[1], m[1]), Math.max(a[2], m[2]), Math.max(a[3], m[3])] as Rect,
  );
  const size = Math.max(box[2] - box[0], box[3] - box[1]);
  const r = expand(box, Math.max(run.recipe.zoom.roiMarginUm, Math.min(40, 0.25 * size)));
  const cs: number[] = [];
  const rs: number[] = [];
  for (const [x, y] of [
    [r[0], r[1]],
    [r[2], r[1]],
    [r[0], r[3]],
    [r[2], r[3]],
  ] as const) {
    const [c, w] = stageToPixel(cal, axis, [x, y], sensor);
    cs.push(c);
    rs.push(w);
  }
  // Multiples of 32 px keep tiles whole for the model.
  const align = (v: number): number => Math.floor(v / 32) * 32;
  const x0 = Math.max(0, align(Math.min(...cs)));
  const y0 = Math.max(0, align(Math.min(...rs)));
  const x1 = Math.min(sensor[0], align(Math.max(...cs)) + 32);
  const y1 = Math.min(sensor[1], align(Math.max(...rs)) + 32);
  if (x1 - x0 < 64 || y1 - y0 < 64 || (x0 === 0 && y0 === 0 && x1 === sensor[0] && y1 === sensor[1])) return { sensor, roiOffset: [0, 0] };
  await cam.setRoi({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
  return { sensor, roiOffset: [x0, y0] };
}

async function inferField(
  run: ScanRun,
  frame: Frame,
  pose: { x: number; y: number; z: number },
  geometry: FrameGeometry,
  focusScore: number,
  capturedAt: string,
  sink: Found[],
): Promise<void> {
  const ob = run.recipe.zoom.objective;
  try {
    const out = await run.account.infer(() => run.deps.zoomDetector.detect(frame, run.control.signal));
    const detectedAt = run.deps.clock.wallTime().toISOString();
    const umPerPx = run.umPerPx(ob);
    const [ox, oy] = geometry.roiOffset;
    const [sw, sh] = geometry.sensor;
    for (const d of out.detections) {
      if (d.confidence < run.recipe.zoom.confirmThreshold) continue;
      // Specks below the smallest defect the recipe cares about are noise, not defects.
      if (d.areaPx * umPerPx * umPerPx < run.recipe.zoom.minAreaUm2) continue;
      const rect = detectionRect(run, ob, pose, d, geometry);
      const contourUm = (d.contourPx ?? []).map((p) => framePixelToStage(run, ob, pose, geometry, p));
      const [bx, by, bw, bh] = d.bboxPx;
      // Cut by the edge of the field (not merely of the region read out).
      const touchesEdge = ox + bx <= 1 || oy + by <= 1 || ox + bx + bw >= sw - 1 || oy + by + bh >= sh - 1;
      sink.push({
        rect,
        score: d.confidence,
        d,
        umPerPx,
        contourUm,
        touchesEdge,
        pose,
        focusScore,
        capturedAt,
        detectedAt,
        thumbnail: thumbnailOf(frame, d, out.probability),
      });
    }
  } finally {
    frame.release();
  }
}

/** A crop around the detection (twice its size, 64–512 px) with the model's probability over the same crop. */
function thumbnailOf(frame: Frame, d: PixelDetection, prob?: { data: Float32Array; width: number; height: number }): ThumbnailSource {
  const [bx, by, bw, bh] = d.bboxPx;
  const side = Math.min(512, Math.max(64, 2 * Math.max(bw, bh)));
  const x0 = Math.max(0, Math.min(frame.width - side, Math.round(bx + bw / 2 - side / 2)));
  const y0 = Math.max(0, Math.min(frame.height - side, Math.round(by + bh / 2 - side / 2)));
  const w = Math.min(side, frame.width);
  const h = Math.min(side, frame.height);
  const pixels = frame.bitDepth === 8 ? new Uint8Array(w * h) : new Uint16Array(w * h);
  for (let y = 0; y < h; y++) pixels.set(frame.data.subarray((y0 + y) * frame.width + x0, (y0 + y) * frame.width + x0 + w), y * w);
  let probability: Float32Array | undefined;
  if (prob) {
    probability = new Float32Array(w * h);
    const sx = prob.width / frame.width;
    const sy = prob.height / frame.height;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const px = Math.min(prob.width - 1, Math.floor((x0 + x) * sx));
        const py = Math.min(prob.height - 1, Math.floor((y0 + y) * sy));
        probability[y * w + x] = prob.data[py * prob.width + px]!;
      }
    }
  }
  const t: ThumbnailSource = { pixels, width: w, height: h, bitDepth: frame.bitDepth, bboxPx: [bx - x0, by - y0, bw, bh] };
  if (d.contourPx) t.contourPx = d.contourPx.map(([x, y]) => [x - x0, y - y0] as [number, number]);
  if (probability) t.probability = probability;
  return t;
}

async function confirmTarget(
  run: ScanRun,
  t: Target,
  found: Found[],
  fields: number,
  confirmed: ConfirmedDefect[],
  startedAtMs: number,
  fieldCentres: Array<[number, number]>,
): Promise<TargetOutcome> {
  const r = run.recipe;
  if (fields < 0) {
    const o: TargetOutcome = { index: t.index, outcome: 'skipped', reason: 'cannot be reached', defects: [], fields: 0 };
    run.journal.append({ t: 'target', index: t.index, outcome: 'skipped', reason: o.reason!, defects: [], fields: 0 });
    return o;
  }
  // Parts of one defect seen in neighbouring fields of a mosaic become one defect.
  const merged = mergeBoxes(
    found.map((f) => ({ ...f, parts: [f] })),
    r.zoom.joinUm,
    (a, b, rect) => ({ ...(a.score >= b.score ? a : b), rect, score: Math.max(a.score, b.score), parts: [...a.parts, ...b.parts] }),
  );
  // A zoom detection confirms a candidate when it lies on one of the target's candidates: what the zoom model finds
  // elsewhere in the region read out has no survey evidence behind it and is not reported.
  // In a rastered field, every defect centred in the part of the outline the field answers for counts.
  const members = t.members ?? [t.rect];
  const near = (rect: Rect): boolean => (t.raster ? contains(t.rect, ...centre(rect)) : members.some((m) => gap(rect, m) <= r.zoom.matchUm));
  // Part of a defect another target already reported (a long scratch crossing two targets' regions) is that defect.
  const known = (m: { rect: Rect; d: PixelDetection; umPerPx: number }): boolean =>
    confirmed.some((c) => iou(c.bboxUm, m.rect) > 0.2 || gap(c.bboxUm, m.rect) <= (c.className === m.d.className ? r.zoom.joinUm : 0) || continues(c, m));
  const fresh = merged.filter((m) => near(m.rect) && !known(m));
  const defects: ConfirmedDefect[] = [];
  for (const m of fresh) {
    const k = defects.length;
    const id = eventId(run.context.scanId, startedAtMs, t.index, k);
    const best = m.parts.reduce((a, b) => (b.d.areaPx > a.d.areaPx ? b : a));
    const um = best.umPerPx;
    const allContour = m.parts.flatMap((p) => p.contourUm);
    let sizeUm = Math.max(...m.parts.map((p) => (p.d.majorAxisPx ?? Math.max(p.d.bboxPx[2], p.d.bboxPx[3])) * p.umPerPx));
    if (m.parts.length > 1) sizeUm = Math.max(sizeUm, allContour.length > 1 ? feret(allContour) : Math.hypot(m.rect[2] - m.rect[0], m.rect[3] - m.rect[1]));
    const [cx, cy] = centre(m.rect);
    const rot = Math.atan2(run.objectiveCal(r.zoom.objective).pixelToStage[2], run.objectiveCal(r.zoom.objective).pixelToStage[0]);
    const def: ConfirmedDefect = {
      eventId: id,
      scanId: run.context.scanId,
      defectIndex: confirmed.length + k,
      className: best.d.className,
      confidence: m.score,
      sizeUm,
      widthUm: (best.d.minorAxisPx ?? Math.min(best.d.bboxPx[2], best.d.bboxPx[3])) * um,
      areaUm2: m.parts.reduce((a, p) => a + p.d.areaPx * p.umPerPx * p.umPerPx, 0),
      orientationDeg: ((((best.d.orientationDeg ?? 0) + (rot * 180) / Math.PI) % 180) + 180) % 180,
      stageXUm: cx,
      stageYUm: cy,
      sampleXUm: cx - r.outline.xUm,
      sampleYUm: cy - r.outline.yUm,
      bboxUm: m.rect,
      provenance: {
        surveyTile: t.tile,
        candidateScore: t.score,
        stagePose: best.pose,
        objective: r.zoom.objective,
        focusScore: best.focusScore,
        calibrationVersion: run.context.calibrationVersion,
        surveyModel: run.context.surveyModel,
        zoomModel: run.context.zoomModel,
        fields,
        capturedAt: best.capturedAt,
        detectedAt: best.detectedAt,
      },
    };
    defects.push(def);
  }
  const published = new Set(run.journal.replayed.filter((x) => x.t === 'published').flatMap((x) => (x.t === 'published' ? [x.eventId] : [])));
  for (const [k, def] of defects.entries()) {
    if (published.has(def.eventId)) continue;
    const part = fresh[k]!.parts.reduce((a, b) => (b.d.areaPx > a.d.areaPx ? b : a));
    await run.deps.sink.defect(def, run.context, part.thumbnail);
    run.journal.append({ t: 'published', eventId: def.eventId });
  }
  confirmed.push(...defects);
  const outcome = fresh.length > 0 ? 'confirmed' : 'rejected';
  const [tx, ty] = fieldCentres[0] ?? centre(t.rect);
  const focused = found.reduce<Found | null>((a, f) => (!a || f.focusScore > a.focusScore ? f : a), null);
  run.deps.recorder?.zoomTarget(run.context, {
    index: t.index,
    pose: { x: tx, y: ty, z: focused?.pose.z ?? null },
    objective: r.zoom.objective,
    focusScore: focused?.focusScore ?? null,
    capturedAt: focused?.capturedAt ?? run.deps.clock.wallTime().toISOString(),
    defects,
    thumbnails: fresh.map((m) => m.parts.reduce((a, b) => (b.d.areaPx > a.d.areaPx ? b : a)).thumbnail),
  });
  run.journal.append({ t: 'target', index: t.index, outcome, defects, fields, fieldCentres });
  return { index: t.index, outcome, defects, fields, fieldCentres };
}

/**
 * A line-like detection that lies on the extension of a line-like defect already reported (same orientation within
 * 12°, within 6 µm of its axis, less than 200 µm beyond its end) is another stretch of the same scratch or crack,
 * seen through another target's region.
 */
function continues(c: ConfirmedDefect, m: { rect: Rect; d: PixelDetection; umPerPx: number }): boolean {
  const major = (m.d.majorAxisPx ?? 0) * m.umPerPx;
  const minor = Math.max(1e-6, (m.d.minorAxisPx ?? 0) * m.umPerPx);
  if (c.sizeUm < 4 * Math.max(c.widthUm, 1e-6) || major < 4 * minor) return false;
  const dAng = Math.abs((((c.orientationDeg - (m.d.orientationDeg ?? 0)) % 180) + 180) % 180);
  if (Math.min(dAng, 180 - dAng) > 12) return false;
  const th = (c.orientationDeg * Math.PI) / 180;
  const [ux, uy] = [Math.cos(th), Math.sin(th)];
  const [mx, my] = centre(m.rect);
  const dx = mx - c.stageXUm;
  const dy = my - c.stageYUm;
  const along = Math.abs(dx * ux + dy * uy);
  const across = Math.abs(-dx * uy + dy * ux);
  return across <= 6 && along <= c.sizeUm / 2 + major / 2 + 200;
}

function feret(pts: Array<[number, number]>): number {
  let best = 0;
  for (let k = 0; k < 36; k++) {
    const c = Math.cos((Math.PI * k) / 36);
    const s = Math.sin((Math.PI * k) / 36);
    let lo = Infinity;
    let hi = -Infinity;
    for (const [x, y] of pts) {
      const v = x * c + y * s;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    best = Math.max(best, hi - lo);
  }
  return best;
}
