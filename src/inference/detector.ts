/**
 * The Detector port: a frame (grey pixels) or a ready-made input tensor in, defect detections out.
 *
 * Contract (every adapter passes test/contracts/detector.contract.ts):
 * - `detect()` never blocks the event loop for the inference itself: adapters that run a network do it in a worker.
 * - Detections are in frame pixels; sizes and areas are also given in µm using the frame's `pixelSizeUm`. With a
 *   `pixelToStage` affine the centroid is also given in stage µm.
 * - The frame's memory is only read. When it lives in a SharedArrayBuffer it is read in place (no copy); otherwise it
 *   is copied once into a buffer the worker owns, so the caller may release the frame as soon as `detect()` resolves
 *   — or, with `transfer: true`, the buffer is moved to the worker and must not be touched again.
 * - A bad input (wrong buffer length, bit depth, zero size) rejects with an Error naming the field; the detector keeps
 *   serving. After `close()` every call rejects with `closed: true`.
 * - `signal` aborts a detect that has not started running; the promise rejects with `canceled: true`.
 */

export interface FrameInput {
  /** Grey pixels, row-major, no padding; values LSB-aligned to `bitDepth`. */
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
  bitDepth: 8 | 12 | 16;
  /** Pixel size at the sample (µm). Left out: the model's training pixel size (or 1 when it has none). */
  pixelSizeUm?: number;
  /** Affine from pixel (column, row) to stage µm: x = x0 + c·ax + r·bx, y = y0 + c·ay + r·by. */
  pixelToStage?: PixelToStage;
  /** Move (not copy) `data`'s buffer into the worker; the caller must not use it afterwards. */
  transfer?: boolean;
}

/** A tensor already tiled and normalised the way the model's manifest says (e.g. by the native addon). */
export interface TensorInput {
  /** NCHW float32, N = 1, C = 1: one tile of `width` × `height`. */
  tensor: Float32Array;
  width: number;
  height: number;
  pixelSizeUm?: number;
  pixelToStage?: PixelToStage;
  transfer?: boolean;
}

export type DetectorInput = FrameInput | TensorInput;

export interface PixelToStage {
  x0: number;
  y0: number;
  ax: number;
  ay: number;
  bx: number;
  by: number;
}

export interface Detection {
  /** Index into the detector's `classes` (never 0, the background). */
  classId: number;
  className: string;
  /** Mean probability of the detected class over the region (0 … 1). */
  confidence: number;
  /** Highest probability of the class inside the region (0 … 1). */
  maxProbability: number;
  /** Bounding box in frame pixels: left, top, width, height. */
  bbox: { x: number; y: number; width: number; height: number };
  /** Outer boundary in frame pixels, flat [x0, y0, x1, y1, …], clockwise in image coordinates. */
  contour: number[];
  areaPx: number;
  areaUm2: number;
  /** Longest extent (maximum Feret diameter) and the extent across it (minimum Feret width) in pixels. */
  sizePx: number;
  widthPx: number;
  /** Longest extent (maximum Feret diameter) in µm. */
  sizeUm: number;
  /** Extent across the long axis (minimum Feret width) in µm. */
  widthUm: number;
  /** Centroid in frame pixels (column, row). */
  centroidPx: [number, number];
  /** Centroid in stage µm, when the input carried `pixelToStage`. */
  centroidUm?: [number, number];
  /** Angle of the long axis from +x (image columns) towards +y (rows), degrees in [0, 180). */
  orientationDeg: number;
}

export interface ProbabilityMap {
  /** Defect probability (1 − P(background)) scaled to 0 … 255, max-pooled when downsampled. */
  data: Uint8Array;
  width: number;
  height: number;
  /** Frame pixels per map pixel. */
  scale: number;
}

export interface DetectTiming {
  totalMs: number;
  /** Time inside the network (all tiles). */
  inferenceMs: number;
  preprocessMs: number;
  postprocessMs: number;
  tiles: number;
  msPerTile: number;
}

export interface SegmentationMasks {
  /** Class per frame pixel after thresholding and dropping regions below the minimum area (0 = background). */
  classMap: Uint8Array;
  /** Detection per frame pixel: index into `detections` + 1 (0 = none). */
  instances: Int32Array;
  width: number;
  height: number;
}

export interface DetectionResult {
  detections: Detection[];
  probability?: ProbabilityMap;
  /** Only with `DetectOptions.masks` (evaluation, thumbnails with outlines). */
  masks?: SegmentationMasks;
  timing: DetectTiming;
  model: { name: string; version: string; sha256: string | null; kind: 'onnx' | 'classical' };
}

export interface DetectOptions {
  /** Also return the probability map for heatmap thumbnails; `maxSide` bounds its size (default 512). */
  probabilityMap?: boolean | { maxSide: number };
  /** Overrides the foreground threshold of the model's manifest (0 … 1). */
  threshold?: number;
  /** Also return the class map and the per-pixel detection index. */
  masks?: boolean;
  signal?: AbortSignal;
}

export interface DetectorInfo {
  name: string;
  version: string;
  kind: 'onnx' | 'classical';
  task: string;
  /** Class names; index 0 is the background. */
  classes: string[];
  /** Pixel size the model was trained at (µm), null when unknown. */
  pixelSizeUm: number | null;
  /** Execution provider running the model ('cpu', 'cuda', 'tensorrt'; 'js' for the classical baseline). */
  provider: string;
  sha256: string | null;
  tileSize: number;
  tileOverlap: number;
}

export interface Detector {
  info(): DetectorInfo;
  detect(input: DetectorInput, opts?: DetectOptions): Promise<DetectionResult>;
  close(): Promise<void>;
}

/** Errors with marker fields, as elsewhere in the product: `closed`, `canceled`, `badModel`, `badInput`, `overloaded`. */
export interface DetectorError extends Error {
  closed?: boolean;
  overloaded?: boolean;
  canceled?: boolean;
  badModel?: boolean;
  badInput?: boolean;
}

export function detectorError(message: string, marks: Omit<DetectorError, 'name' | 'message'> = {}): DetectorError {
  return Object.assign(new Error(message), marks);
}

export function isTensorInput(input: DetectorInput): input is TensorInput {
  return (input as TensorInput).tensor !== undefined;
}

/** Checks a frame or tensor input; throws a `badInput` error naming the field. */
export function checkInput(input: DetectorInput): void {
  const { width, height } = input;
  if (!Number.isInteger(width) || width <= 0) throw detectorError(`input.width must be a positive integer but is ${width}`, { badInput: true });
  if (!Number.isInteger(height) || height <= 0) throw detectorError(`input.height must be a positive integer but is ${height}`, { badInput: true });
  if (input.pixelSizeUm !== undefined && !(input.pixelSizeUm > 0)) {
    throw detectorError(`input.pixelSizeUm must be > 0 but is ${input.pixelSizeUm}`, { badInput: true });
  }
  if (isTensorInput(input)) {
    if (!(input.tensor instanceof Float32Array)) throw detectorError('input.tensor must be a Float32Array', { badInput: true });
    if (input.tensor.length !== width * height) {
      throw detectorError(`input.tensor holds ${input.tensor.length} values but ${width}×${height} needs ${width * height}`, { badInput: true });
    }
    return;
  }
  const f = input;
  if (![8, 12, 16].includes(f.bitDepth)) throw detectorError(`input.bitDepth must be 8, 12 or 16 but is ${f.bitDepth}`, { badInput: true });
  if (f.bitDepth === 8 ? !(f.data instanceof Uint8Array) : !(f.data instanceof Uint16Array)) {
    throw detectorError(`input.data must be a ${f.bitDepth === 8 ? 'Uint8Array' : 'Uint16Array'} for a ${f.bitDepth}-bit frame`, { badInput: true });
  }
  if (f.data.length !== width * height) {
    throw detectorError(`input.data holds ${f.data.length} pixels but ${width}×${height} needs ${width * height}`, { badInput: true });
  }
}
