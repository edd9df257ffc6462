/**
 * What the scan engine needs from the rest of the product, stated as narrowly as it uses them. The composition root
 * adapts the inference runtime and the event sink to these.
 */
import type { Frame } from '../camera/frame-source.js';

/** A detection in the pixels of the frame it was found in. */
export interface PixelDetection {
  classId: number;
  className: string;
  confidence: number;
  /** [x, y, width, height] (px). */
  bboxPx: [number, number, number, number];
  centroidPx: [number, number];
  areaPx: number;
  orientationDeg?: number;
  /** Longest extent and the extent across it (px). */
  majorAxisPx?: number;
  minorAxisPx?: number;
  /** Outline (px), when the model gives one. */
  contourPx?: Array<[number, number]>;
}

export interface DetectionOutput {
  detections: PixelDetection[];
  /** Per-pixel defect probability (what the model saw), for thumbnails. Any size; scaled to the frame. */
  probability?: { data: Float32Array; width: number; height: number };
}

export interface ScanDetector {
  /** Bundle id, e.g. "survey@1.2.0" — carried by every event for traceability. */
  readonly id: string;
  readonly sha256?: string;
  readonly classes: readonly string[];
  /** Runs on one frame. The frame's buffer must stay untouched until the promise settles. */
  detect(frame: Frame, signal?: AbortSignal): Promise<DetectionOutput>;
}

/** A grey crop for a defect thumbnail: the defect and its surroundings, with the model's view of it. */
export interface ThumbnailSource {
  pixels: Uint8Array | Uint16Array;
  width: number;
  height: number;
  bitDepth: number;
  /** Defect box and outline in crop pixels. */
  bboxPx: [number, number, number, number];
  contourPx?: Array<[number, number]>;
  /** Model probability over the crop (same size), if the model gave one. */
  probability?: Float32Array;
}

export interface ConfirmedDefect {
  /** Event id (UUIDv7), reserved in the journal before anything is published, so a resumed scan reuses it. */
  eventId: string;
  scanId: string;
  defectIndex: number;
  className: string;
  confidence: number;
  sizeUm: number;
  widthUm: number;
  areaUm2: number;
  orientationDeg: number;
  /** Centre in stage µm (reference objective frame) and relative to the recipe outline's corner. */
  stageXUm: number;
  stageYUm: number;
  sampleXUm: number;
  sampleYUm: number;
  bboxUm: [number, number, number, number];
  provenance: {
    surveyTile: number;
    candidateScore: number;
    stagePose: { x: number; y: number; z: number };
    objective: string;
    focusScore: number;
    calibrationVersion: string;
    surveyModel: string;
    zoomModel: string;
    fields: number;
    capturedAt: string;
    detectedAt: string;
  };
}

export interface ScanSink {
  /** Resolves when the event (and its thumbnail) is durable: it will reach the MES even if the process dies now. */
  defect(defect: ConfirmedDefect, context: ScanContext, thumbnail: ThumbnailSource | null): Promise<void>;
  scan(event: ScanEvent): Promise<void>;
}

export interface ScanContext {
  scanId: string;
  sampleId: string;
  lot: string;
  recipeId: string;
  recipeVersion: string;
  calibrationVersion: string;
  surveyModel: string;
  zoomModel: string;
}

export type ScanEvent =
  | { kind: 'started'; context: ScanContext; at: string; outlineUm: [number, number, number, number] }
  | { kind: 'progress'; context: ScanContext; at: string; phase: string; done: number; total: number; state: string }
  | { kind: 'finished'; context: ScanContext; at: string; summary: import('./summary.js').ScanSummary }
  | { kind: 'state'; context: ScanContext; at: string; state: string; reason?: string };

/**
 * Traceability records of a scan (the appliance's SQLite records): which tile, image, models and calibration
 * produced each defect. Each call is written before the journal step it belongs to counts as done, and repeating a
 * call after a resume records nothing twice.
 */
export interface ScanRecorder {
  begin(context: ScanContext, info: { startedAt: string; resumed: boolean; recipe: unknown; calibration: import('./calibration.js').Calibration }): void;
  surveyTile(
    context: ScanContext,
    tile: {
      index: number;
      pose: { x: number; y: number; z: number };
      objective: string;
      capturedAt: string;
      candidates: number;
      image?: { pixels: Uint8Array; width: number; height: number };
    },
  ): void;
  zoomTarget(
    context: ScanContext,
    target: {
      index: number;
      pose: { x: number; y: number; z: number | null };
      objective: string;
      focusScore: number | null;
      capturedAt: string;
      defects: ConfirmedDefect[];
      thumbnails: Array<ThumbnailSource | null>;
    },
  ): void;
  finish(context: ScanContext, state: 'finished' | 'aborted' | 'failed', summary: unknown): void;
}
