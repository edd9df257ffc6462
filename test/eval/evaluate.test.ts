import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { Dataset } from '../../src/datasets/dataset.js';
import { classMapping, evaluate, truthOf } from '../../src/eval/evaluate.js';
import { ClassicalDetector } from '../../src/inference/classical-detector.js';
import { OnnxDetector } from '../../src/inference/onnx-detector.js';
import { readManifest } from '../../src/inference/manifest.js';
import { writeBundle } from '../support/model-fixtures.js';
import { rectMask, writeTwinDataset } from '../support/twin-dataset.js';

async function run(args: string[]): Promise<{ code: number; out: string }> {
  const write = process.stdout.write;
  let out = '';
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  try {
    return { code: await main(['node', 'smartscope', ...args]), out };
  } finally {
    process.stdout.write = write;
  }
}

describe('evaluation on a labelled dataset', () => {
  let root: string;
  let data: string;
  let bundle: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'smartscope-eval-'));
    data = join(root, 'twin');
    await writeTwinDataset(data, 96, [
      { name: 'a', group: 'v', mask: rectMask(96, [[10, 10, 20, 6, 1], [60, 50, 12, 12, 2]]) },
      { name: 'b', group: 'v', mask: rectMask(96, [[40, 70, 8, 8, 3]]) },
      { name: 'c', group: 't', mask: rectMask(96, [[5, 5, 30, 3, 4]]) },
    ]);
    bundle = writeBundle(root, 'dark', 'threshold.onnx', ['background', 'defect']);
  });

  it('maps dataset classes onto the detector’s by name, or all onto a single defect class', () => {
    expect(Array.from(classMapping(['scratch', 'pit'], ['background', 'defect']).subarray(0, 3))).toEqual([0, 1, 1]);
    expect(Array.from(classMapping(['oxide', 'crack'], ['background', 'Crack', 'oxide']).subarray(0, 3))).toEqual([0, 2, 1]);
    expect(() => classMapping(['pit', 'dent'], ['background', 'pit', 'scratch'])).toThrow("dataset classes dent are not among the detector's classes (pit, scratch)");
  });

  it('joins the regions of one listed defect into one truth object', () => {
    const mask = rectMask(20, [[0, 0, 3, 1, 1], [5, 0, 3, 1, 1], [15, 15, 2, 2, 1]]);
    const img = { name: 'x', group: 'g', width: 20, height: 20, pixels: new Uint8Array(400), maxValue: 255, mask };
    const t = truthOf(img, classMapping(['scratch'], ['background', 'scratch']), [{ classId: 1, bboxPx: [0, 0, 8, 1] }]);
    expect(t.objectClasses).toEqual([1, 1]);
    expect(t.instances[0]).toBe(1);
    expect(t.instances[6]).toBe(1);
    expect(t.instances[15 * 20 + 15]).toBe(2);
  });

  it('scores a model that finds exactly the labelled pixels as perfect, on the chosen groups only', async () => {
    const det = await OnnxDetector.open({ bundleDir: bundle });
    try {
      const r = await evaluate(det, Dataset.open(data), { groups: ['v'] });
      expect(r.dataset).toMatchObject({ format: 'twin', images: 2, groups: ['v'] });
      const s = r.scores;
      expect(s.classes).toEqual(['background', 'defect']);
      expect([s.meanIoU, s.meanDice, s.mAP50, s.objectPrecision, s.objectRecall, s.objectF1]).toEqual([1, 1, 1, 1, 1, 1]);
      expect(s.perClass[0]).toMatchObject({ truthObjects: 3, detections: 3, truePositives: 3 });
      expect(s.pixelConfusion[1]).toEqual([0, 120 + 144 + 64]);
      expect(r.latency.tiles).toBe(8);
      expect(r.latency.msPerTile).toBeGreaterThan(0);
    } finally {
      await det.close();
    }
  });

  it('scores the classical baseline through the same port', async () => {
    const r = await evaluate(ClassicalDetector.forModel('survey', 0.13, 64), Dataset.open(data));
    expect(r.detector).toMatchObject({ name: 'classical-survey', kind: 'classical', provider: 'js' });
    expect(r.dataset.images).toBe(3);
    expect(r.scores.objectRecall).toBeGreaterThan(0.5);
  });

  it('runs from the command line: JSON report, and the validation metrics recorded in the bundle', async () => {
    const out = join(root, 'report.json');
    const { code, out: printed } = await run(['eval', '--model', bundle, '--baseline', 'survey', '--dataset', data, '--split', 'validation', '--out', out, '--record']);
    expect(code).toBe(0);
    expect(printed).toContain('dark 0.0.1 (onnx, cpu)');
    expect(printed).toContain('classical-survey 1.0.0 (classical, js)');
    expect(printed).toContain(`recorded the validation metrics in ${join(bundle, 'manifest.json')} and MODEL_CARD.md`);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report).toMatchObject({ split: 'validation', groups: ['v'] });
    expect(report.model.scores.meanIoU).toBe(1);
    const m = readManifest(bundle);
    expect(m.metrics).toMatchObject({ groups: ['v'], images: 2, model: { meanIoU: 1, objectF1: 1 } });
    expect(m.metrics!.baseline.detector).toBe('classical-survey 1.0.0');
    const card = readFileSync(join(bundle, 'MODEL_CARD.md'), 'utf8');
    expect(card).toContain('| model | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 |');
    expect(card).toContain('| classical baseline |');
  });

  it('refuses --record without the full validation split, and unknown options, with exit codes', async () => {
    await expect(run(['eval', '--model', bundle, '--dataset', data, '--record'])).resolves.toMatchObject({ code: 3 });
    expect((await run(['eval', '--model', bundle, '--dataset', data, '--split', 'train'])).code).toBe(2);
    expect(existsSync(join(bundle, 'manifest.json'))).toBe(true);
  });
});
