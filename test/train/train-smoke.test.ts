import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadBundle } from '../../src/inference/manifest.js';
import { OnnxDetector } from '../../src/inference/onnx-detector.js';
import { writeSmokeDataset } from '../support/twin-dataset.js';

const run = promisify(execFile);

describe('training script', () => {
  it('trains one epoch on a few generated tiles and exports an ONNX bundle that the runtime loads', async () => {
    const root = mkdtempSync(join(tmpdir(), 'smartscope-train-'));
    const data = join(root, 'data');
    await writeSmokeDataset(data);
    const out = join(root, 'bundle');
    const { stdout } = await run(
      '/usr/bin/python3',
      ['scripts/train/train.py', '--preset', 'smoke', '--dataset', data, '--out', out, '--threads', '1', '--name', 'smoke'],
      {
        env: { ...process.env, PYTHONWARNINGS: 'ignore' },
      },
    );
    expect(stdout).toContain('twin dataset');
    expect(stdout).toMatch(/wrote .*bundle: model\.onnx \(\d+ bytes\), manifest\.json/);
    const b = loadBundle(out);
    expect(b.manifest).toMatchObject({
      name: 'smoke',
      classes: ['background', 'scratch', 'pit', 'particle', 'crack'],
      pixelSizeUm: 0.13,
      model: { opset: 17, format: 'onnx' },
      input: { tileSize: 64, sizeMultiple: 2 },
      training: { split: { method: 'group hold-out (1/5 validation, 1/5 early-stopping monitor)' } },
    });
    const v = new Set(b.manifest.training.split.validationGroups);
    for (const g of b.manifest.training.split.trainingGroups) expect(v.has(g)).toBe(false);
    const det = await OnnxDetector.open({ bundleDir: out });
    try {
      const r = await det.detect({ data: new Uint16Array(100 * 80).fill(2000), width: 100, height: 80, bitDepth: 12 }, { masks: true });
      expect(r.masks!.classMap).toHaveLength(8000);
      expect(r.timing.tiles).toBe(6);
    } finally {
      await det.close();
    }
  });
});
