import { describe, expect, it } from 'vitest';
import { defaultWorldSpec } from '../../src/sim/defaults.js';
import { defocusSigmaUm, depthOfFieldUm, diffractionSigmaUm, fieldOfViewUm, pixelSizeUm, renderFrame, type RenderRequest } from '../../src/sim/optics.js';
import { SyntheticSample } from '../../src/sim/synthetic-sample.js';
import { viewBounds } from '../../src/sim/sample.js';

const spec = defaultWorldSpec();
const [survey, zoom] = spec.objectives as [(typeof spec.objectives)[0], (typeof spec.objectives)[0]];

/** Variance of the Laplacian on 4 × 4-binned pixels (binning keeps sensor noise from dominating): the sharper, the larger. */
function sharpness(raw: Uint16Array, rw: number, rh: number): number {
  const w = rw / 4;
  const h = rh / 4;
  const img = new Float64Array(w * h);
  for (let y = 0; y < rh; y++) for (let x = 0; x < rw; x++) img[(y >> 2) * w + (x >> 2)]! += raw[y * rw + x]! / 16;
  let s = 0;
  let s2 = 0;
  let n = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const l = img[i - 1]! + img[i + 1]! + img[i - w]! + img[i + w]! - 4 * img[i]!;
      s += l;
      s2 += l * l;
      n++;
    }
  }
  return s2 / n - (s / n) ** 2;
}

describe('optics', () => {
  it('pixel size × pixels = field of view, for every objective', () => {
    for (const ob of spec.objectives) {
      const p = pixelSizeUm(ob, spec.sensor);
      expect(p).toBeCloseTo(spec.sensor.pixelPitchUm / ob.magnification, 12);
      const [fw, fh] = fieldOfViewUm(ob, spec.sensor);
      expect(fw).toBeCloseTo(p * spec.sensor.widthPx, 9);
      expect(fh).toBeCloseTo(p * spec.sensor.heightPx, 9);
    }
    expect(pixelSizeUm(survey, spec.sensor)).toBeCloseTo(1.3, 12);
    expect(pixelSizeUm(zoom, spec.sensor)).toBeCloseTo(0.13, 12);
  });

  it('a rendered field spans exactly its field of view on the sample', () => {
    const p = pixelSizeUm(survey, spec.sensor);
    const [x0, y0, x1, y1] = viewBounds({ centreXUm: 5000, centreYUm: 4000, pixelSizeUm: p, width: 2048, height: 2048 });
    expect(x1 - x0).toBeCloseTo(2048 * 1.3, 6);
    expect(y1 - y0).toBeCloseTo(2048 * 1.3, 6);
    expect((x0 + x1) / 2).toBeCloseTo(5000, 6);
  });

  it('diffraction blur follows 0.21·λ/NA and defocus blur grows linearly with |Δz|', () => {
    expect(diffractionSigmaUm(zoom)).toBeCloseTo((0.21 * 0.55) / 0.8, 12);
    expect(defocusSigmaUm(zoom, 0)).toBe(0);
    expect(defocusSigmaUm(zoom, 2)).toBeCloseTo(2 * defocusSigmaUm(zoom, 1), 12);
    expect(defocusSigmaUm(zoom, -3)).toBeCloseTo(defocusSigmaUm(zoom, 3), 12);
    expect(depthOfFieldUm(zoom, spec.sensor)).toBeLessThan(depthOfFieldUm(survey, spec.sensor));
  });

  it('images get blurrier as the focal plane moves away from the surface, either way', () => {
    const sample = new SyntheticSample({ seed: 2, widthUm: 2000, heightUm: 2000, defectDensity: 0.01 });
    const sensor = { ...spec.sensor, widthPx: 192, heightPx: 192 };
    const surface = sample.surfaceHeightUm(1000, 1000);
    const at = (dz: number): number => {
      const out = new Uint16Array(192 * 192);
      const req: RenderRequest = {
        sample,
        objective: zoom,
        sensor,
        illumination: spec.illumination,
        centreXUm: 1000,
        centreYUm: 1000,
        focalPlaneUm: surface + dz,
        rotationRad: 0,
        flipX: false,
        exposureMs: 2,
        gainDb: 0,
        noiseSeed: 1,
      };
      const info = renderFrame(req, out);
      expect(info.defocusUm).toBeCloseTo(dz, 9);
      return sharpness(out, 192, 192);
    };
    const s0 = at(0);
    const s1 = at(1);
    const s3 = at(3);
    expect(s0).toBeGreaterThan(s1);
    expect(s1).toBeGreaterThan(s3);
    expect(at(-1)).toBeLessThan(s0);
  });

  it('records Poisson-Gaussian noise: variance grows with signal like the photon count', () => {
    // A flat, bright, featureless field: a sample region outside the sample is uniform resin; use a die cell interior.
    const sample = new SyntheticSample({ seed: 1, widthUm: 2000, heightUm: 2000, defectDensity: 0, texture: 'die', grainSizeUm: 1000 });
    const sensor = { ...spec.sensor, widthPx: 64, heightPx: 64 };
    const stats = (exposureMs: number): { mean: number; variance: number } => {
      const out = new Uint16Array(64 * 64);
      renderFrame(
        {
          sample,
          objective: zoom,
          sensor,
          illumination: { ...spec.illumination, vignetting: 0, gradient: [0, 0] },
          centreXUm: 500,
          centreYUm: 500,
          focalPlaneUm: sample.surfaceHeightUm(500, 500),
          rotationRad: 0,
          flipX: false,
          exposureMs,
          gainDb: 0,
          noiseSeed: 3,
        },
        out,
      );
      let s = 0;
      let s2 = 0;
      for (const v of out) {
        s += v;
        s2 += v * v;
      }
      const mean = s / out.length;
      return { mean, variance: s2 / out.length - mean * mean };
    };
    const lo = stats(0.2);
    const hi = stats(1.6);
    const gain = (4095 - spec.sensor.darkOffsetAdu) / spec.sensor.fullWellE; // ADU per electron
    // Shot noise: variance (ADU²) ≈ gain · (mean − offset) + read noise.
    for (const s of [lo, hi]) {
      const expected = gain * (s.mean - spec.sensor.darkOffsetAdu) + (spec.sensor.readNoiseE * gain) ** 2;
      expect(s.variance / expected).toBeGreaterThan(0.8);
      expect(s.variance / expected).toBeLessThan(1.25);
    }
    expect(hi.mean).toBeGreaterThan(lo.mean * 5);
  });

  it('writes 8-, 12- and 16-bit output within range and refuses the wrong buffer type', () => {
    const sample = new SyntheticSample({ seed: 1, widthUm: 1000, heightUm: 1000, defectDensity: 0.01 });
    for (const bitDepth of [8, 12, 16] as const) {
      const sensor = { ...spec.sensor, widthPx: 32, heightPx: 32, bitDepth };
      const out = bitDepth === 8 ? new Uint8Array(32 * 32) : new Uint16Array(32 * 32);
      renderFrame(
        {
          sample,
          objective: survey,
          sensor,
          illumination: spec.illumination,
          centreXUm: 500,
          centreYUm: 500,
          focalPlaneUm: 0,
          rotationRad: 0,
          flipX: false,
          exposureMs: 1.5,
          gainDb: 0,
          noiseSeed: 1,
        },
        out,
      );
      expect(Math.max(...out)).toBeLessThanOrEqual((1 << bitDepth) - 1);
      expect(Math.max(...out)).toBeGreaterThan((1 << bitDepth) / 8);
    }
    const sensor = { ...spec.sensor, widthPx: 32, heightPx: 32, bitDepth: 12 as const };
    expect(() =>
      renderFrame(
        {
          sample,
          objective: survey,
          sensor,
          illumination: spec.illumination,
          centreXUm: 500,
          centreYUm: 500,
          focalPlaneUm: 0,
          rotationRad: 0,
          flipX: false,
          exposureMs: 1,
          gainDb: 0,
          noiseSeed: 1,
        },
        new Uint8Array(32 * 32),
      ),
    ).toThrow('Expected a Uint16Array for a 12-bit frame');
  });
});
