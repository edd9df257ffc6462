/**
 * The scan engine's traceability records in the appliance database: the scan with its sample, recipe, calibration
 * and models; a tile per survey field (with its downsampled image) and per zoom target (with each defect's crop).
 * `smartscope records provenance <defect id>` then answers which model and calibration produced a defect.
 */
import type { Logger } from '../kernel/logger.js';
import type { ConfirmedDefect, ScanRecorder, ThumbnailSource } from '../scan/ports.js';
import type { ImageStore } from '../records/images.js';
import type { Records } from '../records/records.js';

export function recordsScanRecorder(records: Records, images: ImageStore, opts: { device: string; softwareVersion: string; logger: Logger }): ScanRecorder {
  const log = opts.logger.child({ module: 'scan-records' });
  const model = (id: string): string | null => (records.hasModel(id) ? id : null);
  let failures = 0;
  // Records must not stop an inspection: the journal and the MES events still hold every result. A failure is logged
  // with what was not recorded.
  const guard = (what: string, f: () => void): void => {
    try {
      f();
    } catch (err) {
      failures++;
      log.error({ err: (err as Error).message, what, failures }, 'scan record not written');
    }
  };
  const crop = (t: ThumbnailSource | null): number | null => {
    if (!t) return null;
    const bytes = new Uint8Array(t.pixels.buffer, t.pixels.byteOffset, t.pixels.byteLength);
    return images.put(bytes, { format: 'raw', width: t.width, height: t.height }).id;
  };
  return {
    begin(ctx, info) {
      guard(`scan ${ctx.scanId}`, () => {
        if (records.hasScan(ctx.scanId)) {
          if (info.resumed) records.markResumed(ctx.scanId);
          return;
        }
        records.ensureSample(ctx.sampleId, undefined, { lot: ctx.lot });
        records.registerCalibration(ctx.calibrationVersion, null, info.calibration);
        records.startScan({
          id: ctx.scanId,
          sampleId: ctx.sampleId,
          device: opts.device,
          softwareVersion: opts.softwareVersion,
          recipe: info.recipe,
          calibrationId: ctx.calibrationVersion,
          surveyModelId: model(ctx.surveyModel),
          zoomModelId: model(ctx.zoomModel),
          startedAt: new Date(info.startedAt),
        });
      });
    },
    surveyTile(ctx, t) {
      guard(`survey tile ${t.index} of ${ctx.scanId}`, () => {
        if (records.hasTile(ctx.scanId, 'survey', t.index)) return;
        const imageId = t.image ? images.put(t.image.pixels, { format: 'raw', width: t.image.width, height: t.image.height }).id : null;
        records.recordTile(ctx.scanId, {
          phase: 'survey',
          seq: t.index,
          xUm: t.pose.x,
          yUm: t.pose.y,
          zUm: t.pose.z,
          objective: t.objective,
          capturedAt: new Date(t.capturedAt),
          imageId,
          modelId: model(ctx.surveyModel),
          // The survey's candidates are not defects (the zoom phase decides): only their count is kept.
          detections: t.candidates,
        });
      });
    },
    zoomTarget(ctx, t) {
      guard(`zoom target ${t.index} of ${ctx.scanId}`, () => {
        if (records.hasTile(ctx.scanId, 'zoom', t.index)) return;
        const defects = t.defects.map((d: ConfirmedDefect, k) => ({
          uid: d.eventId,
          class: d.className,
          confidence: d.confidence,
          xUm: d.stageXUm,
          yUm: d.stageYUm,
          widthUm: d.bboxUm[2] - d.bboxUm[0],
          heightUm: d.bboxUm[3] - d.bboxUm[1],
          areaUm2: d.areaUm2,
          modelId: model(d.provenance.zoomModel),
          calibrationId: d.provenance.calibrationVersion,
          imageId: crop(t.thumbnails[k] ?? null),
          outline: outlineOf(t.thumbnails[k] ?? null),
        }));
        records.recordTile(
          ctx.scanId,
          {
            phase: 'zoom',
            seq: t.index,
            xUm: t.pose.x,
            yUm: t.pose.y,
            zUm: t.pose.z,
            objective: t.objective,
            focus: t.focusScore,
            capturedAt: new Date(t.capturedAt),
            modelId: model(ctx.zoomModel),
          },
          defects,
        );
      });
    },
    finish(ctx, state, summary) {
      guard(`end of ${ctx.scanId}`, () => records.finishScan(ctx.scanId, state === 'finished' ? 'completed' : state, summary));
    },
  };
}

function outlineOf(t: ThumbnailSource | null): { bitDepth: number; bboxPx: [number, number, number, number]; contourPx?: Array<[number, number]> } | null {
  if (!t) return null;
  return { bitDepth: t.bitDepth, bboxPx: t.bboxPx, ...(t.contourPx ? { contourPx: t.contourPx } : {}) };
}
