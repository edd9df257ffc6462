import { describe, expect, it } from 'vitest';
import { jsPixelOps, nativePixelOps, type PixelOps } from '../../src/inference/pixel-ops.js';
import { detectionsOf, probabilityMap } from '../../src/inference/postprocess.js';
import { tileGrid } from '../../src/inference/tiling.js';

interface Case {
  width: number;
  height: number;
  foreground: Float32Array;
  classPlanes: Float32Array[];
  classes: string[];
  threshold: number;
  minAreaPx: number;
  closePx?: number;
  pixelSizeUm: number;
}

/** The frame as one tile of softmax output (background = 1 − foreground), segmented and turned into detections. */
async function postprocess(c: Case, ops: PixelOps) {
  const K = c.classes.length;
  const n = c.width * c.height;
  const probs = new Float32Array(K * n);
  for (let i = 0; i < n; i++) probs[i] = 1 - c.foreground[i]!;
  if (K === 2) probs.set(c.foreground, n);
  else c.classPlanes.forEach((p, k) => probs.set(p, (k + 1) * n));
  const grid = tileGrid(c.width, c.height, Math.max(c.width, c.height), 0, 1);
  const s = ops.segmenter(grid, c.width, c.height, K);
  s.add(probs, 0, 0);
  const seg = await s.segment({ threshold: c.threshold, closePx: c.closePx ?? 0, outWidth: c.width, outHeight: c.height, binning: 1 });
  const out = detectionsOf(seg, c.width, c.height, { classes: c.classes, minAreaPx: c.minAreaPx, pixelSizeUm: c.pixelSizeUm, masks: true });
  return { detections: out.detections, masks: out.masks! };
}

describe.each([
  ['JS reference', jsPixelOps],
  ['native', nativePixelOps],
])('post-processing (%s)', (_name, ops) => {
  // 8 × 4 frame, two foreground classes. Region A (cols 0-2, rows 0-1) leans to class 1, region B (cols 5-7, rows
  // 1-3) to class 2, and a single pixel at (4, 3) is above threshold but below the minimum area.
  const w = 8;
  const h = 4;
  const fg = new Float32Array(w * h);
  const p1 = new Float32Array(w * h);
  const p2 = new Float32Array(w * h);
  const set = (x: number, y: number, f: number, a: number, b: number): void => {
    fg[y * w + x] = f;
    p1[y * w + x] = a;
    p2[y * w + x] = b;
  };
  for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) set(x, y, 0.4, 0.3, 0.1);
  for (let y = 1; y < 4; y++) for (let x = 5; x < 8; x++) set(x, y, 0.9, 0.2, 0.7);
  set(4, 3, 0.95, 0.9, 0.05);

  it('thresholds P(defect), takes the most probable class, drops small regions and orders by confidence', async () => {
    const out = await postprocess(
      { width: w, height: h, foreground: fg, classPlanes: [p1, p2], classes: ['bg', 'dent', 'stain'], threshold: 0.35, minAreaPx: 2, pixelSizeUm: 2 },
      ops,
    );
    expect(out.detections.map((d) => [d.className, d.areaPx, d.confidence])).toEqual([
      ['stain', 9, 0.7],
      ['dent', 6, 0.3],
    ]);
    const stain = out.detections[0]!;
    expect(stain.bbox).toEqual({ x: 5, y: 1, width: 3, height: 3 });
    expect(stain.areaUm2).toBe(36);
    expect(stain.sizeUm).toBeCloseTo((Math.hypot(2, 2) + 1) * 2, 3);
    expect(stain.widthUm).toBeCloseTo(6, 3);
    // The dropped pixel is cleared from the class map; instances point at the detections.
    expect(out.masks.classMap[3 * w + 4]).toBe(0);
    expect(out.masks.instances[3 * w + 4]).toBe(0);
    expect(out.masks.instances[0]).toBe(2);
    expect(out.masks.classMap[2 * w + 6]).toBe(2);
  });

  it('raises the threshold and the low-confidence region disappears', async () => {
    const out = await postprocess(
      { width: w, height: h, foreground: fg, classPlanes: [p1, p2], classes: ['bg', 'dent', 'stain'], threshold: 0.5, minAreaPx: 1, pixelSizeUm: 1 },
      ops,
    );
    expect(out.detections.map((d) => d.className)).toEqual(['dent', 'stain']);
    expect(out.detections[0]!.areaPx).toBe(1);
  });

  it('joins the pieces of a dashed defect when closing is asked for', async () => {
    const W = 12;
    const f = new Float32Array(W * 3);
    for (const x of [1, 2, 4, 5, 7, 8]) f[W + x] = 0.9;
    const run = (closePx: number) =>
      postprocess(
        { width: W, height: 3, foreground: f, classPlanes: [], classes: ['bg', 'defect'], threshold: 0.5, minAreaPx: 1, closePx, pixelSizeUm: 1 },
        ops,
      );
    expect((await run(0)).detections).toHaveLength(3);
    const joined = (await run(1)).detections;
    expect(joined).toHaveLength(1);
    expect(joined[0]!.bbox).toEqual({ x: 1, y: 1, width: 8, height: 1 });
    expect(joined[0]!.areaPx).toBe(8);
  });

  it('max-pools the probability map to the requested size', () => {
    const m = probabilityMap(fg, w, h, 4);
    expect(m).toMatchObject({ width: 4, height: 2, scale: 2 });
    expect(Array.from(m.data)).toEqual([102, 102, 229, 229, 0, 0, 242, 229]);
  });
});
