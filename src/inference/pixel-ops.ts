/**
 * The pixel work of pre- and post-processing behind one small boundary, so the JS implementations here and the
 * native addon's (src/native/binding.ts) are swapped in this one place.
 *
 * Still JS: tile normalisation (frame → NCHW float32) and connected components with region properties.
 */
import { connectedComponentsJs, type ComponentsOptions, type ComponentsResult } from './components.js';
import { normaliseTile, type TileRect } from './tiling.js';

export interface PixelOps {
  readonly kind: 'js' | 'native';
  normaliseTile(
    frame: Uint8Array | Uint16Array,
    width: number,
    height: number,
    bitDepth: number,
    rect: TileRect,
    mean: number,
    std: number,
    out: Float32Array,
  ): void;
  connectedComponents(mask: Uint8Array, width: number, height: number, opts?: ComponentsOptions): ComponentsResult;
}

export const jsPixelOps: PixelOps = {
  kind: 'js',
  normaliseTile,
  connectedComponents: connectedComponentsJs,
};

export function pixelOps(): PixelOps {
  return jsPixelOps;
}
