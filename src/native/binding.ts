/**
 * The native addon's whole surface, declared once (the C++ side is native/src/; registration in addon.cc).
 *
 * Callers go through validating wrappers (src/native/pixel.ts, src/ops/sd-notify.ts, src/camera/native-frame-source.ts):
 * they check every argument before crossing into C++ (same wording as the addon's own checks: "Expected … for … but
 * received …"), and re-throw every error the addon raises asynchronously with the stack of the JS call that started
 * the work ({@link viaNative}), so a failure points at the caller rather than at the event loop.
 *
 * The addon is loaded from native/build/Release/smartscope.node (built by scripts/build-native.mjs); set
 * SMARTSCOPE_NATIVE_ADDON to load another build (the leak check loads an instrumented one).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type Pixels = Uint8Array | Uint16Array | Float32Array;

export interface PreprocessOptions {
  /** Dark level subtracted first: a constant or a frame of the same size. */
  dark?: number | Pixels;
  /** Multiplicative flat-field gain per pixel (see flatFieldGain in pixel.ts). */
  flat?: Float32Array;
  /**
   * The same gain in units of 1/16384 (flatFieldGain into a Uint16Array): half the memory traffic of `flat`, for gains
   * below 4 with a resolution of 6·10⁻⁵. Not together with `flat`.
   */
  flatQ14?: Uint16Array;
  /** Tile side in output pixels (after binning). Default 256. */
  tile?: number;
  /** Overlap between neighbouring tiles in output pixels. Default 0. */
  overlap?: number;
  /** b×b block mean before tiling. Default 1. */
  binning?: number;
  /** Output channels (the grey value repeated, each with its own mean/std). Default 1. */
  channels?: 1 | 2 | 3;
  /** out = (corrected · scale − mean[c]) / std[c]. Defaults 1, 0, 1. */
  scale?: number;
  mean?: number | number[];
  std?: number | number[];
  /** Output value for tile pixels beyond the image (only when the image is smaller than a tile). Default 0. */
  pad?: number;
  /** Worker threads for this call. Default: half the cores, at most 4 (the rest stay free for inference). */
  threads?: number;
}

export interface TileLayout {
  tiles: number;
  columns: number;
  rows: number;
  tileSize: number;
  binning: number;
  channels: number;
  /** Tile origins in frame pixels, [x0, y0, x1, y1, …], tiles in row-major order (NCHW batch order). */
  origins: Int32Array;
  /** Time the work itself took on the worker thread(s) (ms), without queueing. */
  workMs: number;
}

export interface Statistics {
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  /** Population standard deviation. */
  std: number;
}

export interface FocusMetrics {
  /** Variance of the 4-neighbour Laplacian over interior pixels (px value²). */
  varianceOfLaplacian: number;
  /** Brenner's gradient: mean of (I(x+2, y) − I(x, y))² (px value²). */
  brenner: number;
  mean: number;
}

export interface RegionProperties {
  label: number;
  /** The mask value of the region's pixels (with `byValue`, the class; otherwise the first pixel's value). */
  value: number;
  /** Pixels. */
  area: number;
  bbox: { x: number; y: number; width: number; height: number };
  /** Pixel-centre coordinates (x right, y down). */
  centroid: { x: number; y: number };
  /** Angle of the major axis from +x towards +y (radians, in (−π/2, π/2]). */
  orientation: number;
  eccentricity: number;
  /** Axes (px) of the ellipse with the same second moments. */
  majorAxis: number;
  minorAxis: number;
  /** Length (px) of the outer contour through pixel centres (1 per axial step, √2 per diagonal step). */
  perimeter: number;
  /** Maximum and minimum Feret diameter (px): calipers over the contour's convex hull, +1 px (a pixel is 1 × 1). */
  feretMax: number;
  feretMin: number;
  /** Second central moments [μ20, μ02, μ11] (px²) of the pixel centres. */
  moments: [number, number, number];
  /** Mean and maximum of `options.values` over the region (present when values were given). */
  valueMean?: number;
  valueMax?: number;
  /** Outer boundary pixels [x0, y0, x1, y1, …], clockwise on screen (y down), starting at the region's first pixel. */
  contour?: Int32Array;
}

export interface ComponentsResult {
  count: number;
  /** True when more than `maxRegions` components exist: `regions` then lists the first `maxRegions`. */
  truncated: boolean;
  regions: RegionProperties[];
}

/** What the C++ addon exports. Use the validated wrappers below, not this, outside this folder. */
export interface NativeAddon {
  readonly features: { readonly aravis: boolean; readonly v4l2: boolean };
  preprocessTiles(frame: Pixels, width: number, height: number, options: PreprocessOptions, out: Float32Array): Promise<TileLayout>;
  flatFieldGain(flat: Pixels, width: number, height: number, dark: number | Pixels | undefined, out: Float32Array | Uint16Array): Promise<number>;
  median(src: Pixels, width: number, height: number, options: { radius?: number; threads?: number }, out: Pixels): Promise<void>;
  gaussian(src: Pixels, width: number, height: number, options: { sigma?: number; radius?: number; threads?: number }, out: Pixels): Promise<void>;
  morphology(mask: Uint8Array, width: number, height: number, options: MorphologyOptions, out: Uint8Array): Promise<void>;
  statistics(src: Pixels, width: number, height: number, options: { mask?: Uint8Array }): Promise<Statistics>;
  histogram(src: Pixels, width: number, height: number, options: HistogramOptions, out: Uint32Array): Promise<{ below: number; above: number }>;
  otsu(src: Pixels, width: number, height: number, options: { bins?: number }): Promise<number>;
  threshold(src: Pixels, width: number, height: number, options: { value: number; invert?: boolean }, out: Uint8Array): Promise<number>;
  bin(src: Pixels, width: number, height: number, options: { factor?: number }, out: Pixels): Promise<void>;
  resize(
    src: Pixels,
    width: number,
    height: number,
    out: Pixels,
    outWidth: number,
    outHeight: number,
    options: { method?: 'nearest' | 'bilinear' },
  ): Promise<void>;
  focusMetrics(src: Pixels, width: number, height: number, options: { roi?: Roi }): Promise<FocusMetrics>;
  connectedComponents(mask: Uint8Array, width: number, height: number, options: ComponentsOptions): Promise<ComponentsResult>;
  blendTile(probs: Float32Array, tileWidth: number, tileHeight: number, options: BlendTileOptions, acc: Float32Array): Promise<void>;
  segment(acc: Float32Array, width: number, height: number, options: SegmentOptions, classMap: Uint8Array, labels: Int32Array): Promise<ComponentsResult>;
  sdNotify(state: string, socketPath?: string): boolean;
  /** Converts one V4L2 buffer (GREY, Y10, Y12, Y16, Y10P, Y12P, YUYV) into Mono8/Mono12/Mono16 pixels. */
  v4l2Unpack(fourcc: string, src: Uint8Array, width: number, height: number, bytesPerLine: number, out: Uint8Array | Uint16Array): number;
  /** CLOCK_MONOTONIC in ns: the clock of every frame's startNs/arrivalNs. */
  monotonicNs(): number;
  Capture: new (kind: CaptureKind, onEvent: (event: CaptureEvent, detail: string) => void) => NativeCapture;
}

// ---------------------------------------------------------------------------------------------------------------
// Capture (native/src/capture.cc): one device and its frame pool

export type CaptureKind = 'push' | 'genicam' | 'v4l2';
/** 'frame': frames are ready (coalesced); 'disconnected': the device went away (detail says why). */
export type CaptureEvent = 'frame' | 'disconnected' | 'error';
export type NativePixelFormat = 'Mono8' | 'Mono12' | 'Mono16';

export interface CaptureOpenOptions {
  /** Pool buffers (2..64). Default 4. */
  poolSize?: number;
  /** Ready frames kept before the oldest is dropped (1..poolSize-1). Default min(2, poolSize-1). */
  queueDepth?: number;
  width?: number;
  height?: number;
  pixelFormat?: NativePixelFormat;
  exposureUs?: number;
  gainDb?: number;
  /** push: a name for logs. genicam: camera id, IP address, or "Fake_<serial>" for Aravis' in-process fake camera. */
  id?: string;
  /** genicam: 'software' (default: grab() triggers), 'hardware' (triggerSource line) or 'free-run'. */
  trigger?: 'software' | 'hardware' | 'free-run';
  triggerSource?: string;
  offsetX?: number;
  offsetY?: number;
  frameRate?: number;
  packetSize?: number;
  /** genicam, free-run/hardware: how much earlier than arrival − exposure a frame may have started (µs). */
  latencyMarginUs?: number;
  /** v4l2: device node. */
  device?: string;
  /** v4l2: 'GREY' | 'Y10 ' | 'Y12 ' | 'Y16 ' | 'Y10P' | 'Y12P' | 'YUYV'; default the deepest offered. */
  fourcc?: string;
  /** v4l2: gain control units per dB. Default 1. */
  gainScale?: number;
}

export interface CaptureInfo {
  id: string;
  vendor: string;
  model: string;
  serial: string;
  transport: 'push' | 'fake' | 'gige' | 'usb3' | 'other' | 'v4l2';
  width: number;
  height: number;
  /** The whole sensor, whatever region is read out. */
  sensorWidth: number;
  sensorHeight: number;
  pixelFormat: NativePixelFormat;
  exposureUs: number;
  gainDb: number;
  payloadBytes: number;
  /** Frames reach JS in the memory the device wrote (false: unpacked by the capture thread). */
  zeroCopy: boolean;
  dmabuf: boolean;
}

export interface NativeFrame {
  /** A view of pool memory (external ArrayBuffer); detached by release(). */
  data: Uint8Array | Uint16Array;
  slot: number;
  generation: number;
  sequence: number;
  width: number;
  height: number;
  pixelFormat: NativePixelFormat;
  startNs: number;
  arrivalNs: number;
  exposureUs: number;
  gainDb: number;
  /** Instrument times from a push producer's clock (absent for device frames). */
  startMs?: number;
  endMs?: number;
}

export interface NativeCounters {
  delivered: number;
  dropped: number;
  timeouts: number;
  incomplete: number;
  errors: number;
  leaked: number;
  received: number;
  ready: number;
  outstanding: number;
  /** Device-specific: underruns, failures, stream.n_missing_packets, … */
  [extra: string]: number;
}

export interface NativeCapture {
  open(options: CaptureOpenOptions): Promise<CaptureInfo>;
  close(): Promise<void>;
  /** The newest ready frame that started at or after minStartNs (older ready frames are dropped), or null. */
  take(minStartNs: number): NativeFrame | null;
  /** Drops every ready frame; returns how many. */
  flush(): number;
  /** Returns the slot to the pool and detaches `data`. False when already released. */
  release(slot: number, generation: number, data?: ArrayBufferView): boolean;
  /** Software trigger; resolves with the CLOCK_MONOTONIC ns when it was sent. */
  trigger(): Promise<number>;
  setExposure(us: number): Promise<number>;
  setGain(db: number): Promise<number>;
  counters(): NativeCounters;
  /** push: a free pool buffer for the producer to write, or null when none is free. */
  acquire(): { slot: number; generation: number; data: Uint8Array | Uint16Array } | null;
  /** push: the producer finished writing; `data` (its view) is detached. */
  submit(
    slot: number,
    generation: number,
    data: ArrayBufferView,
    meta: { width?: number; height?: number; exposureUs?: number; gainDb?: number; startMs?: number; endMs?: number },
  ): void;
  /** push: gives an acquired buffer back unused. */
  abandon(slot: number, generation: number, data?: ArrayBufferView): boolean;
  /** Whether a view lies in this source's pool memory. */
  contains(view: ArrayBufferView): boolean;
}

export interface MorphologyOptions {
  op: 'erode' | 'dilate' | 'open' | 'close';
  shape?: 'square' | 'disk';
  /** Structuring element radius (px); a square of side 2r+1 or a disk of radius r. Default 1. */
  radius?: number;
}
export interface HistogramOptions {
  bins?: number;
  min?: number;
  max?: number;
}
export interface Roi {
  x: number;
  y: number;
  width: number;
  height: number;
}
export interface ComponentsOptions {
  connectivity?: 4 | 8;
  /** Per-pixel values (e.g. the model's probability map) summarised per region as valueMean/valueMax. */
  values?: Float32Array;
  /** Receives the label image (0 = background, 1..count in raster order of each region's first pixel). */
  labels?: Int32Array;
  /** Trace each region's outer contour. Default true. */
  contours?: boolean;
  /** Regions described at most (labels are always complete). Default 100000. */
  maxRegions?: number;
  /** Regions of equal mask value (a class map) instead of one foreground of all non-zero pixels. Default false. */
  byValue?: boolean;
}

/** Where one tile's softmax output goes in the accumulator planes of the working grid (see {@link segmentPlanes}). */
export interface BlendTileOptions {
  /** Output channels K of the network (class 0 = background). */
  classes: number;
  /** The working grid's size (the accumulator's planes). */
  width: number;
  height: number;
  /** The tile's origin in the grid. */
  x: number;
  y: number;
  /** Blending weights along the tile's columns and rows. */
  wx: Float32Array;
  wy: Float32Array;
}

export interface SegmentOptions {
  classes: number;
  /** A pixel is foreground when P(not background) ≥ threshold. */
  threshold: number;
  /** Square closing radius of the foreground (0: none); outside the image counts as background. */
  closeRadius?: number;
  connectivity?: 4 | 8;
  /** The grid is the frame binned k × k: probabilities are interpolated bilinearly to outWidth × outHeight. */
  binning?: number;
  outWidth?: number;
  outHeight?: number;
  maxRegions?: number;
  /** Receives P(not background) at frame pixels. */
  foreground?: Float32Array;
  /** Scratch of outWidth × outHeight floats (allocated per call when absent): keep one between frames. */
  values?: Float32Array;
  /** Receives P(not background) max-pooled over probabilityScale² blocks, 0..255 (ceil(out/scale) per side). */
  probabilityMap?: Uint8Array;
  probabilityScale?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Loading

const ADDON_RELATIVE = path.join('native', 'build', 'Release', 'smartscope.node');
let loaded: NativeAddon | null | undefined;
let loadFailure = '';

function findAddon(): string | null {
  const override = process.env.SMARTSCOPE_NATIVE_ADDON;
  if (override) return override;
  // src/native (vitest, tsx) or dist/src/native (compiled): walk up to the checkout root.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, ADDON_RELATIVE);
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  return null;
}

/** The addon, or null where it is not built (callers fall back to JS paths). */
export function tryNativeAddon(): NativeAddon | null {
  if (loaded !== undefined) return loaded;
  const file = findAddon();
  if (!file) {
    loadFailure = `${ADDON_RELATIVE} is not built (run scripts/bootstrap)`;
    loaded = null;
    return null;
  }
  try {
    loaded = createRequire(import.meta.url)(file) as NativeAddon;
  } catch (err) {
    loadFailure = `${file} failed to load: ${(err as Error).message}`;
    loaded = null;
  }
  return loaded;
}

export function nativeAddon(): NativeAddon {
  const addon = tryNativeAddon();
  if (!addon) throw new Error(`the native addon is unavailable: ${loadFailure}`);
  return addon;
}

/** Why the addon is unavailable ('' when it loaded). */
export function nativeLoadFailure(): string {
  tryNativeAddon();
  return loadFailure;
}

export function hasNativeAddon(): boolean {
  return tryNativeAddon() !== null;
}

// ---------------------------------------------------------------------------------------------------------------
// Errors carry the caller's stack

/** Captures the caller's stack now, to be given to an error that surfaces later from a worker thread. */
export function callSite(fn: (...args: never[]) => unknown): Error {
  const site = new Error();
  Error.captureStackTrace(site, fn);
  return site;
}

export function withCallSite(err: unknown, site: Error): unknown {
  if (err instanceof Error && site.stack) {
    const frames = site.stack.split('\n').slice(1).join('\n');
    err.stack = `${err.name}: ${err.message}\n${frames}`;
  }
  return err;
}

export async function viaNative<T>(site: Error, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw withCallSite(err, site);
  }
}
