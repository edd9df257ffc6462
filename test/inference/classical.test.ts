import { describe, expect, it } from 'vitest';
import { ClassicalDetector } from '../../src/inference/classical-detector.js';
import { classicalPreset } from '../../src/inference/classical-presets.js';
import { dilate, erode, medianBackground, openClose, otsu, robustSigma } from '../../src/inference/morphology.js';

describe('morphology', () => {
  it('opening removes specks, closing bridges gaps, edges are not eaten from outside', () => {
    const w = 9;
    const h = 5;
    const m = new Uint8Array(w * h);
    for (let y = 1; y < 4; y++) for (let x = 0; x < 4; x++) m[y * w + x] = 1; // block touching the left edge
    for (let y = 1; y < 4; y++) for (let x = 5; x < 9; x++) m[y * w + x] = 1; // block one column away
    m[0 * w + 8] = 1; // speck joined only diagonally
    const o = openClose(m, w, h, 1, 0);
    expect(o[1 * w + 0]).toBe(1);
    expect(o[0 * w + 8]).toBe(0);
    const c = openClose(m, w, h, 0, 1);
    expect(c[2 * w + 4]).toBe(1);
    expect(Array.from(erode(dilate(m, w, h, 2), w, h, 2)).filter(Boolean).length).toBeGreaterThan(m.filter(Boolean).length);
  });

  it('finds Otsu’s split between two grey levels and the noise σ of a signal', () => {
    const v = new Float32Array(1000);
    for (let i = 0; i < 1000; i++) v[i] = i < 600 ? 0.2 : 0.7;
    const t = otsu(v);
    expect(t).toBeGreaterThan(0.2);
    expect(t).toBeLessThanOrEqual(0.7);
    const noise = Float32Array.from({ length: 7001 }, (_, i) => (((i * 7919) % 1000) / 1000 - 0.5) * 0.02);
    expect(robustSigma(noise, 1)).toBeCloseTo(0.005 * 1.4826, 3);
  });

  it('estimates the background under a small defect without being pulled by it', () => {
    const w = 64;
    const img = new Float32Array(w * w).fill(0.6);
    for (let y = 30; y < 34; y++) for (let x = 30; x < 34; x++) img[y * w + x] = 0.1;
    const bg = medianBackground(img, w, w, 8);
    expect(bg[32 * w + 32]).toBeCloseTo(0.6, 6);
  });
});

describe('classical baseline', () => {
  it('finds a pit, a bright particle and a scratch on a grey frame and names them by shape and polarity', async () => {
    const w = 256;
    const px = new Uint16Array(w * w);
    for (let i = 0; i < px.length; i++) px[i] = 2400 + ((i * 7919) % 61);
    const paint = (f: (x: number, y: number) => boolean, v: number): void => {
      for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) if (f(x, y)) px[y * w + x] = v;
    };
    paint((x, y) => (x - 60) ** 2 + (y - 60) ** 2 <= 100, 900); // pit: dark disc, r = 10
    paint((x, y) => (x - 190) ** 2 / 144 + (y - 70) ** 2 / 64 <= 1, 3900); // particle: bright ellipse
    paint((x, y) => x >= 30 && x < 230 && y >= 180 && y < 184, 1000); // scratch: long straight dark bar
    const det = new ClassicalDetector(classicalPreset('zoom'), 0.13);
    const r = await det.detect({ data: px, width: w, height: w, bitDepth: 12 });
    const found = r.detections.map((d) => [d.className, Math.round(d.centroidPx[0]), Math.round(d.centroidPx[1])]).sort();
    expect(found).toEqual([
      ['particle', 190, 70],
      ['pit', 60, 60],
      ['scratch', 130, 182],
    ]);
    const pit = r.detections.find((d) => d.className === 'pit')!;
    expect(pit.areaUm2).toBeCloseTo(pit.areaPx * 0.13 * 0.13, 3);
    expect(r.model).toEqual({ name: 'classical-zoom', version: '1.0.0', sha256: null, kind: 'classical' });
  });

  it('refuses tensors and unknown presets with clear errors', async () => {
    const det = new ClassicalDetector(classicalPreset('survey'));
    await expect(det.detect({ tensor: new Float32Array(4), width: 2, height: 2 })).rejects.toThrow(
      'the classical baseline takes frames (grey pixels), not tensors',
    );
    expect(() => classicalPreset('nope')).toThrow("no classical baseline preset named 'nope' (presets: survey, zoom, superalloy, ebc, pitting)");
  });
});
