import { describe, expect, it } from 'vitest';
import { connectedComponentsJs } from '../../src/geometry/regions.js';
import { SyntheticSample } from '../../src/sim/synthetic-sample.js';
import { TWIN_CLASSES, sampleToPixel, type FieldView } from '../../src/sim/sample.js';

describe('synthetic sample', () => {
  it('covers the requested defect area fraction with all four classes', () => {
    for (const density of [0.0005, 0.005, 0.05]) {
      const s = new SyntheticSample({ seed: 3, widthUm: 8000, heightUm: 8000, defectDensity: density });
      expect(s.achievedDensity).toBeGreaterThanOrEqual(density);
      expect(s.achievedDensity).toBeLessThan(density * 1.5 + 0.0005);
      const classes = new Set(s.defects().map((d) => d.className));
      if (density >= 0.005) expect([...classes].sort()).toEqual([...TWIN_CLASSES].sort());
    }
  });

  it('supports a 20 × 20 mm sample rendered per field without materialising it', () => {
    const s = new SyntheticSample({ seed: 11, widthUm: 20_000, heightUm: 20_000, defectDensity: 0.001 });
    const out = new Float32Array(64 * 64);
    s.renderReflectance({ centreXUm: 19_950, centreYUm: 19_950, pixelSizeUm: 1.3, width: 64, height: 64 }, out);
    expect(out.every((v) => Number.isFinite(v) && v >= 0 && v <= 1.5)).toBe(true);
  });

  it('gives every defect a position, size, orientation and contrast inside the sample', () => {
    const s = new SyntheticSample({ seed: 4, widthUm: 5000, heightUm: 5000, defectDensity: 0.01 });
    for (const d of s.defects()) {
      expect(d.xUm).toBeGreaterThan(0);
      expect(d.yUm).toBeLessThan(5000);
      expect(d.sizeUm).toBeGreaterThanOrEqual(d.widthUm * 0.99);
      expect(d.orientationDeg).toBeGreaterThanOrEqual(0);
      expect(d.orientationDeg).toBeLessThan(180);
      expect(Math.abs(d.contrast)).toBeGreaterThan(0.1);
      expect(d.bboxUm[0]).toBeLessThanOrEqual(d.xUm);
      expect(d.bboxUm[2]).toBeGreaterThanOrEqual(d.xUm);
    }
  });

  it('rejects densities and sizes outside the supported range with the field named', () => {
    expect(() => new SyntheticSample({ seed: 1, widthUm: 1000, heightUm: 1000, defectDensity: 0.2 })).toThrow(
      'sample defectDensity must be in [0, 0.05] but is 0.2',
    );
    expect(() => new SyntheticSample({ seed: 1, widthUm: -5, heightUm: 1000, defectDensity: 0.01 })).toThrow('sample widthUm must be in (0, 50000] but is -5');
  });
});

describe('inclusion stringers', () => {
  it('lays elongated inclusions along the rolling direction, and leaves samples without them unchanged', () => {
    const base = { seed: 77, widthUm: 3000, heightUm: 3000, defectDensity: 0.002, classWeights: { scratch: 0, pit: 0, particle: 1, crack: 0 } };
    const plain = new SyntheticSample(base).defects();
    expect(new SyntheticSample({ ...base, stringerShare: 0 }).defects()).toEqual(plain);
    const rolled = new SyntheticSample({ ...base, stringerShare: 0.6, rollingDirectionDeg: 30 }).defects();
    const long = rolled.filter((d) => d.sizeUm >= 3 * d.widthUm);
    expect(long.length).toBeGreaterThan(rolled.length / 3);
    for (const d of long) {
      expect(d.className).toBe('particle');
      const off = Math.abs(((d.orientationDeg - 30 + 90) % 180) - 90);
      expect(off).toBeLessThanOrEqual(6);
    }
    expect(() => new SyntheticSample({ ...base, stringerShare: 1.5 })).toThrow('sample stringerShare must be in [0, 1] but is 1.5');
  });
});

describe('label mask ↔ defect list', () => {
  it('labels every defect in view and nothing outside the listed defects, with the right class', () => {
    const s = new SyntheticSample({ seed: 21, widthUm: 3000, heightUm: 3000, defectDensity: 0.02 });
    for (const p of [1.3, 0.4, 0.13]) {
      const view: FieldView = { centreXUm: 1500, centreYUm: 1500, pixelSizeUm: p, width: 400, height: 400, rotationRad: 0.02 };
      const refl = new Float32Array(400 * 400);
      const mask = new Uint8Array(400 * 400);
      s.renderReflectance(view, refl, mask);
      const half = 200 * p;
      const listed = s.defectsIn(1500 - half * 1.5, 1500 - half * 1.5, 1500 + half * 1.5, 1500 + half * 1.5);
      // Bounding boxes of listed defects in pixels (one pixel of slack for the anti-aliased rim).
      const boxes = listed.map((d) => {
        const cs: number[] = [];
        const rs: number[] = [];
        for (const [x, y] of [
          [d.bboxUm[0], d.bboxUm[1]],
          [d.bboxUm[2], d.bboxUm[1]],
          [d.bboxUm[0], d.bboxUm[3]],
          [d.bboxUm[2], d.bboxUm[3]],
        ] as const) {
          const q = sampleToPixel(view, x, y);
          cs.push(q.col);
          rs.push(q.row);
        }
        return { d, c0: Math.min(...cs) - 1.5, c1: Math.max(...cs) + 1.5, r0: Math.min(...rs) - 1.5, r1: Math.max(...rs) + 1.5 };
      });
      let labelled = 0;
      for (let r = 0; r < 400; r++) {
        for (let c = 0; c < 400; c++) {
          const k = mask[r * 400 + c]!;
          if (k === 0) continue;
          labelled++;
          const owner = boxes.find((b) => b.d.classId === k && c >= b.c0 && c <= b.c1 && r >= b.r0 && r <= b.r1);
          expect(owner, `pixel (${c}, ${r}) of class ${k} at ${p} µm/px belongs to no listed defect`).toBeDefined();
        }
      }
      expect(labelled).toBeGreaterThan(0);
      // Every defect whose centre is inside the view has labelled pixels of its class.
      for (const b of boxes) {
        const q = sampleToPixel(view, b.d.xUm, b.d.yUm);
        if (q.col < 2 || q.row < 2 || q.col > 397 || q.row > 397) continue;
        let found = false;
        for (let r = Math.max(0, Math.floor(b.r0)); r <= Math.min(399, Math.ceil(b.r1)) && !found; r++) {
          for (let c = Math.max(0, Math.floor(b.c0)); c <= Math.min(399, Math.ceil(b.c1)); c++) {
            if (mask[r * 400 + c] === b.d.classId) {
              found = true;
              break;
            }
          }
        }
        expect(found, `defect ${b.d.id} (${b.d.className}) has no labelled pixel at ${p} µm/px`).toBe(true);
      }
    }
  });

  it('keeps defects apart so each ground-truth defect is one labelled object', () => {
    const s = new SyntheticSample({ seed: 8, widthUm: 2000, heightUm: 2000, defectDensity: 0.01, classWeights: { scratch: 0, crack: 0 } });
    const view: FieldView = { centreXUm: 1000, centreYUm: 1000, pixelSizeUm: 0.5, width: 3000, height: 3000 };
    const mask = new Uint8Array(3000 * 3000);
    s.renderReflectance(view, new Float32Array(3000 * 3000), mask);
    const { regions } = connectedComponentsJs(mask, 3000, 3000);
    const inside = s.defects().filter((d) => d.bboxUm[0] > 250 && d.bboxUm[1] > 250 && d.bboxUm[2] < 1750 && d.bboxUm[3] < 1750);
    const regionsInside = regions.filter(
      (r) =>
        (r.centroid[0] + 0.5) * 0.5 + 250 > 260 &&
        (r.centroid[1] + 0.5) * 0.5 + 250 > 260 &&
        (r.centroid[0] + 0.5) * 0.5 + 250 < 1740 &&
        (r.centroid[1] + 0.5) * 0.5 + 250 < 1740,
    );
    expect(Math.abs(regionsInside.length - inside.length)).toBeLessThanOrEqual(Math.ceil(inside.length * 0.05) + 1);
  });
});
