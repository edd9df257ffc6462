/**
 * The daemon's inspection loop when no scan engine is plugged in: grab a frame, cut the central tile, normalise it as
 * the model's manifest says, run the active model on it, count the defect regions, and report the frame as progress
 * (heartbeat, frames/s, latency, dropped frames). It keeps the camera, the model and the watchdog honest on an
 * instrument that is waiting for work, and it is what the daemon tests drive.
 */
import type { FrameSource } from '../camera/frame-source.js';
import type { ModelRole } from '../bundles/manifest.js';
import type { OrtWorkerModel, TensorResult } from '../bundles/ort-worker-model.js';
import type { Pipeline, PipelineContext } from './appliance.js';

export interface FrameLoopOptions {
  /** Model role run on each frame. */
  role?: ModelRole;
  /** Real-time pause between frames (ms). */
  intervalMs?: number;
  /** Real-time limit for one grab (ms). */
  grabTimeoutMs?: number;
}

/** Defect regions in a softmax output: 4-connected pixels with P(not background) ≥ threshold and ≥ minAreaPx pixels. */
export function countRegions(r: TensorResult, threshold: number, minAreaPx: number): number {
  const [, c = 1, h = 1, w = 1] = r.dims;
  const fg = new Uint8Array(h * w);
  for (let p = 0; p < h * w; p++) fg[p] = c > 1 && 1 - r.data[p]! >= threshold ? 1 : 0;
  const stack: number[] = [];
  let regions = 0;
  for (let p = 0; p < fg.length; p++) {
    if (fg[p] !== 1) continue;
    let area = 0;
    fg[p] = 2;
    stack.push(p);
    while (stack.length) {
      const q = stack.pop()!;
      area++;
      const x = q % w;
      for (const n of [q - w, q + w, x > 0 ? q - 1 : -1, x < w - 1 ? q + 1 : -1]) {
        if (n >= 0 && n < fg.length && fg[n] === 1) {
          fg[n] = 2;
          stack.push(n);
        }
      }
    }
    if (area >= minAreaPx) regions++;
  }
  return regions;
}

/** Central `t`×`t` tile of a frame, scaled to 0…1 by its bit depth and normalised with the model's mean and std. */
function centralTile(
  frame: { data: Uint8Array | Uint16Array; width: number; height: number; bitDepth: number },
  t: number,
  mean: number,
  std: number,
): Float32Array {
  const out = new Float32Array(t * t);
  const x0 = Math.max(0, Math.floor((frame.width - t) / 2));
  const y0 = Math.max(0, Math.floor((frame.height - t) / 2));
  const scale = 1 / ((1 << frame.bitDepth) - 1);
  for (let y = 0; y < t; y++) {
    const row = Math.min(frame.height - 1, y0 + y) * frame.width;
    for (let x = 0; x < t; x++) out[y * t + x] = (frame.data[row + Math.min(frame.width - 1, x0 + x)]! * scale - mean) / std;
  }
  return out;
}

export class FrameLoopPipeline implements Pipeline<OrtWorkerModel> {
  readonly requiredRoles: readonly ModelRole[];
  private readonly stopping = new AbortController();
  private loop: Promise<void> | null = null;
  private lastDropped = 0;

  constructor(private readonly opts: FrameLoopOptions = {}) {
    this.requiredRoles = [opts.role ?? 'zoom'];
  }

  async start(ctx: PipelineContext<OrtWorkerModel>): Promise<void> {
    this.loop = this.run(ctx).catch((err: Error) => ctx.log.error({ err: err.message }, 'inspection loop stopped'));
  }

  private async run(ctx: PipelineContext<OrtWorkerModel>): Promise<void> {
    const role = this.opts.role ?? 'zoom';
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      await this.once(ctx, ctx.camera, role, signal);
      if (!signal.aborted) await pause(this.opts.intervalMs ?? 200, signal);
    }
  }

  private async once(ctx: PipelineContext<OrtWorkerModel>, camera: FrameSource, role: ModelRole, signal: AbortSignal): Promise<void> {
    let frame;
    try {
      frame = await camera.grab({ signal, timeoutMs: this.opts.grabTimeoutMs ?? 5000 });
    } catch (err) {
      const e = err as { canceled?: boolean; timeout?: boolean; message: string };
      if (e.canceled) return;
      ctx.metrics.framesDropped.inc({ reason: e.timeout ? 'timeout' : 'error' });
      ctx.log.warn({ err: e.message }, 'frame grab failed');
      return; // No progress: a camera that stays silent lets the watchdog expire.
    }
    const t0 = performance.now();
    const slot = ctx.models.get(role);
    try {
      const m = slot?.current;
      if (!slot || !m) throw new Error(`no ${role} model loaded`);
      const inp = m.manifest.input as { tileSize: number; normalisation?: { mean: number; std: number } };
      const thr = (m.manifest.thresholds ?? { foreground: 0.5, minAreaPx: 1 }) as { foreground: number; minAreaPx: number };
      const t = Math.min(inp.tileSize, frame.width, frame.height);
      const tile = centralTile(frame, t, inp.normalisation?.mean ?? 0, inp.normalisation?.std ?? 1);
      frame.release();
      await slot.use(
        (model) => model.run(tile, [1, 1, t, t]),
        (r) => countRegions(r, thr.foreground, thr.minAreaPx),
      );
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message }, 'inference on the frame failed');
    } finally {
      frame.release();
    }
    const dropped = camera.counters().dropped;
    if (dropped > this.lastDropped) ctx.metrics.framesDropped.inc({ reason: 'overrun' }, dropped - this.lastDropped);
    this.lastDropped = dropped;
    ctx.metrics.frameDone((performance.now() - t0) / 1000);
    ctx.heartbeat.beat('frame');
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
