import { describe, expect, it } from 'vitest';
import { binFrame, upsampleBilinear } from '../../src/inference/resample.js';

describe('resampling', () => {
  it('bins k × k blocks to their rounded mean and drops partial edge blocks', () => {
    const src = Uint16Array.from([1, 3, 10, 10, 7, 5, 2, 4, 10, 10, 7, 5, 9, 9, 9]);
    // 5 × 3 frame → 2 × 1 blocks of 2 × 2.
    const b = binFrame(src, 5, 3, 2);
    expect(b).toMatchObject({ width: 2, height: 1 });
    expect(Array.from(b.data)).toEqual([Math.round((1 + 3 + 5 + 2) / 4), Math.round((10 + 10 + 4 + 10) / 4)]);
    expect(b.data).toBeInstanceOf(Uint16Array);
  });

  it('upsamples by interpolating between block centres, clamped at the edges', () => {
    const up = upsampleBilinear(Float32Array.from([0, 1]), 2, 1, 4, 2, 2);
    // Frame x = 0..3 sit at binned x = -0.25, 0.25, 0.75, 1.25 → clamped to [0, 1].
    expect(Array.from(up.subarray(0, 4))).toEqual([0, 0.25, 0.75, 1]);
    expect(Array.from(up.subarray(4))).toEqual([0, 0.25, 0.75, 1]);
  });

  it('round-trips a smooth plane closely', () => {
    const W = 64;
    const plane = Float32Array.from({ length: W * W }, (_, i) => 0.5 + 0.4 * Math.sin((i % W) / 9));
    const k = 2;
    const small = new Float32Array((W / k) * (W / k));
    for (let y = 0; y < W / k; y++) for (let x = 0; x < W / k; x++) small[y * (W / k) + x] = (plane[2 * y * W + 2 * x]! + plane[2 * y * W + 2 * x + 1]!) / 2;
    const up = upsampleBilinear(small, W / k, W / k, W, W, k);
    let worst = 0;
    for (let i = 0; i < up.length; i++) if (i % W > 1 && i % W < W - 2) worst = Math.max(worst, Math.abs(up[i]! - plane[i]!));
    expect(worst).toBeLessThan(0.01);
  });
});
