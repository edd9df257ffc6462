/**
 * The native addon's whole surface, declared once (the C++ side is native/src/; registration in addon.cc).
 *
 * Callers go through validating wrappers (src/native/pixel.ts, src/ops/sd-notify.ts):
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
  /** Multiplicative flat-field gain per pixel (see {@link flatFieldGain}). */
  flat?: Float32Array;
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
  /** Worker threads for this call. Default: the machine's cores (at most 8). */
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
  preprocessTiles(frame: Pixels, width: number, height: number, options: PreprocessOptions, out: Float32Array): Promise<TileLayout>;
  flatFieldGain(flat: Pixels, width: number, height: number, dark: number | Pixels | undefined, out: Float32Array): Promise<number>;
  median(src: Pixels, width: number, height: number, options: { radius?: number; threads?: number }, out: Pixels): Promise<void>;
  gaussian(src: Pixels, width: number, height: number, options: { sigma?: number; radius?: number; threads?: number }, out: Pixels): Promise<void>;
  morphology(mask: Uint8Array, width: number, height: number, options: MorphologyOptions, out: Uint8Array): Promise<void>;
  statistics(src: Pixels, width: number, height: number, options: { mask?: Uint8Array }): Promise<Statistics>;
  histogram(src: Pixels, width: number, height: number, options: HistogramOptions, out: Uint32Array): Promise<{ below: number; above: number }>;
  otsu(src: Pixels, width: number, height: number, options: { bins?: number }): Promise<number>;
  threshold(src: Pixels, width: number, height: number, options: { value: number; invert?: boolean }, out: Uint8Array): Promise<number>;
  bin(src: Pixels, width: number, height: number, options: { factor?: number }, out: Pixels): Promise<void>;
  resize(src: Pixels, width: number, height: number, out: Pixels, outWidth: number, outHeight: number, options: { method?: 'nearest' | 'bilinear' }): Promise<void>;
  focusMetrics(src: Pixels, width: number, height: number, options: { roi?: Roi }): Promise<FocusMetrics>;
  connectedComponents(mask: Uint8Array, width: number, height: number, options: ComponentsOptions): Promise<ComponentsResult>;
  sdNotify(state: string, socketPath?: string): boolean;
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
