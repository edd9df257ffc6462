/**
 * Native addon benchmark.
 *
 * 1. Preprocess one 2048 × 2048 16-bit frame (12-bit content) with dark subtraction and flat-field gain into 256 × 256
 *    float32 NCHW tiles with normalisation: the addon (default threads, all cores, and with the gain in Q2.14) against a plain-JS implementation of
 *    the same arithmetic, and against a memcpy of the frame's bytes (TypedArray.set, the physical floor), all in this
 *    run; medians.
 * 2. Aravis' in-process fake camera at 2048 × 2048 Mono16 delivering frames into double-buffered tensors (grab,
 *    preprocess, release): frames/s and process CPU% (all threads, the fake camera's own frame generation included),
 *    and the bytes JS copied per frame (frames that are not views of the addon's pool would have been copied).
 * 3. Post-processing of a 2048 × 2048 frame's 81 tile outputs (256², 32 px overlap) of a 2-class and a 5-class
 *    network: blending, threshold, class choice and regions with their properties, by the addon (blendTile per tile,
 *    one segment pass) against the JS reference of the same (pixel-ops' JsSegmenter), per tile; medians.
 *
 * Prints one JSON object as its last line.
 */
import { cpus } from 'node:os';
import { GenicamFrameSource, genicamAvailable } from '../../src/camera/genicam-source.js';
import { planTiles, preprocessTiles } from '../../src/native/pixel.js';
import { jsPixelOps, nativePixelOps, type PixelOps } from '../../src/inference/pixel-ops.js';
import { tileGrid } from '../../src/inference/tiling.js';

const W = 2048;
const H = 2048;
const TILE = 256;
const DARK = 100;
const SCALE = 1 / 4095;
const MEAN = 0.45;
const STD = 0.25;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (v: number, d = 3): number => Math.round(v * 10 ** d) / 10 ** d;

function makeFrame(): { frame: Uint16Array; flat: Float32Array } {
  const frame = new Uint16Array(W * H);
  const flat = new Float32Array(W * H);
  let s = 12345;
  for (let i = 0; i < frame.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const x = i % W;
    const y = (i / W) | 0;
    const vignette = 1 - 0.25 * (((x - W / 2) ** 2 + (y - H / 2) ** 2) / (W * W));
    frame[i] = Math.min(4095, DARK + Math.round(3000 * vignette + (s >>> 20) / 4));
    flat[i] = 1 / vignette;
  }
  return { frame, flat };
}

/** The same computation in plain JS: (raw − dark) · flat, normalised, written tile by tile in NCHW order. */
function preprocessJs(frame: Uint16Array, flat: Float32Array, out: Float32Array): void {
  const a = SCALE / STD;
  const b = -MEAN / STD;
  let o = 0;
  for (let ty = 0; ty < H / TILE; ty++) {
    for (let tx = 0; tx < W / TILE; tx++) {
      for (let y = 0; y < TILE; y++) {
        let i = (ty * TILE + y) * W + tx * TILE;
        const end = i + TILE;
        for (; i < end; i++) out[o++] = (frame[i]! - DARK) * flat[i]! * a + b;
      }
    }
  }
}

async function preprocessBench(): Promise<Record<string, number>> {
  const { frame, flat } = makeFrame();
  const flatQ14 = Uint16Array.from(flat, (g) => Math.min(65535, Math.round(g * 16384)));
  const plan = planTiles(W, H, { tile: TILE });
  const outNative = new Float32Array(plan.elements);
  const outJs = new Float32Array(plan.elements);
  const opts = { tile: TILE, dark: DARK, flat, scale: SCALE, mean: MEAN, std: STD };
  const runs = Number(process.env.BENCH_RUNS ?? 15);

  // Warm up every path once (page faults on the output, JIT of the JS loop).
  await preprocessTiles(frame, W, H, opts, outNative);
  preprocessJs(frame, flat, outJs);
  let maxDiff = 0;
  for (let i = 0; i < outJs.length; i++) maxDiff = Math.max(maxDiff, Math.abs(outJs[i]! - outNative[i]!));

  // Every timed run starts with cold caches, as a frame just written by the camera's DMA would: a 64 MiB sweep (twice
  // the last-level cache of common boards and of this machine) evicts the frame, the gain and the tensor. The variants
  // run round-robin, starting from a different one each round, so load from other processes spreads over all of them.
  const sweep = new Uint8Array(64 << 20);
  const evict = (): number => {
    let acc = 0;
    for (let i = 0; i < sweep.length; i += 64) acc += sweep[i]++;
    return acc;
  };
  const copy = new Uint16Array(W * H);
  const variants: Array<[string, () => unknown]> = [
    ['native', () => preprocessTiles(frame, W, H, opts, outNative)],
    ['allCores', () => preprocessTiles(frame, W, H, { ...opts, threads: cpus().length }, outNative)],
    ['q14', () => preprocessTiles(frame, W, H, { ...opts, flat: undefined, flatQ14 }, outNative)],
    ['memcpy', () => copy.set(frame)],
    ['js', () => preprocessJs(frame, flat, outJs)],
  ];
  const times: Record<string, number[]> = Object.fromEntries(variants.map(([k]) => [k, []]));
  const work: Record<string, number[]> = { native: [], q14: [] };
  for (let r = 0; r < runs; r++) {
    for (let v = 0; v < variants.length; v++) {
      const [name, run] = variants[(v + r) % variants.length]!;
      evict();
      const t = performance.now();
      const res = await run();
      times[name]!.push(performance.now() - t);
      if (work[name]) work[name]!.push((res as { workMs: number }).workMs);
    }
  }
  const { native, allCores, q14, memcpy, js } = times as Record<string, number[]>;
  const nativeMs = median(native!);
  const jsMs = median(js!);
  const memcpyMs = median(memcpy!);
  return {
    tiles: plan.tiles,
    nativeMs: round(nativeMs),
    nativeWorkMs: round(median(work.native!)),
    nativeAllCoresMs: round(median(allCores!)),
    nativeQ14Ms: round(median(q14!)),
    nativeQ14WorkMs: round(median(work.q14!)),
    speedupVsJsQ14: round(jsMs / median(q14!), 2),
    ratioToMemcpyQ14: round(median(q14!) / memcpyMs, 2),
    jsMs: round(jsMs),
    memcpyMs: round(memcpyMs),
    speedupVsJs: round(jsMs / nativeMs, 2),
    ratioToMemcpy: round(nativeMs / memcpyMs, 2),
    maxAbsDiffVsJs: maxDiff,
  };
}

async function aravisBench(): Promise<Record<string, number | string>> {
  if (!genicamAvailable()) return { arvFps: 0, arvNote: 'addon built without Aravis' };
  const seconds = Number(process.env.BENCH_ARV_SECONDS ?? 6);
  // frameRate: the fake camera paces triggered frames by it too (25 Hz by default).
  const source = new GenicamFrameSource({ id: 'Fake_BENCH', pixelFormat: 'Mono16', width: W, height: H, poolSize: 4, exposureUs: 1000, frameRate: 1000 });
  await source.open();
  const plan = planTiles(W, H, { tile: TILE });
  const tensors = [new Float32Array(plan.elements), new Float32Array(plan.elements)];
  const opts = { tile: TILE, dark: DARK, scale: 1 / 65535, mean: MEAN, std: STD };
  // Warm-up frame, then the measured loop: the next grab (trigger + transfer) overlaps this frame's preprocessing.
  (await source.grab()).release();
  let frames = 0;
  let jsCopied = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let next = source.grab();
  while (performance.now() - t0 < seconds * 1000) {
    const f = await next;
    next = source.grab();
    if (!source.ownsMemory(f.data)) jsCopied += f.data.byteLength;
    await preprocessTiles(f.data, f.width, f.height, opts, tensors[frames % 2]!);
    f.release();
    frames++;
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  (await next).release();
  const c = source.counters();
  await source.close();
  return {
    arvFps: round((frames * 1000) / wallMs, 2),
    arvCpuPercent: round(((cpu.user + cpu.system) / 1000 / wallMs) * 100, 1),
    arvFrames: frames,
    arvDropped: c.dropped,
    arvIncomplete: c.incomplete,
    jsBytesCopiedPerFrame: frames ? jsCopied / frames : 0,
  };
}

/** Synthetic softmax outputs: smooth blobs per class, different per tile, so blending and regions have work to do. */
function tileOutputs(tiles: number, K: number, T: number): Float32Array[] {
  const plane = T * T;
  return Array.from({ length: tiles }, (_, t) => {
    const out = new Float32Array(K * plane);
    for (let i = 0; i < plane; i++) {
      const x = i % T;
      const y = (i - x) / T;
      let sum = 0;
      for (let k = 0; k < K; k++) {
        const e = Math.exp((k === 0 ? 2 : 2.5) * Math.cos(Math.hypot(x - ((37 * (k + t)) % T), y - ((53 * (k + 2 * t)) % T)) / (9 + 4 * k)));
        out[k * plane + i] = e;
        sum += e;
      }
      for (let k = 0; k < K; k++) out[k * plane + i]! /= sum;
    }
    return out;
  });
}

async function postprocessBench(): Promise<Record<string, number>> {
  const grid = tileGrid(W, H, TILE, 32, 32);
  const out: Record<string, number> = { postTiles: grid.tiles.length };
  for (const K of [2, 5]) {
    const outputs = tileOutputs(grid.tiles.length, K, TILE);
    const params = { threshold: 0.5, closePx: 0, outWidth: W, outHeight: H, binning: 1, probabilityMaxSide: 512 };
    const run = async (ops: PixelOps): Promise<number> => {
      const t = performance.now();
      const s = ops.segmenter(grid, W, H, K);
      grid.tiles.forEach((_, k) => s.add(outputs[k]!, k % grid.xs.length, Math.floor(k / grid.xs.length)));
      await s.segment(params);
      return performance.now() - t;
    };
    const nat: number[] = [];
    const js: number[] = [];
    for (let r = 0; r < 5; r++) {
      nat.push(await run(nativePixelOps));
      if (r < 3) js.push(await run(jsPixelOps));
    }
    out[`postNativeMsPerTile${K}Classes`] = round(median(nat) / grid.tiles.length, 3);
    out[`postJsMsPerTile${K}Classes`] = round(median(js) / grid.tiles.length, 3);
    out[`postSpeedupVsJs${K}Classes`] = round(median(js) / median(nat), 1);
  }
  return out;
}

const pre = await preprocessBench();
const arv = await aravisBench();
const post = await postprocessBench();
const result = {
  frame: `${W}x${H} u16, flat-field, ${TILE}x${TILE} float32 tiles`,
  cores: cpus().length,
  ...pre,
  ...arv,
  ...post,
};
console.log(
  `post-processing per tile (${post.postTiles} tiles): 2 classes native ${post.postNativeMsPerTile2Classes} ms, JS ${post.postJsMsPerTile2Classes} ms; ` +
    `5 classes native ${post.postNativeMsPerTile5Classes} ms, JS ${post.postJsMsPerTile5Classes} ms`,
);
console.log(`preprocess: native ${pre.nativeMs} ms (all ${result.cores} cores ${pre.nativeAllCoresMs} ms), JS ${pre.jsMs} ms, memcpy ${pre.memcpyMs} ms`);
console.log(`aravis fake camera: ${arv.arvFps} frames/s at ${arv.arvCpuPercent} % CPU, ${arv.jsBytesCopiedPerFrame} bytes copied by JS per frame`);
console.log(JSON.stringify(result));
