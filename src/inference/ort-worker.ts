/**
 * Worker thread holding one ORT session: loads and validates models, tiles frames, runs the network per tile,
 * blends probabilities and post-processes, so none of this touches the main event loop. A failed load leaves the
 * session that was serving in place.
 */
import { parentPort } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import type { ModelManifest } from './manifest.js';
import { pixelOps, type TileSegmenter } from './pixel-ops.js';
import { detectionsOf } from './postprocess.js';
import { providerChain, providerFailure, type ProviderName } from './providers.js';
import { tileGrid } from './tiling.js';
import type { DetectRequest, LoadReply, LoadRequest, WireError, WorkerReply, WorkerRequest } from './worker-protocol.js';
import type { DetectionResult } from './detector.js';

interface Loaded {
  session: ort.InferenceSession;
  manifest: ModelManifest;
  provider: ProviderName;
}

// ORT's own logger writes to stderr; a provider that cannot load is reported (and logged) by the host instead.
ort.env.logLevel = 'fatal';

let current: Loaded | null = null;
const ops = pixelOps();

class WorkerFailure extends Error {
  constructor(
    message: string,
    readonly marks: { badModel?: boolean; badInput?: boolean } = {},
  ) {
    super(message);
  }
}

function dimOk(d: unknown, want: number | null): boolean {
  if (typeof d === 'number') return want === null ? d > 0 : d === want || d === -1;
  return true; // symbolic (dynamic) dimension
}

/** Checks the session's declared input / output against the manifest, before any tensor is run. */
function checkSignature(session: ort.InferenceSession, m: ModelManifest): void {
  const name = m.name;
  if (!session.inputNames.includes(m.input.name)) {
    throw new WorkerFailure(`model ${name}: has no input named '${m.input.name}' (inputs: ${session.inputNames.join(', ')})`, { badModel: true });
  }
  if (!session.outputNames.includes(m.output.name)) {
    throw new WorkerFailure(`model ${name}: has no output named '${m.output.name}' (outputs: ${session.outputNames.join(', ')})`, { badModel: true });
  }
  const meta = session.inputMetadata.find((x) => x.name === m.input.name);
  if (meta && meta.isTensor) {
    const shape = meta.shape as Array<number | string>;
    const t = m.input.tileSize;
    const ok =
      meta.type === 'float32' &&
      shape.length === 4 &&
      dimOk(shape[0], null) &&
      dimOk(shape[1], 1) &&
      dimOk(shape[2], typeof shape[2] === 'number' ? t : null) &&
      dimOk(shape[3], typeof shape[3] === 'number' ? t : null);
    if (!ok) {
      throw new WorkerFailure(
        `model ${name}: input '${m.input.name}' is ${meta.type} [${shape.join(', ')}] but the runtime feeds float32 [N, 1, H, W] with H = W = ${t} (the manifest's tileSize)`,
        { badModel: true },
      );
    }
  }
}

async function createSession(req: LoadRequest): Promise<{ session: ort.InferenceSession; provider: ProviderName; failed: LoadReply['failed'] }> {
  const failed: LoadReply['failed'] = [];
  for (let i = 0; i < req.providers.length; i++) {
    const chain = providerChain(req.providers, i);
    try {
      const session = await ort.InferenceSession.create(req.modelBytes, {
        executionProviders: chain,
        intraOpNumThreads: req.intraOpThreads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
      });
      return { session, provider: req.providers[i]!, failed };
    } catch (err) {
      const reason = providerFailure(err);
      // A provider that cannot load says so; anything else is the model's fault and no provider will do better.
      if (/shared library|backend not found|not available|not supported|provider/i.test(reason) && i < req.providers.length - 1) {
        failed.push({ provider: req.providers[i]!, reason });
        continue;
      }
      throw new WorkerFailure(`model ${req.manifest.name}: not a loadable ONNX model (${reason})`, { badModel: true });
    }
  }
  throw new WorkerFailure(`model ${req.manifest.name}: no execution provider could load it (${failed.map((f) => `${f.provider}: ${f.reason}`).join('; ')})`, {
    badModel: true,
  });
}

async function runTile(l: Loaded, data: Float32Array, w: number, h: number): Promise<Float32Array> {
  const m = l.manifest;
  const feeds = { [m.input.name]: new ort.Tensor('float32', data, [1, 1, h, w]) };
  let out: ort.InferenceSession.OnnxValueMapType;
  try {
    out = await l.session.run(feeds);
  } catch (err) {
    throw new WorkerFailure(`model ${m.name}: inference on a ${w}×${h} tile failed (${providerFailure(err)})`, { badModel: true });
  }
  const t = out[m.output.name] as ort.Tensor | undefined;
  const want = [1, m.classes.length, h, w];
  if (!t || t.type !== 'float32' || t.dims.length !== 4 || t.dims.some((d, i) => d !== want[i])) {
    const got = t ? `${t.type} [${t.dims.join(', ')}]` : 'nothing';
    throw new WorkerFailure(`model ${m.name}: output '${m.output.name}' is ${got} but [${want.join(', ')}] float32 was expected`, { badModel: true });
  }
  return t.data as Float32Array;
}

async function load(req: LoadRequest): Promise<LoadReply> {
  const t0 = performance.now();
  const { session, provider, failed } = await createSession(req);
  const next: Loaded = { session, manifest: req.manifest, provider };
  let warmupMs = 0;
  try {
    checkSignature(session, req.manifest);
    if (req.warmup) {
      // One tile through the whole network: allocations, kernels (and TensorRT engines) are made now, not on the
      // first frame; and a model whose output does not match the manifest is refused here.
      const t = req.manifest.input.tileSize;
      const w0 = performance.now();
      await runTile(next, new Float32Array(t * t), t, t);
      warmupMs = performance.now() - w0;
    }
  } catch (err) {
    await session.release().catch(() => undefined);
    throw err;
  }
  const old = current;
  current = next;
  if (old) await old.session.release().catch(() => undefined);
  return { provider, failed, warmupMs, loadMs: performance.now() - t0 };
}

// The batch of normalised tiles, kept between frames (grows to the largest frame seen).
let batchBuf = new Float32Array(0);

async function detect(req: DetectRequest): Promise<Omit<DetectionResult, 'model'>> {
  const l = current;
  if (!l) throw new WorkerFailure('no model loaded');
  const m = l.manifest;
  const t0 = performance.now();
  const { width, height } = req.input;
  const K = m.classes.length;
  let inferenceMs = 0;
  let preMs = 0;
  let tiles = 0;
  let segmenter: TileSegmenter;
  let gridWidth: number;
  let gridHeight: number;
  if (req.input.kind === 'tensor') {
    const mult = m.input.sizeMultiple;
    if (width % mult !== 0 || height % mult !== 0) {
      throw new WorkerFailure(`input tensor is ${width}×${height} but model ${m.name} needs sides that are multiples of ${mult}`, { badInput: true });
    }
    const data = new Float32Array(req.input.buffer as ArrayBuffer, req.input.byteOffset, req.input.length);
    const grid = tileGrid(width, height, Math.max(width, height), 0, mult);
    segmenter = ops.segmenter(grid, width, height, K);
    [gridWidth, gridHeight] = [width, height];
    const i0 = performance.now();
    segmenter.add(await runTile(l, data, width, height), 0, 0);
    inferenceMs += performance.now() - i0;
    tiles = 1;
  } else {
    const Ctor = req.input.dtype === 'u8' ? Uint8Array : Uint16Array;
    const frame = new Ctor(req.input.buffer as ArrayBuffer, req.input.byteOffset, req.input.length);
    const p0 = performance.now();
    const { mean, std } = m.input.normalisation;
    const tiled = await ops.tileFrame(
      frame,
      width,
      height,
      {
        tile: m.input.tileSize,
        overlap: req.tileOverlap,
        multiple: m.input.sizeMultiple,
        binning: m.input.binning ?? 1,
        bitDepth: req.input.bitDepth,
        mean,
        std,
      },
      batchBuf,
    );
    if (tiled.tensor.buffer !== batchBuf.buffer) batchBuf = new Float32Array(tiled.tensor.buffer as ArrayBuffer);
    preMs += performance.now() - p0;
    const grid = tiled.grid;
    segmenter = ops.segmenter(grid, tiled.width, tiled.height, K);
    [gridWidth, gridHeight] = [tiled.width, tiled.height];
    const tw = grid.tileWidth;
    const th = grid.tileHeight;
    const per = tw * th;
    for (let iy = 0; iy < grid.ys.length; iy++) {
      for (let ix = 0; ix < grid.xs.length; ix++) {
        const k = iy * grid.xs.length + ix;
        const i0 = performance.now();
        // The tile is a view into the batch: the ORT tensor wraps it without a copy.
        let probs: Float32Array;
        try {
          probs = await runTile(l, tiled.tensor.subarray(k * per, (k + 1) * per), tw, th);
        } catch (err) {
          // Blends still running write into buffers the next frame reuses: let them finish first.
          await segmenter.drain();
          throw err;
        }
        inferenceMs += performance.now() - i0;
        // Blending runs beside the next tile's network (native), or here (JS reference).
        const b0 = performance.now();
        segmenter.add(probs, ix, iy);
        preMs += performance.now() - b0;
        tiles++;
      }
    }
  }
  const q0 = performance.now();
  const seg = await segmenter.segment({
    threshold: req.threshold,
    closePx: req.closePx,
    outWidth: width,
    outHeight: height,
    binning: gridWidth === width && gridHeight === height ? 1 : (m.input.binning ?? 1),
    probabilityMaxSide: req.probabilityMap,
  });
  const post = detectionsOf(seg, width, height, {
    classes: m.classes,
    minAreaPx: req.minAreaPx,
    pixelSizeUm: req.pixelSizeUm,
    pixelToStage: req.pixelToStage,
    masks: req.masks,
  });
  const result: Omit<DetectionResult, 'model'> = {
    detections: post.detections,
    timing: { totalMs: 0, inferenceMs, preprocessMs: preMs, postprocessMs: 0, tiles, msPerTile: 0 },
  };
  if (seg.probability) result.probability = seg.probability;
  if (post.masks) result.masks = post.masks;
  const total = performance.now() - t0;
  result.timing.postprocessMs = performance.now() - q0;
  result.timing.totalMs = total;
  result.timing.msPerTile = total / Math.max(1, tiles);
  return result;
}

function toWire(err: unknown): WireError {
  if (err instanceof WorkerFailure) return { message: err.message, ...err.marks };
  return { message: err instanceof Error ? err.message : String(err) };
}

const port = parentPort;
if (!port) throw new Error('ort-worker must run in a worker thread');

// Requests are handled strictly one at a time: the host keeps at most one in flight.
let chain: Promise<void> = Promise.resolve();
port.on('message', (req: WorkerRequest) => {
  chain = chain.then(async () => {
    let reply: WorkerReply;
    try {
      if (req.op === 'load') reply = { id: req.id, ok: true, load: await load(req) };
      else if (req.op === 'detect') {
        const result = await detect(req);
        reply = { id: req.id, ok: true, result };
      } else {
        if (current) await current.session.release().catch(() => undefined);
        current = null;
        reply = { id: req.id, ok: true };
      }
    } catch (err) {
      reply = { id: req.id, ok: false, error: toWire(err) };
    }
    const transfer: ArrayBuffer[] = [];
    if (reply.ok && reply.result) {
      if (reply.result.probability) transfer.push(reply.result.probability.data.buffer as ArrayBuffer);
      if (reply.result.masks) transfer.push(reply.result.masks.classMap.buffer as ArrayBuffer, reply.result.masks.instances.buffer as ArrayBuffer);
    }
    port.postMessage(reply, transfer);
  });
});
