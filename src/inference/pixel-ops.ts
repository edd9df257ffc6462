/**
 * The pixel work of pre- and post-processing behind one small boundary, so the JS implementations here and the
 * native addon's (src/native/pixel.ts: preprocessTiles, connectedComponents) are swapped in this one place. Both
 * operations are asynchronous, as the native ones are (they run on the addon's threads).
 *
 * Still JS: binning, tiling + normalisation of a frame into an NCHW float32 batch, and connected components with
 * region properties and contours.
 */
import { connectedComponentsJs, type ComponentsOptions, type ComponentsResult } from './components.js';
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
  /** Tiles and normalises a whole frame; writes into `reuse` when it is large enough. */
  tileFrame(frame: Uint8Array | Uint16Array, width: number, height: number, o: TileFrameOptions, reuse?: Float32Array): Promise<TiledFrame>;
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

export function pixelOps(): PixelOps {
  return jsPixelOps;
}
