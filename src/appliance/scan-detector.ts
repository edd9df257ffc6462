/**
 * The scan engine's view of a detector (src/scan/ports.ts ScanDetector): a camera Frame in, pixel detections and the
 * probability map out. The composition root wraps each Detector with this.
 */
import type { Frame } from '../camera/frame-source.js';
import type { DetectionOutput, PixelDetection, ScanDetector } from '../scan/ports.js';
import type { Detection, Detector } from '../inference/detector.js';

export function toPixelDetection(d: Detection): PixelDetection {
  const contourPx: Array<[number, number]> = [];
  for (let i = 0; i + 1 < d.contour.length; i += 2) contourPx.push([d.contour[i]!, d.contour[i + 1]!]);
  return {
    classId: d.classId,
    className: d.className,
    confidence: d.confidence,
    bboxPx: [d.bbox.x, d.bbox.y, d.bbox.width, d.bbox.height],
    centroidPx: d.centroidPx,
    areaPx: d.areaPx,
    orientationDeg: d.orientationDeg,
    majorAxisPx: d.sizePx,
    minorAxisPx: d.widthPx,
    contourPx,
  };
}

export interface ScanAdapterOptions {
  /** Return the probability map with each result (for heatmap thumbnails); its largest side in pixels. */
  probabilityMaxSide?: number;
}

export function scanDetector(det: Detector, opts: ScanAdapterOptions = {}): ScanDetector {
  // Getters: after a model swap the next event names the model that produced it.
  return {
    get id() {
      const i = det.info();
      return `${i.name}@${i.version}`;
    },
    get sha256() {
      return det.info().sha256 ?? undefined;
    },
    get classes() {
      return det.info().classes;
    },
    async detect(frame: Frame, signal?: AbortSignal): Promise<DetectionOutput> {
      const r = await det.detect(
        { data: frame.data, width: frame.width, height: frame.height, bitDepth: frame.bitDepth },
        { signal, probabilityMap: opts.probabilityMaxSide ? { maxSide: opts.probabilityMaxSide } : false },
      );
      const out: DetectionOutput = { detections: r.detections.map(toPixelDetection) };
      if (r.probability) {
        const p = r.probability;
        out.probability = { data: Float32Array.from(p.data, (v) => v / 255), width: p.width, height: p.height };
      }
      return out;
    },
  };
}
