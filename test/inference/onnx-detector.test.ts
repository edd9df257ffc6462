import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FrameInput } from '../../src/inference/detector.js';
import { OnnxDetector } from '../../src/inference/onnx-detector.js';
import { scanDetector } from '../../src/appliance/scan-detector.js';
import { createLogger } from '../../src/kernel/logger.js';
import { writeBundle } from '../support/model-fixtures.js';

/** A bright 8-bit frame with a dark 30 × 20 rectangle at (50, 40) and a dark disc of radius 6 at (150, 100). */
function scene(w = 200, h = 150): Uint8Array {
  const px = new Uint8Array(w * h).fill(200);
  for (let y = 40; y < 60; y++) for (let x = 50; x < 80; x++) px[y * w + x] = 20;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((x - 150) ** 2 + (y - 100) ** 2 <= 36) px[y * w + x] = 20;
  return px;
}

const frame = (over: Partial<FrameInput> = {}): FrameInput => ({ data: scene(), width: 200, height: 150, bitDepth: 8, ...over });

describe('OnnxDetector on a model with a known response', () => {
  let root: string;
  let det: OnnxDetector;
  const logLines: string[] = [];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'smartscope-det-'));
    writeBundle(root, 'dark', 'threshold.onnx', ['background', 'defect']);
    writeBundle(root, 'binned', 'threshold.onnx', ['background', 'defect'], { input: { ...baseInput(), binning: 2 } });
    writeBundle(root, 'three', 'threeclass.onnx', ['background', 'dark', 'bright'], {
      input: { ...baseInput(), normalisation: { formula: 'x', mean: 0.5, std: 0.25 } },
    });
    const sink = new PassThrough();
    sink.on('data', (b: Buffer) => logLines.push(...b.toString().trim().split('\n')));
    det = await OnnxDetector.open({ bundleDir: join(root, 'dark'), tileOverlap: 16, logger: createLogger({ level: 'info', destination: sink }) });
  });

  afterAll(async () => {
    await det?.close();
  });

  it('names the execution provider in use in one log line', () => {
    expect(det.info().provider).toBe('cpu');
    const line = logLines.map((l) => JSON.parse(l) as { msg: string; provider?: string }).find((l) => l.msg.startsWith('inference: model dark'));
    expect(line?.msg).toBe('inference: model dark 0.0.1 runs on cpu');
    expect(line?.provider).toBe('cpu');
  });

  it('finds each defect once, merged across tile borders, with its size in µm', async () => {
    const r = await det.detect(frame());
    expect(r.timing.tiles).toBe(12);
    expect(r.detections).toHaveLength(2);
    const rect = r.detections.find((d) => d.bbox.x === 50)!;
    expect(rect.bbox).toEqual({ x: 50, y: 40, width: 30, height: 20 });
    expect(rect.className).toBe('defect');
    expect(rect.classId).toBe(1);
    expect(rect.areaPx).toBe(600);
    expect(rect.areaUm2).toBe(150);
    expect(rect.widthUm).toBeCloseTo(10, 3);
    expect(rect.sizeUm).toBeCloseTo((Math.hypot(29, 19) + 1) * 0.5, 3);
    expect(rect.centroidPx).toEqual([64.5, 49.5]);
    expect(rect.orientationDeg).toBe(0);
    expect(rect.confidence).toBeGreaterThan(0.999);
    const disc = r.detections.find((d) => d.bbox.x !== 50)!;
    expect(disc.bbox).toEqual({ x: 144, y: 94, width: 13, height: 13 });
    expect(disc.areaPx).toBe(113);
    expect(r.model).toEqual({ name: 'dark', version: '0.0.1', sha256: det.info().sha256, kind: 'onnx' });
  });

  it('gives the same answer for 12- and 16-bit frames of the same picture', async () => {
    const p8 = scene();
    const p12 = Uint16Array.from(p8, (v) => Math.round((v / 255) * 4095));
    const p16 = Uint16Array.from(p8, (v) => v * 257);
    const a = await det.detect(frame({ data: p12, bitDepth: 12 }));
    const b = await det.detect(frame({ data: p16, bitDepth: 16 }));
    expect(a.detections.map((d) => d.bbox)).toEqual(b.detections.map((d) => d.bbox));
    expect(a.detections).toHaveLength(2);
  });

  it('returns a max-pooled probability map and the class and instance masks on request', async () => {
    const r = await det.detect(frame(), { probabilityMap: { maxSide: 50 }, masks: true });
    expect(r.probability).toMatchObject({ width: 50, height: 38, scale: 4 });
    expect(r.probability!.data[Math.floor(45 / 4) * 50 + Math.floor(60 / 4)]).toBe(255);
    expect(r.probability!.data[0]).toBe(0);
    const m = r.masks!;
    expect(m.classMap.reduce((a, v) => a + v, 0)).toBe(713);
    expect(m.instances[45 * 200 + 60]).toBe(r.detections.findIndex((d) => d.bbox.x === 50) + 1);
  });

  it('maps centroids to stage µm with the pixel-to-stage affine', async () => {
    const r = await det.detect(frame({ pixelToStage: { x0: 1000, y0: 2000, ax: 0.5, ay: 0, bx: 0, by: 0.5 } }));
    expect(r.detections.find((d) => d.bbox.x === 50)!.centroidUm).toEqual([1032.25, 2024.75]);
  });

  it('warns once when frames come at another pixel size than the model was trained at', async () => {
    await det.detect(frame({ pixelSizeUm: 1 }));
    await det.detect(frame({ pixelSizeUm: 1 }));
    await det.detect(frame({ pixelSizeUm: 0.52 }));
    const warns = logLines.filter((l) => l.includes('resample them first'));
    expect(warns).toHaveLength(1);
    expect(JSON.parse(warns[0]!).msg).toBe('frames of 1 µm/px reach model dark, trained at 0.5 µm/px: resample them first');
  });

  it('reads a frame in shared memory in place and leaves it unchanged', async () => {
    const sab = new SharedArrayBuffer(200 * 150);
    const data = new Uint8Array(sab);
    data.set(scene());
    const r = await det.detect(frame({ data }));
    expect(r.detections).toHaveLength(2);
    expect(data).toEqual(scene());
  });

  it('moves a transferred buffer into the worker', async () => {
    const data = scene();
    const r = await det.detect(frame({ data, transfer: true }));
    expect(r.detections).toHaveLength(2);
    expect(data.byteLength).toBe(0);
  });

  it('runs a ready-made tensor without tiling', async () => {
    const t = new Float32Array(64 * 64).fill(0.3);
    for (let y = 10; y < 20; y++) for (let x = 5; x < 9; x++) t[y * 64 + x] = -0.4;
    const r = await det.detect({ tensor: t, width: 64, height: 64 });
    expect(r.timing.tiles).toBe(1);
    expect(r.detections.map((d) => d.bbox)).toEqual([{ x: 5, y: 10, width: 4, height: 10 }]);
  });

  it('refuses bad input with an error naming the field and keeps serving', async () => {
    await expect(det.detect(frame({ data: new Uint8Array(10) }))).rejects.toMatchObject({
      message: 'input.data holds 10 pixels but 200×150 needs 30000',
      badInput: true,
    });
    await expect(det.detect(frame({ bitDepth: 10 as 8 }))).rejects.toThrow('input.bitDepth must be 8, 12 or 16 but is 10');
    await expect(det.detect(frame({ bitDepth: 12 }))).rejects.toThrow('input.data must be a Uint16Array for a 12-bit frame');
    await expect(det.detect(frame(), { threshold: 2 })).rejects.toThrow('threshold must be in [0, 1] but is 2');
    expect((await det.detect(frame())).detections).toHaveLength(2);
  });

  it('refuses requests beyond the waiting line and counts them', async () => {
    const d = await OnnxDetector.open({ bundleDir: join(root, 'dark'), maxQueued: 1 });
    try {
      const results = await Promise.allSettled([1, 2, 3, 4].map(() => d.detect(frame())));
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected']);
      expect((results[2] as PromiseRejectedResult).reason).toMatchObject({
        overloaded: true,
        message: 'detector dark is overloaded: 1 requests already waiting',
      });
      expect(d.stats()).toMatchObject({ detects: 2, overloaded: 2 });
    } finally {
      await d.close();
    }
  });

  it('cancels a waiting request when its signal aborts', async () => {
    const ac = new AbortController();
    const first = det.detect(frame());
    const second = det.detect(frame(), { signal: ac.signal });
    ac.abort();
    await expect(second).rejects.toMatchObject({ canceled: true });
    await expect(first).resolves.toBeTruthy();
  });

  it('runs a binned model on binned frames and reports in frame pixels', async () => {
    const d = await OnnxDetector.open({ bundleDir: join(root, 'binned'), tileOverlap: 16 });
    try {
      const r = await d.detect(frame());
      // 100 × 75 binned pixels: 2 × 2 tiles of 64.
      expect(r.timing.tiles).toBe(4);
      const rect = r.detections.find((x) => x.bbox.x < 100)!;
      expect(rect.bbox.x).toBeGreaterThanOrEqual(49);
      expect(rect.bbox.x).toBeLessThanOrEqual(51);
      expect(rect.bbox.width).toBeGreaterThanOrEqual(29);
      expect(rect.bbox.width).toBeLessThanOrEqual(31);
      expect(Math.abs(rect.areaPx - 600)).toBeLessThan(60);
      expect(rect.centroidPx[0]).toBeCloseTo(64.5, 0);
    } finally {
      await d.close();
    }
  });

  it('classifies with a multi-class model: dark and bright regions', async () => {
    const d = await OnnxDetector.open({ bundleDir: join(root, 'three') });
    try {
      const px = new Uint8Array(64 * 64).fill(128);
      for (let y = 4; y < 12; y++) for (let x = 4; x < 12; x++) px[y * 64 + x] = 10;
      for (let y = 30; y < 40; y++) for (let x = 40; x < 44; x++) px[y * 64 + x] = 250;
      const r = await d.detect({ data: px, width: 64, height: 64, bitDepth: 8 });
      expect(r.detections.map((x) => [x.className, x.bbox.x, x.bbox.y, x.areaPx]).sort()).toEqual([
        ['bright', 40, 30, 40],
        ['dark', 4, 4, 64],
      ]);
    } finally {
      await d.close();
    }
  });

  it('falls back along the provider list and says why each was skipped', async () => {
    const lines: string[] = [];
    const sink = new PassThrough();
    sink.on('data', (b: Buffer) => lines.push(...b.toString().trim().split('\n')));
    const d = await OnnxDetector.open({
      bundleDir: join(root, 'dark'),
      providers: ['tensorrt', 'cuda', 'cpu'],
      tensorRt: { cacheDir: join(root, 'trt'), precision: 'fp16', device: 'Orin', version: '8.6.2' },
      logger: createLogger({ destination: sink }),
    });
    try {
      expect(d.info().provider).toBe('cpu');
      const parsed = lines.map((l) => JSON.parse(l) as { msg: string; provider?: string; reason?: string });
      const skipped = parsed.filter((l) => l.msg === 'execution provider unavailable; trying the next');
      expect(skipped.map((l) => l.provider)).toEqual(['tensorrt', 'cuda']);
      expect(skipped[0]!.reason).toContain('Failed to load shared library');
      expect(parsed.some((l) => l.msg === 'inference: model dark 0.0.1 runs on cpu')).toBe(true);
      expect(process.env.ORT_TENSORRT_CACHE_PATH).toBeUndefined();
    } finally {
      await d.close();
    }
  });

  it('serves the scan engine through its port: a camera frame in, pixel detections and a probability map out', async () => {
    const scan = scanDetector(det, { probabilityMaxSide: 100 });
    expect(scan.id).toBe('dark@0.0.1');
    expect(scan.classes).toEqual(['background', 'defect']);
    const f = {
      data: scene(),
      width: 200,
      height: 150,
      pixelFormat: 'Mono8',
      bitDepth: 8,
      sequence: 1,
      exposureStartMs: 0,
      exposureEndMs: 1,
      exposureUs: 1000,
      gainDb: 0,
      release() {},
    } as const;
    const out = await scan.detect(f);
    const rect = out.detections.find((d) => d.bboxPx[0] === 50)!;
    expect(rect).toMatchObject({ classId: 1, className: 'defect', bboxPx: [50, 40, 30, 20], areaPx: 600, centroidPx: [64.5, 49.5], minorAxisPx: 20 });
    expect(rect.contourPx![0]).toEqual([50, 40]);
    expect(out.probability).toMatchObject({ width: 100, height: 75 });
    expect(out.probability!.data[22 * 100 + 30]).toBe(1);
  });

  it('is a LoadedModel for the bundle store: name@version id and warm-up runs', async () => {
    expect(det.id).toBe('dark@0.0.1');
    const before = det.stats().detects;
    await det.warmup(3);
    expect(det.stats().detects - before).toBe(3);
  });

  it('rejects every call after close', async () => {
    const d = await OnnxDetector.open({ bundleDir: join(root, 'dark') });
    await d.close();
    await expect(d.detect(frame())).rejects.toMatchObject({ closed: true, message: 'detector dark is closed' });
  });
});

function baseInput() {
  return {
    name: 'image',
    layout: 'NCHW' as const,
    dtype: 'float32' as const,
    channels: 1 as const,
    colour: 'grey' as const,
    sizeMultiple: 1,
    tileSize: 64,
    normalisation: { formula: '(pixel / (2^bitDepth - 1) - mean) / std', mean: 0.5, std: 1 },
  };
}
