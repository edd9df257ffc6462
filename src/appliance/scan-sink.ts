/**
 * Adapts an EventSink to the scan engine's narrow ScanSink port (src/scan/ports.ts): maps the engine's confirmed
 * defects, scan events and summary onto the published payloads. The engine's event ids (reserved in its journal) are
 * kept, so a resumed scan re-publishing a defect produces a duplicate with the same id, never a second defect.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import type { ConfirmedDefect, ScanContext, ScanEvent as EngineEvent, ScanSink, ThumbnailSource as EngineThumbnail } from '../scan/ports.js';
import type { ScanSummary as EngineSummary } from '../scan/summary.js';
import type { DefectEventInput, EncodedImage, EventSink, ScanEventInput } from '../publish/event-sink.js';
import type { AcceptanceReason, ScopeState } from '../publish/payloads.js';
import type { ThumbnailSource } from '../publish/thumbnails.js';

export interface ScanSinkOptions {
  /** Longest side of the published report image (px) and its size bound (bytes). */
  reportMaxSidePx?: number;
  reportMaxBytes?: number;
  /** Told when the report image cannot be read; the finished event goes out without it. */
  onReportImageError?: (path: string, err: Error) => void;
  /**
   * Pass the engine's scan states on to the retained status (default true). False where something that sees the
   * whole device (the appliance with its scan service) reports the state instead.
   */
  forwardState?: boolean;
}

const STATE: Record<string, ScopeState> = {
  idle: 'idle',
  running: 'scanning',
  paused: 'paused',
  faulted: 'faulted',
  aborting: 'aborting',
  finished: 'idle',
  aborted: 'idle',
  failed: 'idle',
};

export function scanSinkFor(sink: EventSink, opts: ScanSinkOptions = {}): ScanSink {
  return {
    async defect(d, ctx, thumbnail) {
      await sink.defect(defectInput(d, ctx), thumbnail ? thumbnailSource(thumbnail) : undefined);
    },
    async scan(e) {
      if (e.kind === 'state') {
        if (opts.forwardState === false) return;
        const s: Parameters<EventSink['state']>[0] = { state: STATE[e.state] ?? 'unknown', scanId: e.context.scanId, sampleId: e.context.sampleId };
        if (e.reason) s.message = e.reason;
        await sink.state(s);
        return;
      }
      const image = e.kind === 'finished' && e.summary.reportImage ? await reportImage(e.summary.reportImage, opts) : undefined;
      await sink.scan(scanInput(e), image);
    },
  };
}

function base(ctx: ScanContext): { scanId: string; sampleId: string; lot?: string; recipe: { id: string; version: string } } {
  const out: { scanId: string; sampleId: string; lot?: string; recipe: { id: string; version: string } } = {
    scanId: ctx.scanId,
    sampleId: ctx.sampleId,
    recipe: { id: ctx.recipeId, version: ctx.recipeVersion },
  };
  if (ctx.lot) out.lot = ctx.lot;
  return out;
}

export function defectInput(d: ConfirmedDefect, ctx: ScanContext): DefectEventInput {
  const p = d.provenance;
  const [x0, y0, x1, y1] = d.bboxUm;
  const mag = /^(\d+(?:\.\d+)?)x$/i.exec(p.objective);
  // The engine measures orientation 0..180°; the payload uses -90..90 (same line, sign shows the slope).
  const orientation = d.orientationDeg > 90 ? d.orientationDeg - 180 : d.orientationDeg;
  return {
    eventId: d.eventId,
    ts: p.detectedAt,
    ...base(ctx),
    defectId: String(d.defectIndex),
    class: d.className,
    confidence: d.confidence,
    sizeUm: d.sizeUm,
    widthUm: d.widthUm,
    areaUm2: d.areaUm2,
    orientationDeg: orientation,
    positionStage: { xUm: d.stageXUm, yUm: d.stageYUm },
    positionSample: { xUm: d.sampleXUm, yUm: d.sampleYUm },
    bboxSample: { xUm: Math.min(x0, x1), yUm: Math.min(y0, y1), widthUm: Math.abs(x1 - x0), heightUm: Math.abs(y1 - y0) },
    survey: { tileIndex: p.surveyTile, candidateScore: p.candidateScore },
    stagePose: { xUm: p.stagePose.x, yUm: p.stagePose.y, zUm: p.stagePose.z },
    objective: mag ? { name: p.objective, magnification: Number(mag[1]) } : { name: p.objective },
    focusScore: p.focusScore,
    calibrationVersion: p.calibrationVersion,
    models: { survey: p.surveyModel, zoom: p.zoomModel },
    captureTs: p.capturedAt,
    detectionTs: p.detectedAt,
  };
}

export function thumbnailSource(t: EngineThumbnail): ThumbnailSource {
  const [x, y, width, height] = t.bboxPx;
  const bitDepth = t.bitDepth <= 8 ? 8 : t.bitDepth <= 12 ? 12 : 16;
  const src: ThumbnailSource = { image: { data: t.pixels, width: t.width, height: t.height, bitDepth }, box: { x, y, width, height } };
  if (t.contourPx && t.contourPx.length > 1) src.contour = t.contourPx;
  if (t.probability) src.heatmap = { data: t.probability, width: t.width, height: t.height };
  return src;
}

export function scanInput(e: Exclude<EngineEvent, { kind: 'state' }>): ScanEventInput {
  const ctx = e.context;
  if (e.kind === 'started') {
    const [x0, y0, x1, y1] = e.outlineUm;
    const w = Math.abs(x1 - x0);
    const h = Math.abs(y1 - y0);
    return {
      phase: 'started',
      ts: e.at,
      ...base(ctx),
      models: { survey: ctx.surveyModel, zoom: ctx.zoomModel },
      calibrationVersion: ctx.calibrationVersion,
      plannedAreaCm2: (w * h) / 1e8,
      outlineStage: { xUm: Math.min(x0, x1), yUm: Math.min(y0, y1), widthUm: w, heightUm: h },
    };
  }
  if (e.kind === 'progress') {
    return {
      phase: 'progress',
      ts: e.at,
      ...base(ctx),
      stage: e.phase,
      done: e.done,
      total: e.total,
      fraction: e.total > 0 ? Math.min(1, e.done / e.total) : 0,
      state: e.state,
    };
  }
  const s = e.summary;
  return {
    phase: 'finished',
    ts: e.at,
    ...base(ctx),
    outcome: s.state === 'finished' ? 'completed' : s.state,
    durationMs: s.time.totalMs,
    summary: summary(s),
  };
}

function summary(s: EngineSummary): Extract<ScanEventInput, { phase: 'finished' }>['summary'] {
  const { total = sumOf(s.countsByClass) / Math.max(s.inspectedAreaCm2, 1e-12), ...byClass } = s.densityPerCm2;
  const t = s.time;
  return {
    defectsTotal: sumOf(s.countsByClass),
    countsByClass: { ...s.countsByClass },
    inspectedAreaCm2: s.inspectedAreaCm2,
    densityPerCm2: { total, byClass },
    acceptance: { result: s.verdict, reasons: s.reasons.map(reason) },
    rasterFields: s.rasterFields,
    instrumentTime: {
      surveyMs: t.surveyMs,
      travelMs: t.travelMs,
      focusMs: t.focusMs,
      captureMs: t.captureMs,
      inferenceMs: t.inferenceMs,
      totalMs: t.totalMs,
      zoomMs: t.zoomMs,
      otherMs: t.otherMs,
    },
    surveyFields: s.surveyFields,
    candidates: s.candidates,
    targetsVisited: s.targetsVisited,
    targetsSkipped: s.targetsSkipped,
    rejected: s.rejected,
    largestUmByClass: { ...s.largestUm },
  };
}

function sumOf(r: Record<string, number>): number {
  return Object.values(r).reduce((a, b) => a + b, 0);
}

/** Structures the engine's reason sentences (src/scan/summary.ts `judge`); any other sentence is kept as it is. */
export function reason(message: string): AcceptanceReason {
  const density = /^(.+?): ([\d.]+) defects\/cm² exceeds ([\d.]+)\/cm²$/.exec(message);
  if (density) return { criterion: 'maxDefectsPerCm2', class: density[1]!, actual: Number(density[2]), limit: Number(density[3]), message };
  const size = /^(.+?): largest defect ([\d.]+) µm exceeds ([\d.]+) µm$/.exec(message);
  if (size) return { criterion: 'maxDefectSizeUm', class: size[1]!, actual: Number(size[2]), limit: Number(size[3]), message };
  return { criterion: 'acceptance', message };
}

async function reportImage(path: string, opts: ScanSinkOptions): Promise<EncodedImage | undefined> {
  try {
    const input = await readFile(path);
    const maxSide = opts.reportMaxSidePx ?? 1600;
    const maxBytes = opts.reportMaxBytes ?? 512 * 1024;
    for (let side = maxSide; side >= 64; side = Math.floor(side * 0.75)) {
      for (const quality of [80, 65, 50]) {
        const { data, info } = await sharp(input)
          .resize(side, side, { fit: 'inside', withoutEnlargement: true })
          .jpeg({ quality })
          .toBuffer({ resolveWithObject: true });
        if (data.length <= maxBytes) return { jpeg: data, widthPx: info.width, heightPx: info.height };
      }
    }
    throw new Error(`cannot fit the report image into ${maxBytes} bytes`);
  } catch (err) {
    opts.onReportImageError?.(path, err as Error);
    return undefined;
  }
}
