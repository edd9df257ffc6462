/**
 * Tiling a frame into model-sized tiles with overlap, and blending the tiles' probabilities back into one map.
 *
 * Tiles are all `tile` × `tile` (fixed shapes keep TensorRT engines and ORT's allocations reusable); along each axis
 * they are spread evenly so the first starts at 0, the last ends at the frame edge and neighbours overlap by at least
 * `overlap` pixels. A frame side shorter than a tile gives one tile of the frame's size rounded up to the network's
 * size multiple, padded by reflection.
 *
 * Blending: each tile's probabilities are weighted by a separable window that is 1 in the tile's interior and falls
 * linearly to near 0 across the overlap on every side that has a neighbour (sides on the frame edge keep weight 1),
 * then the weighted sum is divided by the summed weights. A prediction therefore comes mostly from the tile in which
 * the pixel is farthest from a border, where the network saw the most context; seams disappear.
 */

export interface TileRect {
  x: number;
  y: number;
  /** Size of the tile fed to the network (≥ the part inside the frame when the frame is smaller than a tile). */
  width: number;
  height: number;
}

export interface TileGrid {
  tiles: TileRect[];
  xs: number[];
  ys: number[];
  tileWidth: number;
  tileHeight: number;
}

/** Start positions along one axis of length `length`. */
export function axisPositions(length: number, tile: number, overlap: number): number[] {
  if (!(tile > 0)) throw new RangeError(`tile size must be > 0 but is ${tile}`);
  if (!(overlap >= 0 && overlap < tile)) throw new RangeError(`tile overlap must be in [0, ${tile}) but is ${overlap}`);
  if (length <= tile) return [0];
  const n = Math.ceil((length - overlap) / (tile - overlap));
  const span = length - tile;
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(Math.round((i * span) / (n - 1)));
  return out;
}

export function roundUp(v: number, multiple: number): number {
  return Math.ceil(v / multiple) * multiple;
}

export function tileGrid(width: number, height: number, tile: number, overlap: number, multiple = 1): TileGrid {
  const xs = axisPositions(width, tile, overlap);
  const ys = axisPositions(height, tile, overlap);
  const tileWidth = width < tile ? roundUp(width, multiple) : tile;
  const tileHeight = height < tile ? roundUp(height, multiple) : tile;
  const tiles: TileRect[] = [];
  for (const y of ys) for (const x of xs) tiles.push({ x, y, width: tileWidth, height: tileHeight });
  return { tiles, xs, ys, tileWidth, tileHeight };
}

/**
 * 1-D blending weights for a tile starting at `start` on an axis whose tiles start at `positions`: a linear ramp
 * over the overlap with the previous / next tile, 1 elsewhere; never 0 so every pixel has weight.
 */
export function axisWeights(positions: number[], index: number, tile: number, length: number): Float32Array {
  const w = new Float32Array(tile).fill(1);
  const start = positions[index]!;
  const end = Math.min(length, start + tile);
  const floor = 1e-3;
  if (index > 0) {
    const ov = positions[index - 1]! + tile - start;
    for (let i = 0; i < ov && i < tile; i++) w[i] = Math.min(w[i]!, Math.max(floor, (i + 0.5) / ov));
  }
  if (index < positions.length - 1) {
    const ov = end - positions[index + 1]!;
    for (let i = 0; i < ov && i < tile; i++) {
      const k = end - start - 1 - i;
      if (k >= 0) w[k] = Math.min(w[k]!, Math.max(floor, (i + 0.5) / ov));
    }
  }
  return w;
}

/**
 * Accumulates weighted per-class probabilities of tiles into frame-sized planes. Only the planes the post-processing
 * needs are kept: the foreground probability (1 − P(background)) and, for multi-class models, each foreground class.
 */
export class ProbabilityBlender {
  /** Blended foreground probability, width × height. */
  readonly foreground: Float32Array;
  /** Blended probability of each foreground class (classes − 1 planes), empty for single-foreground models. */
  readonly classPlanes: Float32Array[];
  private readonly weight: Float32Array;
  private finished = false;

  constructor(
    readonly width: number,
    readonly height: number,
    readonly classes: number,
    private readonly grid: TileGrid,
  ) {
    const n = width * height;
    this.foreground = new Float32Array(n);
    this.weight = new Float32Array(n);
    this.classPlanes = classes > 2 ? Array.from({ length: classes - 1 }, () => new Float32Array(n)) : [];
  }

  /**
   * Adds one tile's output: `probs` is NCHW (N = 1) with `classes` channels of the tile's size; `ix`, `iy` index the
   * tile in the grid.
   */
  add(probs: Float32Array, ix: number, iy: number): void {
    const g = this.grid;
    const tw = g.tileWidth;
    const th = g.tileHeight;
    const x0 = g.xs[ix]!;
    const y0 = g.ys[iy]!;
    const wx = axisWeights(g.xs, ix, tw, this.width);
    const wy = axisWeights(g.ys, iy, th, this.height);
    const plane = tw * th;
    const w = Math.min(tw, this.width - x0);
    const h = Math.min(th, this.height - y0);
    const K = this.classes;
    for (let r = 0; r < h; r++) {
      const src = r * tw;
      const dst = (y0 + r) * this.width + x0;
      const wr = wy[r]!;
      for (let c = 0; c < w; c++) {
        const wt = wr * wx[c]!;
        const s = src + c;
        const d = dst + c;
        this.foreground[d] += wt * (1 - probs[s]!);
        this.weight[d] += wt;
        for (let k = 1; k < K && K > 2; k++) this.classPlanes[k - 1]![d] += wt * probs[k * plane + s]!;
      }
    }
  }

  /** Divides by the summed weights; call once after every tile was added. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    const n = this.width * this.height;
    for (let i = 0; i < n; i++) {
      const inv = this.weight[i]! > 0 ? 1 / this.weight[i]! : 0;
      this.foreground[i] *= inv;
      for (const p of this.classPlanes) p[i] *= inv;
    }
  }
}

/**
 * Copies one tile of a grey frame into `out` (the N = 1, C = 1 plane of an NCHW float32 tensor), normalised as
 * (pixel / (2^bitDepth − 1) − mean) / std. Parts of the tile beyond the frame edge are filled by reflection.
 */
export function normaliseTile(
  frame: Uint8Array | Uint16Array,
  width: number,
  height: number,
  bitDepth: number,
  rect: TileRect,
  mean: number,
  std: number,
  out: Float32Array,
): void {
  const scale = 1 / (((1 << bitDepth) - 1) * std);
  const offset = -mean / std;
  for (let r = 0; r < rect.height; r++) {
    const fy = reflect(rect.y + r, height);
    const row = fy * width;
    const o = r * rect.width;
    const inside = Math.min(rect.width, width - rect.x);
    for (let c = 0; c < inside; c++) out[o + c] = frame[row + rect.x + c]! * scale + offset;
    for (let c = inside; c < rect.width; c++) out[o + c] = frame[row + reflect(rect.x + c, width)]! * scale + offset;
  }
}

/** Mirror index into [0, n) without repeating the edge pixel (… 2 1 0 1 2 …). */
export function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}
