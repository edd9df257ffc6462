/**
 * The twin's camera: a FrameSource that renders what the current objective sees at the stage's physical position
 * during the exposure. Frames come from a fixed pool of buffers exactly like a real camera's.
 */
import { EventEmitter } from 'node:events';
import type { Clock } from '../kernel/clock.js';
import { abortError } from '../kernel/clock.js';
import {
  cameraError,
  type Frame,
  type FrameSource,
  type FrameSourceCounters,
  type FrameSourceInfo,
  type FrameSourceState,
  type GrabOptions,
  type PixelFormat,
  type Roi,
} from '../camera/frame-source.js';
import type { FramePool } from '../camera/frame-pool.js';
import { hash4 } from './rng.js';
import type { TwinWorld } from './world.js';

export class JsFramePool implements FramePool {
  private readonly free: Array<Uint8Array | Uint16Array> = [];
  constructor(
    readonly size: number,
    pixels: number,
    bitDepth: 8 | 12 | 16,
  ) {
    for (let i = 0; i < size; i++) this.free.push(bitDepth === 8 ? new Uint8Array(pixels) : new Uint16Array(pixels));
  }

  acquire(): { data: Uint8Array | Uint16Array; release(): void } | null {
    const data = this.free.pop();
    if (!data) return null;
    let released = false;
    return {
      data,
      release: () => {
        if (released) return;
        released = true;
        this.free.push(data);
      },
    };
  }
}

export interface TwinCameraOptions {
  id?: string;
  exposureUs?: number;
  gainDb?: number;
  poolSize?: number;
  pool?: FramePool;
  /** Instrument time to read the sensor out after the exposure (ms). */
  readoutMs?: number;
}

export class TwinCamera extends EventEmitter implements FrameSource {
  private st: FrameSourceState = 'closed';
  private exposureUs: number;
  private gainDb: number;
  private sequence = 0;
  private roi: Roi | null = null;
  private readonly pool: FramePool;
  private readonly readoutMs: number;
  private readonly cnt: FrameSourceCounters = { delivered: 0, dropped: 0, timeouts: 0, incomplete: 0, errors: 0, leaked: 0 };
  private readonly registry = new FinalizationRegistry<() => void>((release) => {
    this.cnt.leaked++;
    release();
  });
  private closing = new AbortController();
  readonly id: string;

  constructor(
    private readonly world: TwinWorld,
    private readonly clock: Clock,
    opts: TwinCameraOptions = {},
  ) {
    super();
    const s = world.spec.sensor;
    this.id = opts.id ?? 'twin-camera';
    this.exposureUs = opts.exposureUs ?? 2000;
    this.gainDb = opts.gainDb ?? 0;
    this.readoutMs = opts.readoutMs ?? 10;
    this.pool = opts.pool ?? new JsFramePool(opts.poolSize ?? 4, s.widthPx * s.heightPx, s.bitDepth);
  }

  get state(): FrameSourceState {
    return this.st;
  }

  async open(): Promise<void> {
    if (this.st !== 'open') this.closing = new AbortController(); // a closed camera can be opened again
    this.st = 'open';
  }

  async close(): Promise<void> {
    this.st = 'closed';
    this.closing.abort(cameraError('camera closed', { canceled: true }));
  }

  info(): FrameSourceInfo {
    const s = this.world.spec.sensor;
    return {
      id: this.id,
      kind: 'twin',
      width: this.roi?.width ?? s.widthPx,
      height: this.roi?.height ?? s.heightPx,
      pixelFormat: formatOf(s.bitDepth),
      exposureUs: this.exposureUs,
      gainDb: this.gainDb,
    };
  }

  counters(): FrameSourceCounters {
    return { ...this.cnt };
  }

  async setExposure(us: number): Promise<void> {
    if (!(us >= 10 && us <= 10_000_000)) throw new RangeError(`Expected an exposure between 10 and 10000000 µs but received ${us}`);
    this.exposureUs = us;
  }

  async setGain(db: number): Promise<void> {
    if (!(db >= 0 && db <= 48)) throw new RangeError(`Expected a gain between 0 and 48 dB but received ${db}`);
    this.gainDb = db;
  }

  async setRoi(roi: Roi | null): Promise<void> {
    const s = this.world.spec.sensor;
    if (roi) {
      const ok = [roi.x, roi.y, roi.width, roi.height].every(Number.isInteger) && roi.x >= 0 && roi.y >= 0 && roi.width >= 1 && roi.height >= 1;
      if (!ok || roi.x + roi.width > s.widthPx || roi.y + roi.height > s.heightPx) {
        throw new RangeError(`Expected a region of interest inside the ${s.widthPx} × ${s.heightPx} sensor but received ${JSON.stringify(roi)}`);
      }
    }
    this.roi = roi ? { ...roi } : null;
  }

  /**
   * Exposes one frame starting now into `target` and reads it out: what grab() does after taking a buffer. The push
   * source calls this to render straight into the addon's pool buffers (src/camera/twin-frame-source.ts).
   */
  async expose(
    target: Uint8Array | Uint16Array,
    signal: AbortSignal,
  ): Promise<{ width: number; height: number; sequence: number; exposureStartMs: number; exposureEndMs: number; exposureUs: number; gainDb: number }> {
    const exposureUs = this.exposureUs;
    const gainDb = this.gainDb;
    const exposureMs = exposureUs / 1000;
    const t0 = this.clock.now();
    await this.clock.sleep(exposureMs, signal);
    const t1 = this.clock.now();
    const seq = ++this.sequence;
    const s = this.world.spec.sensor;
    const roi = this.roi;
    const width = roi?.width ?? s.widthPx;
    const height = roi?.height ?? s.heightPx;
    const data = target.subarray(0, width * height) as Uint8Array | Uint16Array;
    this.world.render(data, {
      t0,
      t1,
      exposureMs,
      gainDb,
      noiseSeed: hash4(seq, 0x5eed),
      ...(roi ? { roi } : {}),
    });
    await this.clock.sleep(this.readoutMs, signal);
    if (signal.aborted) throw abortError(signal);
    return { width, height, sequence: seq, exposureStartMs: t0, exposureEndMs: t1, exposureUs, gainDb };
  }

  async grab(opts: GrabOptions = {}): Promise<Frame> {
    if (this.st !== 'open') throw cameraError(`camera ${this.id} is ${this.st}`, { disconnected: this.st === 'disconnected' });
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.closing.signal]) : this.closing.signal;
    const slot = this.pool.acquire();
    if (!slot) {
      this.cnt.dropped++;
      throw cameraError(`camera ${this.id}: all ${this.pool.size} frame buffers are held by the consumer; release frames`, {
        timeout: true,
      });
    }
    try {
      const e = await this.expose(slot.data, signal);
      const data = slot.data.subarray(0, e.width * e.height) as Uint8Array | Uint16Array;
      const s = this.world.spec.sensor;
      this.cnt.delivered++;
      let released = false;
      const token = {};
      const frame: Frame = {
        data,
        width: e.width,
        height: e.height,
        pixelFormat: formatOf(s.bitDepth),
        bitDepth: s.bitDepth,
        sequence: e.sequence,
        exposureStartMs: e.exposureStartMs,
        exposureEndMs: e.exposureEndMs,
        exposureUs: e.exposureUs,
        gainDb: e.gainDb,
        release: () => {
          if (released) return;
          released = true;
          this.registry.unregister(token);
          slot.release();
        },
      };
      this.registry.register(frame, () => slot.release(), token);
      return frame;
    } catch (err) {
      slot.release();
      if ((err as Error).name === 'AbortError' || signal.aborted) {
        throw cameraError(`camera ${this.id}: grab canceled`, { canceled: true });
      }
      this.cnt.errors++;
      throw err;
    }
  }
}

function formatOf(bitDepth: 8 | 12 | 16): PixelFormat {
  return bitDepth === 8 ? 'Mono8' : bitDepth === 12 ? 'Mono12' : 'Mono16';
}
