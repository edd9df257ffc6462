/**
 * The pixel work of pre- and post-processing behind one small boundary: the native addon's (src/native/pixel.ts:
 * preprocessTiles writes binned, tiled, normalised tiles straight into the NCHW batch the ORT tensors wrap;
 * connectedComponents labels and measures regions on the addon's threads) where the addon is built, the JS
 * implementations here otherwise (or with SMARTSCOPE_PIXEL_OPS=js). Both produce the same tiles and regions; the JS
 * ones are the readable reference and are tested against the native ones.
 */
import { hasNativeAddon } from '../native/binding.js';
import { connectedComponents as nativeComponents, planTiles, preprocessTiles } from '../native/pixel.js';
import { connectedComponentsJs, type ComponentsOptions, type ComponentsResult, type Region } from './components.js';
import { binFrame } from './resample.js';
import { normaliseTile, tileGrid, type TileGrid } from './tiling.js';

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

export interface PixelOps {
  readonly kind: 'js' | 'native';
  /** Bins, tiles and normalises a whole frame; writes into `reuse` when it is large enough. */
  tileFrame(frame: Uint8Array | Uint16Array, width: number, height: number, o: TileFrameOptions, reuse?: Float32Array): Promise<TiledFrame>;
  /** Regions of equal non-zero mask value with their properties and outer contours. */
  connectedComponents(mask: Uint8Array, width: number, height: number, opts?: ComponentsOptions): Promise<ComponentsResult>;
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
};

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
    const layout = await preprocessTiles(frame, width, height, { tile, overlap, binning, scale: 1 / ((1 << o.bitDepth) - 1), mean: o.mean, std: o.std, pad: 0 }, tensor);
    const xs: number[] = [];
    const ys: number[] = [];
    for (let c = 0; c < layout.columns; c++) xs.push(layout.origins[2 * c]! / binning);
    for (let r = 0; r < layout.rows; r++) ys.push(layout.origins[2 * r * layout.columns + 1]! / binning);
    const tiles = ys.flatMap((y) => xs.map((x) => ({ x, y, width: tile, height: tile })));
    return { grid: { tiles, xs, ys, tileWidth: tile, tileHeight: tile }, tensor, width: bw, height: bh };
  },
  async connectedComponents(mask, width, height, opts = {}) {
    // The addon labels all non-zero pixels as one foreground: one pass per class value present, labels offset.
    const n = width * height;
    const present = new Uint8Array(256);
    for (let i = 0; i < n; i++) present[mask[i]!] = 1;
    const values = [...present.keys()].filter((v) => v > 0 && present[v]);
    const labels = new Int32Array(n);
    const regions: Region[] = [];
    const own = values.length > 1 ? new Int32Array(n) : labels;
    const single = values.length > 1 ? new Uint8Array(n) : mask;
    for (const v of values) {
      if (single !== mask) for (let i = 0; i < n; i++) single[i] = mask[i] === v ? 1 : 0;
      const m = single;
      const offset = regions.length;
      const res = await nativeComponents(m, width, height, { connectivity: opts.connectivity ?? 8, values: opts.values, labels: own, contours: true, maxRegions: 1e7 });
      if (own !== labels) for (let i = 0; i < n; i++) if (own[i]) labels[i] = own[i]! + offset;
      for (const r of res.regions) {
        regions.push({
          label: r.label + offset,
          value: v,
          area: r.area,
          bbox: [r.bbox.x, r.bbox.y, r.bbox.x + r.bbox.width, r.bbox.y + r.bbox.height],
          centroid: [r.centroid.x, r.centroid.y],
          orientationDeg: ((((r.orientation * 180) / Math.PI) % 180) + 180) % 180,
          meanValue: r.valueMean ?? 0,
          maxValue: r.valueMax ?? 0,
          contour: r.contour ? Array.from(r.contour) : [],
        });
      }
    }
    return { labels, regions };
  },
};

export function pixelOps(): PixelOps {
  if (process.env.SMARTSCOPE_PIXEL_OPS === 'js') return jsPixelOps;
  return hasNativeAddon() ? nativePixelOps : jsPixelOps;
}
