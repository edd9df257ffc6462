/**
 * Pixel work in native code, off the main thread, writing into caller-owned memory (typically an ORT input tensor).
 * Each function validates its arguments here, then resolves when the addon's worker is done; outputs must not be read
 * or reused until then. Conventions: row-major images without padding, pixel centres at integer (x, y), y down.
 */
import {
  callSite,
  nativeAddon,
  viaNative,
  type BlendTileOptions,
  type ComponentsOptions,
  type ComponentsResult,
  type FocusMetrics,
  type HistogramOptions,
  type MorphologyOptions,
  type Pixels,
  type PreprocessOptions,
  type Roi,
  type SegmentOptions,
  type Statistics,
  type TileLayout,
} from './binding.js';
import {
  expectDimensions,
  expectNoAlias,
  expectNumber,
  expectOneOf,
  expectOptions,
  expectTypedArray,
  optionalNumber,
  rangeError,
  typeError,
  typedArrayName,
} from './expect.js';

export type {
  BlendTileOptions,
  SegmentOptions,
  ComponentsOptions,
  ComponentsResult,
  FocusMetrics,
  Pixels,
  PreprocessOptions,
  RegionProperties,
  Statistics,
  TileLayout,
} from './binding.js';

const IMAGE_TYPES = ['Uint8Array', 'Uint16Array', 'Float32Array'] as const;

function image(src: unknown, name: string, width: unknown, height: unknown): { px: Pixels; n: number } {
  const n = expectDimensions(width, height);
  return { px: expectTypedArray<Pixels>(src, name, IMAGE_TYPES, n), n };
}

function threadsOption(v: unknown): void {
  optionalNumber(v, 'options.threads', 1, 64, true);
}

/** Tile origins along one axis (mirrors native/src/preprocess.cc AxisPositions). */
function axisPositions(length: number, tile: number, overlap: number): number[] {
  if (length <= tile) return [0];
  const stride = tile - overlap;
  const n = Math.ceil((length - overlap) / stride);
  const pos: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = Math.min(i * stride, length - tile);
    if (pos[pos.length - 1] !== p) pos.push(p);
  }
  return pos;
}

/** The tile layout {@link preprocessTiles} will produce, so the caller can allocate the tensor first. */
export function planTiles(
  width: number,
  height: number,
  options: Pick<PreprocessOptions, 'tile' | 'overlap' | 'binning' | 'channels'> = {},
): { tiles: number; columns: number; rows: number; elements: number } {
  const tile = options.tile ?? 256;
  const b = options.binning ?? 1;
  const columns = axisPositions(Math.floor(width / b), tile, options.overlap ?? 0).length;
  const rows = axisPositions(Math.floor(height / b), tile, options.overlap ?? 0).length;
  return { tiles: columns * rows, columns, rows, elements: columns * rows * (options.channels ?? 1) * tile * tile };
}

/**
 * Dark/flat-field correction, binning, tiling with overlap and normalisation, written into `out` as NCHW float32
 * (N = tiles in row-major order). Runs off the main thread; `out` must not be touched until the promise settles.
 */
export async function preprocessTiles(frame: Pixels, width: number, height: number, options: PreprocessOptions, out: Float32Array): Promise<TileLayout> {
  const site = callSite(preprocessTiles);
  const { px, n } = image(frame, 'frame', width, height);
  const o = expectOptions<PreprocessOptions>(options);
  const tile = optionalNumber(o.tile, 'options.tile', 1, 8192, true) ?? 256;
  optionalNumber(o.overlap, 'options.overlap', 0, tile - 1, true);
  const binning = optionalNumber(o.binning, 'options.binning', 1, 16, true) ?? 1;
  if (Math.floor(width / binning) < 1 || Math.floor(height / binning) < 1) {
    throw rangeError('a binning no larger than the image', 'options.binning', o.binning);
  }
  const channels = optionalNumber(o.channels, 'options.channels', 1, 3, true) ?? 1;
  optionalNumber(o.scale, 'options.scale', -1e30, 1e30);
  optionalNumber(o.pad, 'options.pad', -1e30, 1e30);
  for (const key of ['mean', 'std'] as const) {
    const v = o[key];
    if (Array.isArray(v)) {
      if (v.length !== channels) throw rangeError(`a number or an array of one number per channel (${channels})`, `options.${key}`, v);
      v.forEach((x, i) => expectNumber(x, `options.${key}[${i}]`, -1e30, 1e30));
    } else {
      optionalNumber(v, `options.${key}`, -1e30, 1e30);
    }
    if (key === 'std' && (v === 0 || (Array.isArray(v) && v.includes(0)))) {
      throw rangeError('a non-zero standard deviation', 'options.std', v);
    }
  }
  if (typeof o.dark === 'number') expectNumber(o.dark, 'options.dark', -1e30, 1e30);
  else if (o.dark !== undefined) expectTypedArray(o.dark, 'options.dark', IMAGE_TYPES, n);
  if (o.flat !== undefined) expectTypedArray(o.flat, 'options.flat', ['Float32Array'], n);
  if (o.flatQ14 !== undefined) {
    if (o.flat !== undefined) throw typeError('undefined when options.flat is given', 'options.flatQ14', o.flatQ14);
    expectTypedArray(o.flatQ14, 'options.flatQ14', ['Uint16Array'], n);
  }
  threadsOption(o.threads);
  const plan = planTiles(width, height, { tile, overlap: o.overlap ?? 0, binning, channels: channels as 1 });
  expectTypedArray(out, 'out', ['Float32Array'], plan.elements, true);
  expectNoAlias(out, 'out', px, 'frame');
  return viaNative(site, () => nativeAddon().preprocessTiles(px, width, height, o, out));
}

/**
 * Flat-field gain from a flat frame (a uniformly lit, defect-free field): gain = mean(flat − dark) / (flat − dark),
 * 0 for dead pixels. Resolves with the mean level. Feed `out` to {@link preprocessTiles} as `flat` (Float32Array) or
 * as `flatQ14` (Uint16Array: round(gain · 16384), capped at 65535).
 */
export async function flatFieldGain(
  flat: Pixels,
  width: number,
  height: number,
  dark: number | Pixels | undefined,
  out: Float32Array | Uint16Array,
): Promise<number> {
  const site = callSite(flatFieldGain);
  const { px, n } = image(flat, 'flat', width, height);
  if (typeof dark === 'number') expectNumber(dark, 'dark', -1e30, 1e30);
  else if (dark !== undefined) expectTypedArray(dark, 'dark', IMAGE_TYPES, n);
  expectTypedArray(out, 'out', ['Float32Array', 'Uint16Array'], n);
  expectNoAlias(out, 'out', px, 'flat');
  return viaNative(site, () => nativeAddon().flatFieldGain(px, width, height, dark, out));
}

function sameSizeOut(out: unknown, n: number, src: Pixels, types: readonly ('Uint8Array' | 'Uint16Array' | 'Float32Array')[]): Pixels {
  const o = expectTypedArray<Pixels>(out, 'out', types, n);
  expectNoAlias(o, 'out', src, 'src');
  return o;
}

/** Median filter over a (2r+1)² window with replicated borders; `out` has the type of `src`. */
export async function median(src: Pixels, width: number, height: number, options: { radius?: number; threads?: number }, out: Pixels): Promise<void> {
  const site = callSite(median);
  const { px, n } = image(src, 'src', width, height);
  const o = expectOptions<{ radius: number; threads: number }>(options);
  optionalNumber(o.radius, 'options.radius', 1, 7, true);
  threadsOption(o.threads);
  sameSizeOut(out, n, px, [typedArrayName(px) as 'Uint8Array']);
  return viaNative(site, () => nativeAddon().median(px, width, height, o, out));
}

/** Gaussian blur (separable, replicated borders, radius ⌈3σ⌉ unless given); integer outputs are rounded. */
export async function gaussian(
  src: Pixels,
  width: number,
  height: number,
  options: { sigma?: number; radius?: number; threads?: number },
  out: Pixels,
): Promise<void> {
  const site = callSite(gaussian);
  const { px, n } = image(src, 'src', width, height);
  const o = expectOptions<{ sigma: number; radius: number; threads: number }>(options);
  optionalNumber(o.sigma, 'options.sigma', 0.1, 100);
  optionalNumber(o.radius, 'options.radius', 1, 300, true);
  threadsOption(o.threads);
  sameSizeOut(out, n, px, IMAGE_TYPES);
  return viaNative(site, () => nativeAddon().gaussian(px, width, height, o, out));
}

/** Binary morphology on a 0/non-zero mask, writing 0/1; pixels outside the image are ignored. */
export async function morphology(mask: Uint8Array, width: number, height: number, options: MorphologyOptions, out: Uint8Array): Promise<void> {
  const site = callSite(morphology);
  const n = expectDimensions(width, height);
  const m = expectTypedArray<Uint8Array>(mask, 'mask', ['Uint8Array'], n);
  const o = expectOptions<MorphologyOptions>(options);
  expectOneOf(o.op, 'options.op', ['erode', 'dilate', 'open', 'close']);
  if (o.shape !== undefined) expectOneOf(o.shape, 'options.shape', ['square', 'disk']);
  optionalNumber(o.radius, 'options.radius', 1, 64, true);
  expectTypedArray(out, 'out', ['Uint8Array'], n);
  expectNoAlias(out, 'out', m, 'mask');
  return viaNative(site, () => nativeAddon().morphology(m, width, height, o as MorphologyOptions, out));
}

/** Count, sum, min, max, mean and population standard deviation, optionally over a mask's non-zero pixels. */
export async function statistics(src: Pixels, width: number, height: number, options: { mask?: Uint8Array } = {}): Promise<Statistics> {
  const site = callSite(statistics);
  const { px, n } = image(src, 'src', width, height);
  const o = expectOptions<{ mask: Uint8Array }>(options);
  if (o.mask !== undefined) expectTypedArray(o.mask, 'options.mask', ['Uint8Array'], n);
  return viaNative(site, () => nativeAddon().statistics(px, width, height, o));
}

/**
 * Histogram of values in [min, max] over `bins` equal bins (integer images: the range is min..max inclusive);
 * resolves with the counts below and above the range.
 */
export async function histogram(
  src: Pixels,
  width: number,
  height: number,
  options: HistogramOptions,
  out: Uint32Array,
): Promise<{ below: number; above: number }> {
  const site = callSite(histogram);
  const { px } = image(src, 'src', width, height);
  const o = expectOptions<HistogramOptions>(options);
  const min = optionalNumber(o.min, 'options.min', -1e30, 1e30) ?? 0;
  const max = optionalNumber(o.max, 'options.max', min, 1e30);
  if (px instanceof Float32Array && max !== undefined && !(max > min)) throw rangeError('a maximum above options.min', 'options.max', max);
  const bins = optionalNumber(o.bins, 'options.bins', 1, 65536, true) ?? 256;
  expectTypedArray(out, 'out', ['Uint32Array'], bins);
  return viaNative(site, () => nativeAddon().histogram(px, width, height, o, out));
}

/** Otsu's threshold t (foreground = v > t); integer images use one bin per value, float images `bins` bins. */
export async function otsu(src: Pixels, width: number, height: number, options: { bins?: number } = {}): Promise<number> {
  const site = callSite(otsu);
  const { px } = image(src, 'src', width, height);
  const o = expectOptions<{ bins: number }>(options);
  optionalNumber(o.bins, 'options.bins', 2, 65536, true);
  return viaNative(site, () => nativeAddon().otsu(px, width, height, o));
}

/** mask = src > value (src ≤ value when `invert`), as 0/1; resolves with the count of ones. */
export async function threshold(src: Pixels, width: number, height: number, options: { value: number; invert?: boolean }, out: Uint8Array): Promise<number> {
  const site = callSite(threshold);
  const { px, n } = image(src, 'src', width, height);
  if (options === undefined || options === null || typeof options !== 'object') throw typeError('an object', 'options', options);
  expectNumber(options.value, 'options.value', -1e30, 1e30);
  if (options.invert !== undefined && typeof options.invert !== 'boolean') throw typeError('a boolean', 'options.invert', options.invert);
  expectTypedArray(out, 'out', ['Uint8Array'], n);
  expectNoAlias(out, 'out', px, 'src');
  return viaNative(site, () => nativeAddon().threshold(px, width, height, options, out));
}

/** Block mean over factor×factor blocks into ⌊w/f⌋×⌊h/f⌋ (integer outputs rounded half up). */
export async function bin(src: Pixels, width: number, height: number, options: { factor?: number }, out: Pixels): Promise<void> {
  const site = callSite(bin);
  const { px } = image(src, 'src', width, height);
  const o = expectOptions<{ factor: number }>(options);
  const f = optionalNumber(o.factor, 'options.factor', 1, 64, true) ?? 2;
  if (Math.floor(width / f) < 1 || Math.floor(height / f) < 1) throw rangeError('a factor no larger than the image', 'options.factor', f);
  expectTypedArray(out, 'out', IMAGE_TYPES, Math.floor(width / f) * Math.floor(height / f));
  expectNoAlias(out, 'out', px, 'src');
  return viaNative(site, () => nativeAddon().bin(px, width, height, o, out));
}

/** Resize to outWidth×outHeight, nearest or bilinear (pixel centres aligned, edges clamped). */
export async function resize(
  src: Pixels,
  width: number,
  height: number,
  out: Pixels,
  outWidth: number,
  outHeight: number,
  options: { method?: 'nearest' | 'bilinear' } = {},
): Promise<void> {
  const site = callSite(resize);
  const { px } = image(src, 'src', width, height);
  const n = expectNumber(outWidth, 'outWidth', 1, 65535, true) * expectNumber(outHeight, 'outHeight', 1, 65535, true);
  expectTypedArray(out, 'out', IMAGE_TYPES, n);
  expectNoAlias(out, 'out', px, 'src');
  const o = expectOptions<{ method: 'nearest' | 'bilinear' }>(options);
  if (o.method !== undefined) expectOneOf(o.method, 'options.method', ['nearest', 'bilinear']);
  return viaNative(site, () => nativeAddon().resize(px, width, height, out, outWidth, outHeight, o));
}

/** Variance of the Laplacian and Brenner's gradient over the image or a region of interest. */
export async function focusMetrics(src: Pixels, width: number, height: number, options: { roi?: Roi } = {}): Promise<FocusMetrics> {
  const site = callSite(focusMetrics);
  const { px } = image(src, 'src', width, height);
  const o = expectOptions<{ roi: Roi }>(options);
  if (o.roi !== undefined) {
    const r = expectOptions<Roi>(o.roi, 'options.roi');
    const x = expectNumber(r.x, 'options.roi.x', 0, width - 1, true);
    const y = expectNumber(r.y, 'options.roi.y', 0, height - 1, true);
    expectNumber(r.width, 'options.roi.width', 1, width - x, true);
    expectNumber(r.height, 'options.roi.height', 1, height - y, true);
  }
  return viaNative(site, () => nativeAddon().focusMetrics(px, width, height, o));
}

/**
 * Connected components of a mask (non-zero = foreground) with region properties, per-region statistics of `values`
 * (the model's probability map gives each detection its confidence) and each region's outer contour.
 */
export async function connectedComponents(mask: Uint8Array, width: number, height: number, options: ComponentsOptions = {}): Promise<ComponentsResult> {
  const site = callSite(connectedComponents);
  const n = expectDimensions(width, height);
  const m = expectTypedArray<Uint8Array>(mask, 'mask', ['Uint8Array'], n);
  const o = expectOptions<ComponentsOptions>(options);
  if (o.connectivity !== undefined && o.connectivity !== 4 && o.connectivity !== 8) {
    if (typeof o.connectivity !== 'number') throw typeError('4 or 8', 'options.connectivity', o.connectivity);
    throw rangeError('4 or 8', 'options.connectivity', o.connectivity);
  }
  if (o.values !== undefined) expectTypedArray(o.values, 'options.values', ['Float32Array'], n);
  if (o.labels !== undefined) {
    expectTypedArray(o.labels, 'options.labels', ['Int32Array'], n);
    expectNoAlias(o.labels, 'options.labels', m, 'mask');
  }
  if (o.contours !== undefined && typeof o.contours !== 'boolean') throw typeError('a boolean', 'options.contours', o.contours);
  optionalNumber(o.maxRegions, 'options.maxRegions', 0, 1e7, true);
  if (o.byValue !== undefined && typeof o.byValue !== 'boolean') throw typeError('a boolean', 'options.byValue', o.byValue);
  return viaNative(site, () => nativeAddon().connectedComponents(m, width, height, o));
}

/** Accumulator planes per grid pixel for a K-class network: summed weight, P(not background), and P(class k) for K > 2. */
export function segmentPlanes(classes: number): number {
  return classes > 2 ? classes + 1 : 2;
}

/**
 * Adds one tile's softmax output (K × tileHeight × tileWidth) into the accumulator `acc` (segmentPlanes(K) planes of
 * width × height), weighted by wx[column] · wy[row]. Calls on one accumulator must not overlap: await each.
 */
export async function blendTile(probs: Float32Array, tileWidth: number, tileHeight: number, options: BlendTileOptions, acc: Float32Array): Promise<void> {
  const site = callSite(blendTile);
  const plane = expectDimensions(tileWidth, tileHeight);
  const o = expectOptions<BlendTileOptions>(options);
  const K = expectNumber(o.classes, 'options.classes', 2, 255, true);
  const n = expectDimensions(o.width, o.height);
  expectNumber(o.x, 'options.x', 0, (o.width as number) - 1, true);
  expectNumber(o.y, 'options.y', 0, (o.height as number) - 1, true);
  const p = expectTypedArray<Float32Array>(probs, 'probs', ['Float32Array'], plane * K, false);
  expectTypedArray(o.wx, 'options.wx', ['Float32Array'], tileWidth);
  expectTypedArray(o.wy, 'options.wy', ['Float32Array'], tileHeight);
  const a = expectTypedArray<Float32Array>(acc, 'acc', ['Float32Array'], n * segmentPlanes(K));
  expectNoAlias(a, 'acc', p, 'probs');
  return viaNative(site, () => nativeAddon().blendTile(p, tileWidth, tileHeight, o as BlendTileOptions, a));
}

/**
 * Regions of blended network outputs in one native pass: normalises the accumulator (in place), interpolates to frame pixels
 * (binned models), thresholds P(not background), closes, picks the most probable foreground class per pixel (written
 * to `classMap`; its probability is the region's value) and labels regions of equal class (`labels`) with their
 * properties and contours.
 */
export async function segment(
  acc: Float32Array,
  width: number,
  height: number,
  options: SegmentOptions,
  classMap: Uint8Array,
  labels: Int32Array,
): Promise<ComponentsResult> {
  const site = callSite(segment);
  const n = expectDimensions(width, height);
  const o = expectOptions<SegmentOptions>(options);
  const K = expectNumber(o.classes, 'options.classes', 2, 255, true);
  expectNumber(o.threshold, 'options.threshold', 0, 1);
  optionalNumber(o.closeRadius, 'options.closeRadius', 0, 64, true);
  if (o.connectivity !== undefined && o.connectivity !== 4 && o.connectivity !== 8) throw rangeError('4 or 8', 'options.connectivity', o.connectivity);
  optionalNumber(o.binning, 'options.binning', 1, 16, true);
  const W = optionalNumber(o.outWidth, 'options.outWidth', 1, 65535, true) ?? width;
  const H = optionalNumber(o.outHeight, 'options.outHeight', 1, 65535, true) ?? height;
  optionalNumber(o.maxRegions, 'options.maxRegions', 0, 1e7, true);
  const a = expectTypedArray<Float32Array>(acc, 'acc', ['Float32Array'], n * segmentPlanes(K));
  const cm = expectTypedArray<Uint8Array>(classMap, 'classMap', ['Uint8Array'], W * H);
  const lb = expectTypedArray<Int32Array>(labels, 'labels', ['Int32Array'], W * H);
  if (o.foreground !== undefined) {
    expectTypedArray(o.foreground, 'options.foreground', ['Float32Array'], W * H);
    expectNoAlias(o.foreground, 'options.foreground', a, 'acc');
  }
  expectNoAlias(lb, 'labels', cm, 'classMap');
  if (o.values !== undefined) {
    expectTypedArray(o.values, 'options.values', ['Float32Array'], W * H);
    expectNoAlias(o.values, 'options.values', a, 'acc');
  }
  if (o.probabilityMap !== undefined) {
    const s = optionalNumber(o.probabilityScale, 'options.probabilityScale', 1, 65535, true) ?? 1;
    expectTypedArray(o.probabilityMap, 'options.probabilityMap', ['Uint8Array'], Math.ceil(W / s) * Math.ceil(H / s));
  }
  return viaNative(site, () => nativeAddon().segment(a, width, height, o as SegmentOptions, cm, lb));
}
