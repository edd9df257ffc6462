/**
 * A LoadedModel that runs an installed bundle's ONNX graph with onnxruntime in a worker thread, so inference never
 * blocks the daemon's event loop (session.run is a synchronous native call; see docs/appliance.md). It takes input
 * tensors already tiled and normalised; the inference runtime's Detector (tiling, post-processing) can replace it in
 * the composition root.
 *
 * The worker is plain JavaScript given as source (eval), so the same code runs from src/ under vitest and from dist/.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { LoadedModel } from './model-slot.js';
import type { InstallableManifest } from './manifest.js';
import { parseNpy } from './npy.js';
import type { ActiveModel } from './store.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
let session = null;
parentPort.on('message', async (msg) => {
  try {
    if (msg.op === 'load') {
      session = await ort.InferenceSession.create(msg.bytes, { intraOpNumThreads: workerData.threads, interOpNumThreads: 1 });
      parentPort.postMessage({ id: msg.id, ok: true });
    } else if (msg.op === 'run') {
      const out = await session.run({ [msg.input]: new ort.Tensor('float32', msg.data, msg.dims) });
      const t = out[msg.output];
      const data = new Float32Array(t.data);
      parentPort.postMessage({ id: msg.id, ok: true, data, dims: t.dims }, [data.buffer]);
    }
  } catch (err) {
    parentPort.postMessage({ id: msg.id, ok: false, error: String(err && err.message || err) });
  }
});
`;

interface Reply {
  id: number;
  ok: boolean;
  error?: string;
  data?: Float32Array;
  dims?: number[];
}

export interface TensorResult {
  data: Float32Array;
  dims: number[];
}

export class OrtWorkerModel implements LoadedModel {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private closed = false;

  private constructor(
    readonly id: string,
    readonly manifest: InstallableManifest,
    private readonly dir: string,
    private readonly worker: Worker,
  ) {
    worker.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r);
      else p.reject(new Error(`model ${this.id}: ${r.error}`));
    });
    worker.on('error', (err) => this.failAll(err));
    worker.on('exit', (code) => this.failAll(new Error(`model ${this.id}: inference worker exited (code ${code})`)));
  }

  static async open(active: ActiveModel, threads = 1): Promise<OrtWorkerModel> {
    const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ortPath, threads } });
    const m = new OrtWorkerModel(active.id, active.manifest, active.dir, worker);
    try {
      await m.call({ op: 'load', bytes: readFileSync(join(active.dir, active.manifest.model.file)) });
    } catch (err) {
      await m.close();
      throw err;
    }
    return m;
  }

  private failAll(err: Error): void {
    this.closed = true;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private call(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.closed) return Promise.reject(Object.assign(new Error(`model ${this.id} is closed`), { closed: true }));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }

  /** One inference on an NCHW float32 tensor for the manifest's input; returns the manifest's output. */
  async run(data: Float32Array, dims: number[]): Promise<TensorResult> {
    const r = await this.call({ op: 'run', input: this.manifest.input.name, output: this.manifest.output.name, data, dims });
    return { data: r.data!, dims: r.dims! };
  }

  /** Warm-up on the bundle's own golden inputs (representative tiles), or a blank tile when it has none. */
  async warmup(runs: number): Promise<void> {
    const g = this.manifest.golden.cases[0]?.inputs[this.manifest.input.name];
    const t = this.manifest.input.tileSize;
    let data: Float32Array = new Float32Array(this.manifest.input.channels * t * t);
    let dims = [1, this.manifest.input.channels, t, t];
    if (g) {
      const arr = parseNpy(readFileSync(join(this.dir, g)), g);
      data = arr.data as Float32Array;
      dims = arr.shape;
    }
    for (let i = 0; i < runs; i++) await this.run(data.slice(), dims);
  }

  async close(): Promise<void> {
    if (this.closed && this.pending.size === 0) {
      await this.worker.terminate();
      return;
    }
    this.closed = true;
    await this.worker.terminate();
  }
}
