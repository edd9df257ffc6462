import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnnxDetector } from '../../src/inference/onnx-detector.js';
import { onnxFixtures, writeBundle } from '../support/model-fixtures.js';

const frame = () => {
  const data = new Uint8Array(64 * 64).fill(200);
  for (let i = 0; i < 100; i++) data[i] = 0;
  return { data, width: 64, height: 64, bitDepth: 8 as const };
};

describe('bad model bundles', () => {
  let root: string;
  let good: OnnxDetector;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'smartscope-bad-'));
    const onnx = readFileSync(join(onnxFixtures(), 'threshold.onnx'));
    writeBundle(root, 'good', 'threshold.onnx', ['background', 'defect']);
    writeBundle(root, 'good-two', 'threshold.onnx', ['background', 'defect'], { version: '0.0.2' });
    writeBundle(root, 'truncated', onnx.subarray(0, Math.floor(onnx.length / 2)), ['background', 'defect']);
    writeBundle(root, 'not-onnx', new TextEncoder().encode('{"this": "is not a model"}\n'), ['background', 'defect']);
    writeBundle(root, 'wrong-input', 'wrong_input.onnx', ['background', 'defect']);
    writeBundle(root, 'wrong-output', 'wrong_output.onnx', ['background', 'defect']);
    const tampered = writeBundle(root, 'tampered', 'threshold.onnx', ['background', 'defect']);
    writeFileSync(join(tampered, 'model.onnx'), Buffer.concat([onnx, Buffer.from([0])]));
    const badManifest = writeBundle(root, 'bad-manifest', 'threshold.onnx', ['background', 'defect']);
    const m = JSON.parse(readFileSync(join(badManifest, 'manifest.json'), 'utf8'));
    m.input.layout = 'NHWC';
    writeFileSync(join(badManifest, 'manifest.json'), JSON.stringify(m));
    writeFileSync(join(writeBundle(root, 'not-json', 'threshold.onnx', ['background', 'defect']), 'manifest.json'), '{ "name": ');
    good = await OnnxDetector.open({ bundleDir: join(root, 'good') });
  });

  afterAll(async () => {
    await good?.close();
  });

  const cases: Array<[string, RegExp | string]> = [
    ['truncated', /^model truncated: not a loadable ONNX model \(.*protobuf parsing failed.*\)$/i],
    ['not-onnx', /^model not-onnx: not a loadable ONNX model \(.*protobuf parsing failed.*\)$/i],
    [
      'wrong-input',
      "model wrong-input: input 'image' is float32 [1, 3, 224, 224] but the runtime feeds float32 [N, 1, H, W] with H = W = 64 (the manifest's tileSize)",
    ],
    ['wrong-output', "model wrong-output: output 'probs' is float32 [1, 4, 64, 64] but [1, 2, 64, 64] float32 was expected"],
    ['tampered', /^model tampered: .*model\.onnx has sha256 [0-9a-f]{64} \(\d+ bytes\) but the manifest says [0-9a-f]{64} \(\d+ bytes\)$/],
    ['bad-manifest', /manifest\.json: 1 problem\n {2}- input\.layout: "NHWC" — expected/],
    ['not-json', /manifest\.json: not valid JSON \(/],
  ];

  for (const [name, message] of cases) {
    it(`refuses a ${name} bundle with a clear error`, async () => {
      const err = await OnnxDetector.open({ bundleDir: join(root, name) }).then(
        () => null,
        (e: Error & { badModel?: boolean }) => e,
      );
      expect(err).not.toBeNull();
      if (typeof message === 'string') expect(err!.message).toBe(message);
      else expect(err!.message).toMatch(message);
      expect(err!.badModel).toBe(true);
    });

    it(`keeps the serving model when asked to swap to a ${name} bundle`, async () => {
      await expect(good.swap(join(root, name))).rejects.toMatchObject({ badModel: true });
      expect(good.info()).toMatchObject({ name: 'good', version: '0.0.1' });
      expect((await good.detect(frame())).detections).toHaveLength(1);
    });
  }

  it('swaps to a good bundle and counts what it refused', async () => {
    await good.swap(join(root, 'good-two'));
    expect(good.info()).toMatchObject({ name: 'good-two', version: '0.0.2' });
    expect((await good.detect(frame())).model.version).toBe('0.0.2');
    expect(good.stats()).toMatchObject({ swaps: 1, swapsRefused: cases.length });
  });

  it('restarts a worker that died with the last good model', async () => {
    const d = await OnnxDetector.open({ bundleDir: join(root, 'good') });
    try {
      // The worker thread ends as if it had crashed.
      await (d as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
      let r = null;
      for (let i = 0; i < 50 && !r; i++) {
        r = await d.detect(frame()).catch(() => null);
        if (!r) await new Promise((res) => setTimeout(res, 100));
      }
      expect(r?.detections).toHaveLength(1);
      expect(d.stats().restarts).toBe(1);
    } finally {
      await d.close();
    }
  });
});
