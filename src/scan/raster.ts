/**
 * The exhaustive baseline the smart scan is measured against: a serpentine raster of the whole outline at the zoom
 * objective, each field focused (focus map + the same local refinement the zoom phase uses), captured in full and run
 * through the zoom model. Same devices, same code paths, no survey.
 *
 * `maxFields` measures the first N fields of the raster only (consecutive, so the moves between them are the
 * raster's real moves); `perFieldMs` × `fields` then estimates the whole raster, which is how the benchmark affords
 * it on a 2-core build machine.
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
  estimatedTotalMs: number;
  detections: number;
  split: ReturnType<ScanRun['account']['split']>;
}

export async function rasterScan(run: ScanRun, opts: { maxFields?: number } = {}): Promise<RasterResult> {
  const r = run.recipe;
  const ob = r.zoom.objective;
  const cal = run.objectiveCal(ob);
  const o = r.outline;
  const cam = run.deps.camera;
  await buildFocusMap(run);
  await run.account.track('travel', () => run.deps.nosepiece.select(ob, run.control.signal));
  await cam.setExposure(r.zoom.exposureUs);
  await cam.setGain(r.zoom.gainDb);
  if (cam.setRoi) await cam.setRoi(null);
  const fields = serpentine(o.xUm, o.yUm, o.xUm + o.widthUm, o.yUm + o.heightUm, cal.fieldUm[0], cal.fieldUm[1], r.survey.overlap);
  const n = Math.min(fields.length, opts.maxFields ?? fields.length);
  const t0 = run.deps.clock.now();
  let inflight: Promise<number> | null = null;
  let detections = 0;
  for (let i = 0; i < n; i++) {
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
    run.progress('raster', i + 1, n);
  }
  if (inflight) detections += await run.account.track('inference', () => inflight!);
  const measuredMs = run.deps.clock.now() - t0;
  const perFieldMs = n > 0 ? measuredMs / n : 0;
  return { fields: fields.length, measuredFields: n, measuredMs, perFieldMs, estimatedTotalMs: perFieldMs * fields.length, detections, split: run.account.split() };
}
