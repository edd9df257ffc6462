import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderModelCard } from '../../src/eval/model-card.js';
import { loadBundle, shippedModelsDir } from '../../src/inference/manifest.js';
import { OnnxDetector } from '../../src/inference/onnx-detector.js';
import { tileGrid } from '../../src/inference/tiling.js';

const dir = shippedModelsDir();
const bundles = readdirSync(dir)
  .filter((n) => existsSync(join(dir, n, 'manifest.json')))
  .sort();

describe('shipped model bundles', () => {
  it('are the survey, zoom and real-data models', () => {
    expect(bundles).toEqual(['ebc', 'pitting', 'superalloy', 'survey', 'zoom']);
  });

  for (const name of bundles) {
    describe(name, () => {
      it('has a valid manifest, a matching sha256, a small ONNX file, licence and validation metrics', () => {
        const b = loadBundle(join(dir, name));
        const m = b.manifest;
        expect(m.name).toBe(name);
        expect(b.modelBytes.length).toBeLessThan(4 * 1024 * 1024);
        expect(m.training.dataset.license.length).toBeGreaterThan(0);
        expect(m.training.dataset.attribution.length).toBeGreaterThan(20);
        const split = m.training.split;
        for (const g of split.validationGroups) {
          expect(split.trainingGroups).not.toContain(g);
          expect(split.monitorGroups).not.toContain(g);
        }
        expect(m.metrics).not.toBeNull();
        expect(m.metrics!.groups.every((g) => split.validationGroups.includes(g))).toBe(true);
        expect(m.metrics!.model.perClass.map((c) => c.class)).toEqual(m.classes.slice(1));
        expect(m.metrics!.baseline.perClass.map((c) => c.class)).toEqual(m.classes.slice(1));
        if (m.training.dataset.license === 'CC-BY-SA-4.0') expect(m.license).toMatchObject({ model: 'CC-BY-SA-4.0', shareAlike: true });
      });

      it('has a model card that says what the manifest says', () => {
        const b = loadBundle(join(dir, name));
        expect(readFileSync(join(dir, name, 'MODEL_CARD.md'), 'utf8')).toBe(renderModelCard(b.manifest));
      });

      it('loads in a worker, warms up and returns well-formed detections on a frame', async () => {
        const det = await OnnxDetector.open({ bundleDir: join(dir, name), intraOpThreads: 1 });
        try {
          const w = 300;
          const h = 280;
          const data = new Uint16Array(w * h);
          for (let y = 0; y < h; y++)
            for (let x = 0; x < w; x++) data[y * w + x] = 2000 + 300 * Math.sin(x / 13) + ((x - 150) ** 2 + (y - 140) ** 2 < 400 ? -1500 : 0);
          const r = await det.detect({ data, width: w, height: h, bitDepth: 12 }, { masks: true, probabilityMap: true });
          const K = det.info().classes.length;
          const m = det.manifest();
          const b = m.input.binning ?? 1;
          expect(r.timing.tiles).toBe(tileGrid(Math.floor(w / b), Math.floor(h / b), m.input.tileSize, 32, m.input.sizeMultiple).tiles.length);
          for (const d of r.detections) {
            expect(d.classId).toBeGreaterThan(0);
            expect(d.classId).toBeLessThan(K);
            expect(d.confidence).toBeGreaterThanOrEqual(0);
            expect(d.confidence).toBeLessThanOrEqual(1);
            expect(d.bbox.x + d.bbox.width).toBeLessThanOrEqual(w);
            expect(d.bbox.y + d.bbox.height).toBeLessThanOrEqual(h);
          }
          const labelled = r.masks!.instances.reduce((a, v) => a + (v > 0 ? 1 : 0), 0);
          expect(labelled).toBe(r.detections.reduce((a, d) => a + d.areaPx, 0));
          expect(r.probability!.width).toBe(w);
        } finally {
          await det.close();
        }
      });
    });
  }
});
