/**
 * The Detector adapter that runs a model bundle with onnxruntime in a worker thread.
 *
 * One worker (and one ORT session) per model. Requests go to the worker one at a time; at most `maxQueued` wait
 * behind it, and a request beyond that is refused (`overloaded: true`) and counted rather than queued without bound.
 * `swap()` loads another bundle into the same worker; when that bundle is bad (sha256 mismatch, not ONNX, wrong input
 * or output shape) it is refused with a clear error and the model that was serving keeps serving. When the worker
 * dies it is restarted with the last good bundle and the requests it held are rejected.
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../kernel/logger.js';
import { silentLogger } from '../kernel/logger.js';
import {
  checkInput,
  detectorError,
  isTensorInput,
  type DetectOptions,
  type DetectionResult,
  type Detector,
  type DetectorInfo,
  type DetectorInput,
} from './detector.js';
import { loadBundle, type LoadedBundle, type ModelManifest } from './manifest.js';
import { tensorRtEnv, type ProviderName, type TensorRtSettings } from './providers.js';
import type { DetectRequest, LoadReply, WireInput, WorkerReply, WorkerRequest } from './worker-protocol.js';

export interface OnnxDetectorOptions {
  /** Bundle folder (models/<name>). */
  bundleDir: string;
  providers?: ProviderName[];
  intraOpThreads?: number;
  tileOverlap?: number;
  /** Overrides the manifest's foreground threshold. */
  threshold?: number;
  minAreaPx?: number;
  maxQueued?: number;
  warmup?: boolean;
  tensorRt?: TensorRtSettings;
  logger?: Logger;
}

export interface OnnxDetectorStats {
  detects: number;
  failed: number;
  /** Requests refused because `maxQueued` were already waiting. */
  overloaded: number;
  restarts: number;
  swaps: number;
  swapsRefused: number;
}

interface Pending {
  resolve: (r: WorkerReply) => void;
  reject: (e: Error) => void;
}

/**
 * The worker next to this module: ort-worker.js in the build; from source (vitest, tsx) a small bootstrap registers
 * tsx's loader inside the worker and then imports ort-worker.ts (on Node 20 `execArgv: ['--import', 'tsx']` does not
 * reach the worker's entry module).
 */
function spawnWorker(): Worker {
  const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');
  if (!fromSource) return new Worker(new URL('./ort-worker.js', import.meta.url), { stdout: false, stderr: false });
  const entry = new URL('./ort-worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, stdout: false, stderr: false });
}

// TensorRT's cache settings are process-wide environment variables read at session creation: create sessions one at
// a time across all detectors of the process.
let sessionCreation: Promise<unknown> = Promise.resolve();
function serialised<T>(fn: () => Promise<T>): Promise<T> {
  const run = sessionCreation.then(fn, fn);
  sessionCreation = run.catch(() => undefined);
  return run;
}

export class OnnxDetector implements Detector {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private queue: Array<() => void> = [];
  private busy = false;
  private closed = false;
  private bundle!: LoadedBundle;
  private provider: ProviderName = 'cpu';
  private readonly log: Logger;
  private readonly counters: OnnxDetectorStats = { detects: 0, failed: 0, overloaded: 0, restarts: 0, swaps: 0, swapsRefused: 0 };
  private readonly opts: Required<Omit<OnnxDetectorOptions, 'threshold' | 'minAreaPx' | 'tensorRt' | 'logger'>> &
    Pick<OnnxDetectorOptions, 'threshold' | 'minAreaPx' | 'tensorRt'>;

  private constructor(opts: OnnxDetectorOptions) {
    this.log = (opts.logger ?? silentLogger()).child({ module: 'inference' });
    this.opts = {
      bundleDir: opts.bundleDir,
      providers: opts.providers && opts.providers.length ? opts.providers : ['cpu'],
      intraOpThreads: opts.intraOpThreads ?? 2,
      tileOverlap: opts.tileOverlap ?? 32,
      maxQueued: opts.maxQueued ?? 4,
      warmup: opts.warmup ?? true,
      threshold: opts.threshold,
      minAreaPx: opts.minAreaPx,
      tensorRt: opts.tensorRt,
    };
  }

  /** Loads and checks the bundle, starts the worker, creates the session and warms it up. */
  static async open(opts: OnnxDetectorOptions): Promise<OnnxDetector> {
    const d = new OnnxDetector(opts);
    const bundle = loadBundle(opts.bundleDir);
    d.startWorker();
    try {
      await d.loadIntoWorker(bundle);
    } catch (err) {
      await d.close();
      throw err;
    }
    return d;
  }

  info(): DetectorInfo {
    const m = this.bundle.manifest;
    return {
      name: m.name,
      version: m.version,
      kind: 'onnx',
      task: m.task,
      classes: [...m.classes],
      pixelSizeUm: m.pixelSizeUm,
      provider: this.provider,
      sha256: m.model.sha256,
      tileSize: m.input.tileSize,
      tileOverlap: this.opts.tileOverlap,
    };
  }

  /** name@version: how bundles are named in records and events (the bundle store's LoadedModel id). */
  get id(): string {
    const m = this.bundle.manifest;
    return `${m.name}@${m.version}`;
  }

  /**
   * Runs `runs` tiles of representative input through the worker (what the bundle store's model slot asks of a
   * LoadedModel before it switches to a new version).
   */
  async warmup(runs: number): Promise<void> {
    const t = this.bundle.manifest.input.tileSize;
    for (let i = 0; i < runs; i++) {
      const data = new Uint16Array(t * t);
      for (let k = 0; k < data.length; k++) data[k] = 2048 + ((k * 7919 + i * 104729) % 512);
      await this.detect({ data, width: t, height: t, bitDepth: 12, transfer: true });
    }
  }

  manifest(): ModelManifest {
    return this.bundle.manifest;
  }

  stats(): OnnxDetectorStats {
    return { ...this.counters };
  }

  /**
   * Replaces the model with the bundle in `bundleDir`. Resolves once the new model serves; rejects (with `badModel`)
   * and keeps the current model serving when the bundle is bad.
   */
  async swap(bundleDir: string): Promise<void> {
    let bundle: LoadedBundle;
    try {
      bundle = loadBundle(bundleDir);
      await this.exclusive(() => this.loadIntoWorker(bundle));
    } catch (err) {
      this.counters.swapsRefused++;
      this.log.warn({ bundle: bundleDir, err: (err as Error).message, serving: this.bundle.manifest.name }, 'model refused; the current model keeps serving');
      throw err;
    }
    this.counters.swaps++;
  }

  async detect(input: DetectorInput, opts: DetectOptions = {}): Promise<DetectionResult> {
    if (this.closed) throw detectorError(`detector ${this.bundle?.manifest.name ?? ''} is closed`, { closed: true });
    checkInput(input);
    if (opts.signal?.aborted) throw detectorError('detect canceled', { canceled: true });
    if (opts.threshold !== undefined && !(opts.threshold >= 0 && opts.threshold <= 1)) {
      throw detectorError(`threshold must be in [0, 1] but is ${opts.threshold}`, { badInput: true });
    }
    this.checkScale(input.pixelSizeUm);
    const wire = toWire(input);
    const maxSide = opts.probabilityMap === true ? 512 : opts.probabilityMap ? opts.probabilityMap.maxSide : 0;
    const t0 = performance.now();
    // The manifest is read when the request reaches the worker: a swap while it waited applies to it.
    let m = this.bundle.manifest;
    const reply = await this.exclusive(() => {
      m = this.bundle.manifest;
      const req: DetectRequest = {
        op: 'detect',
        id: 0,
        input: wire.input,
        pixelSizeUm: input.pixelSizeUm ?? m.pixelSizeUm ?? 1,
        pixelToStage: input.pixelToStage,
        threshold: opts.threshold ?? this.opts.threshold ?? m.thresholds.foreground,
        minAreaPx: this.opts.minAreaPx ?? m.thresholds.minAreaPx,
        closePx: m.thresholds.closePx ?? 0,
        tileOverlap: Math.min(this.opts.tileOverlap, m.input.tileSize - 1),
        probabilityMap: maxSide,
        masks: opts.masks ?? false,
      };
      return this.request(req, wire.transfer);
    }, opts.signal);
    if (!reply.ok) {
      this.counters.failed++;
      throw detectorError(reply.error.message, { badModel: reply.error.badModel, badInput: reply.error.badInput });
    }
    this.counters.detects++;
    const r = reply.result!;
    r.timing.totalMs = performance.now() - t0;
    return { ...r, model: { name: m.name, version: m.version, sha256: m.model.sha256, kind: 'onnx' } };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const q of this.queue.splice(0)) q();
    const w = this.worker;
    this.worker = null;
    if (w) {
      await w.terminate().catch(() => undefined);
    }
    for (const p of this.pending.values()) p.reject(detectorError('detector closed', { closed: true }));
    this.pending.clear();
  }

  // ------------------------------------------------------------------------------------------------------------------

  private readonly warnedScales = new Set<number>();

  /** A model sees defects at the scale it was trained at: say so (once per pixel size) when a frame differs by > 15 %. */
  private checkScale(pixelSizeUm: number | undefined): void {
    const trained = this.bundle.manifest.pixelSizeUm;
    if (pixelSizeUm === undefined || trained === null || Math.abs(pixelSizeUm / trained - 1) <= 0.15) return;
    if (this.warnedScales.has(pixelSizeUm)) return;
    this.warnedScales.add(pixelSizeUm);
    this.log.warn(
      { model: this.bundle.manifest.name, pixelSizeUm, trainedPixelSizeUm: trained },
      `frames of ${pixelSizeUm} µm/px reach model ${this.bundle.manifest.name}, trained at ${trained} µm/px: resample them first`,
    );
  }

  private startWorker(): void {
    const w = spawnWorker();
    w.on('message', (reply: WorkerReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) w.unref();
      p.resolve(reply);
    });
    w.on('error', (err) => this.workerDied(w, err));
    w.on('exit', (code) => {
      if (this.worker === w && !this.closed) this.workerDied(w, new Error(`inference worker exited with code ${code}`));
    });
    // An idle worker must not keep the process alive on its own; one holding a request must.
    w.unref();
    this.worker = w;
  }

  private workerDied(w: Worker, err: Error): void {
    if (this.worker !== w || this.closed) return;
    this.worker = null;
    this.log.error({ err: err.message, model: this.bundle?.manifest.name }, 'inference worker died; restarting with the last good model');
    for (const p of this.pending.values()) p.reject(detectorError(`inference worker died: ${err.message}`));
    this.pending.clear();
    this.counters.restarts++;
    if (!this.bundle) return;
    this.startWorker();
    const bundle = this.bundle;
    void this.exclusive(() => this.loadIntoWorker(bundle)).catch((e: Error) => this.log.error({ err: e.message }, 'inference worker restart failed'));
  }

  private request(req: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    const w = this.worker;
    if (!w) return Promise.reject(detectorError('inference worker is not running'));
    req.id = this.nextId++;
    return new Promise<WorkerReply>((resolve, reject) => {
      this.pending.set(req.id, { resolve, reject });
      w.ref();
      w.postMessage(req, transfer);
    });
  }

  /** Runs `fn` when no other request is in the worker; bounded waiting line. */
  private async exclusive<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.busy) {
      if (this.queue.length >= this.opts.maxQueued) {
        this.counters.overloaded++;
        throw detectorError(`detector ${this.bundle.manifest.name} is overloaded: ${this.queue.length} requests already waiting`, { overloaded: true });
      }
      await new Promise<void>((resolve, reject) => {
        const go = (): void => {
          signal?.removeEventListener('abort', onAbort);
          if (this.closed) reject(detectorError('detector closed', { closed: true }));
          else resolve();
        };
        const onAbort = (): void => {
          const i = this.queue.indexOf(go);
          if (i >= 0) this.queue.splice(i, 1);
          reject(detectorError('detect canceled', { canceled: true }));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.queue.push(go);
      });
    }
    this.busy = true;
    try {
      return await fn();
    } finally {
      this.busy = false;
      this.queue.shift()?.();
    }
  }

  private async loadIntoWorker(bundle: LoadedBundle): Promise<void> {
    const m = bundle.manifest;
    const bytes = bundle.modelBytes.slice();
    const reply = await serialised(async () => {
      const restore = this.applyTensorRtEnv(m.model.sha256);
      try {
        return await this.request(
          {
            op: 'load',
            id: 0,
            manifest: m,
            modelBytes: bytes,
            providers: this.opts.providers,
            intraOpThreads: this.opts.intraOpThreads,
            warmup: this.opts.warmup,
          },
          [bytes.buffer as ArrayBuffer],
        );
      } finally {
        restore();
      }
    });
    if (!reply.ok) throw detectorError(reply.error.message, { badModel: true });
    const info = reply.load as LoadReply;
    this.bundle = bundle;
    this.provider = info.provider;
    for (const f of info.failed) this.log.warn({ model: m.name, provider: f.provider, reason: f.reason }, 'execution provider unavailable; trying the next');
    this.log.info(
      {
        model: m.name,
        version: m.version,
        sha256: m.model.sha256,
        provider: info.provider,
        intraOpThreads: this.opts.intraOpThreads,
        loadMs: Math.round(info.loadMs),
        warmupMs: Math.round(info.warmupMs),
      },
      `inference: model ${m.name} ${m.version} runs on ${info.provider}`,
    );
  }

  private applyTensorRtEnv(sha256: string): () => void {
    if (!this.opts.tensorRt || !this.opts.providers.includes('tensorrt')) return () => undefined;
    const env = tensorRtEnv(this.opts.tensorRt, sha256);
    const saved: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    return () => {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    };
  }
}

/** How an input crosses to the worker: shared memory as is, a whole transferable buffer moved, anything else copied once. */
function toWire(input: DetectorInput): { input: WireInput; transfer: ArrayBuffer[] } {
  const view = isTensorInput(input) ? input.tensor : input.data;
  const dtype: WireInput['dtype'] = isTensorInput(input) ? 'f32' : input.data instanceof Uint8Array ? 'u8' : 'u16';
  const base = {
    kind: isTensorInput(input) ? ('tensor' as const) : ('frame' as const),
    dtype,
    width: input.width,
    height: input.height,
    bitDepth: isTensorInput(input) ? 0 : input.bitDepth,
  };
  const buf = view.buffer;
  if (typeof SharedArrayBuffer !== 'undefined' && buf instanceof SharedArrayBuffer) {
    return { input: { ...base, buffer: buf, byteOffset: view.byteOffset, length: view.length }, transfer: [] };
  }
  if (input.transfer && view.byteOffset === 0 && view.byteLength === buf.byteLength) {
    return { input: { ...base, buffer: buf, byteOffset: 0, length: view.length }, transfer: [buf as ArrayBuffer] };
  }
  const copy = view.slice();
  return { input: { ...base, buffer: copy.buffer, byteOffset: 0, length: copy.length }, transfer: [copy.buffer as ArrayBuffer] };
}
