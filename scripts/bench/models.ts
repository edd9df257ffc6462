/**
 * Model benchmark: for every shipped bundle in models/, the time per tile with 1 and 2 intra-op threads (a tile-sized
 * tensor through the worker: round trip, network and post-processing; and the network alone), the time per tile of a
 * whole 1024 × 1024 frame (tiling, normalisation, blending and post-processing included) and of the classical baseline
 * on the same frame, beside the validation metrics recorded in the bundle. Per model, the whole-frame figures split the
 * time per tile into the network and the CPU work around it (frameMsPerTile, networkMsPerTile, networkShare,
 * overheadMsPerTile), measured in the same run as the plain approach a user would write without the runtime: an
 * onnxruntime-node loop over the frame's tiles on the main thread, tiling and normalisation in JS, no overlap, no
 * post-processing, same model and threads (naiveLoopMsPerTile, naiveLoopMsPerFrame; frameSpeedupVsNaive = its time
 * per frame over the runtime's). Prints one JSON object as its last line.
 */
import { existsSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { ClassicalDetector } from '../../src/inference/classical-detector.js';
import type { Detector, FrameInput } from '../../src/inference/detector.js';
import { readManifest, shippedModelsDir, type ModelManifest } from '../../src/inference/manifest.js';
import { OnnxDetector } from '../../src/inference/onnx-detector.js';
import ort from 'onnxruntime-node';

const tileRuns = Number(process.env.BENCH_RUNS ?? 15);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const r2 = (v: number): number => Math.round(v * 100) / 100;

/** A grey 12-bit frame with grain-like texture and a few dark and bright spots (content steers post-processing). */
function benchFrame(side: number): FrameInput {
  const data = new Uint16Array(side * side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      let v = 2200 + 180 * Math.sin(x / 23) * Math.cos(y / 31) + ((x * 7919 + y * 104729) % 71);
      const dx = (x % 211) - 105;
      const dy = (y % 173) - 86;
      if (dx * dx + dy * dy < 64) v = 800;
      if (Math.abs(x - y) < 2) v = 1200;
      data[y * side + x] = v;
    }
  }
  return { data, width: side, height: side, bitDepth: 12 };
}

/** Median detect time of one tile-sized tensor (worker round trip + network + post-processing) and of the network alone. */
async function tileMs(det: OnnxDetector, tile: number): Promise<{ total: number; network: number }> {
  const tensor = new Float32Array(tile * tile);
  for (let i = 0; i < tensor.length; i++) tensor[i] = Math.sin(i / 97);
  const total: number[] = [];
  const network: number[] = [];
  for (let i = 0; i < tileRuns; i++) {
    const r = await det.detect({ tensor, width: tile, height: tile });
    total.push(r.timing.totalMs);
    network.push(r.timing.inferenceMs);
  }
  return { total: median(total), network: median(network) };
}

async function frameMsPerTile(
  det: Detector,
  frame: FrameInput,
  runs: number,
): Promise<{ msPerTile: number; networkMsPerTile: number; tiles: number; detections: number }> {
  const times: number[] = [];
  const network: number[] = [];
  let tiles = 0;
  let detections = 0;
  for (let i = 0; i < runs; i++) {
    const r = await det.detect(frame);
    times.push(r.timing.totalMs / r.timing.tiles);
    network.push(r.timing.inferenceMs / r.timing.tiles);
    tiles = r.timing.tiles;
    detections = r.detections.length;
  }
  return { msPerTile: median(times), networkMsPerTile: median(network), tiles, detections };
}

/**
 * The plain loop: one onnxruntime-node session on the main thread, the frame cut into tile × tile pieces without
 * overlap (the last row and column padded with 0), each normalised in JS and run on its own.
 */
async function naiveLoop(bundleDir: string, frame: FrameInput, runs: number): Promise<{ msPerTile: number; msPerFrame: number; tiles: number }> {
  const m = readManifest(bundleDir);
  const t = m.input.tileSize;
  const session = await ort.InferenceSession.create(join(bundleDir, m.model.file), {
    intraOpNumThreads: 2,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const { mean, std } = m.input.normalisation;
  const scale = 1 / ((1 << frame.bitDepth) - 1);
  const frames: number[] = [];
  let tiles = 0;
  try {
    for (let run = 0; run < runs; run++) {
      const t0 = performance.now();
      tiles = 0;
      for (let y0 = 0; y0 < frame.height; y0 += t) {
        for (let x0 = 0; x0 < frame.width; x0 += t) {
          const data = new Float32Array(t * t);
          for (let y = 0; y < t && y0 + y < frame.height; y++) {
            for (let x = 0; x < t && x0 + x < frame.width; x++) data[y * t + x] = (frame.data[(y0 + y) * frame.width + x0 + x]! * scale - mean) / std;
          }
          await session.run({ [m.input.name]: new ort.Tensor('float32', data, [1, 1, t, t]) });
          tiles++;
        }
      }
      frames.push(performance.now() - t0);
    }
  } finally {
    await session.release();
  }
  return { msPerTile: median(frames) / tiles, msPerFrame: median(frames), tiles };
}

const dir = process.env.SMARTSCOPE_MODELS_DIR ?? shippedModelsDir();
const names = readdirSync(dir)
  .filter((n) => existsSync(join(dir, n, 'manifest.json')))
  .sort();
const frame = benchFrame(1024);
const results: Record<string, unknown> = {};
for (const name of names) {
  const bundleDir = join(dir, name);
  const m = readManifest(bundleDir);
  const t = m.input.tileSize;
  const perThreads: Record<number, { tile: number; network: number; frame: number; frameNetwork: number; tiles: number }> = {};
  for (const threads of [1, 2]) {
    const det = await OnnxDetector.open({ bundleDir, intraOpThreads: threads });
    try {
      const tile = await tileMs(det, t);
      const f = await frameMsPerTile(det, frame, threads === 2 ? 3 : 2);
      perThreads[threads] = { tile: tile.total, network: tile.network, frame: f.msPerTile, frameNetwork: f.networkMsPerTile, tiles: f.tiles };
    } finally {
      await det.close();
    }
  }
  const base = await frameMsPerTile(ClassicalDetector.forModel(name, m.pixelSizeUm, t), frame, 2);
  const naive = await naiveLoop(bundleDir, frame, 3);
  const whole = perThreads[2]!;
  const v = m.metrics;
  results[name] = {
    tilePx: t,
    parameters: m.model.parameters ?? null,
    onnxBytes: m.model.bytes,
    msPerTile1Thread: r2(perThreads[1]!.tile),
    msPerTile2Threads: r2(perThreads[2]!.tile),
    speedup2v1Threads: r2(perThreads[1]!.tile / perThreads[2]!.tile),
    networkMsPerTile1Thread: r2(perThreads[1]!.network),
    networkMsPerTile2Threads: r2(perThreads[2]!.network),
    frame1024MsPerTile2Threads: r2(perThreads[2]!.frame),
    frame1024Tiles: perThreads[2]!.tiles,
    baselineMsPerTile: r2(base.msPerTile),
    frameMsPerTile: r2(whole.frame),
    networkMsPerTile: r2(whole.frameNetwork),
    networkShare: r2(whole.frameNetwork / whole.frame),
    overheadMsPerTile: r2(whole.frame - whole.frameNetwork),
    naiveLoopMsPerTile: r2(naive.msPerTile),
    naiveLoopMsPerFrame: r2(naive.msPerFrame),
    naiveLoopTiles: naive.tiles,
    frameSpeedupVsNaive: r2(naive.msPerFrame / (whole.frame * whole.tiles)),
    validation: v
      ? {
          split: v.split,
          images: v.images,
          model: {
            meanIoU: v.model.meanIoU,
            meanDice: v.model.meanDice,
            mAP50: v.model.mAP50,
            objectF1: v.model.objectF1,
            objectRecall: v.model.objectRecall,
            objectF1At03: v.model.objectF1At03 ?? null,
          },
          baseline: {
            meanIoU: v.baseline.meanIoU,
            meanDice: v.baseline.meanDice,
            mAP50: v.baseline.mAP50,
            objectF1: v.baseline.objectF1,
            objectRecall: v.baseline.objectRecall,
            objectF1At03: v.baseline.objectF1At03 ?? null,
          },
        }
      : null,
    crossValidation: crossValidation(m),
  };
  const r = results[name] as Record<string, number>;
  process.stdout.write(
    `${name.padEnd(12)} ${t}² tile: ${r.msPerTile1Thread} ms (1 thread), ${r.msPerTile2Threads} ms (2 threads, ×${r.speedup2v1Threads}; network ${r.networkMsPerTile2Threads} ms); ` +
      `1024² frame ${r.frame1024MsPerTile2Threads} ms/tile over ${r.frame1024Tiles} tiles (network share ${r.networkShare}, overhead ${r.overheadMsPerTile} ms/tile); ` +
      `plain ORT loop ${r.naiveLoopMsPerTile} ms/tile over ${r.naiveLoopTiles} tiles (runtime ×${r.frameSpeedupVsNaive} per frame); classical ${r.baselineMsPerTile} ms/tile\n`,
  );
}
/** Mean and sample sd of the per-fold validation mean foreground IoU recorded by `train.py --cv`; null without it. */
function crossValidation(m: ModelManifest): { meanIoU: number; sd: number; folds: number } | null {
  const cv = m.training['crossValidation'] as Array<{ meanForegroundIoU: number }> | null | undefined;
  if (!cv || cv.length < 2) return null;
  const xs = cv.map((f) => f.meanForegroundIoU);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
  return { meanIoU: Math.round(mean * 10_000) / 10_000, sd: Math.round(sd * 10_000) / 10_000, folds: xs.length };
}

process.stdout.write(`${JSON.stringify({ bench: 'models', cpus: cpus().length, node: process.version, tileRuns, models: results })}\n`);
