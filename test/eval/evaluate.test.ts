import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { Dataset } from '../../src/datasets/dataset.js';
import { classMapping, evaluate, OVERLAY_COLOURS, overlayImage, truthOf } from '../../src/eval/evaluate.js';
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
      {
        name: 'a',
        group: 'v',
        mask: rectMask(96, [
          [10, 10, 20, 6, 1],
          [60, 50, 12, 12, 2],
        ]),
      },
      { name: 'b', group: 'v', mask: rectMask(96, [[40, 70, 8, 8, 3]]) },
      { name: 'c', group: 't', mask: rectMask(96, [[5, 5, 30, 3, 4]]) },
    ]);
    bundle = writeBundle(root, 'dark', 'threshold.onnx', ['background', 'defect']);
  });

  it('maps dataset classes onto the detector’s by name, or all onto a single defect class', () => {
    expect(Array.from(classMapping(['scratch', 'pit'], ['background', 'defect']).subarray(0, 3))).toEqual([0, 1, 1]);
    expect(Array.from(classMapping(['oxide', 'crack'], ['background', 'Crack', 'oxide']).subarray(0, 3))).toEqual([0, 2, 1]);
    expect(() => classMapping(['pit', 'dent'], ['background', 'pit', 'scratch'])).toThrow(
      "dataset classes dent are not among the detector's classes (pit, scratch)",
    );
  });

  it('joins the regions of one listed defect into one truth object', () => {
    const mask = rectMask(20, [
      [0, 0, 3, 1, 1],
      [5, 0, 3, 1, 1],
      [15, 15, 2, 2, 1],
    ]);
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
    const { code, out: printed } = await run([
      'eval',
      '--model',
      bundle,
      '--baseline',
      'survey',
      '--dataset',
      data,
      '--split',
      'validation',
      '--out',
      out,
      '--record',
    ]);
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

  it('writes the predicted class-index masks and truth-vs-prediction overlays with --save-masks', async () => {
    const dir = join(root, 'masks');
    const { code, out: printed } = await run(['eval', '--model', bundle, '--no-baseline', '--dataset', data, '--save-masks', dir]);
    expect(code).toBe(0);
    expect(printed).toMatch(/objects: connected regions of one class \(8-connectivity\), matched .* at IoU ≥ 0\.5 .* at IoU ≥ 0\.3/);
    for (const stem of ['a', 'b', 'c']) {
      const meta = await sharp(join(dir, `${stem}.png`)).metadata();
      expect([meta.format, meta.width, meta.height, meta.channels, meta.depth]).toEqual(['png', 96, 96, 1, 'uchar']);
      const { data: mask } = await sharp(join(dir, `${stem}.png`))
        .extractChannel(0)
        .raw()
        .toBuffer({ resolveWithObject: true });
      const img = await Dataset.open(data).load(Dataset.open(data).entries.find((e) => e.name === stem)!);
      // The fixture model finds exactly the labelled pixels: its mask is the truth, as class indices (one class).
      expect(Array.from(mask).every((v, i) => v === (img.mask[i] ? 1 : 0))).toBe(true);
      const ov = await sharp(join(dir, 'overlays', `${stem}.png`))
        .raw()
        .toBuffer({ resolveWithObject: true });
      expect([ov.info.width, ov.info.height, ov.info.channels]).toEqual([96, 96, 3]);
      const fg = img.mask.findIndex((v) => v > 0);
      const bg = img.mask.findIndex((v) => v === 0);
      const px = (i: number): number[] => Array.from(ov.data.subarray(i * 3, i * 3 + 3));
      const [r, g, b] = px(fg);
      expect(g).toBeGreaterThan(r! + 50); // a hit is tinted green
      expect(g).toBeGreaterThan(b! + 50);
      const [r0, g0, b0] = px(bg);
      expect(r0 === g0 && g0 === b0).toBe(true); // untouched background stays grey
    }
  });

  it('tints missed, spurious and wrongly classed pixels in the overlay', () => {
    const img = { name: 'x', group: 'g', width: 5, height: 1, pixels: Uint8Array.from([0, 100, 100, 100, 200]), maxValue: 255, mask: new Uint8Array(5) };
    const ov = overlayImage(img, Uint8Array.from([0, 1, 1, 2, 0]), Uint8Array.from([0, 1, 0, 1, 2]));
    const px = (i: number): number[] => Array.from(ov.subarray(i * 3, i * 3 + 3));
    const tint = (c: readonly number[], i: number): number[] => c.map((v) => (px(i)[0]! >= 0 ? (v + grey(i)) >> 1 : 0));
    const grey = (i: number): number => Math.round(((img.pixels[i]! - 0) * 255) / 200);
    expect(px(0)).toEqual([0, 0, 0]);
    expect(px(1)).toEqual(tint(OVERLAY_COLOURS.hit, 1));
    expect(px(2)).toEqual(tint(OVERLAY_COLOURS.missed, 2));
    expect(px(3)).toEqual(tint(OVERLAY_COLOURS.wrongClass, 3));
    expect(px(4)).toEqual(tint(OVERLAY_COLOURS.spurious, 4));
  });

  it('refuses --record without the full validation split, and unknown options, with exit codes', async () => {
    await expect(run(['eval', '--model', bundle, '--dataset', data, '--record'])).resolves.toMatchObject({ code: 3 });
    expect((await run(['eval', '--model', bundle, '--dataset', data, '--split', 'train'])).code).toBe(2);
    expect(existsSync(join(bundle, 'manifest.json'))).toBe(true);
  });
});
