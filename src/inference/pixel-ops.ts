/**
 * The pixel work of pre- and post-processing behind one small boundary: the native addon's (src/native/pixel.ts:
 * preprocessTiles writes binned, tiled, normalised tiles straight into the NCHW batch the ORT tensors wrap;
 * blendTile and segment blend the tiles' outputs and turn them into classed regions on the addon's threads) where the
 * addon is built, the JS implementations otherwise (or with SMARTSCOPE_PIXEL_OPS=js). Both produce the same tiles
 * and regions; the JS ones are the readable reference and are tested against the native ones.
 */
import { connectedComponentsJs, orientationDeg, type ComponentsOptions, type ComponentsResult, type Region } from '../geometry/regions.js';
import { hasNativeAddon } from '../native/binding.js';
import {
  blendTile,
  connectedComponents as nativeComponents,
  planTiles,
  preprocessTiles,
  segment,
  segmentPlanes,
  type RegionProperties,
} from '../native/pixel.js';
import type { ProbabilityMap } from './detector.js';
import { openClose } from './morphology.js';
import { probabilityMap, probabilityScale } from './postprocess.js';
import { binFrame, upsampleBilinear } from './resample.js';
import { axisWeights, normaliseTile, ProbabilityBlender, tileGrid, type TileGrid } from './tiling.js';

export interface TileFrameOptions {
  tile: number;
  overlap: number;
  /** Tile sides must be multiples of this (frames smaller than a tile). */
  multiple: number;
  /** k × k block means before tiling (the grid is then in binned pixels). Default 1. */
  binning?: number;
  bitDepth: number;
  /** x = (pixel / (2^bitDepth − 1) − mean) / std. */
  mean: number;
  std: number;
}

export interface TiledFrame {
  /** Tile origins in binned pixels, over a frame of `width` × `height` binned pixels. */
  grid: TileGrid;
  width: number;
  height: number;
  /** tiles × tileHeight × tileWidth floats, tiles in row-major grid order (NCHW batch order, C = 1). */
  tensor: Float32Array;
}

export interface SegmentParams {
  /** A pixel is foreground when P(not background) ≥ threshold. */
  threshold: number;
  /** Closing radius (px, square) of the foreground before regions are formed (0: none). */
  closePx: number;
  connectivity?: 4 | 8;
  /** Frame size: the grid is the frame binned `binning` × `binning`, probabilities are interpolated back up. */
  outWidth: number;
  outHeight: number;
  binning: number;
  /** Also return P(not background) at frame pixels. */
  foreground?: boolean;
  /** Also return the probability map max-pooled to at most this many pixels per side (0: none). */
  probabilityMaxSide?: number;
}

/** The native segmenter's classMap and labels are views of buffers the next frame reuses: copy what you keep. */
export interface Segmentation {
  /** Class per frame pixel (0 = background): the most probable foreground class of each foreground pixel. */
  classMap: Uint8Array;
  /** Region label per pixel (0 = background), 1-based in raster order. */
  labels: Int32Array;
  /** Regions of equal class; `value` is the class, meanValue/maxValue the class probability over the region. */
  regions: Region[];
  foreground?: Float32Array;
  probability?: ProbabilityMap;
}

/**
 * Blends the network outputs of a frame's tiles and turns them into regions. `add` takes one tile's softmax output
 * (K × tileHeight × tileWidth) at grid position (ix, iy); the caller may run the next tile while it blends, but must
 * not change `probs` before `segment` settles. One frame per segmenter.
 */
export interface TileSegmenter {
  add(probs: Float32Array, ix: number, iy: number): void;
  /** Settles when no work of this segmenter runs any more (call before giving up on a frame). */
  drain(): Promise<void>;
  segment(p: SegmentParams): Promise<Segmentation>;
}

export interface PixelOps {
  readonly kind: 'js' | 'native';
  /** Bins, tiles and normalises a whole frame; writes into `reuse` when it is large enough. */
  tileFrame(frame: Uint8Array | Uint16Array, width: number, height: number, o: TileFrameOptions, reuse?: Float32Array): Promise<TiledFrame>;
  /** Regions of equal non-zero mask value with their properties and outer contours. */
  connectedComponents(mask: Uint8Array, width: number, height: number, opts?: ComponentsOptions): Promise<ComponentsResult>;
  /** A segmenter for one frame of `classes`-channel outputs over a `width` × `height` grid tiled as `grid`. */
  segmenter(grid: TileGrid, width: number, height: number, classes: number): TileSegmenter;
}

/**
 * The JS reference of segmentation: a pixel is foreground when P(not background) ≥ threshold (then closed); its class
 * is the most probable foreground class (so a recall-tuned threshold below 0.5 still yields a class) and its value
 * that class's probability (P(not background) for one-class models).
 */
class JsSegmenter implements TileSegmenter {
  private readonly blender: ProbabilityBlender;
  constructor(grid: TileGrid, width: number, height: number, classes: number) {
    this.blender = new ProbabilityBlender(width, height, classes, grid);
  }
  add(probs: Float32Array, ix: number, iy: number): void {
    this.blender.add(probs, ix, iy);
  }
  drain(): Promise<void> {
    return Promise.resolve();
  }
  async segment(p: SegmentParams): Promise<Segmentation> {
    const b = this.blender;
    b.finish();
    let foreground = b.foreground;
    let classPlanes = b.classPlanes;
    const width = p.outWidth;
    const height = p.outHeight;
    if (b.width !== width || b.height !== height) {
      foreground = upsampleBilinear(foreground, b.width, b.height, width, height, p.binning);
      classPlanes = classPlanes.map((q) => upsampleBilinear(q, b.width, b.height, width, height, p.binning));
    }
    const n = width * height;
    const classMap = new Uint8Array(n);
    const values = new Float32Array(n);
    const K = classPlanes.length;
    let fg: Uint8Array = new Uint8Array(n);
    for (let i = 0; i < n; i++) fg[i] = foreground[i]! >= p.threshold ? 1 : 0;
    if (p.closePx > 0) fg = openClose(fg, width, height, 0, p.closePx);
    for (let i = 0; i < n; i++) {
      if (!fg[i]) continue;
      if (K === 0) {
        classMap[i] = 1;
        values[i] = foreground[i]!;
        continue;
      }
      let best = 0;
      let bp = classPlanes[0]![i]!;
      for (let k = 1; k < K; k++) {
        const v = classPlanes[k]![i]!;
        if (v > bp) {
          bp = v;
          best = k;
        }
      }
      classMap[i] = best + 1;
      values[i] = bp;
    }
    const { labels, regions } = connectedComponentsJs(classMap, width, height, { connectivity: p.connectivity ?? 8, values });
    const probability = p.probabilityMaxSide ? probabilityMap(foreground, width, height, p.probabilityMaxSide) : undefined;
    return { classMap, labels, regions, foreground: p.foreground ? foreground : undefined, probability };
  }
}

export const jsPixelOps: PixelOps = {
  kind: 'js',
  async tileFrame(frame, width, height, o, reuse) {
    if ((o.binning ?? 1) > 1) ({ data: frame, width, height } = binFrame(frame, width, height, o.binning!));
    const grid = tileGrid(width, height, o.tile, o.overlap, o.multiple);
    const per = grid.tileWidth * grid.tileHeight;
    const need = per * grid.tiles.length;
    const tensor = reuse && reuse.length >= need ? reuse.subarray(0, need) : new Float32Array(need);
    grid.tiles.forEach((rect, k) => normaliseTile(frame, width, height, o.bitDepth, rect, o.mean, o.std, tensor.subarray(k * per, (k + 1) * per)));
    return { grid, tensor, width, height };
  },
  async connectedComponents(mask, width, height, opts) {
    return connectedComponentsJs(mask, width, height, opts);
  },
  segmenter(grid, width, height, classes) {
    return new JsSegmenter(grid, width, height, classes);
  },
};

/** A region as the addon describes it, in the JS reference's shape. */
function fromNative(r: RegionProperties): Region {
  const [mu20, mu02, mu11] = r.moments;
  return {
    label: r.label,
    value: r.value,
    area: r.area,
    bbox: r.bbox,
    centroid: [r.centroid.x, r.centroid.y],
    orientationDeg: orientationDeg(mu20, mu02, mu11),
    majorAxisPx: r.majorAxis,
    minorAxisPx: r.minorAxis,
    feretMaxPx: r.feretMax,
    feretMinPx: r.feretMin,
    meanValue: r.valueMean ?? 0,
    maxValue: r.valueMax ?? 0,
    contour: r.contour ? Array.from(r.contour) : [],
  };
}

// Frame-sized buffers are kept between frames (one frame at a time per worker): fresh ones cost a page fault per 4 KiB,
// more than the arithmetic on them.
const scratch = { acc: new Float32Array(0), values: new Float32Array(0), classMap: new Uint8Array(0), labels: new Int32Array(0) };
function reuse<K extends keyof typeof scratch>(key: K, n: number): (typeof scratch)[K] {
  let b = scratch[key];
  if (b.length < n) {
    b = new (b.constructor as new (n: number) => (typeof scratch)[K])(n);
    scratch[key] = b;
  }
  return b.subarray(0, n) as (typeof scratch)[K];
}

class NativeSegmenter implements TileSegmenter {
  private readonly acc: Float32Array;
  private blending: Promise<void> = Promise.resolve();
  private readonly wx: Float32Array[];
  private readonly wy: Float32Array[];
  constructor(
    private readonly grid: TileGrid,
    private readonly width: number,
    private readonly height: number,
    private readonly classes: number,
  ) {
    this.acc = reuse('acc', width * height * segmentPlanes(classes));
    this.acc.fill(0);
    this.wx = grid.xs.map((_, i) => axisWeights(grid.xs, i, grid.tileWidth, width));
    this.wy = grid.ys.map((_, i) => axisWeights(grid.ys, i, grid.tileHeight, height));
  }
  add(probs: Float32Array, ix: number, iy: number): void {
    const g = this.grid;
    const o = { classes: this.classes, width: this.width, height: this.height, x: g.xs[ix]!, y: g.ys[iy]!, wx: this.wx[ix]!, wy: this.wy[iy]! };
    // One blend at a time on the accumulator; the network meanwhile runs the next tile.
    this.blending = this.blending.then(() => blendTile(probs, g.tileWidth, g.tileHeight, o, this.acc));
    // A failed blend surfaces in segment(); until then it is not an unhandled rejection.
    this.blending.catch(() => undefined);
  }
  async drain(): Promise<void> {
    await this.blending.catch(() => undefined);
  }
  async segment(p: SegmentParams): Promise<Segmentation> {
    await this.blending;
    const n = p.outWidth * p.outHeight;
    const classMap = reuse('classMap', n);
    const labels = reuse('labels', n);
    const foreground = p.foreground ? new Float32Array(n) : undefined;
    let probability: ProbabilityMap | undefined;
    if (p.probabilityMaxSide) {
      const scale = probabilityScale(p.outWidth, p.outHeight, p.probabilityMaxSide);
      const w = Math.ceil(p.outWidth / scale);
      const h = Math.ceil(p.outHeight / scale);
      probability = { data: new Uint8Array(w * h), width: w, height: h, scale };
    }
    const res = await segment(
      this.acc,
      this.width,
      this.height,
      {
        classes: this.classes,
        threshold: p.threshold,
        closeRadius: p.closePx,
        connectivity: p.connectivity ?? 8,
        binning: p.binning,
        outWidth: p.outWidth,
        outHeight: p.outHeight,
        foreground,
        values: reuse('values', n),
        probabilityMap: probability?.data,
        probabilityScale: probability?.scale,
      },
      classMap,
      labels,
    );
    return { classMap, labels, regions: res.regions.map(fromNative), foreground, probability };
  }
}

// Node-API (Node 20) refuses typed arrays over a SharedArrayBuffer: such frames are copied once into this buffer,
// kept between calls, before the addon reads them.
let unshared = new ArrayBuffer(0);
function notShared<T extends Uint8Array | Uint16Array>(frame: T): T {
  if (!(typeof SharedArrayBuffer !== 'undefined' && frame.buffer instanceof SharedArrayBuffer)) return frame;
  if (unshared.byteLength < frame.byteLength) unshared = new ArrayBuffer(frame.byteLength);
  const copy = (frame instanceof Uint8Array ? new Uint8Array(unshared, 0, frame.length) : new Uint16Array(unshared, 0, frame.length)) as T;
  copy.set(frame);
  return copy;
}

export const nativePixelOps: PixelOps = {
  kind: 'native',
  async tileFrame(frame, width, height, o, reuse) {
    frame = notShared(frame);
    const binning = o.binning ?? 1;
    // A frame smaller than a tile is fed as one smaller square tile (a multiple of the network's stride), so the
    // network sees as little padding as possible.
    const bw = Math.floor(width / binning);
    const bh = Math.floor(height / binning);
    const tile = bw <= o.tile && bh <= o.tile ? Math.min(o.tile, Math.ceil(Math.max(bw, bh) / o.multiple) * o.multiple) : o.tile;
    const overlap = Math.min(o.overlap, tile - 1);
    const plan = planTiles(width, height, { tile, overlap, binning });
    const tensor = reuse && reuse.length >= plan.elements ? reuse.subarray(0, plan.elements) : new Float32Array(plan.elements);
    // Beyond the frame edge the tile holds 0: the training data's mean grey.
    const layout = await preprocessTiles(
      frame,
      width,
      height,
      { tile, overlap, binning, scale: 1 / ((1 << o.bitDepth) - 1), mean: o.mean, std: o.std, pad: 0 },
      tensor,
    );
    const xs: number[] = [];
    const ys: number[] = [];
    for (let c = 0; c < layout.columns; c++) xs.push(layout.origins[2 * c]! / binning);
    for (let r = 0; r < layout.rows; r++) ys.push(layout.origins[2 * r * layout.columns + 1]! / binning);
    const tiles = ys.flatMap((y) => xs.map((x) => ({ x, y, width: tile, height: tile })));
    return { grid: { tiles, xs, ys, tileWidth: tile, tileHeight: tile }, tensor, width: bw, height: bh };
  },
  async connectedComponents(mask, width, height, opts = {}) {
    const labels = new Int32Array(width * height);
    const res = await nativeComponents(mask, width, height, {
      connectivity: opts.connectivity ?? 8,
      values: opts.values,
      labels,
      contours: true,
      maxRegions: 1e7,
      byValue: true,
    });
    return { labels, regions: res.regions.map(fromNative) };
  },
  segmenter(grid, width, height, classes) {
    return new NativeSegmenter(grid, width, height, classes);
  },
};

export function pixelOps(): PixelOps {
  if (process.env.SMARTSCOPE_PIXEL_OPS === 'js') return jsPixelOps;
  return hasNativeAddon() ? nativePixelOps : jsPixelOps;
}
