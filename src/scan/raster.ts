/**
 * The exhaustive baseline the smart scan is measured against: a serpentine raster of the whole outline at the zoom
 * objective, each field focused (focus map + the same local refinement the zoom phase uses), captured in full and run
 * through the zoom model. Same devices, same code paths, no survey.
 *
 * With `windows`, only that many short runs of consecutive raster fields are measured, spread evenly over the whole
 * serpentine (start, middle, end and between: fields of every region of the sample, with the raster's own short moves
 * and focus climbs between them). In each run the first field only sets the pipeline up (stage there, focus found,
 * its inference started) and is not timed; the timer then covers `fieldsPerWindow` fields, each one's move, focus and
 * capture and the wait for the inference before it, as a full raster would spend them. The mean per-field time of all
 * windows × the raster's field count, plus the focus map's time, estimates the whole raster (`estimatedTotalMs`), which is how the benchmark
 * affords it on a 2-core build machine.
 */
import { serpentine } from '../geometry/route.js';
import { buildFocusMap } from './survey.js';
import { zoomFocus } from './zoom.js';
import type { ScanRun } from './run.js';

export interface RasterResult {
  fields: number;
  measuredFields: number;
  measuredMs: number;
  perFieldMs: number;
  /** Instrument time of the focus map the raster is focused from. */
  focusMapMs: number;
  /** focusMapMs + perFieldMs × fields. */
  estimatedTotalMs: number;
  detections: number;
  split: ReturnType<ScanRun['account']['split']>;
}

export interface RasterOptions {
  /** Measure this many windows of consecutive fields spread over the raster (default: the whole raster). */
  windows?: number;
  /** Timed fields per window (default 3). */
  fieldsPerWindow?: number;
}

export async function rasterScan(run: ScanRun, opts: RasterOptions = {}): Promise<RasterResult> {
  const r = run.recipe;
  const ob = r.zoom.objective;
  const cal = run.objectiveCal(ob);
  const o = r.outline;
  const cam = run.deps.camera;
  // The raster needs the focus map as much as the smart scan does: its time is part of the estimate.
  const mapStart = run.deps.clock.now();
  await buildFocusMap(run);
  const focusMapMs = run.deps.clock.now() - mapStart;
  await run.account.track('travel', () => run.deps.nosepiece.select(ob, run.control.signal));
  await cam.setExposure(r.zoom.exposureUs);
  await cam.setGain(r.zoom.gainDb);
  if (cam.setRoi) await cam.setRoi(null);
  const fields = serpentine(o.xUm, o.yUm, o.xUm + o.widthUm, o.yUm + o.heightUm, cal.fieldUm[0], cal.fieldUm[1], r.survey.overlap);
  const per = Math.max(1, opts.fieldsPerWindow ?? 3);
  // Each window: an untimed lead-in field, then `per` timed fields.
  const windows: number[][] = [];
  if (!opts.windows || (per + 1) * opts.windows >= fields.length) {
    windows.push(fields.map((_, i) => i));
  } else {
    const span = fields.length - (per + 1);
    for (let w = 0; w < opts.windows; w++) {
      const first = Math.round((span * (w + 0.5)) / opts.windows);
      windows.push(Array.from({ length: per + 1 }, (_, k) => first + k));
    }
  }
  let measuredMs = 0;
  let measuredFields = 0;
  let detections = 0;
  let done = 0;
  const total = windows.reduce((a, w) => a + w.length, 0);
  for (const window of windows) {
    const whole = windows.length === 1 && window.length === fields.length;
    let inflight: Promise<number> | null = null;
    let t0 = run.deps.clock.now();
    for (const [k, i] of window.entries()) {
      await run.control.checkpoint();
      const [x, y] = fields[i]!;
      const z0 = run.focusZ(ob, x, y, r.survey.focus.startZUm);
      await run.account.track('travel', () => run.moveTo(ob, x, y, z0));
      if (r.zoom.focus.strategy === 'sweep') await run.account.track('focus', () => zoomFocus(run, x, y, z0));
      const settledAt = run.deps.clock.now();
      const { frame } = await run.account.track('capture', () => run.grabStill(settledAt));
      if (inflight) detections += await run.account.track('inference', () => inflight!);
      inflight = run.account
        .infer(() => run.deps.zoomDetector.detect(frame, run.control.signal))
        .then((out) => out.detections.filter((d) => d.confidence >= r.zoom.confirmThreshold).length)
        .finally(() => frame.release());
      // Awaited after the next move: marked handled now so a failure during the move is not an unhandled rejection.
      inflight.catch(() => undefined);
      // The lead-in field of a window is not timed: the timer starts once it is captured and its inference runs.
      if (k === 0 && !whole) t0 = run.deps.clock.now();
      else measuredFields++;
      run.progress('raster', ++done, total);
    }
    if (whole) {
      if (inflight) detections += await run.account.track('inference', () => inflight!);
      measuredMs += run.deps.clock.now() - t0;
      if (window.length > 0) measuredFields = window.length;
    } else {
      measuredMs += run.deps.clock.now() - t0;
      if (inflight) detections += await run.account.track('inference', () => inflight!);
    }
  }
  const perFieldMs = measuredFields > 0 ? measuredMs / measuredFields : 0;
  return {
    fields: fields.length,
    measuredFields,
    measuredMs,
    perFieldMs,
    focusMapMs,
    estimatedTotalMs: focusMapMs + perFieldMs * fields.length,
    detections,
    split: run.account.split(),
  };
}
