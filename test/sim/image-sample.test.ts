import { describe, expect, it } from 'vitest';
import type { LabelledImage } from '../../src/datasets/dataset.js';
import { ImageSample } from '../../src/sim/image-sample.js';
import { defaultWorldSpec } from '../../src/sim/defaults.js';
import { renderFrame } from '../../src/sim/optics.js';

function micrograph(name: string): LabelledImage {
  const w = 200;
  const h = 160;
  const pixels = new Uint8Array(w * h).fill(180);
  const mask = new Uint8Array(w * h);
  // A dark 20 × 20 px square (class 1) and a 1-px dark line (class 2).
  for (let y = 40; y < 60; y++)
    for (let x = 50; x < 70; x++) {
      pixels[y * w + x] = 30;
      mask[y * w + x] = 1;
    }
  for (let x = 100; x < 190; x++) {
    pixels[120 * w + x] = 40;
    mask[120 * w + x] = 2;
  }
  return { name, group: name, width: w, height: h, pixels, maxValue: 255, mask };
}

const surface = { z0Um: 0, tiltXUmPerMm: 1, tiltYUmPerMm: 0, bowUm: 0, waveUm: 0, wavePeriodUm: 1000 };

describe('image-backed sample', () => {
  const sample = ImageSample.fromImages([micrograph('a'), micrograph('b')], ['pore', 'crack'], {
    id: 'real',
    pixelSizeUm: 0.5,
    columns: 2,
    gapUm: 10,
    surface,
  });

  it('refuses buffers smaller than the view, like every sample', () => {
    const view = { centreXUm: 10, centreYUm: 10, pixelSizeUm: 0.5, width: 8, height: 4 };
    expect(() => sample.renderReflectance(view, new Float32Array(31))).toThrow(new RangeError('reflectance buffer holds 31 pixels but the view needs 32'));
    expect(() => sample.renderReflectance(view, new Float32Array(32), new Uint8Array(2))).toThrow(
      new RangeError('mask buffer holds 2 pixels but the view needs 32'),
    );
  });

  it('lays the micrographs out as a mosaic at the stated pixel size', () => {
    expect(sample.widthUm).toBeCloseTo(10 + 2 * (200 * 0.5 + 10), 9);
    expect(sample.heightUm).toBeCloseTo(10 + 160 * 0.5 + 10, 9);
  });

  it('lists each labelled region as a ground-truth object in µm', () => {
    const d = sample.defects();
    expect(d.map((x) => x.className)).toEqual(['pore', 'crack', 'pore', 'crack']);
    const pore = d[0]!;
    expect(pore.xUm).toBeCloseTo(10 + 60 * 0.5, 6);
    expect(pore.yUm).toBeCloseTo(10 + 50 * 0.5, 6);
    expect(pore.areaUm2).toBeCloseTo(400 * 0.25, 6);
    expect(pore.bboxUm).toEqual([35, 30, 45, 40]);
    expect(d[2]!.xUm - pore.xUm).toBeCloseTo(110, 6);
  });

  it('renders at the native pixel size exactly, and area-averages at a coarser one', () => {
    const out = new Float32Array(20 * 20);
    const mask = new Uint8Array(20 * 20);
    // Native 0.5 µm pixels, field centred on the pore.
    sample.renderReflectance({ centreXUm: 40, centreYUm: 35, pixelSizeUm: 0.5, width: 20, height: 20 }, out, mask);
    expect(out[0]).toBeCloseTo(0.05 + (30 * 0.9) / 255, 5);
    expect(mask.every((v) => v === 1)).toBe(true);
    // 2 µm pixels (4 × 4 micrograph pixels each): the square becomes 5 × 5 pixels, the 1-px line still labelled.
    const coarse = new Float32Array(60 * 60);
    const cmask = new Uint8Array(60 * 60);
    // Pixel edges aligned with the micrograph's 4-pixel blocks: x from 1 µm, y from −10 µm.
    sample.renderReflectance({ centreXUm: 61, centreYUm: 50, pixelSizeUm: 2, width: 60, height: 60 }, coarse, cmask);
    let pore = 0;
    let crack = 0;
    for (const v of cmask) {
      if (v === 1) pore++;
      if (v === 2) crack++;
    }
    expect(pore).toBe(25);
    expect(crack).toBeGreaterThanOrEqual(22);
    expect(crack).toBeLessThanOrEqual(24);
  });

  it('goes through the optics like any sample: blur and noise at the survey objective', () => {
    const spec = defaultWorldSpec();
    const sensor = { ...spec.sensor, widthPx: 128, heightPx: 128 };
    const out = new Uint16Array(128 * 128);
    const info = renderFrame(
      {
        sample,
        objective: spec.objectives[0]!,
        sensor,
        illumination: spec.illumination,
        centreXUm: 115,
        centreYUm: 50,
        focalPlaneUm: sample.surfaceHeightUm(115, 50),
        rotationRad: 0,
        flipX: false,
        exposureMs: 2,
        gainDb: 0,
        noiseSeed: 1,
      },
      out,
    );
    expect(info.pixelSizeUm).toBeCloseTo(1.3, 9);
    expect(Math.max(...out)).toBeGreaterThan(1000);
  });
});
